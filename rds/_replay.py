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

import copy
import operator
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Sequence, Set, Tuple


def _ours(target: Any) -> bool:
    """Is ``target`` one of RDS's own containers, whose mutators journal (and so must be bypassed here)?"""
    return hasattr(type(target), "_rds_plain")


class Operation(NamedTuple):
    container: Any  # the type (or types) of container it changes
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


def _method(target: Any, base: type, name: str) -> Callable[..., Any]:
    """``target``'s method ``name``, bypassing RDS's journaling overrides on its own containers."""
    return getattr(base, name).__get__(target) if _ours(target) else getattr(target, name)


def _list_set(target: List[Any], index: int, value: Any) -> None:
    """Replay ``lset``: ``target[index] = value``.  pre: 0 <= index < len(target)"""
    _method(target, list, "__setitem__")(index, value)


def _slice(start: int, stop: int, step: int) -> slice:
    """The slice for bounds as ``slice.indices`` gives them: a negative ``stop`` (only with a negative step)
    means the slice runs through index 0, which a slice bound of -1 would not say."""
    return slice(start, stop if stop >= 0 else None, step)


def _list_set_slice(target: List[Any], start: int, stop: int, step: int, values: List[Any]) -> None:
    """Replay ``lsetslice``: ``target[start:stop:step] = values``."""
    _method(target, list, "__setitem__")(_slice(start, stop, step), values)


def _list_delete(target: List[Any], index: int) -> None:
    """Replay ``ldel``: ``del target[index]``."""
    _method(target, list, "__delitem__")(index)


def _list_delete_slice(target: List[Any], start: int, stop: int, step: int) -> None:
    """Replay ``ldelslice``: ``del target[start:stop:step]``."""
    _method(target, list, "__delitem__")(_slice(start, stop, step))


def _list_insert(target: List[Any], index: int, value: Any) -> None:
    """Replay ``insert``: ``target.insert(index, value)`` (``index`` already within ``0 .. len(target)``)."""
    _method(target, list, "insert")(index, value)


def _list_append(target: List[Any], value: Any) -> None:
    """Replay ``append``.

    post: len(target) == len(__old__.target) + 1
    post: target[:-1] == __old__.target and target[-1] == value
    """
    _method(target, list, "append")(value)


def _list_extend(target: List[Any], values: List[Any]) -> None:
    """Replay ``extend``.

    post: target == __old__.target + values
    """
    _method(target, list, "extend")(values)


def _list_reorder(target: List[Any], order: List[int]) -> None:
    """Replay ``reorder`` (what ``sort`` records): item ``i`` becomes the old item ``order[i]``.

    pre: sorted(order) == list(range(len(target)))
    post: target == [__old__.target[i] for i in order]
    """
    items = list(target)
    _method(target, list, "__setitem__")(slice(None), [items[i] for i in order])


def _list_reverse(target: List[Any]) -> None:
    """Replay ``reverse``.

    post: target == __old__.target[::-1]
    """
    _method(target, list, "reverse")()


def _list_repeat(target: List[Any], times: int) -> None:
    """Replay ``repeat`` (``*=``): the repeated items are copies, never the same object twice (as after a
    reopen, where every item is decoded on its own).

    post: target == __old__.target * times
    """
    original = list(target)
    _method(target, list, "__imul__")(1 if times > 0 else 0)
    extend = _method(target, list, "extend")
    for _ in range(times - 1):
        extend(copy.deepcopy(original))


def _list_clear(target: List[Any]) -> None:
    """Replay ``lclear``.

    post: target == []
    """
    _method(target, list, "clear")()


def _set_add(target: Set[Any], items: List[Any]) -> None:
    """Replay ``sadd``: add every item.

    post: target == __old__.target | set(items)
    """
    add = _method(target, set, "add")
    for item in items:
        add(item)


def _set_discard(target: Set[Any], items: List[Any]) -> None:
    """Replay ``sdiscard``: discard every item.

    post: target == __old__.target - set(items)
    """
    discard = _method(target, set, "discard")
    for item in items:
        discard(item)


def _set_clear(target: Set[Any]) -> None:
    """Replay ``sclear``.

    post: target == set()
    """
    _method(target, set, "clear")()


def _replace(target: Any, key: Any, value: Any) -> None:
    """Replay ``replace`` (a custom value saved whole): ``target[key] = value`` in a map or a list."""
    base = dict if isinstance(target, dict) else list
    if base is list and not 0 <= key < len(target):
        raise IndexError(f"replace at index {key} of a list of {len(target)}")
    _method(target, base, "__setitem__")(key, value)


OPERATIONS: Dict[str, Operation] = {
    # dict
    "set": Operation(dict, 2, _dict_set),
    "del": Operation(dict, 1, _dict_delete),
    "update": Operation(dict, 1, _dict_update),
    "clear": Operation(dict, 0, _dict_clear),
    # list
    "lset": Operation(list, 2, _list_set),
    "lsetslice": Operation(list, 4, _list_set_slice),
    "ldel": Operation(list, 1, _list_delete),
    "ldelslice": Operation(list, 3, _list_delete_slice),
    "insert": Operation(list, 2, _list_insert),
    "append": Operation(list, 1, _list_append),
    "extend": Operation(list, 1, _list_extend),
    "reorder": Operation(list, 1, _list_reorder),
    "reverse": Operation(list, 0, _list_reverse),
    "repeat": Operation(list, 1, _list_repeat),
    "lclear": Operation(list, 0, _list_clear),
    # set
    "sadd": Operation(set, 1, _set_add),
    "sdiscard": Operation(set, 1, _set_discard),
    "sclear": Operation(set, 0, _set_clear),
    # a custom value, saved whole
    "replace": Operation((dict, list), 2, _replace),
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
        raise ReplayError(f"operation {code!r} does not apply to a {type(target).__name__}")
    try:
        spec.apply(target, *args)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ReplayError(f"operation {code!r} at {list(path)!r} failed: {exc!r}") from None


def apply_all(root: Any, ops: Iterable[Sequence[Any]]) -> None:
    """Apply a record's operations in order."""
    for op in ops:
        apply(root, op)
