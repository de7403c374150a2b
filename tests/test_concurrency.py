"""Threads and asyncio tasks sharing one store: one total order of modifications, no lost update, no half-seen
modification or transaction, group commit, and the turn's timeout."""

import asyncio
import copy
import errno
import threading
import time

import pytest

from rds import FileSystem, RDSDict, RDSList, StoreFailedError, TurnTimeoutError

THREADS = 8


def run_threads(target, count=THREADS):
    """Run ``target(index)`` in ``count`` threads started together; re-raise the first error any of them hit."""
    errors = []
    start = threading.Barrier(count)

    def body(index):
        try:
            start.wait()
            target(index)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


class SlowSyncFS(FileSystem):
    """fdatasync takes ``delay`` seconds (a slow disk), so that concurrent callers really overlap; counts syncs
    and records, per descriptor, how many bytes each finished sync covered."""

    def __init__(self, delay=0.002):
        self.delay = delay
        self.syncs = 0
        self.written = {}
        self.synced = {}
        self.mutex = threading.Lock()

    def write(self, fd, data):
        n = super().write(fd, data)
        with self.mutex:
            self.written[fd] = self.written.get(fd, 0) + n
        return n

    def fdatasync(self, fd):
        with self.mutex:
            covered = self.written.get(fd, 0)
        time.sleep(self.delay)
        super().fdatasync(fd)
        with self.mutex:
            self.syncs += 1
            self.synced[fd] = max(self.synced.get(fd, 0), covered)


def test_read_modify_write_in_transactions_loses_no_update(where):
    rounds = 25
    with RDSDict(where, "s", redundancy=2) as d:
        d["n"] = 0
        d["per"] = {}

        def work(index):
            for _ in range(rounds):
                with d.transaction():
                    d["n"] = d["n"] + 1
                    d["per"][index] = d["per"].get(index, 0) + 1

        run_threads(work)
        assert d["n"] == THREADS * rounds
        assert d["per"] == {i: rounds for i in range(THREADS)}
        assert d.last_id == 2 + THREADS * rounds  # one ID per transaction
        final = d.copy()
    with RDSDict(where, "s") as e:
        assert e == final and e.last_id == 2 + THREADS * rounds


def test_threads_appending_to_one_nested_list_keep_every_item_in_their_own_order(where):
    per_thread = 40
    with RDSDict(where, "s") as d:
        d["log"] = []

        def work(index):
            for i in range(per_thread):
                d["log"].append([index, i])

        run_threads(work)
        log = list(d["log"])
        assert len(log) == THREADS * per_thread
        for index in range(THREADS):
            assert [i for t, i in log if t == index] == list(range(per_thread))
    with RDSDict(where, "s") as e:
        assert e["log"] == log and e.last_id == 1 + THREADS * per_thread


def test_concurrent_modifications_share_fsyncs_and_each_returns_only_once_durable(where):
    fs = SlowSyncFS()
    per_thread = 20
    with RDSDict(where, "s", redundancy=1, fs=fs) as d:
        [journal_fd] = d._store._journal_fds
        journal = next(where.glob("s/journal.*"))
        before = fs.syncs
        late = []

        def work(index):
            for i in range(per_thread):
                value = f"value-{index}-{i}"
                d[index] = value
                # The call has returned: a finished fdatasync must cover its record.
                end = journal.read_bytes().index(value.encode()) + len(value)
                with fs.mutex:
                    if fs.synced.get(journal_fd, 0) < end:
                        late.append(value)

        run_threads(work, 4)
        assert not late
        syncs = fs.syncs - before
        assert d == {i: f"value-{i}-{per_thread - 1}" for i in range(4)}
        # Without group commit every one of the 80 modifications would need its own fdatasync.
        assert syncs <= 0.75 * 4 * per_thread, f"{syncs} fdatasyncs for {4 * per_thread} modifications"


