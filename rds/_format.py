"""The on-disk format, as pure functions: bytes in, values out; no I/O.

spec/format.md is the normative description; this module is its reference implementation.  A store folder holds,
for each generation ``g`` and each copy ``c`` in ``0 .. copies-1``:

- ``snapshot.<g>.<c>``: the whole state after sequence number ``seq`` (written as ``.tmp`` and renamed);
- ``journal.<g>.<c>``: the modifications after that snapshot, as checksummed frames;
- ``LOCK``: the writer lock (empty).

Every file opens with a 36-byte header (little-endian)::

    magic[8]  version:u16  codec:u16  copies:u16  flags:u16  gen:u64  seq:u64  crc32:u32

``crc32`` is zlib's CRC-32 of the 32 bytes before it.  A journal then holds frames::

    crc32:u32  length:u32  seq:u64  payload[length]

with ``crc32`` over ``length``, ``seq`` and the payload.  A snapshot holds one body::

    length:u64  crc32:u32  payload[length]

with ``crc32`` over ``length`` and the payload.

Every way a read can fail has a name (``Damage.kind``), so that the recovery policy in ``_recovery.py`` decides
in one place what each means.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from typing import List, NamedTuple, Optional, Tuple

VERSION = 1
MAGIC = {"journal": b"RDSJRNL\x00", "snapshot": b"RDSSNAP\x00"}

_HEADER = struct.Struct("<8sHHHHQQ")
HEADER_SIZE = _HEADER.size + 4  # 36
_FRAME = struct.Struct("<IIQ")
FRAME_HEADER_SIZE = _FRAME.size  # 16
_SNAP_BODY = struct.Struct("<QI")
SNAP_BODY_SIZE = _SNAP_BODY.size  # 12
MAX_RECORD = 2**32 - 1

#: How many sequence numbers past a damaged frame recovery looks for a valid frame, to tell corruption
#: (valid records follow the damage) from a torn tail (nothing valid follows).
RESYNC_WINDOW = 64

LOCK_NAME = "LOCK"
_NAME = re.compile(r"^(journal|snapshot)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(\.tmp)?$")


def crc32(data: "bytes | memoryview", start: int = 0) -> int:
    """CRC-32 (ISO-HDLC, as zlib and PNG use it); ``crc32(b"123456789") == 0xCBF43926``.

    ``crc32(b, crc32(a)) == crc32(a + b)``, which lets callers checksum a header and a payload without joining them.
    """
    return zlib.crc32(data, start) & 0xFFFFFFFF


def intact(stored: int, *parts: "bytes | memoryview") -> bool:
    """Does the CRC-32 of ``parts`` (in order) equal ``stored``?  Every checksum check in RDS is this call."""
    crc = 0
    for part in parts:
        crc = zlib.crc32(part, crc)
    return (crc & 0xFFFFFFFF) == stored


# -- names ---------------------------------------------------------------------------------------------------


class FileName(NamedTuple):
    kind: str  # "journal" or "snapshot"
    gen: int
    copy: int
    tmp: bool


def file_name(kind: str, gen: int, copy: int, tmp: bool = False) -> str:
    """The name of a store file; ``parse_name`` inverts it.

    pre: kind in ("journal", "snapshot")
    pre: gen >= 0 and copy >= 0
    post: parse_name(__return__) == FileName(kind, gen, copy, tmp)
    """
    return f"{kind}.{gen}.{copy}" + (".tmp" if tmp else "")


def parse_name(name: str) -> Optional[FileName]:
    """Parse a store file name, or return None for a name that is not one of RDS's data files."""
    match = _NAME.match(name)
    if match is None:
        return None
    return FileName(match.group(1), int(match.group(2)), int(match.group(3)), match.group(4) is not None)


