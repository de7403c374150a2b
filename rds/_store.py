"""The store: a root container kept durable by a redundant journal and redundant snapshots.

``Store`` owns the folder: it takes the writer lock, runs recovery (``_recovery.recover``) over what the OS seam
reads, carries out the repairs recovery asks for, appends one record per modification, and compacts the journal
into a new snapshot generation when the journal has grown past the snapshot's size.  Containers (``_tracking.py``)
describe each modification as operations and stage them in a ``Transaction`` between ``begin`` and
``finish``; nothing else writes.

Write order (spec/protocol.md has it as numbered steps):

- modification: under the turn, compact first if due; encode ``[id, ops]`` and decode it back; append its
  frame to every journal copy; fdatasync every copy (``wait_durable``), then return.  A lone writer syncs with
  the turn held and only then changes memory; under contention memory changes before the turn is handed on,
  the group's frames are written and synced by one syncer, and a failure undoes them all (``_rollback``).
  Either way a call that raises leaves memory as it was.
- compaction (at the start of a modification, when the journal is too long): create and sync the next
  generation's journal copies, fsync the folder; write each snapshot copy beside as ``.tmp``, sync, rename into
  place; fsync the folder; switch appends to the new journal; delete the old generation; fsync the folder.

After any write or sync error the store is *failed*: it refuses modifications until reopened, because a failed
fsync may have dropped buffered data that a retry would falsely report as written (CONTRACT.md, promise 5).

This module must never decide what recovered bytes mean (that is ``_recovery.py``) nor call ``os`` (the seam).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import threading
import time
from _thread import allocate_lock as _allocate_lock
from collections import deque
from typing import Any, Callable, Deque, Iterator, List, Optional, Sequence, Tuple

from . import _format as fmt
from ._codec import Codec, MsgpackCodec
from ._fs import DEFAULT, FileSystem
from ._ids import IDGenerator
from ._recovery import Recovered, check_folder, recover
from .errors import (
    CorruptionError,
    LockedError,
    NotAStoreError,
    ReadOnlyError,
    StoreClosedError,
    StoreFailedError,
    TurnTimeoutError,
    UnsupportedTypeError,
)

log = logging.getLogger("rds")

DURABILITY_MODES = ("fsync", "flush")


def write_all(fs: FileSystem, fd: int, data: bytes) -> None:
    """Write all of ``data`` at ``fd``'s position, looping over short writes."""
    view = memoryview(data)
    while view:
        written = fs.write(fd, view)  # type: ignore[arg-type]
        if written <= 0:
            raise OSError(errno.EIO, "write returned 0 bytes")
        view = view[written:]


def read_file(fs: FileSystem, path: str) -> Optional[bytes]:
    """A whole file's bytes, or None if it does not exist."""
    try:
        fd = fs.open(path, fs.READ)
    except FileNotFoundError:
        return None
    try:
        chunks: List[bytes] = []
        while True:
            chunk = fs.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        fs.close(fd)


def inspect(
    path: str, codec: Optional[Codec] = None, repair: bool = False, fs: Optional[FileSystem] = None
) -> Recovered:
    """Run recovery over the store folder ``path`` without opening it: no lock, nothing written."""
    fs = fs if fs is not None else DEFAULT
    if not fs.isdir(path):
        raise NotAStoreError(f"no RDS store at {path}: {'not a folder' if fs.exists(path) else 'no such folder'}", path)
    names = fs.listdir(path)
    check_folder(names, path)
    result = recover(names, lambda name: read_file(fs, fs.join(path, name)), codec or MsgpackCodec(), repair)
    if result.fresh:
        raise NotAStoreError(f"no RDS store at {path} (the folder holds no snapshot)", path)
    return result


