"""Recovery: given the files of a store folder, decide the state, the last ID and what needs mending.

This is the whole recovery policy, as one pure function over file contents (``recover``); ``_store.py`` reads the
files through the OS seam, calls it, and carries out the repairs it returns.  spec/recovery.md gives the same
algorithm as numbered steps.

Theory of operation.  A store is a sequence of generations.  Generation ``g`` is a snapshot (the state after
sequence number ``s``) and a journal of the records ``s+1, s+2, ...``, each kept in ``copies`` identical files.
A writer creates and syncs the journal files of ``g+1`` before it renames the snapshot of ``g+1`` into place, and
deletes generation ``g`` only after that.  Hence:

- the newest generation with a snapshot file is the current one;
- a journal newer than every snapshot is the remains of an unfinished compaction (or store creation) and can hold
  no records; if it does, its snapshot was lost;
- a snapshot file is complete when it exists (it was synced before the rename), so a damaged snapshot copy is
  corruption, never a crash;
- in a journal, a crash can only damage the end of the last append: damage followed by an intact later record is
  corruption, damage followed by nothing intact is a torn tail, and a torn tail was never acknowledged.

With ``copies`` > 1 every copy is read; the longest intact run of records wins, every copy must agree with it byte
for byte, and a damaged or missing copy is rewritten from the others.  An acknowledged record was synced in every
copy, so it is lost only if every copy is damaged at or before it: beyond the redundancy, which raises
``CorruptionError`` unless the caller asked for an explicit repair.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import _format as fmt
from ._codec import CODECS, Codec
from ._replay import ReplayError, apply_all
from .errors import CodecMismatchError, CorruptionError, FormatVersionError, NotAStoreError

Reader = Callable[[str], Optional[bytes]]


@dataclass(frozen=True)
class JournalRepair:
    """Journal copy ``name`` must be rewritten from the canonical journal; its first ``keep`` bytes were intact
    (0: the copy is missing or its header is damaged; more: it is short, or has a torn or damaged tail)."""

    name: str
    keep: int


@dataclass
class Recovered:
    """The outcome of recovery: the state, where the journal continues, and what a writer must mend."""

    fresh: bool  # no store yet (or only the remains of an interrupted creation)
    gen: int = 0
    copies: int = 0
    snapshot_seq: int = 0
    last_seq: int = 0
    last_id: Any = None
    state: Any = None
    journal: bytes = b""  # the canonical journal: header and intact records
    snapshot: bytes = b""  # the bytes of one intact snapshot copy
    snapshot_repairs: List[str] = field(default_factory=list)  # copies to rewrite from ``snapshot``
    journal_repairs: List[JournalRepair] = field(default_factory=list)
    obsolete: List[str] = field(default_factory=list)  # files to delete: older generations, temporaries
    events: List[str] = field(default_factory=list)  # what was discarded or repaired, for the log


def current_generation(files: List[fmt.FileName]) -> Optional[int]:
    """The generation recovery reads: the newest one with a snapshot file (None when there is no snapshot).

    post: (__return__ is None) == all(f.kind != "snapshot" or f.tmp for f in files)
    post: __return__ is None or any(f.kind == "snapshot" and not f.tmp and f.gen == __return__ for f in files)
    post: __return__ is None or all(f.gen <= __return__ for f in files if f.kind == "snapshot" and not f.tmp)
    """
    gens = [f.gen for f in files if f.kind == "snapshot" and not f.tmp]
    return max(gens) if gens else None


def canonical_copy(frame_counts: List[int]) -> int:
    """Which journal copy is canonical: the one with the most intact frames, the first of them on a tie.

    pre: len(frame_counts) > 0
    post: frame_counts[__return__] == max(frame_counts)
    post: all(count < max(frame_counts) for count in frame_counts[:__return__])
    """
    best = 0
    for index, count in enumerate(frame_counts):
        if count > frame_counts[best]:
            best = index
    return best


def judge_damage(later_seq: Optional[int], canonical_last_seq: int) -> str:
    """What damage in a journal copy means, given the seq of an intact frame found after it (None: none found).

    "torn": nothing intact follows, so a crash cut the last append; "repaired": intact frames follow, but the
    canonical copy holds them all; "beyond": intact frames follow that no copy holds past the damage.

    post: __return__ == ("torn" if later_seq is None else "beyond" if later_seq > canonical_last_seq else "repaired")
    """
    if later_seq is None:
        return "torn"
    return "beyond" if later_seq > canonical_last_seq else "repaired"


def _check_version(header: fmt.Header, name: str) -> None:
    if header.version > fmt.VERSION:
        raise FormatVersionError(
            f"{name} was written by RDS format version {header.version}; this library reads up to version "
            f"{fmt.VERSION}: upgrade rds to open it",
            name,
            header.version,
        )


def _check_codec(header: fmt.Header, name: str, codec: Codec) -> None:
    if header.codec != codec.codec_id:
        stored = CODECS.get(header.codec, f"unknown codec {header.codec}")
        raise CodecMismatchError(
            f"{name} was written with the {stored} codec but the store was opened with the {codec.name} codec"
            + (
                " (pickle runs code from the file: pass codec=rds.PickleCodec() to accept that)"
                if header.codec == 1
                else ""
            ),
            name,
        )


def _holds_records(data: Optional[bytes]) -> bool:
    """Does an orphan journal (one without a snapshot) hold any intact record?"""
    if data is None:
        return False
    header, damage = fmt.decode_header(data, "journal")
    if header is None:
        return False
    return bool(fmt.scan_frames(data, fmt.HEADER_SIZE, header.seq + 1).frames)


def check_folder(names: List[str], where: str = "the folder") -> None:
    """Raise ``NotAStoreError`` if a folder holding ``names`` has files but none of an RDS store's."""
    ours = [n for n in names if n == fmt.LOCK_NAME or fmt.parse_name(n) is not None]
    if names and not ours:
        raise NotAStoreError(
            f"{where} holds {len(names)} files but no RDS store (for example {sorted(names)[0]!r})", where
        )


