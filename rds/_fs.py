"""The OS seam: the one place where RDS touches the file system.

Every file-system call the library makes is a method of ``FileSystem``; no other module in ``rds/`` imports
``os``, ``fcntl`` or ``io``, or calls ``open()`` (``tests/test_seam.py`` enforces this).  The crash simulator in
``sim/`` substitutes a subclass that counts, fails, tears or forgets these calls, so what it proves about crash
safety holds for the real code.

Rules for this module:
- One method per system call, with the system call's meaning: no retries, no loops, no policy.  Loops over
  short writes and the decision of when to sync live in ``_store.py`` where the simulator sees every step.
- ``os`` functions are looked up when called, never bound at import time, so pyfakefs can patch them.
- Only calls that pyfakefs fakes: no pread/pwrite/mmap.
"""

from __future__ import annotations

import errno
import os
import sys
import time
from typing import List, Optional

if sys.platform != "win32":  # pragma: no branch
    import fcntl
else:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


class FileSystem:
    """Thin, policy-free wrappers over the file-system calls RDS makes."""

    # -- paths (pure, but kept here so no other module needs ``os``) --------------------------------------
    def join(self, *parts: str) -> str:
        return os.path.join(*parts)

    def fspath(self, path: "os.PathLike[str] | str") -> str:
        return os.fspath(path)

    def dirname(self, path: str) -> str:
        return os.path.dirname(os.path.abspath(path))

    # -- directories -------------------------------------------------------------------------------------
    def isdir(self, path: str) -> bool:
        return os.path.isdir(path)

    def exists(self, path: str) -> bool:
        return os.path.lexists(path)

    def mkdir(self, path: str) -> None:
        os.mkdir(path, 0o755)

    def listdir(self, path: str) -> List[str]:
        return os.listdir(path)

    def fsync_dir(self, path: str) -> None:
        """Make the directory's entries (creates, renames, unlinks) durable."""
        flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
        fd = os.open(path, flags)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- files -------------------------------------------------------------------------------------------
    #: How ``open`` opens a file: for reading; for writing an existing file; creating it if absent; or
    #: creating it and discarding what it held.  Writes start at offset 0; ``seek_end`` moves to the end.
    #: (No ftruncate, pread or pwrite: RDS never changes a file in place, and pyfakefs fakes them poorly.)
    READ, WRITE, CREATE, REPLACE = "read", "write", "create", "replace"

    def open(self, path: str, how: str) -> int:
        flags = {
            self.READ: os.O_RDONLY,
            self.WRITE: os.O_WRONLY,
            self.CREATE: os.O_WRONLY | os.O_CREAT,
            self.REPLACE: os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
        }[how]
        return os.open(path, flags | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0), 0o644)

    def close(self, fd: int) -> None:
        os.close(fd)

    def read(self, fd: int, size: int) -> bytes:
        return os.read(fd, size)

    def write(self, fd: int, data: bytes) -> int:
        return os.write(fd, data)

    def seek_end(self, fd: int) -> int:
        return os.lseek(fd, 0, os.SEEK_END)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def fdatasync(self, fd: int) -> None:
        """Sync the file's data (and the metadata needed to read it back, such as its size)."""
        sync = getattr(os, "fdatasync", None)
        if sync is None:  # pragma: no cover - macOS and Windows have only fsync
            os.fsync(fd)
        else:
            sync(fd)

    def replace(self, src: str, dst: str) -> None:
        os.replace(src, dst)

    def unlink(self, path: str) -> None:
        os.unlink(path)

    # -- the writer lock ---------------------------------------------------------------------------------
    def process(self) -> int:
        """The calling process's ID: a forked child shares its parent's descriptors and lock, not its store."""
        return os.getpid()

    def lock(self, fd: int, timeout: Optional[float]) -> bool:
        """Take an exclusive advisory lock on ``fd``; wait at most ``timeout`` seconds (None: don't wait).

        Returns False if another process (or another open of the same file) holds it.
        """
        if fcntl is None:  # pragma: no cover
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
            if deadline is None or time.monotonic() >= deadline:
                return False
            time.sleep(0.01)


#: The seam every store uses unless it is given another one.
DEFAULT = FileSystem()