class Store:
    """A store folder opened for reading, or for reading and writing (see the module docstring)."""

    def __init__(
        self,
        location: Any,
        name: str,
        *,
        root_type: type = dict,
        redundancy: Optional[int] = None,
        durability: str = "fsync",
        codec: Optional[Codec] = None,
        id_generator: Optional[IDGenerator] = None,
        readonly: bool = False,
        lock_timeout: Optional[float] = None,
        repair: bool = False,
        compact_ratio: float = 1.0,
        compact_min_bytes: int = 1 << 20,
        turn_timeout: Optional[float] = 20.0,
        fs: Optional[FileSystem] = None,
    ) -> None:
        if turn_timeout is not None and not turn_timeout >= 0:
            raise ValueError(f"turn_timeout must be a number of seconds >= 0 or None, not {turn_timeout!r}")
        if redundancy is not None and (
            not isinstance(redundancy, int) or isinstance(redundancy, bool) or not 1 <= redundancy <= 16
        ):
            raise ValueError(f"redundancy must be an integer from 1 to 16, not {redundancy!r}")
        if durability not in DURABILITY_MODES:
            raise ValueError(f"durability must be one of {DURABILITY_MODES}, not {durability!r}")
        if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
            raise ValueError(f"name must be a non-empty folder name, not {name!r}")
        self.fs = fs if fs is not None else DEFAULT
        self.codec = codec if codec is not None else MsgpackCodec()
        self.ids = id_generator if id_generator is not None else IDGenerator()
        self.durability = durability
        self.readonly = readonly
        self.compact_ratio = compact_ratio
        self.compact_min_bytes = compact_min_bytes
        self.path = self.fs.join(self.fs.fspath(location), name)
        #: The turn: held while a modification is planned, applied to memory and appended (not while it is synced),
        #: for a whole transaction, and briefly by readers, so nobody sees half of a modification.
        self.lock = threading.RLock()
        self.turn_timeout = turn_timeout
        self.tx: Optional[Transaction] = None  # the modification the turn's holder has open
        self._waiting = 0  # threads waiting for the turn
        self._waiting_lock = threading.Lock()
        self.root_of: Callable[[], Any] = lambda: None  # the root container (set by it, weakly)
        self.async_waiter: Any = None  # _root._AsyncWaiter for the event loop that last awaited a modification
        #: Records appended but not yet known durable: (seq, the ID before it, how to undo it in memory).
        self.pending: Deque[Tuple[int, Any, List[Callable[[], None]]]] = deque()
        self.synced_seq = 0
        self._syncing = False  # a thread is syncing the journal (or compacting): others wait on _sync_cond
        self._sync_cond = threading.Condition(threading.Lock())
        self._gather = threading.Condition(self._sync_cond._lock)  # type: ignore[attr-defined]  # a syncer waits
        self._waiters: List[Tuple[int, Any]] = []  # (seq, lock) of callers waiting for a sync in progress
        self._buffer: List[bytes] = []  # frames appended in a group, written to the journal by its syncer
        self._group = 1  # records the last sync covered
        self._sync_seconds = 0.0  # how long a sync takes (moving average)
        self.failed: Optional[BaseException] = None
        self.closed = False
        self.events: List[str] = []
        self.turn: Any = None  # the custom value whose method holds the lock (rds_subtypes)
        self._lock_fd: Optional[int] = None
        self._owner = self.fs.process()  # the process that may write (a forked child may not)
        self._journal_fds: List[int] = []
        self.root_type = root_type
        self.gen = -1
        self.copies = redundancy or 2
        self.last_seq = 0
        self.last_id: Any = None
        self.journal_size = 0
        self.snapshot_size = 0
        try:
            self.state = self._open(lock_timeout, repair)
            self.synced_seq = self.last_seq
            if redundancy is not None and redundancy != self.copies and not readonly:
                self.copies = redundancy  # an explicit new redundancy: rewrite the store with that many copies
                self.compact(self.state)
        except BaseException:
            self._close_fds()
            raise

    # -- opening -------------------------------------------------------------------------------------------

    def _file(self, name: str) -> str:
        return self.fs.join(self.path, name)

    def _open(self, lock_timeout: Optional[float], repair: bool) -> Any:
        """Lock, recover, mend and (for a new store) create; return the recovered state."""
        fs = self.fs
        if not fs.isdir(self.path):
            if self.readonly:
                raise NotAStoreError(f"no RDS store at {self.path}", self.path)
            if fs.exists(self.path):
                raise NotAStoreError(f"{self.path} exists and is not a folder", self.path)
            self._make_folders()
        check_folder(fs.listdir(self.path), self.path)  # before the lock file, so a foreign folder stays untouched
        if not self.readonly:
            self._take_lock(lock_timeout)
        recovered = self._recover(repair)
        if recovered.fresh:
            if self.readonly:
                raise NotAStoreError(f"no RDS store at {self.path}", self.path)
            self._remove(recovered.obsolete)
            state = self.root_type()
            self._write_generation(0, self.codec.dumps([None, state]))
            return state
        if type(recovered.state) is not self.root_type:
            raise NotAStoreError(
                f"{self.path} holds a {type(recovered.state).__name__}, not a {self.root_type.__name__}", self.path
            )
        self.gen, self.copies = recovered.gen, recovered.copies
        self.last_seq, self.last_id = recovered.last_seq, recovered.last_id
        self.journal_size, self.snapshot_size = len(recovered.journal), len(recovered.snapshot)
        self.events = list(recovered.events)
        if not self.readonly:
            for event in recovered.events:
                log.warning("rds: %s: %s", self.path, event)
            self._mend(recovered)
            self._open_journals(recovered.gen, recovered.copies)
        return recovered.state

    def _make_folders(self) -> None:
        fs = self.fs
        missing = []
        path = self.path
        while not fs.isdir(path):
            missing.append(path)
            parent = fs.dirname(path)
            if parent == path:
                break
            path = parent
        for folder in reversed(missing):
            try:
                fs.mkdir(folder)
            except FileExistsError:
                continue
            fs.fsync_dir(fs.dirname(folder))

    def _take_lock(self, timeout: Optional[float]) -> None:
        fd = self.fs.open(self._file(fmt.LOCK_NAME), self.fs.CREATE)
        self._lock_fd = fd
        if not self.fs.lock(fd, timeout):
            raise LockedError(
                f"{self.path} is open for writing in another process (or another RDS object in this one); "
                "open it with readonly=True, or pass lock_timeout to wait",
                self.path,
            )

    def _read(self, name: str) -> Optional[bytes]:
        return read_file(self.fs, self._file(name))

    def _recover(self, repair: bool) -> Recovered:
        attempts = 5 if self.readonly else 1
        for attempt in range(attempts):
            names = self.fs.listdir(self.path)
            try:
                return recover(names, self._read, self.codec, repair)
            except CorruptionError:
                # A reader that races a writer's compaction can see a generation half deleted: look again.
                if attempt + 1 == attempts or sorted(self.fs.listdir(self.path)) == sorted(names):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _mend(self, recovered: Recovered) -> None:
        """Rewrite damaged copies from intact ones, then delete what recovery called obsolete.

        A copy is never changed in place: the intact bytes are written beside it and renamed over it, so a crash
        during the repair leaves either the old copy or the mended one (and the other copies untouched).
        """
        mended = [(name, recovered.snapshot) for name in recovered.snapshot_repairs]
        mended += [(mend.name, recovered.journal) for mend in recovered.journal_repairs]
        for name, data in mended:
            self._write_file_beside(name, data)
        if mended:
            self.fs.fsync_dir(self.path)
        self._remove(recovered.obsolete)

    def _remove(self, names: Sequence[str]) -> None:
        for name in names:
            try:
                self.fs.unlink(self._file(name))
            except FileNotFoundError:
                pass
        if names:
            self.fs.fsync_dir(self.path)

    def _open_journals(self, gen: int, copies: int) -> None:
        fds = []
        try:
            for copy in range(copies):
                fd = self.fs.open(self._file(fmt.file_name("journal", gen, copy)), self.fs.WRITE)
                fds.append(fd)
                self.fs.seek_end(fd)
        except BaseException:
            for fd in fds:
                self.fs.close(fd)
            raise
        old, self._journal_fds = self._journal_fds, fds
        for fd in old:
            self.fs.close(fd)

    # -- writing -------------------------------------------------------------------------------------------

    def _sync(self, fd: int) -> None:
        """fdatasync ``fd`` (the one place the store syncs a file: the self-test patches it)."""
        self.fs.fdatasync(fd)

    def _write_file_beside(self, name: str, data: bytes) -> None:
        """Write ``name`` as ``name.tmp``, sync it, and rename it into place (the caller fsyncs the folder)."""
        tmp = self._file(name + ".tmp")
        fd = self.fs.open(tmp, self.fs.REPLACE)
        try:
            write_all(self.fs, fd, data)
            self._sync(fd)
        finally:
            self.fs.close(fd)
        self.fs.replace(tmp, self._file(name))

    def _write_generation(self, gen: int, payload: bytes) -> None:
        """Write generation ``gen`` (``self.copies`` copies) holding the current state; delete the one before it."""
        copies = self.copies
        header_j = fmt.encode_header("journal", self.codec.codec_id, copies, gen, self.last_seq)
        for copy in range(copies):
            fd = self.fs.open(self._file(fmt.file_name("journal", gen, copy)), self.fs.REPLACE)
            try:
                write_all(self.fs, fd, header_j)
                self._sync(fd)
            finally:
                self.fs.close(fd)
        self.fs.fsync_dir(self.path)
        snapshot = fmt.encode_header(
            "snapshot", self.codec.codec_id, copies, gen, self.last_seq
        ) + fmt.encode_snapshot_body(payload)
        for copy in range(copies):
            self._write_file_beside(fmt.file_name("snapshot", gen, copy), snapshot)
        self.fs.fsync_dir(self.path)
        # The new generation is durable: from here on it is the store.
        old_gen, old_names = self.gen, self._generation_names()
        self.gen = gen
        self.journal_size = len(header_j)
        self.snapshot_size = len(snapshot)
        self._open_journals(gen, copies)
        if old_gen >= 0:
            self._remove(old_names)

    def _generation_names(self) -> List[str]:
        names = []
        for name in self.fs.listdir(self.path):
            info = fmt.parse_name(name)
            if info is not None and not info.tmp and info.gen == self.gen:
                names.append(name)
        return names

    def _fail(self, exc: BaseException) -> None:
        self.failed = exc
        log.error("rds: %s: write failed, refusing modifications until reopened: %r", self.path, exc)

    def check_writable(self) -> None:
        if self.closed:
            raise StoreClosedError(f"{self.path} is closed", self.path)
        if self.readonly:
            raise ReadOnlyError(f"{self.path} was opened read-only", self.path)
        if self.failed is not None:
            raise StoreFailedError(
                f"{self.path}: an earlier write or sync failed ({self.failed!r}); reopen the store to continue",
                self.path,
            ) from self.failed
        if self._owner != self.fs.process():
            raise LockedError(
                f"{self.path} was opened for writing by process {self._owner}, which this process was forked "
                "from: both would write to the same journal; open the store again here (after the parent closes "
                "it), or readonly=True",
                self.path,
            )

    def next_id(self) -> Any:
        return self.ids.first() if self.last_seq == 0 else self.ids.after(self.last_id)

    # -- modifications: the turn, transactions, group commit -------------------------------------------------

    def acquire(self) -> None:
        """Take the turn (``lock``), waiting at most ``turn_timeout`` seconds."""
        if self.lock.acquire(blocking=False):
            return
        with self._waiting_lock:
            self._waiting += 1
        try:
            acquired = self.lock.acquire(timeout=-1 if self.turn_timeout is None else self.turn_timeout)
        finally:
            with self._waiting_lock:
                self._waiting -= 1
        if not acquired:
            raise TurnTimeoutError(
                f"{self.path}: waited {self.turn_timeout} s for another thread's modification or transaction "
                "to finish (turn_timeout)",
                self.path,
            )

    def compaction_due(self) -> bool:
        return self.journal_size > max(self.compact_min_bytes, self.compact_ratio * self.snapshot_size)

    def begin(self) -> "Transaction":
        """Take the turn and open a modification, or join the one this thread has open (then it is nested).

        The outermost one first compacts the journal if it has outgrown the snapshot: memory then holds exactly
        the state after the last record written, which the snapshot records under that record's ID."""
        self.acquire()
        try:
            tx = self.tx
            if tx is None:
                self.check_writable()
                if self.compaction_due():
                    self.compact(self.root_of())
                tx = self.tx = Transaction(self, self.next_id())
            tx.marks.append((len(tx.ops), len(tx.undo)))
            return tx
        except BaseException:
            self.lock.release()
            raise

    def finish(self, tx: "Transaction", failed: bool = False, result: Optional[Callable[[], Any]] = None) -> Any:
        """Close the modification opened by the matching ``begin``; return ``result()`` (computed with the turn,
        once the change is in memory), after the record is durable.

        A nested one that ``failed`` undoes just its own changes.  The outermost one undoes everything if it
        failed, else writes its record, gives the turn back and waits until the record is durable.
        """
        value, seq = self.end(tx, failed, result)
        if seq is not None and self.durability == "fsync":
            self.wait_durable(seq)
        return value

    def end(
        self, tx: "Transaction", failed: bool = False, result: Optional[Callable[[], Any]] = None
    ) -> Tuple[Any, Optional[int]]:
        """``finish`` without the wait: returns ``result()`` and the sequence number to pass to ``wait_durable``
        (None if nothing was written)."""
        seq = None
        try:
            ops_mark, undo_mark = tx.marks.pop()
            if failed:
                _undo(tx.undo[undo_mark:])
                del tx.ops[ops_mark:], tx.undo[undo_mark:]
                tx.payload = tx.deferred = None
                if tx.ordered:
                    tx.ordered = set()  # the copies it names may have been undone: later deletions copy again
            if not tx.marks:
                self.tx = None
                if tx.ops and not failed:
                    seq = self._write_record(tx)
            value = result() if result is not None else None
        finally:
            self.lock.release()
        return value, seq

    @contextlib.contextmanager
    def modification(self) -> Iterator["Transaction"]:
        """``begin`` ... ``finish`` around a block of changes."""
        tx = self.begin()
        try:
            yield tx
        except BaseException:
            self.finish(tx, failed=True)
            raise
        self.finish(tx)

    def _write_record(self, tx: "Transaction") -> int:
        """Append ``tx`` as one record to every journal copy (turn held), and apply it to memory if it is not yet.

        If no other thread waits for the turn or for a sync, the frame is written at once, and a change staged
        ``deferred`` (a single call) is synced with the turn held and applied only then: memory never holds a
        change that could still fail, so nothing needs undoing.  Otherwise the frame joins the group's buffer,
        the change is applied and the turn handed on at once: the waiting threads add theirs meanwhile, and the
        group's syncer writes all their frames with one write per copy and syncs them with one fdatasync (group
        commit); should that fail, ``_rollback`` undoes them all.
        """
        if self.failed is not None or self.closed:  # failed (or closed) while the transaction was open
            _undo(tx.undo)
            self._rollback()
            self.check_writable()
        payload = tx.payload if tx.payload is not None else self.codec.dumps([tx.id, tx.ops])
        seq = self.last_seq + 1
        frame = fmt.encode_frame(seq, payload)
        deferred, tx.deferred = tx.deferred, None
        fsync = self.durability == "fsync"
        # Alone: nobody waits for the turn, no other record waits to be synced, and the last sync was for one
        # record only (else other threads are writing and will be back in a moment).
        alone = not (self._waiting or self._syncing or self.pending) and self._group == 1
        if fsync and not alone:
            with self._sync_cond:  # the syncer writes it, with the rest of its group, just before it syncs
                self._buffer.append(frame)
                self.pending.append((seq, self.last_id, tx.undo))
                self.last_seq = seq
        else:
            try:
                for fd in self._journal_fds:
                    write_all(self.fs, fd, frame)
            except BaseException as exc:
                self._fail(exc)
                _undo(tx.undo)
                self._rollback()
                raise
            if fsync:
                self.pending.append((seq, self.last_id, tx.undo))
            self.last_seq = seq
        self.last_id = tx.id
        self.journal_size += len(frame)
        if deferred is not None:
            if fsync and alone:
                self.wait_durable(seq)
            if alone or not fsync:
                tx.undo = NO_UNDO  # durable (or, in flush mode, handed to the OS) before memory changes
            deferred(tx)
        return seq

    def wait_durable(self, seq: int) -> None:
        """Return once record ``seq`` is on stable storage.

        Group commit: the first caller to find no sync in progress syncs the journal for every record written
        so far, while the others wait for it, each on a lock of its own that the syncer releases (waking them
        through one shared lock would make them queue for it one after the other).  When the last sync covered
        several records (threads are writing concurrently), the syncer first gives the others up to 1.5 sync
        times to append as many, as PostgreSQL's commit_delay does: otherwise the threads a sync has just
        released would always miss the next one, and groups would never grow past half the writers.
        """
        cond = self._sync_cond
        while True:
            with cond:
                if self.synced_seq >= seq:
                    return
                if self.failed is not None:
                    break
                if self._syncing:
                    if self.last_seq - self.synced_seq >= self._group:
                        self._gather.notify()  # the syncer may be waiting for this record to complete its group
                    waiter = _allocate_lock()
                    waiter.acquire()
                    self._waiters.append((seq, waiter))
                else:
                    self._syncing = True
                    waiter = None
                    target, fds = self._gather_group()
                    frames, self._buffer = b"".join(self._buffer), []
            if waiter is not None:
                waiter.acquire()  # released by _sync_done: covered, failed, or next to sync
                continue
            error: Optional[BaseException] = None
            started = time.perf_counter()
            try:
                if frames:
                    for fd in fds:
                        write_all(self.fs, fd, frames)
                for fd in fds:
                    self._sync(fd)
            except BaseException as exc:  # noqa: BLE001 - any failure poisons the store (never retried)
                error = exc
            with cond:
                if error is None:
                    self._sync_seconds = 0.8 * self._sync_seconds + 0.2 * (time.perf_counter() - started)
                    self._group = target - self.synced_seq
                    self._synced(target)
                elif self.failed is None:
                    self._fail(error)
                self._sync_done()
            if error is not None:
                self._rollback()
                raise error
        self._rollback()
        self.check_writable()

    def _gather_group(self) -> Tuple[int, List[int]]:
        """As the syncer (``_sync_cond`` held), wait for the group to fill; return what to sync."""
        if self._group > 1 and self.durability == "fsync":
            deadline = time.monotonic() + self._sync_seconds * 1.5
            while self.last_seq - self.synced_seq < self._group and self.failed is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._gather.wait(remaining)
        return self.last_seq, list(self._journal_fds)

    def _sync_done(self) -> None:
        """A sync (or compaction) ended (``_sync_cond`` held): release the waiters it covered (all of them if the
        store failed) and the first one it did not, which becomes the next syncer."""
        self._syncing = False
        waiters, self._waiters = self._waiters, []
        next_syncer = self.failed is None
        for seq, waiter in waiters:
            if self.failed is not None or seq <= self.synced_seq:
                waiter.release()
            elif next_syncer:
                waiter.release()
                next_syncer = False
            else:
                self._waiters.append((seq, waiter))
        self._sync_cond.notify_all()  # compaction, rollback and close wait for _syncing to end

    def _synced(self, seq: int) -> None:
        """Records up to ``seq`` are durable (called with ``_sync_cond`` held)."""
        self.synced_seq = max(self.synced_seq, seq)
        while self.pending and self.pending[0][0] <= seq:
            self.pending.popleft()

    def _rollback(self) -> None:
        """After a failure: undo, newest first, the open transaction's changes and every record not known to be
        durable, so memory shows the last durable state (their calls all raise).  Idempotent."""
        with self.lock:
            undo: List[Callable[[], None]] = []
            if self.tx is not None:
                undo.extend(reversed(self.tx.undo))
                self.tx.undo = []
            with self._sync_cond:
                while self._syncing:
                    self._sync_cond.wait()
                self._buffer = []  # frames of the records undone below that no syncer wrote
                while self.pending and self.pending[-1][0] > self.synced_seq:
                    seq, previous_id, steps = self.pending.pop()
                    undo.extend(reversed(steps))
                    self.last_seq, self.last_id = seq - 1, previous_id
            for step in undo:
                step()

    def compact(self, root: Any) -> None:
        """Write the state as a new snapshot generation and start an empty journal after it (turn held)."""
        self.check_writable()
        if self.tx is not None:
            raise RuntimeError("compact() inside a transaction: the snapshot would hold half of it")
        payload = self.codec.dumps([self.last_id, root])
        cond = self._sync_cond
        with cond:
            while self._syncing:  # the journal files are about to change under any sync in progress
                cond.wait()
            self._syncing = True
            self._buffer = []  # frames not yet written: the snapshot holds their records
        try:
            self._write_generation(self.gen + 1, payload)
        except BaseException as exc:
            self._fail(exc)
            raise
        finally:
            with cond:
                if self.failed is None:
                    self._synced(self.last_seq)  # the snapshot holds every record written so far, durably
                self._sync_done()
            if self.failed is not None:
                self._rollback()  # records appended but not yet synced will never be: their calls raise

    def sync(self) -> None:
        """Return once every modification made so far is durable (in ``flush`` mode: sync the journal now)."""
        if self.closed or self.readonly:
            return
        self.check_writable()
        self.wait_durable(self.last_seq)

    def _close_fds(self) -> None:
        fds, self._journal_fds = self._journal_fds, []
        if self._lock_fd is not None:
            fds.append(self._lock_fd)
            self._lock_fd = None
        for fd in fds:
            try:
                self.fs.close(fd)
            except OSError:
                pass

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            if self.tx is not None:
                raise RuntimeError("close() inside a transaction: end the transaction first")
            try:
                if self.failed is None and not self.readonly:
                    self.wait_durable(self.last_seq)  # flush mode's unsynced tail; fsync mode's in-flight group
            finally:
                with self._sync_cond:
                    while self._syncing:
                        self._sync_cond.wait()
                    self.closed = True
                    self._close_fds()


