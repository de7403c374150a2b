"""``RDSList``: a ``list`` whose every modification is durable before the call returns.

The list counterpart of ``RDSDict``: a real list subclass whose mutating methods come from
``_plans.PLANS[list]``.  ``sort(key=...)`` is journaled as the resulting order, so the key function is never
stored.  Methods that build a new list (``copy``, ``+``, ``*``) return plain lists.
"""

from __future__ import annotations

from typing import Any

from ._root import ARGUMENTS, Root
from ._tracking import mutators, readers


class RDSList(Root, list):
    __doc__ = (
        "A list kept durably in the folder ``location/name``; every modification is saved before it returns.\n"
        + ARGUMENTS
    )

    __slots__ = ("_store", "_finalizer", "__weakref__")
    _rds_base = list
    locals().update(mutators(list, "RDSList"))
    locals().update(readers(list))

    async def aappend(self, value: Any) -> None:
        """``l.append(value)`` for asyncio: awaits durability without blocking the event loop (see ``acall``)."""
        await self.acall(self.append, value)

    async def aextend(self, values: Any) -> None:
        """``l.extend(values)`` for asyncio."""
        await self.acall(self.extend, values)

    async def ainsert(self, index: Any, value: Any) -> None:
        """``l.insert(index, value)`` for asyncio."""
        await self.acall(self.insert, index, value)

    async def apop(self, index: Any = -1) -> Any:
        """``l.pop(index)`` for asyncio."""
        return await self.acall(self.pop, index)