def recover(names: List[str], read: Reader, codec: Codec, repair: bool = False) -> Recovered:
    """Decide what a store folder holding files ``names`` contains; ``read(name)`` returns a file's bytes or None.

    ``repair=True`` opens at the last consistent point instead of raising when damage exceeds the redundancy
    of the journal.  Raises ``NotAStoreError``, ``FormatVersionError``, ``CodecMismatchError`` or
    ``CorruptionError``.
    """
    check_folder(names)
    parsed: Dict[str, fmt.FileName] = {}
    obsolete: List[str] = []
    for name in sorted(names):
        info = fmt.parse_name(name)
        if info is not None and info.tmp:
            obsolete.append(name)
        elif info is not None:
            parsed[name] = info
    if not parsed:
        return Recovered(fresh=True, obsolete=obsolete)

    current = current_generation(list(parsed.values()))

    # Journals newer than every snapshot: an interrupted compaction or creation, which wrote no record yet.
    for name, info in sorted(parsed.items()):
        if info.kind == "journal" and (current is None or info.gen > current):
            if _holds_records(read(name)):
                raise CorruptionError(
                    f"{name} holds records but snapshot.{info.gen}.* is missing: the store lost its snapshot",
                    name,
                    fmt.HEADER_SIZE,
                )
            obsolete.append(name)
    if current is None:
        gens = {info.gen for info in parsed.values()}
        if gens != {0}:
            raise CorruptionError(f"no snapshot found for generation {max(gens)}; the store lost its snapshots", None)
        return Recovered(fresh=True, obsolete=obsolete)

    obsolete += [name for name, info in parsed.items() if info.gen < current]
    result = Recovered(fresh=False, gen=current, obsolete=obsolete)
    _recover_snapshot(result, parsed, read, codec)
    _recover_journal(result, parsed, read, codec, repair)
    return result


def _recover_snapshot(result: Recovered, parsed: Dict[str, fmt.FileName], read: Reader, codec: Codec) -> None:
    gen = result.gen
    present = sorted(info.copy for info in parsed.values() if info.kind == "snapshot" and info.gen == gen)
    copies: Optional[int] = None
    damaged: List[Tuple[str, fmt.Damage]] = []
    good: Optional[Tuple[str, bytes, fmt.Header, bytes]] = None
    checked = set()

    def check(copy: int) -> None:
        nonlocal copies, good
        name = fmt.file_name("snapshot", gen, copy)
        checked.add(copy)
        data = read(name)
        if data is None:
            damaged.append((name, fmt.Damage("missing", 0)))
            return
        header, damage = fmt.decode_header(data, "snapshot")
        if header is not None:
            _check_version(header, name)
            if header.gen != gen or (copies is not None and header.copies != copies) or copy >= header.copies:
                damage = fmt.Damage("header-mismatch", 0, f"gen {header.gen}, copies {header.copies}")
        if damage is None and header is not None:
            payload, damage = fmt.decode_snapshot_body(data)
            if damage is None and payload is not None:
                if copies is None:
                    copies = header.copies
                if good is None:
                    good = (name, data, header, payload)
                return
        damaged.append((name, damage or fmt.Damage("bad-crc", 0)))

    for copy in present:
        check(copy)
    if good is None:
        first_name, first_damage = damaged[0]
        raise CorruptionError(
            f"no intact copy of snapshot generation {gen}: "
            + "; ".join(f"{name}: {damage.describe()}" for name, damage in damaged),
            first_name,
            first_damage.offset,
        )
    assert copies is not None
    for copy in range(copies):  # copies whose files are missing altogether
        if copy not in checked:
            check(copy)
    name, data, header, payload = good
    _check_codec(header, name, codec)
    try:
        last_id, state = codec.loads(payload)
    except Exception as exc:  # noqa: BLE001 - any decode failure of checksummed bytes is damage
        raise CorruptionError(f"{name}: snapshot payload does not decode: {exc!r}", name, fmt.HEADER_SIZE) from None
    result.copies = copies
    result.snapshot_seq = header.seq
    result.last_seq = header.seq
    result.last_id = last_id
    result.state = state
    result.snapshot = data
    for bad_name, damage in damaged:
        bad = fmt.parse_name(bad_name)
        if bad is not None and bad.copy < copies:
            result.snapshot_repairs.append(bad_name)
            result.events.append(f"{bad_name}: {damage.describe()}; rewritten from {name}")
    result.obsolete += [n for n, i in parsed.items() if i.kind == "snapshot" and i.gen == gen and i.copy >= copies]


