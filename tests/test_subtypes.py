"""The original README's recipe for custom tracked types, verbatim, with a small concrete class."""

import copy

import pytest

import rds
from rds import DetachedError, RDSDict, RDSList, UnsupportedTypeError


class MyType:
    """A small class with one mutating method, as a user would have."""

    def __init__(self, items=None):
        self.items = list(items or [])

    def myFunction(self, item):  # noqa: N802 - the README's name
        if item is None:
            raise ValueError("no None items")
        self.items.append(item)
        return len(self.items)

    def __eq__(self, other):
        return isinstance(other, MyType) and other.items == self.items


rds.register_type(MyType, "tests.MyType", lambda obj: obj.items, MyType)

# ---- from the README, verbatim (the "Your code here" line filled in, and getData added as it asks) -----------
from rds.rds_subtypes import RDSSubBase  # noqa: E402


class MyRDSSubType(RDSSubBase):
    def __init__(self, master, instance):
        RDSSubBase.__init__(self, master)
        # Your code here...
        self.__object = instance

    def myFunction(self, *args, **kwargs):  # noqa: N802
        id = self._awaitTurn()
        try:
            # This is an example of how you could be calling your functions.
            ret = self.__object.myFunction(*args, **kwargs)
        except:  # noqa: E722
            # Ensure that you remove the current id from the run list is an error has occured.
            self._running.remove(id)
            raise
        try:
            self._save()
        finally:
            # Ensure that you remove the current id from the run list.
            self._running.remove(id)
        return ret

    def getData(self):  # noqa: N802
        return copy.deepcopy(self.__object)


from rds.rds_subtypes import registerRDSSubType  # noqa: E402

registerRDSSubType(MyType, MyRDSSubType)
# ---- end of the README's recipe ---------------------------------------------------------------------------


def test_the_readme_recipe_saves_each_call_as_one_modification(where):
    with RDSDict(where, "s") as d:
        d["obj"] = MyType([1])
        wrapped = d["obj"]
        assert isinstance(wrapped, MyRDSSubType)
        assert wrapped.myFunction(2) == 2
        assert d.last_id == 2
        d["nested"] = {"list": [MyType()]}
        d["nested"]["list"][0].myFunction("x")
        assert d.last_id == 4
    with RDSDict(where, "s") as d:
        assert d["obj"].getData() == MyType([1, 2])
        assert d["nested"]["list"][0].getData() == MyType(["x"])
        assert d.last_id == 4


def test_a_failing_custom_method_saves_nothing_and_gives_the_turn_back(where):
    with RDSDict(where, "s") as d:
        d["obj"] = MyType()
        held = d["obj"]
        with pytest.raises(ValueError):
            held.myFunction(None)
        assert d.last_id == 1
        d["other"] = 1  # the turn was given back: other modifications proceed
        assert d.last_id == 2
        held.myFunction(1)  # nothing had changed, so the wrapper is still the store's
        assert d["obj"].getData() == MyType([1]) and d.last_id == 3


class Fragile(MyType):
    def myFunction(self, item):  # noqa: N802 - changes the object, then fails
        self.items.append(item)
        raise RuntimeError("half done")


rds.register_type(Fragile, "tests.Fragile", lambda obj: obj.items, Fragile)
registerRDSSubType(Fragile, MyRDSSubType)


def test_a_custom_method_that_fails_halfway_is_rolled_back(where):
    with RDSDict(where, "s") as d:
        d["obj"] = Fragile([1])
        held = d["obj"]
        with pytest.raises(RuntimeError):
            held.myFunction(2)
        assert d["obj"].getData() == MyType([1]) and d.last_id == 1
        with pytest.raises(DetachedError):
            held.myFunction(3)  # the half-changed wrapper no longer belongs to the store
    with RDSDict(where, "s") as d:
        assert d["obj"].getData() == MyType([1])


def test_custom_values_work_in_lists_and_detach(where):
    with RDSList(where, "l") as lst:
        lst.append(MyType())
        lst.insert(0, "first")
        lst[1].myFunction(5)  # its index moved: it is found again
        old = lst[1]
        lst.pop(1)
        with pytest.raises(DetachedError):
            old.myFunction(6)
    with RDSList(where, "l") as lst:
        assert lst == ["first"]


def test_an_unregistered_class_gets_a_clear_error(where):
    class Unknown:
        pass

    with RDSDict(where, "s") as d, pytest.raises(UnsupportedTypeError, match="register_type"):
        d["x"] = Unknown()
