"""Plans: how each mutating call on a dict, list or set becomes journal operations.

A plan reads the container (never changes it), checks the call as the built-in type would (raising the same
errors), and returns the operations to journal (with an empty path, filled in by the caller) plus a function
that computes the call's return value once the operations are applied, or ``None`` for the operations when the
call changes nothing (it then takes no ID).  ``PLANS`` maps each container type to its table of mutating
methods; ``_tracking.py`` turns each table entry into a method.

Plans use the base types' methods unbound (``dict.__contains__(d, k)``) because the containers they read are
RDS's subclasses.  Values leaving the store (``pop``, ``popitem``, ``remove``) are returned as plain copies.
"""

from __future__ import annotations

import operator
from typing import Any, Callable, Dict, List, Optional, Tuple

Plan = Tuple[Optional[List[list]], Callable[[], Any]]
_MISSING = object()


def plain(value: Any) -> Any:
    """A plain (untracked) deep copy of a stored value's containers; other values as they are."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in dict.items(value)}
    if isinstance(value, list):
        return [plain(v) for v in list.__iter__(value)]
    if isinstance(value, set):
        return set(set.__iter__(value))
    if type(value) is tuple:
        return tuple(plain(v) for v in value)
    get_data = getattr(value, "getData", None)
    if get_data is not None and hasattr(value, "_rds_parent"):
        return get_data()
    return value


def _none() -> None:
    return None


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def _not_inside_itself(target: Any, value: Any) -> None:
    """Refuse to store a container inside itself (or inside one of its own descendants)."""
    if not hasattr(value, "_rds_parent") and not hasattr(value, "_store"):
        return
    node = target
    while node is not None:
        if node is value:
            raise ValueError("cannot store a container inside itself")
        node = getattr(node, "_rds_parent", None)


# -- dict ----------------------------------------------------------------------------------------------------


def _pairs(other: Any) -> List[Tuple[Any, Any]]:
    """The (key, value) pairs ``dict.update(other)`` would use, materialised once."""
    if hasattr(other, "keys"):
        return [(key, other[key]) for key in other.keys()]  # noqa: SIM118 - dict.update calls keys()
    pairs = []
    for index, item in enumerate(other):
        try:
            key, value = item
        except (TypeError, ValueError):
            if not hasattr(item, "__len__"):
                raise TypeError(f"cannot convert dictionary update sequence element #{index} to a sequence") from None
            raise ValueError(
                f"dictionary update sequence element #{index} has length {len(item)}; 2 is required"
            ) from None
        pairs.append((key, value))
    return pairs


def dict_setitem(d: dict, /, key: Any, value: Any) -> Plan:
    hash(key)
    _not_inside_itself(d, value)
    return [["set", [], key, value]], _none


def dict_delitem(d: dict, /, key: Any) -> Plan:
    if not dict.__contains__(d, key):
        raise KeyError(key)
    return [["del", [], key]], _none


def dict_pop(d: dict, /, key: Any, default: Any = _MISSING) -> Plan:
    if dict.__contains__(d, key):
        return [["del", [], key]], _constant(plain(dict.__getitem__(d, key)))
    if default is _MISSING:
        raise KeyError(key)
    return None, _constant(default)


def dict_popitem(d: dict, /) -> Plan:
    if not dict.__len__(d):
        raise KeyError("popitem(): dictionary is empty")
    key = next(dict.__reversed__(d))
    return [["del", [], key]], _constant((key, plain(dict.__getitem__(d, key))))


def dict_setdefault(d: dict, /, key: Any, default: Any = None) -> Plan:
    if dict.__contains__(d, key):
        return None, _constant(dict.__getitem__(d, key))
    hash(key)
    _not_inside_itself(d, default)
    # Return what is stored (a tracked copy of ``default`` when it is a container), as a reopen would.
    return [["set", [], key, default]], lambda: dict.__getitem__(d, key)


def dict_update(d: dict, /, *args: Any, **kwargs: Any) -> Plan:
    if len(args) > 1:
        raise TypeError(f"update expected at most 1 argument, got {len(args)}")
    pairs = (_pairs(args[0]) if args else []) + list(kwargs.items())
    for key, value in pairs:
        hash(key)  # an unhashable key must fail before anything is written
        _not_inside_itself(d, value)
    return ([["update", [], [list(pair) for pair in pairs]]] if pairs else None), _none


def dict_ior(d: dict, /, other: Any) -> Plan:
    ops, _ = dict_update(d, other)
    return ops, _constant(d)


def dict_clear(d: dict, /) -> Plan:
    return ([["clear", []]] if dict.__len__(d) else None), _none


# -- list ----------------------------------------------------------------------------------------------------


def _index(lst: list, index: Any, verb: str = "assignment") -> int:
    try:
        index = operator.index(index)
    except TypeError:
        raise TypeError(f"list indices must be integers or slices, not {type(index).__name__}") from None
    size = list.__len__(lst)
    if index < 0:
        index += size
    if not 0 <= index < size:
        raise IndexError(f"list {verb} index out of range")
    return index


def list_setitem(lst: list, /, index: Any, value: Any) -> Plan:
    if isinstance(index, slice):
        start, stop, step = index.indices(list.__len__(lst))
        values = list(value)
        for item in values:
            _not_inside_itself(lst, item)
        if step == 1:
            return [["lsetslice", [], start, max(start, stop), 1, values]], _none
        count = len(range(start, stop, step))
        if len(values) != count:
            raise ValueError(f"attempt to assign sequence of size {len(values)} to extended slice of size {count}")
        return ([["lsetslice", [], start, stop, step, values]] if count else None), _none
    _not_inside_itself(lst, value)
    return [["lset", [], _index(lst, index), value]], _none


def list_delitem(lst: list, /, index: Any) -> Plan:
    if isinstance(index, slice):
        start, stop, step = index.indices(list.__len__(lst))
        return ([["ldelslice", [], start, stop, step]] if len(range(start, stop, step)) else None), _none
    return [["ldel", [], _index(lst, index)]], _none


def list_append(lst: list, /, value: Any) -> Plan:
    _not_inside_itself(lst, value)
    return [["append", [], value]], _none


def list_extend(lst: list, /, values: Any) -> Plan:
    items = [item for item in values]  # not list(): that trusts __length_hint__ (CPython issue 1621)
    for item in items:
        _not_inside_itself(lst, item)
    return ([["extend", [], items]] if items else None), _none


def list_iadd(lst: list, /, values: Any) -> Plan:
    ops, _ = list_extend(lst, values)
    return ops, _constant(lst)


def list_insert(lst: list, /, index: Any, value: Any) -> Plan:
    size = list.__len__(lst)
    index = operator.index(index)
    index = min(max(index + size, 0) if index < 0 else index, size)
    _not_inside_itself(lst, value)
    return [["insert", [], index, value]], _none


def list_pop(lst: list, /, index: Any = -1) -> Plan:
    if not list.__len__(lst):
        raise IndexError("pop from empty list")
    index = _index(lst, index, "pop")
    return [["ldel", [], index]], _constant(plain(list.__getitem__(lst, index)))


def list_remove(lst: list, /, value: Any) -> Plan:
    try:
        index = list.index(lst, value)
    except ValueError:
        raise ValueError("list.remove(x): x not in list") from None
    return [["ldel", [], index]], _none


def list_sort(lst: list, /, *, key: Optional[Callable[[Any], Any]] = None, reverse: bool = False) -> Plan:
    items = list(list.__iter__(lst))
    order = sorted(range(len(items)), key=(lambda i: key(items[i])) if key else items.__getitem__, reverse=reverse)
    if list.__len__(lst) != len(items) or any(a is not b for a, b in zip(list.__iter__(lst), items)):
        raise ValueError("list modified during sort")  # by the key function or a comparison, as list.sort says
    return ([["reorder", [], order]] if order != list(range(len(items))) else None), _none


def list_reverse(lst: list, /) -> Plan:
    items = list(list.__iter__(lst))
    return ([["reverse", []]] if items != items[::-1] else None), _none


def list_imul(lst: list, /, times: Any) -> Plan:
    times = operator.index(times)
    changes = list.__len__(lst) and times != 1
    return ([["repeat", [], times]] if changes else None), _constant(lst)


def list_clear(lst: list, /) -> Plan:
    return ([["lclear", []]] if list.__len__(lst) else None), _none


# -- set -----------------------------------------------------------------------------------------------------


def _new_items(s: set, others: Tuple[Any, ...]) -> List[Any]:
    new: List[Any] = []
    seen = set()
    for other in others:
        for item in other:
            if not set.__contains__(s, item) and item not in seen:
                seen.add(item)
                new.append(item)
    return new


def set_add(s: set, /, item: Any) -> Plan:
    hash(item)
    return ([["sadd", [], [item]]] if not set.__contains__(s, item) else None), _none


def set_discard(s: set, /, item: Any) -> Plan:
    return ([["sdiscard", [], [item]]] if set.__contains__(s, item) else None), _none


def set_remove(s: set, /, item: Any) -> Plan:
    if not set.__contains__(s, item):
        raise KeyError(item)
    return [["sdiscard", [], [item]]], _none


def set_pop(s: set, /) -> Plan:
    if not set.__len__(s):
        raise KeyError("pop from an empty set")
    item = next(set.__iter__(s))
    return [["sdiscard", [], [item]]], _constant(item)


def set_update(s: set, /, *others: Any) -> Plan:
    new = _new_items(s, others)
    return ([["sadd", [], new]] if new else None), _none


def set_discard_many(s: set, items: List[Any]) -> Optional[List[list]]:
    return [["sdiscard", [], items]] if items else None


def set_difference_update(s: set, /, *others: Any) -> Plan:
    gone = set().union(*others) if others else set()
    return set_discard_many(s, [x for x in set.__iter__(s) if x in gone]), _none


def set_intersection_update(s: set, /, *others: Any) -> Plan:
    keep = set(set.__iter__(s)).intersection(*others)
    return set_discard_many(s, [x for x in set.__iter__(s) if x not in keep]), _none


def set_symmetric_difference_update(s: set, /, other: Any) -> Plan:
    other_items = list(dict.fromkeys(other))
    common = [x for x in other_items if set.__contains__(s, x)]
    new = [x for x in other_items if not set.__contains__(s, x)]
    ops = ([["sdiscard", [], common]] if common else []) + ([["sadd", [], new]] if new else [])
    return (ops or None), _none


def _in_place(plan: Callable[..., Plan]) -> Callable[..., Plan]:
    def operator_plan(s: set, /, other: Any) -> Plan:
        if not isinstance(other, (set, frozenset)):
            raise TypeError(
                f"unsupported operand type(s) for in-place set operation: 'set' and '{type(other).__name__}'"
            )
        ops, _ = plan(s, other)
        return ops, _constant(s)

    return operator_plan


def set_clear(s: set, /) -> Plan:
    return ([["sclear", []]] if set.__len__(s) else None), _none


PLANS: Dict[type, Dict[str, Callable[..., Plan]]] = {
    dict: {
        "__setitem__": dict_setitem,
        "__delitem__": dict_delitem,
        "pop": dict_pop,
        "popitem": dict_popitem,
        "setdefault": dict_setdefault,
        "update": dict_update,
        "__ior__": dict_ior,
        "clear": dict_clear,
    },
    list: {
        "__setitem__": list_setitem,
        "__delitem__": list_delitem,
        "append": list_append,
        "extend": list_extend,
        "__iadd__": list_iadd,
        "insert": list_insert,
        "pop": list_pop,
        "remove": list_remove,
        "sort": list_sort,
        "reverse": list_reverse,
        "__imul__": list_imul,
        "clear": list_clear,
    },
    set: {
        "add": set_add,
        "discard": set_discard,
        "remove": set_remove,
        "pop": set_pop,
        "update": set_update,
        "__ior__": _in_place(set_update),
        "difference_update": set_difference_update,
        "__isub__": _in_place(set_difference_update),
        "intersection_update": set_intersection_update,
        "__iand__": _in_place(set_intersection_update),
        "symmetric_difference_update": set_symmetric_difference_update,
        "__ixor__": _in_place(set_symmetric_difference_update),
        "clear": set_clear,
    },
}
