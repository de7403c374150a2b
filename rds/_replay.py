"""Replay: what each journal operation does to plain Python values.

One operation is a list ``[code, path, *args]``: ``path`` is the list of keys and indexes that leads from the root
container to the container the operation changes (``[]`` for the root itself).  ``OPERATIONS`` is the whole
vocabulary: for each code, the container type it applies to, its number of arguments and its effect.
spec/operations.md describes the same table in words.

The same functions change the live containers after a record is durable and rebuild the state at recovery,
so what a reopen recovers is, by construction, what the program saw.  They call the base type's methods unbound
(``dict.__setitem__(target, ...)``) on RDS's own containers, which bypasses their journaling overrides.

Insertion order, which CrossHair's symbolic dicts do not model, is pinned by the hypothesis tests instead
(tests/test_dict_api.py compares key order with a plain dict after every step).

This module never does I/O and never journals; a failure here during recovery means a record that passed its
checksum does not apply, which the caller reports as damage.
"""

from __future__ import annotations

import operator
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Sequence, Tuple


def _ours(target: Any) -> bool:
    """Is ``target`` one of RDS's own containers, whose mutators journal (and so must be bypassed here)?"""
    return hasattr(type(target), "_rds_plain")


class Operation(NamedTuple):
    container: type
    arity: int
    apply: Callable[..., None]


def _dict_set(target: Dict[int, int], key: int, value: int) -> None:
    """Replay ``set``.

    post: target[key] == value
    post: set(target) == set(__old__.target) | {key}
    post: all(target[k] == v for k, v in __old__.target.items() if k != key)
    """
    (dict.__setitem__ if _ours(target) else operator.setitem)(target, key, value)


def _dict_delete(target: Dict[int, int], key: int) -> None:
    """Replay ``del``.

    pre: key in target
    post: set(target) == set(__old__.target) - {key}
    post: all(target[k] == v for k, v in __old__.target.items() if k != key)
    """
    (dict.__delitem__ if _ours(target) else operator.delitem)(target, key)


def _dict_update(target: Dict[int, int], pairs: List[Tuple[int, int]]) -> None:
    """Replay ``update``: pairs in order, the last value of a repeated key winning, new keys last.

    post: all(target[k] == v for k, v in dict(pairs).items())
    post: all(target[k] == v for k, v in __old__.target.items() if k not in dict(pairs))
    post: set(target) == set(__old__.target) | {k for k, _ in pairs}
    """
    setitem = dict.__setitem__ if _ours(target) else operator.setitem
    for key, value in pairs:
        setitem(target, key, value)


def _dict_clear(target: Dict[int, int]) -> None:
    """Replay ``clear``.

    post: target == {}
    """
    dict.clear(target) if _ours(target) else target.clear()


OPERATIONS: Dict[str, Operation] = {
    # dict
    "set": Operation(dict, 2, _dict_set),
    "del": Operation(dict, 1, _dict_delete),
    "update": Operation(dict, 1, _dict_update),
    "clear": Operation(dict, 0, _dict_clear),
}


class ReplayError(ValueError):
    """An operation that does not apply to the state it is replayed on."""


def resolve(root: Any, path: Sequence[Any]) -> Any:
    """The container that ``path`` leads to from ``root``."""
    target = root
    for step in path:
        try:
            target = target[step]
        except (KeyError, IndexError, TypeError) as exc:
            raise ReplayError(f"path {list(path)!r} does not lead to a container: {exc!r}") from None
    return target


def apply(root: Any, op: Sequence[Any]) -> None:
    """Apply one operation ``[code, path, *args]`` to the plain state ``root`` in place."""
    if not isinstance(op, (list, tuple)) or len(op) < 2:
        raise ReplayError(f"malformed operation {op!r}")
    code, path, args = op[0], op[1], op[2:]
    spec = OPERATIONS.get(code)
    if spec is None:
        raise ReplayError(f"unknown operation code {code!r}")
    if len(args) != spec.arity:
        raise ReplayError(f"operation {code!r} takes {spec.arity} arguments, not {len(args)}")
    target = resolve(root, path)
    if not isinstance(target, spec.container):
        raise ReplayError(f"operation {code!r} applies to a {spec.container.__name__}, not {type(target).__name__}")
    try:
        spec.apply(target, *args)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ReplayError(f"operation {code!r} at {list(path)!r} failed: {exc!r}") from None


def apply_all(root: Any, ops: Iterable[Sequence[Any]]) -> None:
    """Apply a record's operations in order."""
    for op in ops:
        apply(root, op)


def replay(root: Any, records: Iterable[List[Any]]) -> Any:
    """Apply every record (``[id, ops]``) in order; return the ID of the last one, or None if there was none."""
    last = None
    for record in records:
        last, ops = record
        apply_all(root, ops)
    return last