class _Copy:
    def __init__(self, name: str, data: Optional[bytes], scan: Optional[fmt.JournalScan], damage: Optional[fmt.Damage]):
        self.name = name
        self.data = data
        self.scan = scan
        self.damage = damage  # header-level damage (missing, bad header), else the scan's


def _recover_journal(
    result: Recovered, parsed: Dict[str, fmt.FileName], read: Reader, codec: Codec, repair: bool
) -> None:
    gen, copies = result.gen, result.copies
    first_seq = result.snapshot_seq + 1
    found: List[_Copy] = []
    for copy in range(copies):
        name = fmt.file_name("journal", gen, copy)
        data = read(name)
        if data is None:
            found.append(_Copy(name, None, None, fmt.Damage("missing", 0)))
            continue
        header, damage = fmt.decode_header(data, "journal")
        if header is not None:
            _check_version(header, name)
            _check_codec(header, name, codec)
            if header.gen != gen or header.copies != copies or header.seq != result.snapshot_seq:
                damage = fmt.Damage("header-mismatch", 0, f"gen {header.gen}, seq {header.seq}")
        if damage is not None:
            found.append(_Copy(name, data, None, damage))
            continue
        scan = fmt.scan_frames(data, fmt.HEADER_SIZE, first_seq)
        found.append(_Copy(name, data, scan, scan.damage))
    result.obsolete += [n for n, i in parsed.items() if i.kind == "journal" and i.gen == gen and i.copy >= copies]

    readable = [c for c in found if c.scan is not None]
    if not readable:
        raise CorruptionError(
            f"no readable copy of journal generation {gen}: "
            + "; ".join(f"{c.name}: {c.damage.describe()}" for c in found if c.damage),
            found[0].name,
            found[0].damage.offset if found[0].damage else 0,
        )
    canon = readable[canonical_copy([len(c.scan.frames) for c in readable])]  # type: ignore[union-attr]
    assert canon.scan is not None and canon.data is not None
    canonical = canon.data[: canon.scan.end]
    last_seq = result.snapshot_seq + len(canon.scan.frames)

    for c in readable:
        assert c.scan is not None and c.data is not None
        if c.data[: c.scan.end] != canonical[: c.scan.end]:
            raise CorruptionError(
                f"{c.name} and {canon.name} hold different records with intact checksums", c.name, fmt.HEADER_SIZE
            )
        damage = c.scan.damage
        if damage is None:
            continue
        later = fmt.find_frame_after(c.data, damage.offset + 1, result.snapshot_seq + len(c.scan.frames) + 1)
        verdict = judge_damage(later, last_seq)
        if verdict == "beyond":
            message = (
                f"{c.name}: {damage.describe()}, and intact records follow it that no other copy holds "
                f"(damage beyond the store's redundancy of {copies})"
            )
            if not repair:
                raise CorruptionError(message, c.name, damage.offset)
            result.events.append(message + "; repair keeps the records before the damage")
        elif verdict == "repaired":
            result.events.append(f"{c.name}: {damage.describe()}; rewritten from {canon.name}")
        elif c is canon or len(c.scan.frames) == len(canon.scan.frames):
            result.events.append(f"{c.name}: torn tail at offset {damage.offset} discarded (never acknowledged)")
        else:
            result.events.append(f"{c.name}: torn tail at offset {damage.offset}; completed from {canon.name}")

    for c in found:
        if c.scan is None:
            result.events.append(
                f"{c.name}: {c.damage.describe() if c.damage else 'damaged'}; rewritten from {canon.name}"
            )
            result.journal_repairs.append(JournalRepair(c.name, 0))
        elif c.scan.end != len(canonical) or len(c.data or b"") != len(canonical):
            result.journal_repairs.append(JournalRepair(c.name, c.scan.end))

    state = result.state
    frame = None
    try:
        for frame in canon.scan.frames:
            record_id, ops = codec.loads(frame.payload(canonical))
            apply_all(state, ops)
            result.last_id = record_id
    except (ReplayError, ValueError, TypeError, KeyError) as exc:
        offset = frame.start if frame is not None else fmt.HEADER_SIZE
        raise CorruptionError(
            f"{canon.name}: record at offset {offset} does not apply: {exc}", canon.name, offset
        ) from None
    except Exception as exc:  # noqa: BLE001 - undecodable payload behind an intact checksum
        offset = frame.start if frame is not None else fmt.HEADER_SIZE
        raise CorruptionError(
            f"{canon.name}: record at offset {offset} does not decode: {exc!r}", canon.name, offset
        ) from None
    result.last_seq = last_seq
    result.journal = canonical
