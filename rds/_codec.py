"""Value codecs: how Python values become bytes in journal records and snapshots.

The default codec is MessagePack with four extension types, so every value type RDS supports comes back after
a reopen equal to what was stored and of the same type (see spec/format.md, "Values"):

==========  =====================================================================================
ext code    meaning (the ext payload is itself one MessagePack value)
==========  =====================================================================================
1           tuple: an array of its items
2           set: an array of its items
3           frozenset: an array of its items
4           int outside [-2**63, 2**64): its two's-complement big-endian bytes, shortest form
5           a registered custom class: the array ``[tag, state]`` (``register_type``)
==========  =====================================================================================

Packing is strict about types: a subclass of a supported type (``OrderedDict``, an ``IntEnum``, a namedtuple)
would not come back as itself, so it is refused with ``UnsupportedTypeError`` rather than silently changed.
RDS's own containers are stored as the plain values they hold.

``PickleCodec`` stores any picklable object, but loading a pickle runs code chosen by whoever wrote the file:
use it only for stores you alone write.  A store records which codec wrote it, and opening a pickle store
requires passing the codec explicitly.
"""

from __future__ import annotations

import pickle
from typing import Any, Callable, Dict, Tuple

import msgpack

from .errors import UnsupportedTypeError

EXT_TUPLE = 1
EXT_SET = 2
EXT_FROZENSET = 3
EXT_BIGINT = 4
EXT_CUSTOM = 5

#: Classes the msgpack codec stores by tag: class -> (tag, encode); tag -> decode.
_CUSTOM_ENCODERS: Dict[type, Tuple[str, Callable[[Any], Any]]] = {}
_CUSTOM_DECODERS: Dict[str, Callable[[Any], Any]] = {}


def register_type(cls: type, tag: str, encode: Callable[[Any], Any], decode: Callable[[Any], Any]) -> None:
    """Let the msgpack codec store instances of ``cls``: ``encode(obj)`` returns a storable value and
    ``decode(value)`` rebuilds the object.  ``tag`` names the class in the files; keep it stable, and register
    it before opening a store that holds such objects."""
    if not isinstance(tag, str) or not tag:
        raise TypeError("the tag must be a non-empty string")
    _CUSTOM_ENCODERS[cls] = (tag, encode)
    _CUSTOM_DECODERS[tag] = decode


_NATIVE = (dict, list, str, bytes, float, bool, int, type(None))
_SUPPORTED = "None, bool, int, float, str, bytes, list, tuple, dict, set and frozenset"


class Codec:
    """Turns one Python value into bytes and back.  Subclasses set ``codec_id`` (stored in every file header)."""

    codec_id: int = -1
    name: str = "abstract"

    def dumps(self, value: Any) -> bytes:
        raise NotImplementedError

    def loads(self, data: bytes) -> Any:
        raise NotImplementedError


def _bigint_bytes(value: int) -> bytes:
    """Two's-complement big-endian bytes, the shortest that hold ``value`` and its sign.

    post: int.from_bytes(__return__, "big", signed=True) == value
    post: len(__return__) == 1 or int.from_bytes(__return__[1:], "big", signed=True) != value
    """
    return value.to_bytes((value + (value < 0)).bit_length() // 8 + 1, "big", signed=True)


class MsgpackCodec(Codec):
    """MessagePack, with extension types for tuple, set, frozenset and big integers (the default)."""

    codec_id = 0
    name = "msgpack"

    def _default(self, value: Any) -> Any:
        kind = type(value)
        if kind is tuple:
            return msgpack.ExtType(EXT_TUPLE, self.dumps(list(value)))
        if kind is set:
            return msgpack.ExtType(EXT_SET, self._canonical_array(value))
        if kind is frozenset:
            return msgpack.ExtType(EXT_FROZENSET, self._canonical_array(value))
        if kind is int:  # only reached for ints msgpack cannot hold natively
            return msgpack.ExtType(EXT_BIGINT, _bigint_bytes(value))
        custom = _CUSTOM_ENCODERS.get(kind)
        if custom is not None:
            return msgpack.ExtType(EXT_CUSTOM, self.dumps([custom[0], custom[1](value)]))
        plain = getattr(value, "_rds_plain", None)
        if plain is not None:  # RDS's own containers (and custom values) store the plain value they hold
            value = plain()
            if type(value) in _NATIVE and not (type(value) is int and not -(2**63) <= value < 2**64):
                return value
            return self._default(value)
        raise UnsupportedTypeError(
            f"cannot store a value of type {kind.__module__}.{kind.__qualname__}: "
            f"the msgpack codec stores {_SUPPORTED} (subclasses are refused because they would come back "
            "as the base type); to store your own class, register it with rds.register_type(cls, tag, encode, decode)"
        )

    def _canonical_array(self, items: Any) -> bytes:
        """A MessagePack array of ``items`` sorted by their encodings: a set's bytes must not depend on hashing
        (Python's string hash is seeded per process and changed algorithm in 3.11)."""
        encoded = sorted(self.dumps(item) for item in items)
        count = len(encoded)
        if count < 16:
            head = bytes([0x90 | count])
        elif count < 2**16:
            head = b"\xdc" + count.to_bytes(2, "big")
        else:
            head = b"\xdd" + count.to_bytes(4, "big")
        return head + b"".join(encoded)

    def _ext_hook(self, code: int, data: bytes) -> Any:
        if code == EXT_TUPLE:
            return tuple(self.loads(data))
        if code == EXT_SET:
            return set(self.loads(data))
        if code == EXT_FROZENSET:
            return frozenset(self.loads(data))
        if code == EXT_BIGINT:
            return int.from_bytes(data, "big", signed=True)
        if code == EXT_CUSTOM:
            tag, state = self.loads(data)
            decode = _CUSTOM_DECODERS.get(tag)
            if decode is None:
                raise ValueError(f"a value of custom type {tag!r}, which is not registered: call rds.register_type")
            return decode(state)
        raise ValueError(f"unknown MessagePack extension type {code}")

    def dumps(self, value: Any) -> bytes:
        try:
            return msgpack.packb(value, default=self._default, strict_types=True, use_bin_type=True)
        except UnsupportedTypeError:
            raise
        except (TypeError, ValueError, OverflowError, RecursionError) as exc:  # deep/cyclic values, surrogates
            raise UnsupportedTypeError(f"cannot store this value with the msgpack codec: {exc}") from None

    def loads(self, data: bytes) -> Any:
        return msgpack.unpackb(data, ext_hook=self._ext_hook, strict_map_key=False, raw=False, use_list=True)


class PickleCodec(Codec):
    """Python's pickle, protocol 4.  Opening a store written with it runs code from the file: trusted stores only."""

    codec_id = 1
    name = "pickle"

    def dumps(self, value: Any) -> bytes:
        try:
            return pickle.dumps(value, protocol=4)
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError) as exc:
            raise UnsupportedTypeError(f"cannot store this value with the pickle codec: {exc}") from None

    def loads(self, data: bytes) -> Any:
        return pickle.loads(data)  # noqa: S301 - opt-in codec, documented as trusting the file


CODECS: Dict[int, str] = {MsgpackCodec.codec_id: MsgpackCodec.name, PickleCodec.codec_id: PickleCodec.name}