#: A transaction's ``undo`` once nothing can undo it any more: appliers skip recording steps into it.
NO_UNDO: List[Callable[[], None]] = []


def _undo(steps: List[Callable[[], None]]) -> None:
    for step in reversed(steps):
        step()


class Transaction:
    """One modification being built under the turn: its ID, the operations staged so far (decoded copies, so
    a caller changing its own objects afterwards changes nothing), and how to undo each in memory.

    Every mutating call is one (``Store.modification``); ``with d.transaction():`` holds one open across many
    calls, which then join it as nested ones.  ``marks`` holds, per nesting level, where its part begins.
    """

    __slots__ = ("store", "id", "ops", "undo", "marks", "payload", "deferred", "ordered")

    def __init__(self, store: Store, record_id: Any) -> None:
        self.store = store
        #: An explicit transaction (``with d.transaction():``) keeps dict order exact on rollback (``_undoer``).
        self.ordered: Optional[set] = None
        self.id = record_id
        self.ops: List[list] = []
        self.undo: List[Callable[[], None]] = []
        self.marks: List[Tuple[int, int]] = []
        self.payload: Optional[bytes] = None  # the record's encoding, while it holds a single call's operations
        self.deferred: Optional[Callable[[Any], None]] = None  # a single call's change, applied at the write

    def stage(
        self,
        root: Any,
        ops: List[list],
        prepare: Callable[[Any, List[list]], Callable[[Any], None]],
        last: bool = False,
    ) -> None:
        """Add ``ops`` to this modification and apply them to memory now.

        ``prepare(root, decoded_ops)`` readies the change (it may raise: nothing has changed yet) and returns
        the function that makes it, given this transaction, appending to its ``undo`` how to undo each step.
        ``last``: nothing reads memory before ``Store.finish``, which may then apply the change itself.  The operations
        are encoded and decoded first: a value that encodes but cannot be read back (msgpack's unpacker has a
        stricter depth limit than its packer) fails here, and memory gets exactly what a reopen rebuilds.
        """
        store = self.store
        store.check_writable()
        payload = store.codec.dumps([self.id, ops])  # UnsupportedTypeError here changes nothing
        try:
            decoded = store.codec.loads(payload)[1]
            apply = prepare(root, decoded)
        except Exception as exc:  # noqa: BLE001
            raise UnsupportedTypeError(f"this value cannot be stored and read back: {exc!r}") from None
        self.payload = payload if not self.ops else None
        if last and not self.ops and len(self.marks) == 1 and self.ordered is None:
            self.deferred = apply  # a single call: Store._write_record applies it
        else:
            apply(self)
        self.ops.extend(decoded)
