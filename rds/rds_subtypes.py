"""Custom tracked types, as the original RDS README describes them.

To make changes to objects of your own class ``MyType`` saved, write a wrapper class (an *RDS subtype*)::

    from rds.rds_subtypes import RDSSubBase, registerRDSSubType

    class MyRDSSubType(RDSSubBase):
        def __init__(self, master, instance):
            RDSSubBase.__init__(self, master)
            self.__object = instance

        def myFunction(self, *args, **kwargs):
            id = self._awaitTurn()            # take the turn: returns this modification's ID
            try:
                ret = self.__object.myFunction(*args, **kwargs)
            except:
                self._running.remove(id)      # give the turn back; nothing is saved
                raise
            try:
                self._save()                  # save (or self._master._save())
            finally:
                self._running.remove(id)      # give the turn back
            return ret

        def getData(self):
            return copy.deepcopy(self.__object)

    registerRDSSubType(MyType, MyRDSSubType)

and give the codec a way to store ``MyType`` itself: ``rds.register_type(MyType, "my-type", encode, decode)``,
where ``encode(obj)`` returns a value the codec stores (a dict, a list, ...) and ``decode(value)`` rebuilds the
object.  From then on every ``MyType`` stored in an RDSDict or RDSList (at any depth) is held in memory wrapped
in ``MyRDSSubType``, and each wrapped method call is one modification with one ID, saved as a replacement of
the object's whole value.

If the turn is given back without a successful ``_save()`` (the method raised, or the save failed with an I/O
error) and the value differs from what it was when the turn began (by ``==``), the store's value goes back to
that: a new wrapper holding it replaces this one in the store, and this one is detached (``DetachedError`` on its
next call).
"""

from __future__ import annotations

import copy
from typing import Any, Callable, List

from ._replay import resolve
from ._tracking import SUBTYPES, WRAPPERS, locate, track
from .errors import RDSError

__all__ = ["RDSSubBase", "registerRDSSubType"]


class _Turns:
    """``self._running``: the IDs of the turns a custom value holds; ``remove(id)`` gives a turn back."""

    def __init__(self, owner: "RDSSubBase") -> None:
        self._owner = owner
        self._ids: List[Any] = []

    def append(self, record_id: Any) -> None:
        self._ids.append(record_id)

    def remove(self, record_id: Any) -> None:
        """Give the turn back: the modification ends here, written and synced if ``_save()`` staged it."""
        self._ids.remove(record_id)
        owner = self._owner
        store, tx = owner._rds_turn_store, owner._rds_tx
        if store is None:
            return
        if self._ids:  # the end of a nested turn (this value's method called another of its methods)
            store.finish(tx)
            return
        saved = owner._rds_saved
        try:
            if not saved and owner.getData() != owner._rds_before:
                owner._rds_restore()  # the turn ended without a save: undo the method's change
        finally:
            store.turn, owner._rds_outer_turn = owner._rds_outer_turn, None
            owner._rds_turn_store = owner._rds_tx = None
            store.finish(tx, failed=not saved)

    def __contains__(self, record_id: Any) -> bool:
        return record_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)


class RDSSubBase:
    """Base class of custom tracked types (see the module docstring)."""

    def __init__(self, master: Any) -> None:
        self._master = master  # the store's root: an RDSDict or RDSList
        self._running = _Turns(self)
        self._rds_parent: Any = None
        self._rds_key: Any = None
        self._rds_turn_store: Any = None
        self._rds_tx: Any = None
        self._rds_outer_turn: Any = None
        self._rds_saved = True
        self._rds_before: Any = None

    def getData(self) -> Any:
        """The plain value this wraps (override it; a copy is recommended)."""
        raise NotImplementedError(f"{type(self).__name__} must define getData()")

    def _awaitTurn(self) -> Any:
        """Wait for this store's turn, open the modification, and return the ID it will get.

        Inside a transaction (of this thread) the modification joins it, and the ID is the transaction's."""
        root, _ = locate(self)
        store = root._store
        tx = store.begin()
        if self._rds_turn_store is None:  # else this thread holds it already: a method calling another
            self._rds_outer_turn, store.turn = store.turn, self
            self._rds_turn_store, self._rds_tx = store, tx
            self._rds_saved = False
            try:
                self._rds_before = copy.deepcopy(self.getData())  # what memory goes back to if nothing is saved
            except BaseException:
                store.turn, self._rds_turn_store = self._rds_outer_turn, None
                store.finish(tx, failed=True)
                raise
        self._running.append(tx.id)
        return tx.id

    def _save(self) -> None:
        """Save this value (as a whole) as part of the modification; call it while holding the turn."""
        self._master._save()

    def _rds_save_value(self) -> None:
        store = self._rds_turn_store
        if store is None:
            raise RuntimeError("_save() called without the turn: call self._awaitTurn() first")
        root, path = locate(self)
        parent, key, before = resolve(root, path[:-1]), path[-1], self._rds_before

        def prepare(root: Any, ops: List[list]) -> Callable[[Any], None]:
            def apply(tx: Any) -> None:  # memory already holds the change: only say how to undo it
                tx.undo.append(lambda: _put_back(root, parent, key, before))

            return apply

        store.tx.stage(root, [["replace", path[:-1], key, self]], prepare)
        self._rds_saved = True

    def _rds_restore(self) -> None:
        """Put back, in the store, the value this had when the turn began (this wrapper is then detached)."""
        try:
            root, path = locate(self)
        except RDSError:
            return
        _put_back(root, resolve(root, path[:-1]), path[-1], self._rds_before)

    def _rds_plain(self) -> Any:
        return self.getData()

    def __deepcopy__(self, memo: Any) -> Any:
        """A deep copy is the plain value, as for RDS's containers (never a second wrapper on the store)."""
        return copy.deepcopy(self.getData(), memo)


def _put_back(root: Any, parent: Any, key: Any, value: Any) -> None:
    """Store a new wrapper of (a copy of) ``value`` at ``parent[key]``, bypassing the journal."""
    base = dict if isinstance(parent, dict) else list
    base.__setitem__(parent, key, track(copy.deepcopy(value), parent, key, root))


def registerRDSSubType(cls: type, subtype: type) -> None:  # noqa: N802 - the original project's name
    """Wrap every stored instance of ``cls`` in ``subtype`` (a subclass of ``RDSSubBase``)."""
    if not (isinstance(subtype, type) and issubclass(subtype, RDSSubBase)):
        raise TypeError(f"{subtype!r} is not a subclass of RDSSubBase")
    SUBTYPES[cls] = subtype
    WRAPPERS.add(subtype)