# -- damage --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Damage:
    """Why a read stopped.  ``kind`` is one of:

    ``missing``          the file does not exist
    ``short-header``     the file is shorter than its 36-byte header
    ``bad-magic``        the first 8 bytes are not RDS's
    ``bad-header-crc``   the header's checksum does not match
    ``header-mismatch``  the header is intact but names another generation, copy count or codec
    ``truncated``        a frame or snapshot body runs past the end of the file
    ``bad-crc``          a frame's or snapshot body's checksum does not match
    ``bad-seq``          a frame is intact but its sequence number is not the next one
    ``bad-payload``      an intact frame or snapshot whose payload does not decode
    ``trailing-bytes``   a snapshot file longer than its body
    """

    kind: str
    offset: int
    detail: str = ""

    def describe(self) -> str:
        text = f"{self.kind} at offset {self.offset}"
        return f"{text} ({self.detail})" if self.detail else text


# -- headers -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    kind: str  # "journal" or "snapshot"
    version: int
    codec: int
    copies: int
    gen: int
    seq: int


def encode_header(kind: str, codec: int, copies: int, gen: int, seq: int) -> bytes:
    """The 36-byte header of a ``kind`` ("journal" or "snapshot") file.

    pre: kind in MAGIC
    pre: 0 <= codec < 2**16 and 0 < copies < 2**16 and 0 <= gen < 2**64 and 0 <= seq < 2**64
    post: len(__return__) == HEADER_SIZE
    post: decode_header(__return__, kind) == (Header(kind, VERSION, codec, copies, gen, seq), None)
    post: all(decode_header(_flip(__return__, i), kind)[0] is None for i in range(HEADER_SIZE))
    """
    body = _HEADER.pack(MAGIC[kind], VERSION, codec, copies, 0, gen, seq)
    return body + struct.pack("<I", crc32(body))


def decode_header(data: bytes, kind: str) -> Tuple[Optional[Header], Optional[Damage]]:
    """Decode and check a ``kind`` file's header.  A newer version is returned (not judged) for the caller."""
    if len(data) < HEADER_SIZE:
        return None, Damage("short-header", len(data), f"{len(data)} of {HEADER_SIZE} bytes")
    if bytes(data[:8]) != MAGIC[kind]:
        return None, Damage("bad-magic", 0)
    (stored,) = struct.unpack_from("<I", data, _HEADER.size)
    if not intact(stored, bytes(data[: _HEADER.size])):
        return None, Damage("bad-header-crc", 0)
    _magic, version, codec, copies, _flags, gen, seq = _HEADER.unpack_from(data, 0)
    return Header(kind, version, codec, copies, gen, seq), None


# -- journal frames ------------------------------------------------------------------------------------------


def encode_frame(seq: int, payload: bytes) -> bytes:
    """One journal frame: checksum, length, sequence number, payload.

    pre: 0 <= seq < 2**64 and len(payload) < 64
    post: scan_frames(__return__, 0, seq) == JournalScan([Frame(seq, 0, len(__return__))], len(__return__), None)
    post: all(scan_frames(_flip(__return__, i), 0, seq).frames == [] for i in range(len(__return__)))
    post: scan_frames(__return__[:-1], 0, seq).damage == Damage("truncated", 0, f"frame for seq {seq}")
    """
    if len(payload) > MAX_RECORD:
        raise ValueError(f"a journal record holds at most {MAX_RECORD} bytes, not {len(payload)}")
    fields = struct.pack("<IQ", len(payload), seq)
    return struct.pack("<I", crc32(payload, crc32(fields))) + fields + payload


def _flip(data: bytes, index: int) -> bytes:
    """``data`` with every bit of byte ``index`` inverted (for the contracts above)."""
    return data[:index] + bytes([data[index] ^ 0xFF]) + data[index + 1 :]


def _frame_at(data: bytes, offset: int) -> Tuple[Optional[Tuple[int, int]], Optional[str]]:
    """Check the frame starting at ``offset``: ((seq, end), None) if intact, else (None, damage kind)."""
    if offset + FRAME_HEADER_SIZE > len(data):
        return None, "truncated"
    stored, length, seq = _FRAME.unpack_from(data, offset)
    end = offset + FRAME_HEADER_SIZE + length
    if end > len(data):
        return None, "truncated"
    if not intact(stored, bytes(data[offset + 4 : end])):
        return None, "bad-crc"
    return (seq, end), None


