"""The typed errors RDS raises.

Every error a user can meet is an ``RDSError``; each names the store file it is about and, for damage,
the byte offset where the damage starts, so that an operator can look at it with a hex dump.
Values that the codec cannot store raise ``UnsupportedTypeError``, which is also a ``TypeError``.
"""

from __future__ import annotations

from typing import Optional


class RDSError(Exception):
    """Base class of every error RDS raises on purpose."""

    def __init__(self, message: str, path: Optional[str] = None) -> None:
        super().__init__(message)
        self.path = path


class NotAStoreError(RDSError):
    """The folder exists but holds no RDS store (and is not empty), or a read-only open found no store."""


class FormatVersionError(RDSError):
    """A store file was written by a newer format version than this library reads."""

    def __init__(self, message: str, path: Optional[str] = None, version: int = 0) -> None:
        super().__init__(message, path)
        self.version = version


class CodecMismatchError(RDSError):
    """The store was written with another codec than the one it was opened with (pickle must be opted into)."""


class CorruptionError(RDSError):
    """Damage that a crash cannot explain and the store's redundancy cannot repair.

    ``path`` is the damaged file and ``offset`` the first byte that failed its check.
    """

    def __init__(self, message: str, path: Optional[str] = None, offset: Optional[int] = None) -> None:
        super().__init__(message, path)
        self.offset = offset


class LockedError(RDSError):
    """Another writer holds the store's lock."""


class StoreClosedError(RDSError):
    """The store was closed; reads still see its last state, modifications are refused."""


class ReadOnlyError(RDSError):
    """The store was opened with ``readonly=True``."""


class StoreFailedError(RDSError):
    """A write or fsync failed earlier; the store refuses modifications until it is reopened.

    An fsync that failed may have dropped data the kernel had buffered, and retrying it can report success
    for data that is gone, so RDS never retries: reopening re-reads and verifies what is really on disk.
    """


class DetachedError(RDSError):
    """A tracked container (or custom value) that has left its store was modified.

    Once a nested container is deleted, popped, cleared away or overwritten, it no longer belongs to the store,
    and changing it would change nothing on disk; RDS raises instead of silently losing the write.
    """


class UnsupportedTypeError(RDSError, TypeError):
    """A value the store's codec cannot encode; the modification changed nothing."""


class TurnTimeoutError(RDSError, TimeoutError):
    """Waiting for the store's turn (another thread's modification or transaction) took longer than
    ``turn_timeout``; nothing was changed."""
