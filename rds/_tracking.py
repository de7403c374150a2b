"""Tracked containers: nested dicts, lists and sets whose every change is one journaled modification.

Every stored container is a *tracked* one (``TrackedDict``, ``TrackedList``, ``TrackedSet``, subclasses of the
built-in types), created by ``track`` when a value enters the store, at any depth.  Each knows its parent and its
key there.  A mutating call finds the path from the store's root (``locate``), plans its operations
(``_plans.py``), and commits them through the root's store; the store then applies the decoded operations with
``live_apply``, which tracks the values they bring in.  All containers, the roots included, get their mutating
methods from one factory, ``mutators``, over the tables in ``_plans.PLANS``.

A container's key in a list parent is a hint: when items move, ``locate`` finds it again by identity.  A
container that has left the store (deleted, popped, overwritten) is found missing from its parent and
raises ``DetachedError`` on its next modification.  Containers inside a tuple are part of an immutable value:
modifying them raises ``TypeError``.

This module must not touch the file system, and must never change a container except through ``live_apply``.
"""

from __future__ import annotations

import copy as _copy
from typing import Any, Callable, Dict, List, Tuple

from . import _plans
from ._replay import OPERATIONS, resolve
from .errors import DetachedError

_MISSING = object()
_GONE = "this {} is no longer in the store (it, or a container holding it, was removed or replaced)"
#: The parent of a container held inside a tuple: it cannot be modified in place.
FROZEN = object()

#: Custom value types registered with ``rds_subtypes.registerRDSSubType``: stored class -> wrapper class.
SUBTYPES: Dict[type, type] = {}


def locate(node: Any) -> Tuple[Any, List[Any]]:
    """The root that holds ``node`` and the path to it; raises if ``node`` has left the store."""
    steps: List[Any] = []
    start = node
    while getattr(node, "_store", None) is None:
        parent = node._rds_parent
        if parent is None:
            raise DetachedError(
                f"this {_kind(start)} is no longer in the store (it or a container holding it was removed or replaced)"
            )
        if parent is FROZEN:
            raise TypeError(f"this {_kind(start)} is inside a tuple, which cannot change: store a new tuple instead")
        key = node._rds_key
        if isinstance(parent, list):
            if not (0 <= key < list.__len__(parent) and list.__getitem__(parent, key) is node):
                key = next((i for i, item in enumerate(list.__iter__(parent)) if item is node), None)
                if key is None:
                    raise DetachedError(_GONE.format(_kind(start)))
                node._rds_key = key
        elif dict.get(parent, key, _MISSING) is not node:
            raise DetachedError(
                f"this {_kind(start)} is no longer in the store (it or a container holding it was removed or replaced)"
            )
        steps.append(key)
        node = parent
    steps.reverse()
    return node, steps


def _kind(node: Any) -> str:
    for base in (dict, list, set):
        if isinstance(node, base):
            return base.__name__
    return type(node).__name__


def mutators(base: type, owner: str) -> Dict[str, Callable[..., Any]]:
    """The mutating methods of a container class over ``base``: each plans, commits and returns."""

    def make(name: str, plan: Callable[..., _plans.Plan]) -> Callable[..., Any]:
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            root, _ = locate(self)
            store = root._store
            with store.lock:
                root, path = locate(self)  # again, under the lock: the structure is stable now
                store.check_writable()
                ops, result = plan(self, *args, **kwargs)
                if ops:
                    if path:
                        ops = [[op[0], path, *op[2:]] for op in ops]
                    store.commit(root, ops, live_apply)
                return result()

        method.__name__ = name
        method.__qualname__ = f"{owner}.{name}"
        method.__doc__ = f"{getattr(base, name).__doc__}\n\nSaved durably before it returns (one modification ID)."
        return method

    return {name: make(name, plan) for name, plan in _plans.PLANS[base].items()}