class Frame(NamedTuple):
    seq: int
    start: int  # offset of the frame's first byte
    end: int  # offset just past its payload

    def payload(self, data: bytes) -> bytes:
        return bytes(data[self.start + FRAME_HEADER_SIZE : self.end])


@dataclass(frozen=True)
class JournalScan:
    """What a journal copy holds: its intact frames, in order, and why reading stopped (None: clean end)."""

    frames: List[Frame]
    end: int
    damage: Optional[Damage]


def scan_frames(data: bytes, start: int, first_seq: int) -> JournalScan:
    """Read frames from ``start``; sequence numbers must run ``first_seq, first_seq + 1, ...``."""
    frames: List[Frame] = []
    offset = start
    expected = first_seq
    while offset < len(data):
        found, problem = _frame_at(data, offset)
        if found is None:
            damage = Damage(problem or "bad-crc", offset, f"frame for seq {expected}")
            return JournalScan(frames, offset, damage)
        seq, end = found
        if seq != expected:
            damage = Damage("bad-seq", offset, f"seq {seq}, expected {expected}")
            return JournalScan(frames, offset, damage)
        frames.append(Frame(seq, offset, end))
        offset = end
        expected += 1
    return JournalScan(frames, offset, None)


def find_frame_after(data: bytes, offset: int, expected: int) -> Optional[int]:
    """The seq of an intact frame at or after ``offset`` with seq in ``[expected, expected + RESYNC_WINDOW]``.

    Appends are sequential and a crash damages only the end of the last one, so an intact later record means the
    damage before it is corruption, not a torn tail.  Only the next ``RESYNC_WINDOW`` sequence numbers are searched,
    which bounds the cost (one substring search per number); a damaged run of more records than that reads as a
    torn tail.  Returns None when no such frame exists.
    """
    for seq in range(expected, expected + RESYNC_WINDOW + 1):
        pattern = struct.pack("<Q", seq)
        position = data.find(pattern, offset + 8)
        while position != -1:
            start = position - 8
            if start >= offset:
                found, _ = _frame_at(data, start)
                if found is not None and found[0] == seq:
                    return seq
            position = data.find(pattern, position + 1)
    return None


# -- snapshots -----------------------------------------------------------------------------------------------


def encode_snapshot_body(payload: bytes) -> bytes:
    """The body that follows a snapshot's header: length, checksum, payload.

    pre: len(payload) < 64
    post: decode_snapshot_body(bytes(HEADER_SIZE) + __return__) == (payload, None)
    post: all(decode_snapshot_body(bytes(36) + _flip(__return__, i))[0] is None for i in range(len(__return__)))
    """
    length = struct.pack("<Q", len(payload))
    return length + struct.pack("<I", crc32(payload, crc32(length))) + payload


def decode_snapshot_body(data: bytes) -> Tuple[Optional[bytes], Optional[Damage]]:
    """The payload of a snapshot file (header included in ``data``), or the damage that stops it."""
    start = HEADER_SIZE
    if start + SNAP_BODY_SIZE > len(data):
        return None, Damage("truncated", start, "snapshot body header")
    length, stored = _SNAP_BODY.unpack_from(data, start)
    end = start + SNAP_BODY_SIZE + length
    if end > len(data):
        return None, Damage("truncated", start, f"snapshot body of {length} bytes")
    payload = bytes(data[start + SNAP_BODY_SIZE : end])
    if not intact(stored, bytes(data[start : start + 8]), payload):
        return None, Damage("bad-crc", start, "snapshot body")
    if end != len(data):
        return None, Damage("trailing-bytes", end, f"{len(data) - end} bytes after the snapshot body")
    return payload, None
