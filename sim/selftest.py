"""Deliberately broken stores, to prove the campaign can fail.

Each breakage is a switch in the simulator's seam or a small patch applied at run time to the real store code,
never a copy of the store that could drift from it.  ``python -m sim --self-test`` runs the campaign against
each and fails unless every one is caught.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, ContextManager, Dict, Iterator, Tuple
from unittest import mock

from rds import _format
from rds._store import Store, write_all


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield


def _ack_before_fsync() -> ContextManager[Any]:
    """Journal syncs are deferred to the start of the next modification: calls return before their data is durable."""
    owed: Dict[Store, int] = {}
    real_wait, real_begin = Store.wait_durable, Store.begin

    def deferred_wait(self: Store, seq: int) -> None:
        owed[self] = max(owed.get(self, 0), seq)

    def begin(self: Store) -> Any:
        if self in owed:
            real_wait(self, owed.pop(self))
        return real_begin(self)

    stack = contextlib.ExitStack()
    stack.enter_context(mock.patch.object(Store, "wait_durable", deferred_wait))
    stack.enter_context(mock.patch.object(Store, "begin", begin))
    return stack


def _snapshot_in_place() -> ContextManager[Any]:
    """Snapshots are written straight into their final name instead of beside it and renamed."""

    def write_in_place(self: Store, name: str, data: bytes) -> None:
        fd = self.fs.open(self._file(name), self.fs.REPLACE)
        try:
            write_all(self.fs, fd, data)
            self._sync(fd)
        finally:
            self.fs.close(fd)

    return mock.patch.object(Store, "_write_file_beside", write_in_place)


def _retry_fsync() -> ContextManager[Any]:
    """A failed fsync is retried, and the retry's success trusted."""
    real_sync = Store._sync

    def retrying(self: Store, fd: int) -> None:
        try:
            real_sync(self, fd)
        except OSError:
            real_sync(self, fd)

    return mock.patch.object(Store, "_sync", retrying)


def _no_checksums() -> ContextManager[Any]:
    """Checksums are computed on write but never verified on read."""
    return mock.patch.object(_format, "intact", lambda stored, *parts: True)


def _split_transactions() -> ContextManager[Any]:
    """A transaction is written as two records (each half under the transaction's ID), so a crash between
    them leaves half of it."""
    real_write = Store._write_record

    def split(self: Store, tx: Any) -> int:
        ops = tx.ops
        if len(ops) < 2:
            return real_write(self, tx)
        tx.ops, tx.payload = ops[: len(ops) // 2], None
        real_write(self, tx)
        tx.ops = ops[len(ops) // 2 :]
        return real_write(self, tx)

    return mock.patch.object(Store, "_write_record", split)


def _group_frames_dropped() -> ContextManager[Any]:
    """A group's syncer syncs without writing the frames gathered for it."""
    real_gather = Store._gather_group

    def gather_and_drop(self: Store) -> Any:
        self._buffer = []
        return real_gather(self)

    return mock.patch.object(Store, "_gather_group", gather_and_drop)


#: name -> (seam switches, run-time patch, the fault models expected to catch it)
BREAKAGES: Dict[str, Tuple[frozenset, Callable[[], ContextManager[Any]], Tuple[str, ...]]] = {
    "no file fsync": (frozenset({"no-file-sync"}), _nothing, ("power",)),
    "no directory fsync": (frozenset({"no-dir-sync"}), _nothing, ("power",)),
    "acknowledged before fsync": (frozenset(), _ack_before_fsync, ("power",)),
    "checksums not verified": (frozenset(), _no_checksums, ("torn", "corruption")),
    "snapshot written in place": (frozenset(), _snapshot_in_place, ("crash", "torn")),
    "failed fsync retried and trusted": (frozenset(), _retry_fsync, ("fsync-drop",)),
    "transaction split in two records": (frozenset(), _split_transactions, ("crash", "power")),
    "group frames never written": (frozenset(), _group_frames_dropped, ("crash",)),
}
