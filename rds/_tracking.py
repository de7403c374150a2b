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

import collections.abc as abc
import copy as _copy
import functools
from typing import Any, Callable, Dict, Iterator, List, Set, Tuple

from . import _plans
from ._replay import OPERATIONS, resolve
from ._store import NO_UNDO
from .errors import DetachedError

MISSING = object()
_GONE = "this {} is no longer in the store (it, or a container holding it, was removed or replaced)"
#: The parent of a container held inside a tuple: it cannot be modified in place.
FROZEN = object()

#: Custom value types registered with ``rds_subtypes.registerRDSSubType``: stored class -> wrapper class.
SUBTYPES: Dict[type, type] = {}
#: Their wrapper classes (RDSSubBase subclasses).
WRAPPERS: Set[type] = set()


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
        elif dict.get(parent, key, MISSING) is not node:
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
    """The mutating methods of a container class over ``base``: each plans, applies and commits one modification
    (or joins the transaction the thread has open), and returns once it is durable."""

    def make(name: str, plan: Callable[..., _plans.Plan]) -> Callable[..., Any]:
        def method(self: Any, *args: Any, **kwargs: Any) -> Any:
            root, _ = locate(self)
            store = root._store
            tx = store.begin()
            try:
                root, path = locate(self)  # again, with the turn: the structure is stable now
                ops, result = plan(self, *args, **kwargs)
                if ops:
                    if path:
                        ops = [[op[0], path, *op[2:]] for op in ops]
                    tx.stage(root, ops, live_apply, last=True)
            except BaseException:
                store.finish(tx, failed=True)
                raise
            return store.finish(tx, result=result)

        method.__name__ = name
        method.__qualname__ = f"{owner}.{name}"
        method.__doc__ = f"{getattr(base, name).__doc__}\n\nSaved durably before it returns (one modification ID)."
        return method

    return {name: make(name, plan) for name, plan in _plans.PLANS[base].items()}


def turn_of(node: Any) -> Any:
    """The store whose turn guards ``node`` (None for a container that left its store or sits in a tuple)."""
    while True:
        store = getattr(node, "_store", None)
        if store is not None:
            return store
        node = getattr(node, "_rds_parent", None)
        if node is None or node is FROZEN:
            return None