def test_readers_never_see_half_a_transaction_and_iteration_never_fails(where):
    with RDSDict(where, "s") as d:
        d.update({"a": 100, "b": 0})
        stop = threading.Event()
        seen = []

        def mover():
            for i in range(200):
                with d.transaction():
                    d["a"] -= 1
                    d[f"k{i}"] = i  # the dict grows while readers iterate
                    d["b"] += 1
                    if i % 2:
                        del d[f"k{i - 1}"]
            stop.set()

        def reader(_):
            while not stop.is_set():
                snapshot = dict(d.items())  # iterates d.items(): a consistent snapshot
                seen.append(snapshot["a"] + snapshot["b"])
                keys = list(d)
                assert keys[:2] == ["a", "b"]
                assert d.copy()["a"] + d.copy()["b"] >= 0

        writer = threading.Thread(target=mover)
        writer.start()
        run_threads(reader, 3)
        writer.join()
        assert seen and set(seen) == {100}
        assert d["a"] == -100 and d["b"] == 200


def test_a_failed_group_sync_fails_every_call_it_covered_and_undoes_them_in_memory(where):
    class FailOnceFS(SlowSyncFS):
        store = None
        fail_when = None  # fail the first sync once this many records are in the journal

        def fdatasync(self, fd):
            if self.fail_when is not None:
                deadline = time.monotonic() + 10
                while self.store.last_seq < self.fail_when and time.monotonic() < deadline:
                    time.sleep(0.001)  # the other threads append behind this sync (group commit)
                self.fail_when = None
                raise OSError(errno.EIO, "injected EIO")
            super().fdatasync(fd)

    fs = FailOnceFS()
    with RDSDict(where, "s", fs=fs, redundancy=1) as d:
        for i in range(4):
            d[i] = "old"
        fs.store = d._store
        fs.fail_when = d._store.last_seq + 4
        outcomes = {}

        def work(index):
            try:
                d[index] = "new"
                outcomes[index] = "ok"
            except (OSError, StoreFailedError) as exc:
                outcomes[index] = type(exc).__name__

        # Hold the turn until all four threads wait for it, so that they append one after the other while the
        # first one's sync is in flight.
        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        with d.transaction():
            for thread in threads:
                thread.start()
            while d._store._waiting < 4:
                time.sleep(0.001)
        for thread in threads:
            thread.join()
        # All four records were in the journal when its one sync failed: every call failed, and memory shows
        # none of them (the ones applied before the sync were undone).
        assert sorted(outcomes.values()) == ["OSError"] + ["StoreFailedError"] * 3
        assert d == {i: "old" for i in range(4)} and d.last_id == 4
        with pytest.raises(StoreFailedError):
            d[9] = 9
    with RDSDict(where, "s") as e:
        assert set(e) == {0, 1, 2, 3} and set(e.values()) <= {"old", "new"}  # in flight: either


def test_waiting_for_the_turn_times_out_with_a_typed_error(where):
    with RDSDict(where, "s", turn_timeout=0.05) as d:
        d["x"] = 1
        inside, release = threading.Event(), threading.Event()

        def hold():
            with d.transaction():
                d["x"] = 2
                inside.set()
                release.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        inside.wait(10)
        try:
            with pytest.raises(TurnTimeoutError, match="turn_timeout"):
                d["y"] = 1
            with pytest.raises(TimeoutError):
                d["x"]  # noqa: B018 - a read waits for the transaction too
        finally:
            release.set()
            holder.join()
        assert d == {"x": 2} and d.last_id == 2


def test_asyncio_tasks_lose_no_update_and_share_fsyncs(where):
    fs = SlowSyncFS(delay=0.005)

    async def main(d):
        async def bump(index):
            for _ in range(10):
                await d.acall(lambda: d.__setitem__("n", d["n"] + 1))
                await d.aset(index, d.get(index, 0) + 1)

        await asyncio.gather(*(bump(i) for i in range(8)))

    with RDSDict(where, "s", fs=fs) as d:
        d["n"] = 0
        before = fs.syncs
        asyncio.run(main(d))
        assert d["n"] == 80 and all(d[i] == 10 for i in range(8))
        assert fs.syncs - before < 160 * 2 * 0.75  # 160 modifications, 2 copies each
        final = d.copy()
    with RDSDict(where, "s") as e:
        assert e == final


