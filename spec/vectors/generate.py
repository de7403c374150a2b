"""Generate the conformance vectors: ``python spec/vectors/generate.py [--out FOLDER]``.

Each vector is a folder ``<name>/store/`` holding a store's files, and ``<name>/expected.json``::

    {"description": "...", "state": <tagged value> or null, "last_id": <tagged value> or null,
     "error": null or {"kind": "corruption" | "format-version" | "not-a-store", "file": name, "offset": n}}

Tagged values are JSON arrays ``[tag, payload]``: ``["none", null]``, ``["bool", true]``, ``["int", "-12"]``
(decimal text), ``["float", "0x1.8p+0"]`` (float.hex), ``["str", "..."]``, ``["bytes", "00ff"]`` (hex),
``["list", [...]]``, ``["tuple", [...]]``, ``["dict", [[key, value], ...]]`` (in order), ``["set", [...]]`` and
``["frozenset", [...]]`` (items sorted by their JSON text).

The vectors are written by the Python implementation and then damaged where a vector needs damage.  Running this
again without a format change reproduces every byte, on every supported Python (sets are written sorted).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import struct
import sys
import tempfile
from typing import Any, Callable, Dict, List, Optional

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

import rds  # noqa: E402
import rds._plans  # noqa: E402
from rds import _format as fmt  # noqa: E402

VALUES: Dict[str, Any] = {
    "none": None,
    "true": True,
    "false": False,
    "small ints": [0, 1, -1, 127, 128, -32, -33, 255, 65535, 2**32, -(2**31)],
    "edge ints": [2**63 - 1, -(2**63), 2**64 - 1],
    "big ints": [2**64, -(2**63) - 1, 10**40, -(10**40)],
    "floats": [0.0, -0.0, 1.5, -2.25e-300, float("inf"), float("-inf"), 1e308],
    "str": "naïve — ünïcödé ✓",
    "empty": ["", b"", [], (), {}, set(), frozenset()],
    "bytes": bytes(range(256)),
    "tuple": (1, ("nested", (2,))),
    "dict": {"b": 1, "a": 2, 3: "int key", (1, 2): "tuple key", None: "none key", b"k": "bytes key"},
    "set": {1, 2, 3, "s", (4, 5)},
    "frozenset": frozenset({frozenset({1}), "f"}),
    "deep": {"l": [{"t": (1, [2, {3: {4}}])}]},
}


def tag(value: Any) -> Any:
    kind = type(value)
    if kind.__module__.startswith("rds."):  # a tracked container counts as the built-in type it extends
        kind = kind.__mro__[-2]
    if value is None:
        return ["none", None]
    if kind is bool:
        return ["bool", value]
    if kind is int:
        return ["int", str(value)]
    if kind is float:
        return ["float", value.hex()]
    if kind is str:
        return ["str", value]
    if kind is bytes:
        return ["bytes", value.hex()]
    if kind in (list, tuple):
        return [kind.__name__, [tag(v) for v in value]]
    if kind is dict:
        return ["dict", [[tag(k), tag(v)] for k, v in value.items()]]
    if kind in (set, frozenset):
        return [kind.__name__, sorted((tag(v) for v in value), key=lambda t: json.dumps(t, sort_keys=True))]
    raise TypeError(kind)


def untag(tagged: Any) -> Any:
    kind, payload = tagged
    if kind in ("none", "bool", "str"):
        return payload
    if kind == "int":
        return int(payload)
    if kind == "float":
        return float.fromhex(payload)
    if kind == "bytes":
        return bytes.fromhex(payload)
    if kind == "list":
        return [untag(v) for v in payload]
    if kind == "tuple":
        return tuple(untag(v) for v in payload)
    if kind == "dict":
        return {untag(k): untag(v) for k, v in payload}
    if kind in ("set", "frozenset"):
        return (set if kind == "set" else frozenset)(untag(v) for v in payload)
    raise ValueError(kind)


class Vector:
    def __init__(self, name: str, description: str) -> None:
        self.name, self.description = name, description


def _frames(data: bytes) -> List[fmt.Frame]:
    header, _ = fmt.decode_header(data, "journal")
    assert header is not None
    return fmt.scan_frames(data, fmt.HEADER_SIZE, header.seq + 1).frames


def _edit(path: pathlib.Path, change: Callable[[bytearray], None]) -> None:
    data = bytearray(path.read_bytes())
    change(data)
    path.write_bytes(bytes(data))


def build(out: pathlib.Path) -> None:
    vectors: List[Dict[str, Any]] = []

    def store(name: str, description: str, redundancy: int = 1, **options: Any) -> rds.RDSDict:
        folder = out / name
        folder.mkdir()
        vectors.append({"name": name, "description": description})
        return rds.RDSDict(folder, "store", redundancy=redundancy, **options)

    def finish(d: Any, error: Optional[Dict[str, Any]] = None, expect: Any = None) -> None:
        entry = vectors[-1]
        folder = out / entry["name"]
        if d is not None:
            state = rds._plans.plain(d) if expect is None else expect[0]
            last_id = d.last_id if expect is None else expect[1]
            d.close()
        (folder / "store" / "LOCK").unlink(missing_ok=True)
        entry["error"] = error
        entry["state"] = None if error else tag(state)
        entry["last_id"] = None if error else tag(last_id)
        (folder / "expected.json").write_text(
            json.dumps({k: entry[k] for k in ("description", "state", "last_id", "error")}, indent=1) + "\n"
        )

    d = store("empty", "a new store: no modification yet")
    finish(d)

    d = store("every-value-type", "one modification per supported value type")
    for key, value in VALUES.items():
        d[key] = value
    finish(d)

    d = store("every-operation", "set, del, update, clear and the calls that map onto them", redundancy=2)
    d["a"] = 1
    d[("t", 1)] = [1]
    d.update({"b": 2, 5: None}, c=3)
    del d["a"]
    d.pop(5)
    d.setdefault("s", {1})
    d.popitem()
    d |= [("z", b"z")]
    snapshot = (dict(d), d.last_id)
    d.clear()
    d["after-clear"] = snapshot[0]
    finish(d)

    d = store("nested-operations", "every list and set operation on nested containers, and a nested dict", redundancy=2)
    d["cfg"] = {"hosts": ["a", "c"], "tags": {1, 2}, "deep": [{"n": 0}]}
    hosts, tags = d["cfg"]["hosts"], d["cfg"]["tags"]
    hosts.append("b")
    hosts.insert(0, "first")
    hosts.extend(["x", "y"])
    hosts[1] = "A"
    hosts[2:4] = ["s1", "s2", "s3"]
    hosts[::2] = ["e0", "e1", "e2", "e3"]
    del hosts[-1]
    del hosts[0:1]
    hosts.pop(0)
    hosts.remove("e2")
    hosts.sort(key=str.lower, reverse=True)
    hosts.reverse()
    hosts *= 2
    d["cfg"]["deep"][0]["n"] = 1
    d["cfg"]["deep"].clear()
    tags.add(3)
    tags.discard(1)
    tags |= {7, 8}
    tags -= {7}
    tags &= {2, 3, 8, 9}
    tags ^= {3, 10}
    finish(d)

    d = store("transaction", "transactions: many operations in one record with one ID; one rolled back", redundancy=2)
    d["a"] = 1
    with d.transaction():
        d["cfg"] = {"hosts": []}
        d["cfg"]["hosts"].append("x")  # addresses a container created earlier in the same record
        d["cfg"]["tags"] = {1}
        del d["a"]
    try:
        with d.transaction():
            d["never"] = "written"
            raise KeyError("rolled back: no record")
    except KeyError:
        pass
    with d.transaction():
        pass  # changes nothing: no record, no ID
    d["after"] = True
    finish(d)

    (out / "list-store").mkdir()
    vectors.append({"name": "list-store", "description": "an RDSList store: the snapshot's state is an array"})
    lst = rds.RDSList(out / "list-store", "store")
    lst.extend([3, 1, 2])
    lst.sort()
    lst.append({"k": [1]})
    lst[3]["k"].append(2)
    finish(lst)

    d = store("wrapped-ids", "IDs from IDGenerator(maximum=3): 1, 2, 3, 1, 2", id_generator=rds.IDGenerator(maximum=3))
    for i in range(5):
        d[f"k{i}"] = i
    finish(d)

    d = store(
        "compacted",
        "a small compaction limit: several generations were written and removed",
        redundancy=2,
        compact_min_bytes=0,
    )
    for i in range(12):
        d[i % 3] = "v" * i
    finish(d)

    d = store("three-copies", "redundancy 3", redundancy=3)
    d["x"] = [1, 2, 3]
    d["y"] = {"z": None}
    finish(d)

    d = store("torn-tail", "the last frame was cut by a crash (it was in flight): discarded silently")
    d["a"] = 1
    d["b"] = "x" * 600
    expect = ({"a": 1}, 1)
    d.close()
    journal = out / "torn-tail" / "store" / "journal.0.0"
    last = _frames(journal.read_bytes())[-1]
    _edit(journal, lambda b: b.__delitem__(slice(last.start + 512 - last.start % 512, None)))
    finish(d, expect=expect)

    d = store("torn-tail-zeroed", "the last frame's sector was zeroed by a torn write: discarded silently")
    d["a"] = 1
    d["b"] = 2
    expect = ({"a": 1}, 1)
    d.close()
    journal = out / "torn-tail-zeroed" / "store" / "journal.0.0"
    last = _frames(journal.read_bytes())[-1]
    _edit(journal, lambda b: b.__setitem__(slice(last.start, None), bytes(len(b) - last.start)))
    finish(d, expect=expect)

    d = store(
        "damaged-copy", "a byte of the first journal copy's first frame flipped: repaired from copy 1", redundancy=2
    )
    d["a"] = 1
    d["b"] = 2
    journal = out / "damaged-copy" / "store" / "journal.0.0"
    finish(d)
    _edit(journal, lambda b: b.__setitem__(fmt.HEADER_SIZE + 20, b[fmt.HEADER_SIZE + 20] ^ 0x10))

    d = store("missing-snapshot-copy", "snapshot.0.1 is missing: rewritten from snapshot.0.0", redundancy=2)
    d["a"] = 1
    finish(d)
    (out / "missing-snapshot-copy" / "store" / "snapshot.0.1").unlink()

    d = store("interrupted-compaction", "the journals of generation 1 exist but its snapshot does not: generation 0")
    d["a"] = 1
    finish(d)
    header = fmt.encode_header("journal", 0, 1, 1, 1)
    (out / "interrupted-compaction" / "store" / "journal.1.0").write_bytes(header)

    d = store("beyond-redundancy", "one copy, a middle frame damaged: an error naming journal.0.0 and its offset")
    d["a"] = 1
    d["b"] = 2
    d["c"] = 3
    d.close()
    journal = out / "beyond-redundancy" / "store" / "journal.0.0"
    second = _frames(journal.read_bytes())[1]
    _edit(journal, lambda b: b.__setitem__(second.start + 17, b[second.start + 17] ^ 0xFF))
    finish(None, {"kind": "corruption", "file": "journal.0.0", "offset": second.start})

    d = store("damaged-snapshot", "one copy, the snapshot's payload damaged: an error naming snapshot.0.0")
    d.close()
    _edit(out / "damaged-snapshot" / "store" / "snapshot.0.0", lambda b: b.__setitem__(-1, b[-1] ^ 1))
    finish(None, {"kind": "corruption", "file": "snapshot.0.0", "offset": fmt.HEADER_SIZE})

    d = store("newer-version", "every header says version 2: an error, and nothing is written")
    d["a"] = 1
    d.close()
    for path in (out / "newer-version" / "store").glob("*.*.*"):

        def bump(b: bytearray) -> None:
            b[8:10] = struct.pack("<H", 2)
            b[32:36] = struct.pack("<I", fmt.crc32(bytes(b[:32])))

        _edit(path, bump)
    finish(None, {"kind": "format-version", "file": "snapshot.0.0", "offset": None})

    vectors.append({"name": "not-a-store", "description": "a folder with other files: not a store, left untouched"})
    (out / "not-a-store" / "store").mkdir(parents=True)
    (out / "not-a-store" / "store" / "notes.txt").write_text("not RDS\n")
    finish(None, {"kind": "not-a-store", "file": None, "offset": None})

    index = [{"name": v["name"], "description": v["description"]} for v in vectors]
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE), help="where to write (default: beside this script)")
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    with tempfile.TemporaryDirectory() as tmp:
        build(pathlib.Path(tmp))
        for child in out.iterdir() if out.exists() else []:
            if child.is_dir():
                shutil.rmtree(child)
        out.mkdir(parents=True, exist_ok=True)
        for child in pathlib.Path(tmp).iterdir():
            if child.is_dir():
                shutil.copytree(child, out / child.name)
            else:
                shutil.copy(child, out / child.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