def _guarded(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` run with the store's turn, so it never sees half of a modification or of a transaction."""

    @functools.wraps(function)
    def read(self: Any, *args: Any) -> Any:
        store = self._store
        if store is None:  # a nested container: its root's store, if it is still in one
            store = turn_of(self)
            if store is None:
                return function(self, *args)
        lock = store.lock
        if not lock.acquire(False):
            store.acquire()  # wait, at most turn_timeout
        try:
            return function(self, *args)
        finally:
            lock.release()

    return read


#: Reads that must see a whole state: everything a container's built-in base reads, except iteration (below).
_READS = {
    dict: ("__getitem__", "get", "__contains__", "__len__", "__eq__", "__ne__", "__repr__", "__or__", "__ror__"),
    list: (
        "__getitem__", "__contains__", "__len__", "index", "count", "__eq__", "__ne__", "__lt__", "__le__",
        "__gt__", "__ge__", "__add__", "__mul__", "__rmul__", "__repr__",
    ),
    set: (
        "__contains__", "__len__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__or__",
        "__and__", "__sub__", "__xor__", "__ror__", "__rand__", "__rsub__", "__rxor__", "union", "intersection",
        "difference", "symmetric_difference", "issubset", "issuperset", "isdisjoint",
    ),
}  # fmt: skip


#: Reads that recurse into nested containers: a nested container leaves them to its built-in base (below).
_RECURSIVE = {"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__repr__"}


def readers(base: Any, nested: bool = False) -> Dict[str, Callable[..., Any]]:
    """The reading methods of a container class over ``base``, each taking the turn.

    Iteration walks a snapshot taken (with the turn) when it starts: it sees the state after some complete
    modification, never raises "changed size during iteration", and does not see later modifications.

    A ``nested`` container keeps its base's comparisons and repr: run with the turn by the root's, they recurse
    through the tree in C, where a Python wrapper at every level would hit the recursion limit on deep values
    (Python 3.12 counts C levels too).  Called on the nested container itself, such a read is one C operation
    that no other thread interrupts, though it can fall inside another thread's open transaction: compare
    through the root, or inside a transaction, when that matters.
    """
    names = [name for name in _READS[base] if not (nested and name in _RECURSIVE)]
    methods = {name: _guarded(getattr(base, name)) for name in names}
    methods["__iter__"] = _guarded(lambda self: iter(list(base.__iter__(self))))
    if base is not set:
        methods["__reversed__"] = _guarded(lambda self: iter(list(base.__reversed__(self))))
    methods["copy"] = _guarded(lambda self: base(base.__iter__(self)) if base is not dict else dict(dict.items(self)))
    methods["copy"].__doc__ = f"A shallow copy as a plain {base.__name__} (not saved anywhere)."
    for name in ("__copy__", "__deepcopy__", "__reduce_ex__"):
        methods[name] = _guarded(getattr(Tracked, name))
    if base is dict:
        methods["keys"] = lambda self: _KeysView(self)
        methods["values"] = lambda self: _ValuesView(self)
        methods["items"] = lambda self: _ItemsView(self)
    return methods


class _SnapshotView:
    """What ``d.keys()``, ``d.values()`` and ``d.items()`` add to the abc views: live (``len``, ``in``), but
    iteration walks a snapshot taken with the turn (see ``readers``), and a repr like dict's own views'."""

    __slots__ = ()
    _name = ""
    _of: Any = dict.keys  # the dict view to snapshot

    def __iter__(self) -> Iterator[Any]:
        return _listed(self._mapping, type(self)._of)  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"{self._name}({list(self)!r})"


#: ``iter(list(view(mapping)))``, with the mapping's turn.
_listed = _guarded(lambda mapping, view: iter(list(view(mapping))))


class _KeysView(_SnapshotView, abc.KeysView):
    __slots__ = ()
    _name = "dict_keys"


class _ValuesView(_SnapshotView, abc.ValuesView):
    __slots__ = ()
    _name, _of = "dict_values", dict.values


class _ItemsView(_SnapshotView, abc.ItemsView):
    __slots__ = ()
    _name, _of = "dict_items", dict.items


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


def live_apply(root: Any, ops: List[list]) -> Callable[[Any], None]:
    """Ready decoded operations for the live containers under ``root``: track the values they bring in now
    (this can fail: a value nested too deep), and return the function that applies them (which cannot), first
    appending to the transaction's ``undo`` list (unless it is ``NO_UNDO``) how to undo each step."""
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
            if code in ("set", "lset", "insert", "lsetslice"):
                first = args[0]
            else:  # appended to a list; a dict's pairs name their own keys
                first = list.__len__(target) if isinstance(target, list) else None
            if kind == "value":
                args[at] = track(args[at], target, first, root)
            elif kind == "values":
                args[at] = [track(v, target, first + i, root) for i, v in enumerate(args[at])]
            else:
                args[at] = [(k, track(v, target, k, root)) for k, v in args[at]]
        steps.append((code, target, args))

    def apply(tx: Any) -> None:
        undo = tx.undo
        for code, target, args in steps:
            if undo is not NO_UNDO:  # else the change is already durable: nothing will undo it
                undo.append(_undoer(code, target, args, tx.ordered, root))
            before = list.__len__(target) if code == "repeat" else 0
            OPERATIONS[code].apply(target, *args)
            if code == "repeat":  # replay copied the repeated items: track the copies
                for index in range(before, list.__len__(target)):
                    item = list.__getitem__(target, index)
                    list.__setitem__(target, index, track(_plans.plain(item), target, index, root))

    return apply


def _undoer(code: str, target: Any, args: List[Any], ordered: Any, root: Any) -> Callable[[], None]:
    """How to put ``target`` back as it is now, once operation ``code`` with ``args`` has changed it.

    Exact, and as cheap as the operation, with one exception: a dict key deleted from anywhere but the end
    comes back at the end of the iteration order, unless ``ordered`` is a set (an explicit transaction, whose
    rollback is routine).  Then the first such deletion from each dict keeps a copy of the dict's items (its id
    goes into ``ordered``); undone last, that copy puts every key back in place.

    Values kept for putting back are the objects themselves (a nested container's own undo steps, run first,
    restore its contents), except custom values: their methods change them in place, so they are kept as a
    copy of their data and come back as a new wrapper (``_keep``).
    """
    last = code == "del" and next(dict.__reversed__(target)) == args[0]
    if code == "del" and ordered is not None and id(target) not in ordered and not last:
        ordered.add(id(target))
        code = "clear"  # the copy below
    elif code in ("set", "del"):
        key = args[0]
        old = _keep(dict.get(target, key, MISSING))
        return lambda: restore_keys(target, [(key, old)], root)
    if code == "update":
        olds = [(key, _keep(dict.get(target, key, MISSING))) for key, _ in args[0]]
        return lambda: restore_keys(target, reversed(olds), root)
    if code == "lset":
        index = args[0]
        old = _keep(list.__getitem__(target, index))
        return lambda: list.__setitem__(target, index, _back(old, target, index, root))
    if code == "insert":
        index = args[0]
        return lambda: list.__delitem__(target, index)
    if code == "ldel":
        index = args[0]
        old = _keep(list.__getitem__(target, index))
        return lambda: list.insert(target, index, _back(old, target, index, root))
    if code == "lsetslice" and args[2] == 1:
        start, stop, values = args[0], args[1], args[3]
        olds = [_keep(item) for item in list.__getitem__(target, slice(start, stop))]
        return lambda: list.__setitem__(
            target, slice(start, start + len(values)), [_back(v, target, start + i, root) for i, v in enumerate(olds)]
        )
    if code in ("append", "extend") or (code == "repeat" and args[0] > 0):
        size = list.__len__(target)
        return lambda: list.__delitem__(target, slice(size, None))
    if code == "sadd":
        new = [item for item in args[0] if not set.__contains__(target, item)]
        return lambda: set.difference_update(target, new)
    if code == "sdiscard":
        gone = [item for item in args[0] if set.__contains__(target, item)]
        return lambda: set.update(target, gone)
    # The rest (clear, reorder, reverse, extended slices, ...) costs O(len) anyway: keep a shallow copy.
    if isinstance(target, dict):
        items = [(key, _keep(value)) for key, value in dict.items(target)]
        return lambda: _refill(dict, target, [(k, _back(v, target, k, root)) for k, v in items])
    if isinstance(target, list):
        kept = [_keep(item) for item in list.__iter__(target)]
        return lambda: _refill(list, target, [_back(v, target, i, root) for i, v in enumerate(kept)])
    members = list(set.__iter__(target))
    return lambda: _refill(set, target, members)


class _Kept:
    """A custom value's data as it was, for an undo step (its wrapper may be changed in place afterwards)."""

    __slots__ = ("data",)

    def __init__(self, data: Any) -> None:
        self.data = data


def _keep(value: Any) -> Any:
    if type(value) in WRAPPERS:
        return _Kept(_copy.deepcopy(value.getData()))
    return value


def _back(value: Any, target: Any, key: Any, root: Any) -> Any:
    """What to put back for a kept ``value`` at ``target[key]``: itself, or a new wrapper of a kept custom value."""
    if type(value) is _Kept:
        return track(_copy.deepcopy(value.data), target, key, root)
    return value


def _refill(base: Any, target: Any, contents: List[Any]) -> None:
    base.clear(target)
    if base is list:
        list.extend(target, contents)
    else:
        base.update(target, contents)


def restore_keys(target: dict, olds: Any, root: Any = None) -> None:
    """Put each ``(key, old)`` back in the dict ``target``: ``old`` is the value (or what ``_keep`` kept of
    it, given the ``root``), or ``MISSING`` for no key."""
    for key, old in olds:
        if old is MISSING:
            dict.pop(target, key, None)
        else:
            dict.__setitem__(target, key, _back(old, target, key, root))


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
    _store = None  # only a root has one
    _rds_base = dict
    locals().update(mutators(dict, "TrackedDict"))
    locals().update(readers(dict, nested=True))


class TrackedList(Tracked, list):
    __slots__ = ("_rds_parent", "_rds_key")
    _store = None
    _rds_base = list
    locals().update(mutators(list, "TrackedList"))
    locals().update(readers(list, nested=True))


class TrackedSet(Tracked, set):
    __slots__ = ("_rds_parent", "_rds_key")
    _store = None
    _rds_base = set
    locals().update(mutators(set, "TrackedSet"))
    locals().update(readers(set, nested=True))

    def __repr__(self) -> str:
        return repr(set(self))