def test_awaiting_a_modification_does_not_block_the_event_loop(where):
    fs = SlowSyncFS(delay=0.2)

    async def main(d):
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.005)
                ticks += 1

        task = asyncio.ensure_future(ticker())
        await asyncio.sleep(0)
        await d.aappend("durable")
        during = ticks
        task.cancel()
        return during

    with RDSList(where, "l", fs=fs, redundancy=1) as lst:
        assert asyncio.run(main(lst)) > 0  # the loop kept running during the 0.2 s fdatasync
        assert lst == ["durable"]


def test_async_helpers_mirror_the_sync_methods(where):
    async def main(d, lst):
        await d.aset("a", 1)
        await d.aupdate(b=2, c=3)
        await d.adelete("c")
        assert await d.apop("b") == 2 and await d.apop("zz", None) is None
        await lst.aextend([1, 2])
        await lst.ainsert(0, 0)
        assert await lst.apop() == 2
        with pytest.raises(KeyError):
            await d.adelete("missing")

    with RDSDict(where, "d") as d, RDSList(where, "l") as lst:
        asyncio.run(main(d, lst))
        assert d == {"a": 1} and lst == [0, 1]
        assert d.last_id == 4 and lst.last_id == 3


def test_an_awaited_modification_whose_sync_fails_raises_and_changes_nothing(where):
    from test_failures import FailingFS

    fs = FailingFS("fdatasync", 1, errno.EIO)

    async def main(d):
        await d.aset("kept", 1)
        fs.armed = True
        results = await asyncio.gather(d.aset("a", 1), d.aset("b", 2), return_exceptions=True)
        assert all(isinstance(result, (OSError, StoreFailedError)) for result in results), results
        with pytest.raises(StoreFailedError):
            await d.aset("c", 3)

    with RDSDict(where, "s", fs=fs, redundancy=1) as d:
        asyncio.run(main(d))
        assert d == {"kept": 1} and d.last_id == 1
    with RDSDict(where, "s") as e:
        assert "kept" in e and "c" not in e


@pytest.mark.parametrize("redundancy", [1, 2])
def test_threads_mixing_calls_transactions_and_compactions_leave_a_store_that_reopens_equal(where, redundancy):
    import random

    with RDSDict(where, "s", redundancy=redundancy, compact_min_bytes=2048) as d:
        d["shared"] = {"log": [], "tags": set(), "n": 0}

        def work(index):
            rng = random.Random(index)
            for i in range(60):
                choice = rng.randrange(6)
                if choice == 0:
                    with d.transaction():
                        d["shared"]["n"] += 1
                        d["shared"]["log"].append([index, i])
                elif choice == 1:
                    d["shared"]["tags"].add(rng.randrange(20))
                elif choice == 2:
                    d[f"t{index}"] = {"i": i, "pad": "x" * rng.randrange(200)}
                elif choice == 3 and f"t{index}" in d:
                    d[f"t{index}"]["i"] = -i
                elif choice == 4:
                    with pytest.raises(ZeroDivisionError), d.transaction():
                        d["shared"]["log"].clear()
                        d["shared"]["n"] = -1
                        1 / 0  # noqa: B018 - roll the transaction back
                else:
                    snapshot = copy.deepcopy(d)  # one consistent state: n counts the log's items
                    assert snapshot["shared"]["n"] == len(snapshot["shared"]["log"])

        run_threads(work, 6)
        final, last_id = copy.deepcopy(d), d.last_id
        assert d._store.gen > 0  # it compacted while the threads ran
    with RDSDict(where, "s") as e:
        assert e == final and e.last_id == last_id
