"""Real processes: one writer at a time, read-only opens alongside it, and SIGKILL at random moments loses
nothing that was acknowledged."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from rds import LockedError, RDSDict, ReadOnlyError

HOLD = textwrap.dedent(
    """
    import sys, time, rds
    d = rds.RDSDict(sys.argv[1], "s")
    d["writer"] = "child"
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    d.close()
    """
)


def spawn(code, *args):
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )


def test_a_second_writer_gets_a_clear_error(where):
    child = spawn(HOLD, where, 30)
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(LockedError, match="readonly=True"):
            RDSDict(where, "s")
        with RDSDict(where, "s", readonly=True) as reader:
            assert reader == {"writer": "child"}
            with pytest.raises(ReadOnlyError):
                reader["x"] = 1
    finally:
        child.kill()
        child.wait()


def test_a_writer_can_wait_for_the_lock(where):
    child = spawn(HOLD, where, 0.5)
    try:
        assert child.stdout.readline().strip() == "locked"
        with RDSDict(where, "s", lock_timeout=20) as d:
            assert d == {"writer": "child"}
            d["writer"] = "parent"
    finally:
        child.wait()


def test_the_same_store_twice_in_one_process_is_refused(where):
    with RDSDict(where, "s"), pytest.raises(LockedError):
        RDSDict(where, "s")


WRITER = textwrap.dedent(
    """
    import sys, rds
    d = rds.RDSDict(sys.argv[1], "s", redundancy=int(sys.argv[2]), compact_min_bytes=2048)
    n = d.get("n", 0)
    while True:
        n += 1
        d.update({"n": n, "k%d" % (n % 7): n, "pad": "x" * (n % 300)})
        print(n, flush=True)
    """
)


@pytest.mark.parametrize("redundancy", [1, 2])
def test_sigkill_at_random_moments_loses_nothing_acknowledged(where, redundancy):
    rng = random.Random(1234 + redundancy)
    kills = 30
    landed_in_flight = 0
    recovered = 0  # what the previous reopen found: nothing acknowledged since may be lost
    for _ in range(kills):
        child = spawn(WRITER, where, redundancy)
        time.sleep(rng.uniform(0.15, 0.4))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate()
        acknowledged = [int(line) for line in out.split()]
        with RDSDict(where, "s") as d:
            n = d.get("n", 0)
            last_ack = acknowledged[-1] if acknowledged else recovered
            assert n in (last_ack, last_ack + 1), (n, last_ack)
            recovered = n
            landed_in_flight += n == last_ack + 1
            assert d.last_id == n
            for j in range(max(1, n - 6), n + 1):
                assert d["k%d" % (j % 7)] == j
            assert d["pad"] == "x" * (n % 300)
    assert recovered > kills  # the children really wrote
    print(
        f"{kills} kills at redundancy {redundancy}: {recovered} modifications; "
        f"the in-flight one had landed {landed_in_flight} times"
    )


RACER = textwrap.dedent(
    """
    import sys, time, rds
    try:
        d = rds.RDSDict(sys.argv[1], "s")
    except rds.LockedError:
        print("locked", flush=True)
        sys.exit(0)
    d[sys.argv[2]] = "won"
    print("won", flush=True)
    sys.stdin.readline()  # hold the lock until the test says so
    d.close()
    """
)

READER = textwrap.dedent(
    """
    import json, sys, rds
    with rds.RDSDict(sys.argv[1], "s", readonly=True) as d:
        print(json.dumps({"items": sorted(d.items()), "last_id": d.last_id}), flush=True)
    """
)


def test_of_several_writer_processes_exactly_one_gets_the_store(where):
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(where), f"racer{i}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    try:
        answers = [racer.stdout.readline().strip() for racer in racers]
        assert sorted(answers) == ["locked", "locked", "locked", "won"]
        winner = f"racer{answers.index('won')}"
    finally:
        for racer in racers:
            racer.communicate("\n")
    with RDSDict(where, "s") as d:
        assert d == {winner: "won"} and d.last_id == 1


def test_read_only_processes_see_what_the_writer_has_completed(where):
    import json

    with RDSDict(where, "s") as d:
        for i in range(50):
            d[f"k{i}"] = i
        with d.transaction():
            d["t1"] = 1
            d["t2"] = 2
        for attempt in range(2):  # the writer keeps its lock; readers in other processes still open the store
            out = subprocess.run(
                [sys.executable, "-c", READER, str(where)], capture_output=True, text=True, check=True
            ).stdout
            seen = json.loads(out)
            assert seen == {"items": [list(item) for item in sorted(d.items())], "last_id": d.last_id}
            d["after"] = attempt


def test_a_forked_child_cannot_write_its_parents_store_but_can_read_it(where):
    with RDSDict(where, "s") as d:
        d["before"] = 1
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report, then leave without running the parent's cleanup
            try:
                try:
                    d["child"] = 2
                    outcome = "wrote"
                except LockedError as exc:
                    outcome = "refused" if "forked" in str(exc) and d == {"before": 1} else f"wrong: {exc}"
                os.write(write, outcome.encode())
            finally:
                os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        assert os.read(read, 100) == b"refused"
        os.close(read)
        d["after"] = 3  # the parent still writes
    with RDSDict(where, "s") as e:
        assert e == {"before": 1, "after": 3} and e.last_id == 2
