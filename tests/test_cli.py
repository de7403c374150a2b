"""``python -m rds``: every command end to end on real stores, damaged ones included."""

import json
import os
import struct
import subprocess
import sys
import textwrap

import pytest

import rds
from rds import _format as fmt
from sim.simfs import damage_file


def run(*args, stdin=None):
    result = subprocess.run(
        [sys.executable, "-m", "rds", *map(str, args)], capture_output=True, text=True, input=stdin, timeout=60
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def make(where, redundancy=2, items=3):
    with rds.RDSDict(where, "s", redundancy=redundancy) as d:
        for i in range(items):
            d[f"k{i}"] = {"n": i, "b": b"\x00" + bytes([i]), "t": (i, {i})}
    return where / "s"


def middle_frame(path):
    data = path.read_bytes()
    frames = fmt.scan_frames(data, fmt.HEADER_SIZE, 1).frames
    return frames[len(frames) // 2].start + 20


def test_info_reports_the_store(where):
    store = make(where)
    out = run("info", store)
    assert out.returncode == 0
    assert (
        "redundancy       2" in out.stdout and "last id          3" in out.stdout and "items            3" in out.stdout
    )
    assert out.stdout.count(" ok") == 4  # two snapshot and two journal copies


def test_verify_tells_clean_repairable_and_beyond(where):
    store = make(where)
    assert run("verify", store).returncode == 0
    damage_file(store / "journal.0.0", middle_frame(store / "journal.0.0"))
    out = run("verify", store)
    assert out.returncode == 1 and "journal.0.0" in out.stdout and "repair" in out.stdout
    single = make(where / "one", redundancy=1)
    damage_file(single / "journal.0.0", middle_frame(single / "journal.0.0"))
    out = run("verify", single)
    assert out.returncode == 2 and "journal.0.0" in out.stdout and "offset" in out.stdout


def test_dump_prints_json_and_repr(where):
    store = make(where, items=1)
    out = run("dump", store)
    assert json.loads(out.stdout) == {"k0": {"n": 0, "b": {"$bytes": "0000"}, "t": {"$tuple": [0, {"$set": [0]}]}}}
    assert (
        run("dump", store, "--format", "repr").stdout.strip() == "{'k0': {'n': 0, 'b': b'\\x00\\x00', 't': (0, {0})}}"
    )


def test_repair_within_the_redundancy_rewrites_the_copy(where):
    store = make(where)
    good = (store / "snapshot.0.1").read_bytes()
    damage_file(store / "snapshot.0.0", -1)
    out = run("repair", store)
    assert out.returncode == 0 and "snapshot.0.0" in out.stdout
    assert (store / "snapshot.0.0").read_bytes() == good
    assert run("verify", store).returncode == 0


def test_repair_beyond_the_redundancy_rebuilds_and_keeps_the_old_files(where):
    store = make(where, redundancy=1, items=5)
    damaged = middle_frame(store / "journal.0.0")
    damage_file(store / "journal.0.0", damaged)
    out = run("repair", store)
    assert out.returncode == 0, out.stderr
    kept = [p for p in where.iterdir() if p.name.startswith("s.damaged-")]
    assert len(kept) == 1 and kept[0].name in out.stdout
    assert (kept[0] / "journal.0.0").exists()  # the old files, untouched
    assert run("verify", store).returncode == 0
    with rds.RDSDict(where, "s") as d:
        assert list(d) == ["k0", "k1"] and d.last_id == 2  # the last consistent point, with its ID
        d["new"] = 1
        assert d.last_id == 3


def test_compact_starts_a_new_generation(where):
    store = make(where)
    out = run("compact", store)
    assert out.returncode == 0 and "generation 1" in out.stdout
    assert sorted(p.name for p in store.iterdir()) == [
        "LOCK",
        "journal.1.0",
        "journal.1.1",
        "snapshot.1.0",
        "snapshot.1.1",
    ]
    with rds.RDSDict(where, "s") as d:
        assert len(d) == 3 and d.last_id == 3


def test_export_then_import_round_trips(where):
    store = make(where)
    exported = where / "export.json"
    assert run("export", store, exported).returncode == 0
    target = where / "copy"
    assert run("import", target, exported).returncode == 0
    with rds.RDSDict(where, "s") as a, rds.RDSDict(where, "copy") as b:
        assert a == b
    again = run("import", target, exported)
    assert again.returncode == 1 and "--replace" in again.stderr
    assert run("import", target, exported, "--replace").returncode == 0
    listed = run("import", where / "lst", stdin='[1, {"$tuple": [2]}]')
    assert listed.returncode == 0
    with rds.RDSList(where, "lst") as lst:
        assert lst == [1, (2,)]


@pytest.mark.parametrize("command", ["info", "verify", "dump", "repair", "compact", "export"])
def test_bad_paths_get_one_line_errors(where, command):
    (where / "foreign").mkdir()
    (where / "foreign" / "notes.txt").write_text("x")
    for path in (where / "missing", where / "foreign"):
        out = run(command, path)
        assert out.returncode in (1, 2) and out.stderr.count("\n") == 1 and "error" in out.stderr
    assert not (where / "missing").exists() and sorted(os.listdir(where / "foreign")) == ["notes.txt"]


def test_a_newer_format_version_is_a_one_line_error(where):
    store = make(where)
    for path in store.glob("*.*.*"):
        data = bytearray(path.read_bytes())
        data[8:10] = struct.pack("<H", 9)
        data[32:36] = struct.pack("<I", fmt.crc32(bytes(data[:32])))
        path.write_bytes(bytes(data))
    out = run("info", store)
    assert out.returncode == 1 and "version 9" in out.stderr and out.stderr.count("\n") == 1


HOLD = textwrap.dedent(
    """
    import sys, time, rds
    d = rds.RDSDict(sys.argv[1], "s")
    print("locked", flush=True)
    time.sleep(30)
    """
)


def test_writing_commands_refuse_a_store_another_process_holds(where):
    make(where)
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(where)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "locked"
        for command in ("repair", "compact"):
            out = run(command, where / "s")
            assert out.returncode == 1 and "another process" in out.stderr
        assert run("info", where / "s").returncode == 0  # reading needs no lock
    finally:
        child.kill()
        child.wait()
