"""``python -m rds`` (and the ``rds`` command): look inside stores and mend them without writing code.

Commands take the store's folder (``location/name``).  ``info``, ``verify`` and ``dump`` never write and take no
lock; the others take the writer lock, so they refuse a store another process holds.  Errors are one line on
stderr, never a traceback.  Exit status: 0 success; 1 failure; ``verify``: 0 clean, 1 damaged but repairable
from a copy, 2 damaged beyond the redundancy.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from typing import Any, Iterator, List, Optional

from . import _json
from ._codec import Codec, MsgpackCodec, PickleCodec
from ._dict import RDSDict
from ._fs import DEFAULT
from ._list import RDSList
from ._plans import plain
from ._recovery import Recovered
from ._store import Store, inspect, read_file, write_all
from .errors import CorruptionError, RDSError


def _codec(args: argparse.Namespace) -> Codec:
    return PickleCodec() if args.pickle else MsgpackCodec()


def _split(path: str) -> List[str]:
    folder = DEFAULT.fspath(path).rstrip("/") or "/"
    return [DEFAULT.dirname(folder), folder.rsplit("/", 1)[-1]]


def _root_class(recovered: Recovered) -> Any:
    return RDSList if isinstance(recovered.state, list) else RDSDict


@contextlib.contextmanager
def _progress(total: int, what: str) -> Iterator[Any]:
    """A progress bar (tqdm, a dependency) on stderr when it is a terminal; nothing in pipes and logs."""
    bar = None
    if sys.stderr.isatty():
        try:
            from tqdm import tqdm

            bar = tqdm(total=total, desc=what, file=sys.stderr, leave=False)
        except ImportError:
            bar = None
    try:
        yield bar
    finally:
        if bar is not None:
            bar.close()


def _health(recovered: Recovered) -> List[str]:
    bad = set(recovered.snapshot_repairs) | {mend.name for mend in recovered.journal_repairs if mend.keep == 0}
    torn = {mend.name for mend in recovered.journal_repairs if mend.keep > 0}
    lines = []
    for kind in ("snapshot", "journal"):
        for copy in range(recovered.copies):
            name = f"{kind}.{recovered.gen}.{copy}"
            state = "damaged (repairable)" if name in bad else "torn or short tail" if name in torn else "ok"
            lines.append(f"  {name:<24} {state}")
    return lines


def cmd_info(args: argparse.Namespace) -> int:
    rec = inspect(args.path, _codec(args))
    print(f"store            {args.path}")
    print("format version   1")
    print(f"codec            {_codec(args).name}")
    print(f"root             {type(rec.state).__name__}")
    print(f"redundancy       {rec.copies}")
    print(f"generation       {rec.gen}")
    print(f"last sequence    {rec.last_seq}")
    print(f"last id          {rec.last_id!r}")
    print(f"items            {len(rec.state)}")
    print(f"journal bytes    {len(rec.journal)} ({rec.last_seq - rec.snapshot_seq} records)")
    print(f"snapshot bytes   {len(rec.snapshot)}")
    print("copies:")
    print("\n".join(_health(rec)))
    for event in rec.events:
        print(f"note: {event}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    try:
        rec = inspect(args.path, _codec(args))
    except CorruptionError as exc:
        print(f"DAMAGED beyond the redundancy: {exc} (file {exc.path}, offset {exc.offset})")
        print(f"`rds repair {args.path}` writes a new store at the last consistent point, keeping the old files")
        return 2
    damaged = [e for e in rec.events if "torn tail" not in e]
    for event in rec.events:
        print(event)
    if damaged:
        print(f"DAMAGED, repairable from the other copies: run `rds repair {args.path}`")
        return 1
    print(f"ok: {rec.copies} copies, generation {rec.gen}, last id {rec.last_id!r}, every checksum verified")
    return 0


def cmd_dump(args: argparse.Namespace) -> int:
    rec = inspect(args.path, _codec(args))
    print(repr(rec.state) if args.format == "repr" else _json.dumps(rec.state, indent=1))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    rec = inspect(args.path, _codec(args))
    with _progress(1, "export"):
        text = _json.dumps({"last_id": rec.last_id, "state": rec.state}, indent=1) + "\n"
    if args.file in (None, "-"):
        sys.stdout.write(text)
        return 0
    fd = DEFAULT.open(args.file, DEFAULT.REPLACE)
    try:
        write_all(DEFAULT, fd, text.encode())
        DEFAULT.fsync(fd)
    finally:
        DEFAULT.close(fd)
    print(f"exported {len(rec.state)} items (last id {rec.last_id!r}) to {args.file}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    raw = sys.stdin.read() if args.file in (None, "-") else (read_file(DEFAULT, args.file) or b"").decode()
    document = _json.loads(raw)
    state = document["state"] if isinstance(document, dict) and "state" in document else document
    kind: Any = RDSList if isinstance(state, list) else RDSDict
    location, name = _split(args.path)
    with kind(location, name, codec=_codec(args)) as store:
        if len(store) and not args.replace:
            raise RDSError(f"{args.path} is not empty: pass --replace to clear it first")
        if args.replace:
            store.clear()
        (store.extend if isinstance(state, list) else store.update)(state)
        print(f"imported {len(store)} items into {args.path} (last id {store.last_id!r})")
    return 0


def cmd_compact(args: argparse.Namespace) -> int:
    rec = inspect(args.path, _codec(args))
    location, name = _split(args.path)
    with _root_class(rec)(location, name, codec=_codec(args)) as store, _progress(1, "compact"):
        store.compact()
        print(f"compacted {args.path}: generation {store._store.gen}, snapshot {store._store.snapshot_size} bytes")
    return 0


def cmd_repair(args: argparse.Namespace) -> int:
    codec = _codec(args)
    location, name = _split(args.path)
    try:
        rec = inspect(args.path, codec)
    except CorruptionError:
        rec = None
    if rec is not None:  # within the redundancy: opening for writing mends every copy
        with _root_class(rec)(location, name, codec=codec) as store:
            events = store.recovery_events
        print("\n".join(events) if events else "nothing to repair")
        return 0
    # Beyond the redundancy: write a new store at the last consistent point beside the old one, verify it, and
    # only then swap the folders; the damaged files are kept aside.
    rec = inspect(args.path, codec, repair=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    new_name, old_name = f"{name}.repaired-{stamp}", f"{name}.damaged-{stamp}"
    with _progress(4, "repair") as bar:
        holder = Store(location, new_name, root_type=type(rec.state), redundancy=rec.copies, codec=codec)
        holder.last_seq, holder.last_id = rec.last_seq, rec.last_id
        holder.compact(rec.state)
        holder.close()
        if bar is not None:
            bar.update(2)
        check = inspect(DEFAULT.join(location, new_name), codec)
        if plain(check.state) != plain(rec.state) or check.last_id != rec.last_id:
            raise RDSError(f"the rebuilt store at {new_name} does not read back as written; nothing was swapped")
        DEFAULT.replace(args.path, DEFAULT.join(location, old_name))
        DEFAULT.replace(DEFAULT.join(location, new_name), args.path)
        DEFAULT.fsync_dir(location)
        if bar is not None:
            bar.update(2)
    for event in rec.events:
        print(event)
    print(f"rebuilt {args.path} at the last consistent point: last id {rec.last_id!r}, {len(rec.state)} items")
    print(f"the damaged files are kept in {DEFAULT.join(location, old_name)}")
    return 0


COMMANDS = {
    "info": (cmd_info, "format, redundancy, last id, sizes and the health of each copy"),
    "verify": (cmd_verify, "check every copy and checksum (exit 0 clean, 1 repairable, 2 beyond the redundancy)"),
    "dump": (cmd_dump, "print the recovered state"),
    "repair": (cmd_repair, "rewrite damaged copies, or rebuild at the last consistent point (old files kept)"),
    "compact": (cmd_compact, "write a new snapshot and start an empty journal"),
    "export": (cmd_export, "write the state and last id as JSON (to FILE, or stdout)"),
    "import": (cmd_import, "load JSON (as export writes it, or a bare value) into a new or --replace'd store"),
}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="rds", description=__doc__.splitlines()[0])
    parser.add_argument("--pickle", action="store_true", help="the store uses the pickle codec (runs code from it)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (_, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.add_argument("path", help="the store's folder (location/name)")
        if name == "dump":
            command.add_argument("--format", choices=["json", "repr"], default="json")
        if name in ("export", "import"):
            command.add_argument("file", nargs="?", default=None, help="the JSON file (default: stdout / stdin)")
        if name == "import":
            command.add_argument("--replace", action="store_true", help="clear a non-empty store first")
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command][0](args)
    except (RDSError, OSError, ValueError, KeyError) as exc:
        detail = str(exc) or type(exc).__name__
        print(f"rds {args.command}: error: {detail}", file=sys.stderr)
        return 2 if args.command == "verify" else 1
