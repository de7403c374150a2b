"""The JSON form of stored values, for ``python -m rds dump`` / ``export`` / ``import``.

JSON has no bytes, tuples, sets, non-string keys or non-finite floats, so those are written as one-key objects
whose key starts with ``$``; everything else is plain JSON:

=====================  ======================================================
Python                 JSON
=====================  ======================================================
bytes                  ``{"$bytes": "<hex>"}``
tuple                  ``{"$tuple": [...]}``
set, frozenset         ``{"$set": [...]}``, ``{"$frozenset": [...]}``
dict, all keys str     an object (a key that starts with ``$`` is written ``$$...``)
dict, other keys       ``{"$dict": [[key, value], ...]}``
nan, inf, -inf         ``{"$float": "nan"}`` (``"inf"``, ``"-inf"``)
=====================  ======================================================

``loads(dumps(v)) == v`` for every value an RDS store holds (ints of any size included).
"""

from __future__ import annotations

import json
import math
from typing import Any

_SPECIAL = ("$bytes", "$tuple", "$set", "$frozenset", "$dict", "$float")


def encode(value: Any) -> Any:
    """The JSON-ready form of ``value``."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, tuple):
        return {"$tuple": [encode(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        kind = "$frozenset" if isinstance(value, frozenset) else "$set"
        return {kind: sorted((encode(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {("$" + k if k.startswith("$") else k): encode(v) for k, v in value.items()}
        return {"$dict": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    getter = getattr(value, "getData", None)  # a custom value: its plain data, if JSON can hold it
    if getter is not None:
        return encode(getter())
    raise TypeError(f"a {type(value).__name__} has no JSON form")


def decode(value: Any) -> Any:
    """Invert ``encode``."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, inner),) = value.items()
        if key == "$bytes":
            return bytes.fromhex(inner)
        if key == "$tuple":
            return tuple(decode(v) for v in inner)
        if key == "$set":
            return {decode(v) for v in inner}
        if key == "$frozenset":
            return frozenset(decode(v) for v in inner)
        if key == "$dict":
            return {decode(k): decode(v) for k, v in inner}
        if key == "$float":
            return float(inner)
    return {(k[1:] if k.startswith("$$") else k): decode(v) for k, v in value.items()}


def dumps(value: Any, indent: Any = None) -> str:
    return json.dumps(encode(value), indent=indent, ensure_ascii=False)


def loads(text: str) -> Any:
    return decode(json.loads(text))