def track(value: Any, parent: Any, key: Any, root: Any) -> Any:
    """The value to hold in memory for ``value`` stored at ``parent[key]``: containers become tracked copies."""
    kind = type(value)
    if kind is dict:
        node: Any = TrackedDict()
        dict.update(node, {k: track(v, node, k, root) for k, v in value.items()})
    elif kind is list:
        node = TrackedList()
        list.extend(node, [track(v, node, i, root) for i, v in enumerate(value)])
    elif kind is set:
        node = TrackedSet(value)
    elif kind is tuple:
        return tuple(track(v, FROZEN, i, root) for i, v in enumerate(value)) if _holds_containers(value) else value
    elif kind in SUBTYPES:
        node = SUBTYPES[kind](root, value)
    else:
        return value
    node._rds_parent = parent
    node._rds_key = key
    return node


def _holds_containers(value: tuple) -> bool:
    return any(
        type(v) in (dict, list, set) or type(v) in SUBTYPES or (type(v) is tuple and _holds_containers(v))
        for v in value
    )


#: For each operation: which argument brings values in ("value", "values" or "pairs"), and its position.
_INCOMING = {
    "set": ("value", 1),
    "update": ("pairs", 0),
    "lset": ("value", 1),
    "lsetslice": ("values", 3),
    "insert": ("value", 1),
    "append": ("value", 0),
    "extend": ("values", 0),
}


def live_apply(root: Any, ops: List[list]) -> Callable[[], None]:
    """Ready decoded operations for the live containers under ``root``: track the values they bring in now
    (this can fail: a value nested too deep), and return the function that applies them (which cannot)."""
    steps = []
    for op in ops:
        code, path, args = op[0], op[1], list(op[2:])
        target = resolve(root, path)
        if code == "replace":
            continue  # a custom value's own method already changed it in memory
        incoming = _INCOMING.get(code)
        if incoming is not None:
            kind, at = incoming
            # Where the new values will sit: exact for dict keys, a first guess for list positions.
            first = args[0] if code in ("set", "lset", "insert", "lsetslice") else len(target)
            if kind == "value":
                args[at] = track(args[at], target, first, root)
            elif kind == "values":
                args[at] = [track(v, target, first + i, root) for i, v in enumerate(args[at])]
            else:
                args[at] = [(k, track(v, target, k, root)) for k, v in args[at]]
        steps.append((code, target, args))

    def apply() -> None:
        for code, target, args in steps:
            before = len(target)
            OPERATIONS[code].apply(target, *args)
            if code == "repeat":  # replay copied the repeated items: track the copies
                for index in range(before, list.__len__(target)):
                    item = list.__getitem__(target, index)
                    list.__setitem__(target, index, track(_plans.plain(item), target, index, root))

    return apply


class Tracked:
    """What every stored container (nested ones and the roots) adds to its built-in base."""

    __slots__ = ()
    _rds_base: type = object

    def _rds_plain(self) -> Any:
        """The plain value the codec stores for this container (its children encode themselves)."""
        if isinstance(self, dict):
            return dict(dict.items(self))
        return self._rds_base(iter(self))  # type: ignore[call-overload]

    def __copy__(self) -> Any:
        return self._rds_plain()

    def __deepcopy__(self, memo: Dict[int, Any]) -> Any:
        return _copy.deepcopy(_plans.plain(self), memo)

    def __reduce_ex__(self, protocol: Any) -> Tuple[Any, ...]:
        return (self._rds_base, (_plans.plain(self),))


class TrackedDict(Tracked, dict):
    __slots__ = ("_rds_parent", "_rds_key")
    _rds_base = dict
    locals().update(mutators(dict, "TrackedDict"))

    def copy(self) -> Dict[Any, Any]:
        return dict(self)


class TrackedList(Tracked, list):
    __slots__ = ("_rds_parent", "_rds_key")
    _rds_base = list
    locals().update(mutators(list, "TrackedList"))

    def copy(self) -> List[Any]:
        return list(self)


class TrackedSet(Tracked, set):
    __slots__ = ("_rds_parent", "_rds_key")
    _rds_base = set
    locals().update(mutators(set, "TrackedSet"))

    def copy(self) -> set:
        return set(self)

    def __repr__(self) -> str:
        return repr(set(self))
