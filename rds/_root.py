"""What ``RDSDict`` and ``RDSList`` share: opening the store, the store's properties, and closing."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import weakref
from typing import Any, Callable, Iterator, List, Optional, Tuple, TypeVar, cast

from ._codec import Codec
from ._fs import FileSystem
from ._ids import IDGenerator
from ._store import Store, Transaction
from ._tracking import SUBTYPES, Tracked, track
from .errors import StoreFailedError

#: Types a recovered value must be tracked for (tuples may hold containers); custom types are in SUBTYPES.
TRACKED_TYPES = frozenset({dict, list, set, tuple})

_T = TypeVar("_T")
_R = TypeVar("_R")

ARGUMENTS = """
    Arguments (all but the first two keyword-only):

    - ``redundancy``: how many copies of every file to keep (default 2 for a new store; an existing store keeps
      its own unless this is given, in which case it is rewritten with that many copies).
    - ``durability``: ``"fsync"`` (default) returns only once the modification is on stable storage;
      ``"flush"`` hands it to the OS without syncing, which survives a crash of the process but not of the
      machine (a power cut can lose the modifications since the last ``sync()``).
    - ``codec``: how values are encoded (default ``MsgpackCodec``); ``PickleCodec`` is an opt-in.
    - ``id_generator``: the rule for modification IDs (default ``IDGenerator()``).
    - ``readonly``: open without the writer lock and refuse modifications.
    - ``lock_timeout``: seconds to wait for another writer to close (default: don't wait, raise ``LockedError``).
    - ``repair``: open at the last consistent point when damage exceeds the redundancy (else ``CorruptionError``).
    - ``compact_ratio``, ``compact_min_bytes``: a new snapshot is written when the journal exceeds both
      ``compact_min_bytes`` and ``compact_ratio`` times the snapshot's size.
    - ``turn_timeout``: seconds a modification or read waits for another thread's modification or transaction
      before raising ``TurnTimeoutError`` (default 20; None waits for ever).
    - ``fs``: the OS seam (``rds.FileSystem``); the crash simulator passes a fault-injecting one.

    Nested dicts, lists and sets are tracked: ``d["a"]["b"].append(1)`` is saved like ``d["k"] = v``.  A stored
    container is a tracked copy of the one assigned (the caller's object is not tracked afterwards); values that
    leave the store (``pop``) come back as plain copies, and a nested container that was removed raises
    ``DetachedError`` if modified.

    Any number of threads may read and modify the store: modifications happen one at a time in ID order, and
    those made at the same moment share one fsync (group commit).  Reads wait for a modification being applied,
    so they never see half of one; iterating walks a snapshot taken when the iteration starts.
    ``with d.transaction():`` makes many changes one modification; ``await d.acall(...)`` and the ``a``-methods
    serve asyncio.
"""


class Root(Tracked):
    """Mixin for a store's root container; the class must have slots ``_store`` and ``_finalizer``.

    Like every stored container (``Tracked``), it copies, deep-copies and pickles as the plain value it holds:
    pickling a store handle would duplicate the writer."""

    __slots__ = ()
    _store: Store
    _rds_base: type = object

    def __init__(
        self,
        location: Any,
        name: str,
        *,
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
        if getattr(self, "_store", None) is not None:
            raise RuntimeError(f"{type(self).__name__}.__init__ called on an open store")
        store = Store(
            location,
            name,
            root_type=self._rds_base,
            redundancy=redundancy,
            durability=durability,
            codec=codec,
            id_generator=id_generator,
            readonly=readonly,
            lock_timeout=lock_timeout,
            repair=repair,
            compact_ratio=compact_ratio,
            compact_min_bytes=compact_min_bytes,
            turn_timeout=turn_timeout,
            fs=fs,
        )
        self._rds_fill(store.state)
        store.state = None
        self._store = store  # type: ignore[misc]  # the slot is declared by the concrete class
        store.root_of = weakref.ref(self)  # for compaction (weakly: the finalizer must not keep self alive)
        self._finalizer = weakref.finalize(self, store.close)  # type: ignore[misc]

    def _rds_fill(self, state: Any) -> None:
        """Hold the recovered ``state`` (a plain dict or list): the values as they are, then tracked copies in
        place of the containers.  A store of scalars (the common case) skips the per-value work: one pass of
        ``type`` in C tells whether any value needs tracking."""
        base, me = cast(Any, self._rds_base), cast(Any, self)
        if base is dict:
            dict.update(me, state)
        else:
            list.extend(me, state)
        kinds = set(map(type, state.values() if base is dict else state))
        if kinds.isdisjoint(TRACKED_TYPES) and kinds.isdisjoint(SUBTYPES):
            return
        for key, value in state.items() if base is dict else enumerate(state):
            if type(value) in TRACKED_TYPES or type(value) in SUBTYPES:
                base.__setitem__(self, key, track(value, self, key, self))

    @property
    def last_id(self) -> Any:
        """The ID of the last completed modification (None if the store has never been modified)."""
        return self._store.last_id

    @property
    def path(self) -> str:
        """The store's folder."""
        return self._store.path

    @property
    def redundancy(self) -> int:
        """How many copies of each file the store keeps."""
        return self._store.copies

    @property
    def durability(self) -> str:
        return self._store.durability

    @property
    def readonly(self) -> bool:
        return self._store.readonly

    @property
    def closed(self) -> bool:
        return self._store.closed

    @property
    def recovery_events(self) -> List[str]:
        """What opening found and mended: torn tails discarded, copies rewritten (also logged as warnings)."""
        return list(self._store.events)

    def sync(self) -> None:
        """Return once every modification made so far, by any thread, is durable.

        In ``fsync`` mode each modification is durable when its call returns; this is for a thread that read
        another thread's change while its call was still syncing.  In ``flush`` mode it syncs the journal."""
        self._store.sync()

    def compact(self) -> None:
        """Write a new snapshot now and start an empty journal (normally automatic)."""
        store = self._store
        store.acquire()
        try:
            store.compact(self)
        finally:
            store.lock.release()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Make every change inside the ``with`` block one modification, with one ID: after a crash, all of it
        or none of it.

        The block holds the store's turn: other threads' modifications and reads wait for it to end, so they
        never see it half done, and a read-modify-write inside it is safe.  Changes show in memory as they are
        made; the record is written and synced when the block ends, and the block's end returns once it is
        durable.  If the block raises, memory is rolled back, nothing is written and the exception propagates.
        A transaction inside another joins it; if the inner one raises, only its own changes are undone.
        ``as tx`` gives the transaction: ``tx.id`` is the ID it will have.
        """
        with self._store.modification() as tx:
            if tx.ordered is None:
                tx.ordered = set()
            yield tx

    async def acall(self, function: Callable[..., _R], *args: Any, **kwargs: Any) -> _R:
        """``function(*args, **kwargs)`` as one transaction, for asyncio: for example
        ``await d.acall(d["log"].append, entry)``.

        The coroutine never blocks the event loop on an fsync or on another thread's turn.  When the turn is
        free, the change is made at once in the loop's thread (microseconds) and only the wait for durability
        runs in the loop's default executor, so concurrent tasks' records share one fsync.  When another
        thread holds the turn (or a compaction is due), the whole call runs in the executor.  Cancelling the
        awaiting task does not cancel the modification: it completes, or fails, on its own.
        """
        loop = asyncio.get_running_loop()
        store = self._store
        if store.tx is not None and store.lock.acquire(blocking=False):
            try:  # the loop's thread has a transaction open: this call is part of it
                return function(*args, **kwargs)
            finally:
                store.lock.release()
        if store.compaction_due() or not store.lock.acquire(blocking=False):
            return await loop.run_in_executor(None, functools.partial(self._in_transaction, function, args, kwargs))
        try:
            tx = store.begin()
            try:
                value = function(*args, **kwargs)
            except BaseException:
                store.end(tx, failed=True)
                raise
            _, seq = store.end(tx)
        finally:
            store.lock.release()
        if seq is not None and store.durability == "fsync":
            waiter = store.async_waiter
            if waiter is None or waiter.loop is not loop:
                waiter = store.async_waiter = _AsyncWaiter(store, loop)
            await waiter.wait(seq)
        return value

    def _in_transaction(self, function: Callable[..., _R], args: Any, kwargs: Any) -> _R:
        with self.transaction():
            return function(*args, **kwargs)

    async def async_sync(self) -> None:
        """``sync()`` without blocking the event loop."""
        await asyncio.get_running_loop().run_in_executor(None, self.sync)

    def close(self) -> None:
        """Wait for modifications in flight, sync if needed, and release the files and the writer lock.
        Reads still work; modifications raise ``StoreClosedError``."""
        self._store.close()

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _save(self) -> None:
        """Save the custom value whose method holds the turn (``rds_subtypes``: ``self._master._save()``)."""
        holder = self._store.turn
        if holder is None:
            raise RuntimeError("_save() called outside a custom value's turn (call self._awaitTurn() first)")
        holder._rds_save_value()


class _AsyncWaiter:
    """Waits for durability on behalf of a loop's tasks: one executor job at a time waits for the newest
    record any task awaits and then settles every task it covered, so a group of records costs one thread
    hand-off and one loop wake-up rather than one of each per task."""

    def __init__(self, store: Store, loop: asyncio.AbstractEventLoop) -> None:
        self.store, self.loop = store, loop
        self.mutex = threading.Lock()
        self.waiting: List[Tuple[int, "asyncio.Future[None]"]] = []
        self.running = False

    def wait(self, seq: int) -> "asyncio.Future[None]":
        future = self.loop.create_future()
        with self.mutex:
            self.waiting.append((seq, future))
            start, self.running = not self.running, True
        if start:
            self.loop.run_in_executor(None, self._run)
        return future

    def _run(self) -> None:  # in an executor thread
        while True:
            with self.mutex:
                batch, self.waiting = self.waiting, []
                if not batch:
                    self.running = False
                    return
            error: Optional[BaseException] = None
            try:
                self.store.wait_durable(max(seq for seq, _ in batch))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting tasks
                error = exc
            self.loop.call_soon_threadsafe(self._settle, batch, error)

    def _settle(self, batch: List[Tuple[int, "asyncio.Future[None]"]], error: Optional[BaseException]) -> None:
        for seq, future in batch:
            if future.done():
                continue  # the task was cancelled; its modification went on regardless
            if error is None or seq <= self.store.synced_seq:
                future.set_result(None)
            else:
                future.set_exception(
                    StoreFailedError(
                        f"{self.store.path}: the sync failed ({error!r}); reopen the store", self.store.path
                    )
                )
