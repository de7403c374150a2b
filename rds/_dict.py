"""``RDSDict``: a ``dict`` whose every modification is durable before the call returns.

The ``a``-methods (``await d.aset(k, v)``) are the asyncio forms of the common modifications; ``acall`` runs any.

RDSDict *is* a dict (``isinstance(d, dict)``, and ``json`` serialises it). Its reads take the store's turn (so
another thread's modification is never seen half done) and its iteration walks a snapshot; both come from
``_tracking.readers``. Its mutating methods come from the one table in ``_plans.PLANS[dict]``, through
``_tracking.mutators``, as do those of nested dicts. Methods that build a new dict (``copy``, ``|``, ``fromkeys``)
return plain dicts; calling dict's methods unbound (``dict.__setitem__(d, k, v)``) bypasses RDS and is not saved.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable

from ._root import ARGUMENTS, Root
from ._tracking import mutators, readers


class RDSDict(Root, dict):
    __doc__ = (
        "A dict kept durably in the folder ``location/name``; every modification is saved before it returns.\n"
        + ARGUMENTS
    )

    __slots__ = ("_store", "_finalizer", "__weakref__")
    _rds_base = dict
    locals().update(mutators(dict, "RDSDict"))
    locals().update(readers(dict))

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
