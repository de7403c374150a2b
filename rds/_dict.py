"""``RDSDict``: a ``dict`` whose every modification is durable before the call returns.

RDSDict *is* a dict (``isinstance(d, dict)``; C code and ``json`` read it at dict speed), so reads need no code
here.  Its mutating methods come from the one table in ``_plans.PLANS[dict]``, through ``_tracking.mutators``,
as do those of nested dicts.  Methods that build a new dict (``copy``, ``|``, ``fromkeys``) return plain dicts;
calling dict's methods unbound (``dict.__setitem__(d, k, v)``) bypasses RDS and is not saved.
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

    def _rds_fill(self, state: Dict[Any, Any]) -> None:
        dict.update(self, {key: self._rds_track(value, key) for key, value in state.items()})

    @classmethod
    def fromkeys(cls, iterable: Iterable[Any], value: Any = None) -> Dict[Any, Any]:
        """A plain dict with keys from ``iterable`` (a store needs a folder, so this cannot make one)."""
        return dict.fromkeys(iterable, value)
