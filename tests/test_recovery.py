"""Recovery on real files: torn tails are discarded, damage within the redundancy is repaired, damage beyond it
raises a typed error naming the file and offset, and an explicit repair opens at the last consistent point."""

import shutil
import struct

import pytest

from rds import CorruptionError, FormatVersionError, NotAStoreError, RDSDict
from rds import _format as fmt

EXPECTED = {"a": 1, "b": [1, 2], "c": "three"}


def build(where, redundancy):
    with RDSDict(where, "s", redundancy=redundancy) as d:
        d["a"] = 1
        d["b"] = [1, 2]
        d["c"] = "three"
    return where / "s"


def files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "LOCK"}


def frames(data):
    return fmt.scan_frames(data, fmt.HEADER_SIZE, 1).frames


def open_state(where, **kwargs):
    with RDSDict(where, "s", **kwargs) as d:
        return dict(d), d.last_id, d.recovery_events


@pytest.mark.parametrize("redundancy", [1, 2, 3])
def test_a_torn_last_record_is_discarded_silently(where, redundancy):
    folder = build(where, redundancy)
    for copy in range(redundancy):
        path = folder / f"journal.0.{copy}"
        data = path.read_bytes()
        path.write_bytes(data[: frames(data)[-1].start + 5])
    state, last_id, events = open_state(where)
    assert state == {"a": 1, "b": [1, 2]} and last_id == 2
    assert any("torn tail" in e for e in events)
    assert open_state(where)[2] == []  # the tail was truncated: the next open is clean


@pytest.mark.parametrize("tail", [b"\x00" * 600, b"\xff\x13garbage" * 70, b"\x01"])
def test_garbage_or_zeros_after_the_last_record_are_discarded(where, tail):
    folder = build(where, 1)
    with open(folder / "journal.0.0", "ab") as f:
        f.write(tail)
    assert open_state(where)[:2] == (EXPECTED, 3)


def test_a_record_whole_on_one_copy_is_recovered_and_copied(where):
    folder = build(where, 2)
    data = (folder / "journal.0.1").read_bytes()
    (folder / "journal.0.1").write_bytes(data[: frames(data)[-1].start + 3])
    state, last_id, events = open_state(where)
    assert state == EXPECTED and last_id == 3
    assert (folder / "journal.0.0").read_bytes() == (folder / "journal.0.1").read_bytes()


@pytest.mark.parametrize("redundancy", [2, 3])
def test_any_single_byte_flip_in_any_file_loses_nothing(where, redundancy):
    folder = build(where, redundancy)
    original = files(folder)
    backup = where / "backup"
    shutil.copytree(folder, backup)
    checked = 0
    for name, data in original.items():
        for offset in range(len(data)):
            (folder / name).write_bytes(data[:offset] + bytes([data[offset] ^ 0x40]) + data[offset + 1 :])
            state, last_id, events = open_state(where)
            assert (state, last_id) == (EXPECTED, 3), (name, offset)
            assert events, (name, offset)  # the repair is reported
            assert files(folder) == original, (name, offset)  # and carried out
            checked += 1
    assert checked == sum(len(d) for d in original.values())


@pytest.mark.parametrize("redundancy", [2, 3])
def test_any_one_missing_file_loses_nothing(where, redundancy):
    folder = build(where, redundancy)
    original = files(folder)
    for name in original:
        (folder / name).unlink()
        assert open_state(where)[:2] == (EXPECTED, 3), name
        assert files(folder) == original


def test_single_copy_damage_is_a_typed_error_or_a_torn_tail(where):
    """With one copy, every flipped byte either raises CorruptionError (naming file and offset) or, inside the
    last record only, reads as a torn tail: a crash can leave exactly that, so it cannot be told apart."""
    folder = build(where, 1)
    original = files(folder)
    last = frames(original["journal.0.0"])[-1]
    for name, data in original.items():
        for offset in range(len(data)):
            (folder / name).write_bytes(data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :])
            if name == "journal.0.0" and offset >= last.start:
                assert open_state(where)[:2] == ({"a": 1, "b": [1, 2]}, 2), offset
            else:
                with pytest.raises(CorruptionError) as info:
                    open_state(where)
                assert info.value.path and name in str(info.value), (name, offset)
                assert info.value.offset is not None and info.value.offset <= offset
                assert files(folder)[name] != data  # nothing was "repaired" away
            for n, d in original.items():
                (folder / n).write_bytes(d)


def test_explicit_repair_opens_at_the_last_consistent_point(where):
    folder = build(where, 1)
    data = bytearray((folder / "journal.0.0").read_bytes())
    second = frames(bytes(data))[1]
    data[second.start + 20] ^= 0xFF
    (folder / "journal.0.0").write_bytes(bytes(data))
    with pytest.raises(CorruptionError) as info:
        open_state(where)
    assert info.value.offset == second.start and "journal.0.0" in str(info.value)
    state, last_id, events = open_state(where, repair=True)
    assert state == {"a": 1} and last_id == 1 and events
    assert open_state(where)[:2] == ({"a": 1}, 1)


@pytest.mark.parametrize("name", ["snapshot.0.0", "journal.0.0"])
def test_a_missing_file_without_a_copy_is_a_typed_error(where, name):
    folder = build(where, 1)
    (folder / name).unlink()
    with pytest.raises(CorruptionError, match="snapshot|journal"):
        open_state(where)


def test_a_newer_format_version_is_refused_and_untouched(where):
    folder = build(where, 2)
    for path in folder.glob("*.*.*"):
        data = bytearray(path.read_bytes())
        data[8:10] = struct.pack("<H", fmt.VERSION + 1)
        data[32:36] = struct.pack("<I", fmt.crc32(bytes(data[:32])))
        path.write_bytes(bytes(data))
    before = files(folder)
    with pytest.raises(FormatVersionError) as info:
        open_state(where)
    assert info.value.version == fmt.VERSION + 1 and "upgrade" in str(info.value)
    assert files(folder) == before


def test_a_folder_that_is_not_a_store_is_refused_and_untouched(where):
    (where / "s").mkdir()
    (where / "s" / "notes.txt").write_text("mine")
    with pytest.raises(NotAStoreError):
        open_state(where)
    assert sorted(p.name for p in (where / "s").iterdir()) == ["notes.txt"]


def test_a_file_where_the_folder_should_be_is_refused(where):
    (where / "s").write_text("x")
    with pytest.raises(NotAStoreError):
        open_state(where)
    assert (where / "s").read_text() == "x"


def test_read_only_open_of_a_missing_store_creates_nothing(where):
    with pytest.raises(NotAStoreError):
        RDSDict(where, "absent", readonly=True)
    assert not (where / "absent").exists()


def test_compaction_keeps_state_and_removes_old_generations(where):
    with RDSDict(where, "s", compact_min_bytes=0) as d:
        for i in range(50):
            d[i % 7] = i
        expected = dict(d)
        last = d.last_id
    names = {p.name for p in (where / "s").iterdir()}
    gens = {fmt.parse_name(n).gen for n in names if fmt.parse_name(n)}
    assert len(gens) == 1 and max(gens) > 10
    assert open_state(where)[:2] == (expected, last)


def test_changing_redundancy_rewrites_the_store(where):
    build(where, 1)
    state, _, _ = open_state(where, redundancy=3)
    assert state == EXPECTED
    names = {p.name for p in (where / "s").iterdir()}
    assert {n for n in names if n.startswith("journal")} == {"journal.1.0", "journal.1.1", "journal.1.2"}
    with RDSDict(where, "s") as d:
        assert d.redundancy == 3 and d == EXPECTED and d.last_id == 3
