"""Deliberately broken stores, to prove the campaign can fail.

Each breakage is a switch in the simulator's seam or a small patch applied at run time to the real store code,
never a copy of the store that could drift from it.  ``python -m sim --self-test`` runs the campaign against
each and fails unless every one is caught.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, ContextManager, Dict, Iterator, List, Tuple
from unittest import mock

from rds import _format
from rds._store import Store, write_all


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield


def _ack_before_fsync() -> ContextManager[Any]:
    """Journal syncs are deferred to the start of the next modification: calls return before their data is durable."""
    pending: List[Tuple[Any, int]] = []
    real_sync, real_commit = Store._sync, Store.commit

    def deferred_sync(self: Store, fd: int, force: bool = False) -> None:
        if force:
            real_sync(self, fd, force)
        else:
            pending.append((self, fd))

    def commit(self: Store, *args: Any, **kwargs: Any) -> Any:
        while pending:
            store, fd = pending.pop(0)
            if store is self:
                real_sync(store, fd, True)
        return real_commit(self, *args, **kwargs)

    stack = contextlib.ExitStack()
    stack.enter_context(mock.patch.object(Store, "_sync", deferred_sync))
    stack.enter_context(mock.patch.object(Store, "commit", commit))
    return stack


def _snapshot_in_place() -> ContextManager[Any]:
    """Snapshots are written straight into their final name instead of beside it and renamed."""

    def write_in_place(self: Store, name: str, data: bytes) -> None:
        fd = self.fs.open(self._file(name), self.fs.REPLACE)
        try:
            write_all(self.fs, fd, data)
            self._sync(fd, force=True)
        finally:
            self.fs.close(fd)

    return mock.patch.object(Store, "_write_file_beside", write_in_place)


def _retry_fsync() -> ContextManager[Any]:
    """A failed fsync is retried, and the retry's success trusted."""
    real_sync = Store._sync

    def retrying(self: Store, fd: int, force: bool = False) -> None:
        try:
            real_sync(self, fd, force)
        except OSError:
            real_sync(self, fd, force)

    return mock.patch.object(Store, "_sync", retrying)


def _no_checksums() -> ContextManager[Any]:
    """Checksums are computed on write but never verified on read."""
    return mock.patch.object(_format, "intact", lambda stored, *parts: True)


#: name -> (seam switches, run-time patch, the fault models expected to catch it)
BREAKAGES: Dict[str, Tuple[frozenset, Callable[[], ContextManager[Any]], Tuple[str, ...]]] = {
    "no file fsync": (frozenset({"no-file-sync"}), _nothing, ("power",)),
    "no directory fsync": (frozenset({"no-dir-sync"}), _nothing, ("power",)),
    "acknowledged before fsync": (frozenset(), _ack_before_fsync, ("power",)),
    "checksums not verified": (frozenset(), _no_checksums, ("torn", "corruption")),
    "snapshot written in place": (frozenset(), _snapshot_in_place, ("crash", "torn")),
    "failed fsync retried and trusted": (frozenset(), _retry_fsync, ("fsync-drop",)),
}
