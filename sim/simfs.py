"""The simulator's OS seam: RDS's own ``FileSystem``, counting every call, injecting faults, and keeping a model
of what would survive a power cut.

``SimFS`` subclasses ``rds.FileSystem`` and performs every call for real (on pyfakefs or a temporary folder), so
the store under test is the real code.  Beside the real files it keeps a *shadow*: each file's current bytes,
its bytes as of its last sync and the writes since; each folder's current entries, its entries as of its last
fsync and the creates, renames and unlinks since.  From the shadow, ``states()`` produces every disk state the
fault models in CONTRACT.md allow at the moment of a crash, as plain trees ``{path: bytes or None (a folder)}``.

Faults are planned by ``Fault``: before call number ``at`` (counting from 0) the seam crashes, raises EIO or
ENOSPC (once or from then on), tears the write, or fails an fsync after dropping the file's unsynced data.
"""

from __future__ import annotations

import errno
import os
import random
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

from rds import FileSystem

Tree = Dict[str, Optional[bytes]]  # path relative to the root -> file bytes, or None for a folder

SECTOR = 512
MUTATING = {"mkdir", "create", "write", "fsync", "fdatasync", "fsync_dir", "replace", "unlink"}


class SimulatedCrash(BaseException):
    """The process (or machine) stops here.  A BaseException, so no ``except Exception`` in the store eats it."""


@dataclass(frozen=True)
class Fault:
    """What to do at call number ``at``.  ``kind``: crash, torn, eio, enospc, fsync-drop."""

    kind: str
    at: int
    sticky: bool = False  # for eio/enospc: every later call fails too


class FileNode:
    __slots__ = ("current", "durable", "pending")

    def __init__(self) -> None:
        self.current = bytearray()
        self.durable = b""
        self.pending: List[Tuple] = []  # ("w", offset, data) or ("t", length), since the last sync

    def synced(self) -> None:
        self.durable = bytes(self.current)
        self.pending = []


def _apply(content: bytearray, op: Tuple) -> None:
    if op[0] == "w":
        _, offset, data = op
        if offset > len(content):
            content.extend(b"\0" * (offset - len(content)))
        content[offset : offset + len(data)] = data
    else:
        del content[op[1] :]


class DirNode:
    __slots__ = ("entries", "durable", "pending")

    def __init__(self) -> None:
        self.entries: Dict[str, object] = {}
        self.durable: Dict[str, object] = {}
        self.pending: List[Tuple] = []  # ("link", name, node), ("unlink", name), ("rename", src, dst, node)

    def synced(self) -> None:
        self.durable = dict(self.entries)
        self.pending = []


def _apply_dir(entries: Dict[str, object], op: Tuple) -> None:
    if op[0] == "link":
        entries[op[1]] = op[2]
    elif op[0] == "unlink":
        entries.pop(op[1], None)
    else:
        entries.pop(op[1], None)
        entries[op[2]] = op[3]


