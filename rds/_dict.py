"""``RDSDict``: a ``dict`` whose every modification is durable before the call returns.

RDSDict *is* a dict (``isinstance(d, dict)``; C code and ``json`` read it at dict speed), so reads need no code
here at all.  Every method that can change a dict is overridden, and all of them come from one table,
``_MUTATORS``: for each method, a *plan* function that checks the arguments against the current state and returns
the journal operations (``_replay.OPERATIONS``) plus a function computing the return value, or no operations
when the call changes nothing.  One wrapper (``_mutator``) takes the store's lock, plans, commits and returns; the
store applies the operations to memory only after their record is durable, with the same replay code that
recovery uses.

What is not a modification of the store: methods that return a new plain dict (``copy``, ``|``, ``fromkeys``),
and calling ``dict``'s methods unbound (``dict.__setitem__(d, k, v)``), which bypasses every override.
"""

from __future__ import annotations

import copy as _copy
import weakref
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, TypeVar

from ._codec import Codec
from ._fs import FileSystem
from ._ids import IDGenerator
from ._store import Store

_T = TypeVar("_T")
Plan = Tuple[Optional[List[list]], Callable[[], Any]]

_MISSING = object()


def _pairs(other: Any) -> List[Tuple[Any, Any]]:
    """The (key, value) pairs ``dict.update(other)`` would use, materialised once and checked."""
    if hasattr(other, "keys"):
        return [(key, other[key]) for key in other.keys()]  # noqa: SIM118 - dict.update calls keys()
    pairs = []
    for index, item in enumerate(other):
        try:
            key, value = item
        except (TypeError, ValueError):
            raise (TypeError if not hasattr(item, "__len__") else ValueError)(
                f"dictionary update sequence element #{index} has "
                + (f"length {len(item)}; 2 is required" if hasattr(item, "__len__") else "no length")
            ) from None
        pairs.append((key, value))
    return pairs


def _checked(pairs: List[Tuple[Any, Any]]) -> List[Tuple[Any, Any]]:
    for key, _ in pairs:
        hash(key)  # an unhashable key must fail before anything is written
    return pairs


def _none() -> None:
    return None


def _plan_setitem(d: dict, /, key: Any, value: Any) -> Plan:
    hash(key)
    return [["set", [], key, value]], _none


def _plan_delitem(d: dict, /, key: Any) -> Plan:
    if not dict.__contains__(d, key):
        raise KeyError(key)
    return [["del", [], key]], _none


def _plan_pop(d: dict, /, key: Any, default: Any = _MISSING) -> Plan:
    if dict.__contains__(d, key):
        value = dict.__getitem__(d, key)
        return [["del", [], key]], lambda: value
    if default is _MISSING:
        raise KeyError(key)
    return None, lambda: default


def _plan_popitem(d: dict, /) -> Plan:
    if not dict.__len__(d):
        raise KeyError("popitem(): dictionary is empty")
    key = next(dict.__reversed__(d))
    item = (key, dict.__getitem__(d, key))
    return [["del", [], key]], lambda: item


def _plan_setdefault(d: dict, /, key: Any, default: Any = None) -> Plan:
    if dict.__contains__(d, key):
        value = dict.__getitem__(d, key)
        return None, lambda: value
    hash(key)
    # Return what is stored (a copy of ``default`` when it is mutable), as a reopen would.
    return [["set", [], key, default]], lambda: dict.__getitem__(d, key)


def _plan_update(d: dict, /, *args: Any, **kwargs: Any) -> Plan:
    if len(args) > 1:
        raise TypeError(f"update expected at most 1 argument, got {len(args)}")
    pairs = _checked((_pairs(args[0]) if args else []) + list(kwargs.items()))
    return ([["update", [], pairs]] if pairs else None), _none


def _plan_ior(d: dict, /, other: Any) -> Plan:
    ops, _ = _plan_update(d, other)
    return ops, lambda: d


def _plan_clear(d: dict, /) -> Plan:
    return ([["clear", []]] if dict.__len__(d) else None), _none


#: Every method by which a dict can change, and how its calls become journal operations.
_MUTATORS: Dict[str, Callable[..., Plan]] = {
    "__setitem__": _plan_setitem,
    "__delitem__": _plan_delitem,
    "pop": _plan_pop,
    "popitem": _plan_popitem,
    "setdefault": _plan_setdefault,
    "update": _plan_update,
    "__ior__": _plan_ior,
    "clear": _plan_clear,
}


def _mutator(name: str, plan: Callable[..., Plan]) -> Callable[..., Any]:
    def method(self: "RDSDict", *args: Any, **kwargs: Any) -> Any:
        store = self._store
        with store.lock:
            store.check_writable()
            ops, result = plan(self, *args, **kwargs)
            if ops:
                store.commit(self, ops)
            return result()

    method.__name__ = name
    method.__qualname__ = f"RDSDict.{name}"
    method.__doc__ = f"{getattr(dict, name).__doc__}\n\nDurable before it returns (one modification ID)."
    return method


