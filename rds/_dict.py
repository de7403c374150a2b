"""``RDSDict``: a ``dict`` whose every modification is durable before the call returns.

The ``a``-methods (``await d.aset(k, v)``) are the asyncio forms of the common modifications; ``acall`` runs any.

RDSDict *is* a dict (``isinstance(d, dict)``, and ``json`` serialises it). Its reads take the store's turn (so
another thread's modification is never seen half done) and its iteration walks a snapshot; both come from
``_tracking.readers``. Its mutating methods come from the one table in ``_plans.PLANS[dict]``, through
``_tracking.mutators``, as do those of nested dicts. Methods that build a new dict (``copy``, ``|``, ``fromkeys``)
return plain dicts; calling dict's methods unbound (``dict.__setitem__(d, k, v)``) bypasses RDS and is not saved.
"""

from __future__ import annotations

import functools
from typing import Any, Dict, Iterable

from ._root import ARGUMENTS, Root
from ._store import NO_UNDO, Transaction
from ._tracking import MISSING, mutators, readers, restore_keys

#: Values and keys the fast path of ``d[k] = v`` takes: they encode and decode to equal values of the same type,
#: hold no containers (nothing to track), and, as keys, hash.
_FLAT = frozenset({str, int, float, bool, type(None), bytes})
_PLANNED = mutators(dict, "RDSDict")


class RDSDict(Root, dict):
    __doc__ = (
        "A dict kept durably in the folder ``location/name``; every modification is saved before it returns.\n"
        + ARGUMENTS
    )

    __slots__ = ("_store", "_finalizer", "__weakref__")
    _rds_base = dict
    locals().update(_PLANNED)
    locals().update(readers(dict))

    def __setitem__(self, key: Any, value: Any) -> None:
        """Set self[key] to value.

        Saved durably before it returns (one modification ID).  The commonest call, a flat value at a flat key
        of the root, skips planning, the decode check and tracking (it needs none of them) and writes exactly
        the record the planned path writes (``tests/test_dict_api.py`` compares the bytes)."""
        store = self._store
        # No transaction open (any thread's open one holds the turn, so begin() below then opens a new one);
        # inside one, the planned path joins it.
        if type(value) in _FLAT and type(key) in _FLAT and store.tx is None:
            tx = store.begin()
            try:
                tx.payload = store.codec.dumps([tx.id, [["set", [], key, value]]])
            except BaseException:
                store.finish(tx, failed=True)
                raise
            tx.ops.append(["set", [], key, value])
            tx.deferred = functools.partial(_set_flat, self, key, value)
            store.finish(tx)
            return
        _PLANNED["__setitem__"](self, key, value)

    async def aset(self, key: Any, value: Any) -> None:
        """``d[key] = value`` for asyncio: awaits durability without blocking the event loop (see ``acall``)."""
        await self.acall(self.__setitem__, key, value)

    async def adelete(self, key: Any) -> None:
        """``del d[key]`` for asyncio."""
        await self.acall(self.__delitem__, key)

    async def apop(self, key: Any, *default: Any) -> Any:
        """``d.pop(key[, default])`` for asyncio."""
        return await self.acall(self.pop, key, *default)

    async def aupdate(self, *args: Any, **kwargs: Any) -> None:
        """``d.update(...)`` for asyncio."""
        await self.acall(self.update, *args, **kwargs)

    @classmethod
    def fromkeys(cls, iterable: Iterable[Any], value: Any = None) -> Dict[Any, Any]:
        """A plain dict with keys from ``iterable`` (a store needs a folder, so this cannot make one)."""
        return dict.fromkeys(iterable, value)


def _set_flat(d: RDSDict, key: Any, value: Any, tx: Transaction) -> None:
    """Apply ``d[key] = value`` (flat) to memory, recording how to undo it unless nothing can."""
    if tx.undo is not NO_UNDO:
        old = dict.get(d, key, MISSING)
        tx.undo.append(lambda: restore_keys(d, [(key, old)]))
    dict.__setitem__(d, key, value)