class SimFS(FileSystem):
    """A counting, fault-injecting seam over the real file system below ``root`` (see the module docstring)."""

    def __init__(self, root: str, fault: Optional[Fault] = None, seed: int = 0, switches: frozenset = frozenset()):
        self.root = os.path.abspath(root)
        self.fault = fault
        self.switches = switches  # self-test breakages: "no-file-sync", "no-dir-sync"
        self.calls = 0
        self.trace: List[str] = []  # "n name detail" for every call, for reproductions
        self.tree = DirNode()
        self.tree.synced()
        self.fds: Dict[int, List] = {}  # fd -> [node, position]
        self.failing = False
        self.dead = False  # set when the simulated process has died: its leftover objects must not act
        self.rng = random.Random(seed)
        self.torn: Optional[Tuple[FileNode, int, bytes]] = None  # the write a crash tore, for ``states``

    # -- the shadow ------------------------------------------------------------------------------------------

    def _split(self, path: str) -> Tuple[DirNode, str]:
        rel = os.path.relpath(os.path.abspath(path), self.root)
        parts = [p for p in rel.split(os.sep) if p not in ("", ".")]
        node = self.tree
        for part in parts[:-1]:
            child = node.entries.get(part)
            if not isinstance(child, DirNode):
                raise AssertionError(f"shadow has no folder {part!r} on the way to {path}")
            node = child
        return node, parts[-1] if parts else ""

    def _lookup(self, path: str) -> object:
        if os.path.abspath(path) == self.root:
            return self.tree
        parent, name = self._split(path)
        return parent.entries.get(name)

    def load(self, tree: Tree) -> None:
        """Start the shadow from a disk state in which everything is durable (after a reboot)."""
        self.tree = DirNode()
        for path in sorted(tree, key=lambda p: p.count("/")):
            parent, name = self._split(os.path.join(self.root, path))
            node: object = DirNode() if tree[path] is None else FileNode()
            if isinstance(node, FileNode):
                node.current = bytearray(tree[path] or b"")
            parent.entries[name] = node
        self._sync_all(self.tree)

    def _sync_all(self, node: object) -> None:
        node.synced()  # type: ignore[attr-defined]
        if isinstance(node, DirNode):
            for child in node.entries.values():
                self._sync_all(child)

    # -- counting and faults ---------------------------------------------------------------------------------

    def _tick(self, name: str, detail: str = "") -> Optional[str]:
        """Count one call; return the fault to inject now (or None)."""
        if self.dead:
            raise SimulatedCrash("this process is dead")
        number = self.calls
        self.calls += 1
        self.trace.append(f"{number} {name} {detail}".rstrip())
        if self.failing:
            raise OSError(errno.EIO, f"injected EIO (sticky) at call {number} {name}")
        fault = self.fault
        if fault is None or fault.at != number:
            return None
        if fault.kind == "crash":
            raise SimulatedCrash(number)
        if fault.kind in ("eio", "enospc"):
            self.failing = fault.sticky
            code = errno.EIO if fault.kind == "eio" else errno.ENOSPC
            raise OSError(code, f"injected {errno.errorcode[code]} at call {number} {name}")
        return fault.kind  # torn and fsync-drop are handled by the call itself

    def _rel(self, path: str) -> str:
        return os.path.relpath(os.path.abspath(path), self.root)

    # -- the seam --------------------------------------------------------------------------------------------

    def isdir(self, path: str) -> bool:
        self._tick("isdir", self._rel(path))
        return super().isdir(path)

    def exists(self, path: str) -> bool:
        self._tick("exists", self._rel(path))
        return super().exists(path)

    def listdir(self, path: str) -> List[str]:
        self._tick("listdir", self._rel(path))
        return super().listdir(path)

    def mkdir(self, path: str) -> None:
        self._tick("mkdir", self._rel(path))
        super().mkdir(path)
        parent, name = self._split(path)
        node = DirNode()
        node.synced()
        parent.entries[name] = node
        parent.pending.append(("link", name, node))

    def fsync_dir(self, path: str) -> None:
        self._tick("fsync_dir", self._rel(path))
        super().fsync_dir(path)
        if "no-dir-sync" not in self.switches:
            node = self._lookup(path)
            if isinstance(node, DirNode):
                node.synced()

    def open(self, path: str, how: str) -> int:
        existing = self._lookup(path)
        creating = how in (self.CREATE, self.REPLACE)
        self._tick("create" if creating else "open", f"{self._rel(path)} {how}")
        fd = super().open(path, how)
        node = existing
        if node is None and creating:
            parent, name = self._split(path)
            node = FileNode()
            node.synced()
            parent.entries[name] = node
            parent.pending.append(("link", name, node))
        if isinstance(node, FileNode) and how == self.REPLACE and node.current:
            node.current = bytearray()
            node.pending.append(("t", 0))
        self.fds[fd] = [node, 0]
        return fd

    def close(self, fd: int) -> None:
        if self.dead:
            return  # a dead process's descriptors are gone already (and their numbers may be reused)
        self._tick("close", str(fd))
        self.fds.pop(fd, None)
        super().close(fd)

    def read(self, fd: int, size: int) -> bytes:
        self._tick("read", str(fd))
        data = super().read(fd, size)
        self.fds[fd][1] += len(data)
        return data

    def write(self, fd: int, data: bytes) -> int:
        entry = self.fds[fd]
        node, position = entry
        data = bytes(data)
        kind = self._tick("write", f"{fd} @{position} +{len(data)}")
        if kind == "torn":
            self.torn = (node, position, data)
            raise SimulatedCrash(self.calls - 1)
        written = super().write(fd, data)
        op = ("w", position, data[:written])
        _apply(node.current, op)
        node.pending.append(op)
        entry[1] = position + written
        return written

    def seek_end(self, fd: int) -> int:
        self._tick("seek_end", str(fd))
        super().seek_end(fd)
        self.fds[fd][1] = len(self.fds[fd][0].current)
        return self.fds[fd][1]

    def _sync_file(self, name: str, fd: int) -> None:
        node = self.fds[fd][0]
        if self._tick(name, str(fd)) == "fsync-drop":
            # The kernel reports EIO and forgets the dirty pages: a retry would "succeed" with the data gone.
            node.current = bytearray(node.durable)
            node.pending = []
            self._rewrite_backing(node)
            raise OSError(errno.EIO, f"injected fsync failure (unsynced data dropped) at call {self.calls - 1}")
        getattr(super(), name)(fd)
        if "no-file-sync" not in self.switches:
            node.synced()

    def fsync(self, fd: int) -> None:
        self._sync_file("fsync", fd)

    def fdatasync(self, fd: int) -> None:
        self._sync_file("fdatasync", fd)

    def replace(self, src: str, dst: str) -> None:
        self._tick("replace", f"{self._rel(src)} -> {self._rel(dst)}")
        super().replace(src, dst)
        parent, old = self._split(src)
        target, new = self._split(dst)
        assert parent is target, "RDS renames only within its folder"
        node = parent.entries.pop(old)
        parent.entries[new] = node
        parent.pending.append(("rename", old, new, node))

    def unlink(self, path: str) -> None:
        self._tick("unlink", self._rel(path))
        super().unlink(path)
        parent, name = self._split(path)
        parent.entries.pop(name, None)
        parent.pending.append(("unlink", name))

    def lock(self, fd: int, timeout: Optional[float]) -> bool:
        self._tick("lock", str(fd))
        return super().lock(fd, timeout)

    def _rewrite_backing(self, node: FileNode) -> None:
        for path, found in self._walk(self.tree, ""):
            if found is node:
                with open(os.path.join(self.root, path), "r+b") as f:
                    f.truncate(0)
                    f.write(node.current)

    def _walk(self, node: DirNode, prefix: str) -> Iterator[Tuple[str, object]]:
        for name, child in node.entries.items():
            path = f"{prefix}{name}"
            yield path, child
            if isinstance(child, DirNode):
                yield from self._walk(child, path + "/")

    # -- disk states -----------------------------------------------------------------------------------------

    def current(self) -> Tree:
        """What is on disk now (what survives a crash of the process alone)."""
        return {path: (None if isinstance(n, DirNode) else bytes(n.current)) for path, n in self._walk(self.tree, "")}

    def _tree(self, entries_of, content_of) -> Tree:
        out: Tree = {}

        def walk(node: DirNode, prefix: str) -> None:
            for name, child in entries_of(node).items():
                path = f"{prefix}{name}"
                if isinstance(child, DirNode):
                    out[path] = None
                    walk(child, path + "/")
                else:
                    out[path] = content_of(child)

        walk(self.tree, "")
        return out

    def power_loss_states(self) -> Iterator[Tuple[str, Tree]]:
        """Disk states after a power cut now: unsynced data dropped, unsynced folder changes undone, and each
        prefix of the unsynced writes of a file, or of the unsynced changes of a folder, kept."""

        def durable_entries(node: DirNode) -> Dict[str, object]:
            return node.durable

        def durable_content(node: FileNode) -> bytes:
            return node.durable

        yield "drop", self._tree(durable_entries, durable_content)
        dirs = [n for _, n in self._walk(self.tree, "") if isinstance(n, DirNode)] + [self.tree]
        files = [n for _, n in self._walk_all() if isinstance(n, FileNode)]
        for d in dirs:
            for keep in range(1, len(d.pending) + 1):

                def entries(node: DirNode, d=d, keep=keep) -> Dict[str, object]:
                    if node is not d:
                        return node.durable
                    out = dict(node.durable)
                    for op in node.pending[:keep]:
                        _apply_dir(out, op)
                    return out

                yield f"dir-prefix-{keep}", self._tree(entries, durable_content)
        for f in files:
            for keep in range(1, len(f.pending) + 1):

                def content(node: FileNode, f=f, keep=keep) -> bytes:
                    if node is not f:
                        return node.durable
                    out = bytearray(node.durable)
                    for op in node.pending[:keep]:
                        _apply(out, op)
                    return bytes(out)

                # Folder changes kept too, so that files created since the last folder sync can be seen.
                yield f"file-prefix-{keep}", self._tree(lambda n: n.entries, content)

    def _walk_all(self) -> Iterator[Tuple[str, object]]:
        """Every node, including files reachable only through durable (since unlinked) entries."""
        seen = set()

        def walk(node: DirNode, prefix: str) -> Iterator[Tuple[str, object]]:
            for name, child in list(node.entries.items()) + list(node.durable.items()):
                if id(child) in seen:
                    continue
                seen.add(id(child))
                yield f"{prefix}{name}", child
                if isinstance(child, DirNode):
                    yield from walk(child, f"{prefix}{name}/")

        yield from walk(self.tree, "")

    def torn_states(self) -> Iterator[Tuple[str, Tree]]:
        """After a crash that tore a write: the write cut at each sector boundary inside it (or before all of
        it), the rest left unwritten, zeroed or garbage; everything else as the process left it."""
        if self.torn is None:
            return
        node, position, data = self.torn
        end = position + len(data)
        cuts = sorted({(position // SECTOR) * SECTOR} | set(range((position // SECTOR + 1) * SECTOR, end, SECTOR)))
        paths = [path for path, n in self._walk(self.tree, "") if n is node]
        for cut in cuts:
            keep = max(cut - position, 0)
            for fill in ("unwritten", "zero", "garbage"):
                content = bytearray(node.current)
                _apply(content, ("w", position, data[:keep]))
                rest = end - (position + keep)
                if fill == "zero":
                    _apply(content, ("w", position + keep, b"\0" * rest))
                elif fill == "garbage":
                    _apply(content, ("w", position + keep, bytes(self.rng.getrandbits(8) for _ in range(rest))))
                tree = self.current()
                for path in paths:
                    tree[path] = bytes(content)
                yield f"torn@{cut}-{fill}", tree


def damage(data: bytes, offset: int, how: str) -> bytes:
    """``data`` with the byte at ``offset`` flipped (every bit inverted) or zeroed: the campaign's corruption."""
    byte = data[offset] ^ 0xFF if how == "flip" else 0
    return data[:offset] + bytes([byte]) + data[offset + 1 :]


def damage_file(path: str, offset: int, how: str = "flip") -> None:
    """Corrupt one byte of a real file (for tests of the tools that must cope with it)."""
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(damage(data, offset if offset >= 0 else len(data) + offset, how))


def materialize(root: str, tree: Tree) -> None:
    """Make the folder ``root`` hold exactly ``tree`` (through whatever ``os`` is: real or pyfakefs)."""
    for name in os.listdir(root):
        _remove(os.path.join(root, name))
    for path in sorted(tree, key=lambda p: (p.count("/"), p)):
        full = os.path.join(root, path)
        content = tree[path]
        if content is None:
            os.mkdir(full)
        else:
            with open(full, "wb") as f:
                f.write(content)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        for name in os.listdir(path):
            _remove(os.path.join(path, name))
        os.rmdir(path)
    else:
        os.unlink(path)


def read_tree(root: str) -> Tree:
    """The folder ``root`` as a tree (to check the shadow against the real files)."""
    out: Tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        prefix = "" if rel == "." else rel + "/"
        for name in dirnames:
            out[prefix + name] = None
        for name in filenames:
            with open(os.path.join(dirpath, name), "rb") as f:
                out[prefix + name] = f.read()
    return out