class RDSDict(dict):
    """A dict kept durably in the folder ``location/name``; every modification is saved before it returns.

    Arguments (all but the first two keyword-only):

    - ``redundancy``: how many copies of every file to keep (default 2 for a new store; an existing store keeps
      its own unless this is given, in which case it is rewritten with that many copies).
    - ``durability``: ``"fsync"`` (default) returns only once the modification is on stable storage;
      ``"flush"`` hands it to the OS without syncing, which survives a crash of the process but not of the
      machine (a power cut can lose the modifications since the last ``sync()``).
    - ``codec``: how values are encoded (default ``MsgpackCodec``); ``PickleCodec`` is an opt-in.
    - ``id_generator``: the rule for modification IDs (default ``IDGenerator()``).
    - ``readonly``: open without the writer lock and refuse modifications.
    - ``lock_timeout``: seconds to wait for another writer to close (default: don't wait, raise ``LockedError``).
    - ``repair``: open at the last consistent point when damage exceeds the redundancy (else ``CorruptionError``).
    - ``compact_ratio``, ``compact_min_bytes``: a new snapshot is written when the journal exceeds both
      ``compact_min_bytes`` and ``compact_ratio`` times the snapshot's size.
    - ``fs``: the OS seam (``rds.FileSystem``); the crash simulator passes a fault-injecting one.
    """

    __slots__ = ("_store", "_finalizer", "__weakref__")

    def __init__(
        self,
        location: Any,
        name: str,
        *,
        redundancy: Optional[int] = None,
        durability: str = "fsync",
        codec: Optional[Codec] = None,
        id_generator: Optional[IDGenerator] = None,
        readonly: bool = False,
        lock_timeout: Optional[float] = None,
        repair: bool = False,
        compact_ratio: float = 1.0,
        compact_min_bytes: int = 1 << 20,
        fs: Optional[FileSystem] = None,
    ) -> None:
        if getattr(self, "_store", None) is not None:
            raise RuntimeError("RDSDict.__init__ called on an open store")
        store = Store(
            location,
            name,
            root_type=dict,
            redundancy=redundancy,
            durability=durability,
            codec=codec,
            id_generator=id_generator,
            readonly=readonly,
            lock_timeout=lock_timeout,
            repair=repair,
            compact_ratio=compact_ratio,
            compact_min_bytes=compact_min_bytes,
            fs=fs,
        )
        dict.update(self, store.state)
        store.state = None
        self._store = store
        self._finalizer = weakref.finalize(self, store.close)

    for _name, _plan in _MUTATORS.items():
        locals()[_name] = _mutator(_name, _plan)
    del _name, _plan

    # -- the store ------------------------------------------------------------------------------------------

    @property
    def last_id(self) -> Any:
        """The ID of the last completed modification (None if the store has never been modified)."""
        return self._store.last_id

    @property
    def path(self) -> str:
        """The store's folder."""
        return self._store.path

    @property
    def redundancy(self) -> int:
        """How many copies of each file the store keeps."""
        return self._store.copies

    @property
    def durability(self) -> str:
        return self._store.durability

    @property
    def readonly(self) -> bool:
        return self._store.readonly

    @property
    def closed(self) -> bool:
        return self._store.closed

    @property
    def recovery_events(self) -> List[str]:
        """What opening found and mended: torn tails discarded, copies rewritten (also logged as warnings)."""
        return list(self._store.events)

    def sync(self) -> None:
        """Make every completed modification durable (a no-op in the default ``fsync`` mode)."""
        self._store.sync()

    def compact(self) -> None:
        """Write a new snapshot now and start an empty journal (normally automatic)."""
        with self._store.lock:
            self._store.compact(self)

    def close(self) -> None:
        """Sync if needed and release the files and the writer lock.  Reads still work; modifications raise."""
        self._store.close()

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # -- what returns plain values -----------------------------------------------------------------------------

    def copy(self) -> Dict[Any, Any]:
        """A shallow copy as a plain dict (not saved anywhere)."""
        return dict(self)

    @classmethod
    def fromkeys(cls, iterable: Iterable[Any], value: Any = None) -> Dict[Any, Any]:
        """A plain dict with keys from ``iterable`` (a store needs a folder, so this cannot make one)."""
        return dict.fromkeys(iterable, value)

    def __copy__(self) -> Dict[Any, Any]:
        return dict(self)

    def __deepcopy__(self, memo: Dict[int, Any]) -> Dict[Any, Any]:
        return _copy.deepcopy(dict(self), memo)

    def __reduce__(self) -> Tuple[Any, ...]:
        # Pickling a store handle would duplicate the writer; pickle the contents as a plain dict.
        return (dict, (dict(self),))

    def __reduce_ex__(self, protocol: Any) -> Tuple[Any, ...]:
        return self.__reduce__()

    def _rds_plain(self) -> Dict[Any, Any]:
        """The value the codec stores for this container (used when it is stored inside another)."""
        return dict(self)
