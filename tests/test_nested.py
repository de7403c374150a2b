"""Nested dicts, lists and sets: every in-place change is one saved modification, at any depth."""

import copy
import json
import os
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rds import DetachedError, NotAStoreError, RDSDict, RDSList
from sim.campaign import same


def reopen(d):
    d.close()
    return type(d)(*d.path.rsplit("/", 1))


def test_nested_changes_are_saved_without_reassignment(where):
    d = RDSDict(where, "s")
    d["cfg"] = {"hosts": ["a"], "tags": {"x"}, "deep": [{"b": 0}]}
    d["cfg"]["hosts"].append("b")
    d["cfg"]["tags"].add("y")
    d["cfg"]["deep"][0]["b"] = 1
    d["cfg"]["deep"].insert(0, {"new": [1]})
    d["cfg"]["deep"][1]["b"] += 1  # found again at its new index
    assert d.last_id == 6
    expected = {"cfg": {"hosts": ["a", "b"], "tags": {"x", "y"}, "deep": [{"new": [1]}, {"b": 2}]}}
    e = reopen(d)
    assert same(dict(e), expected) and e.last_id == 6
    e.close()


def test_every_list_operation_replays_exactly(where):
    plain = [5, 3, [1], 4, 1]
    d = RDSDict(where, "s")
    d["l"] = copy.deepcopy(plain)
    for name, args, kwargs in [
        ("__setitem__", (0, 9), {}),
        ("__setitem__", (slice(1, 3), ["a", "b", "c"]), {}),
        ("__setitem__", (slice(None, None, 2), [0, 0, 0]), {}),
        ("__delitem__", (-1,), {}),
        ("__delitem__", (slice(0, 1),), {}),
        ("__delitem__", (slice(1, None, -2),), {}),  # a negative step: through index 0
        ("__setitem__", (slice(None, None, -1), [7, 6, 5]), {}),
        ("__setitem__", (slice(2, 0, -1), ["p", "q"]), {}),
        ("insert", (-100, "first"), {}),
        ("insert", (100, "last"), {}),
        ("append", ([2],), {}),
        ("extend", ((7, 8),), {}),
        ("pop", (2,), {}),
        ("pop", (), {}),
        ("remove", ("first",), {}),
        ("sort", (), {"key": str, "reverse": True}),
        ("reverse", (), {}),
        ("__iadd__", ([[3]],), {}),
        ("__imul__", (2,), {}),
        ("clear", (), {}),
        ("extend", ([1, 2],), {}),
    ]:
        expected = getattr(plain, name)(*copy.deepcopy(args), **kwargs)
        got = getattr(d["l"], name)(*copy.deepcopy(args), **kwargs)
        if name in ("pop",):
            assert same(got, expected)
        assert same(list(d["l"]), plain), name
    e = reopen(d)
    assert same(e["l"], plain)
    e.close()


def test_repeated_items_are_distinct_like_after_a_reopen(where):
    d = RDSDict(where, "s")
    d["l"] = [[1]]
    d["l"] *= 2
    d["l"][0].append(2)
    assert d["l"] == [[1, 2], [1]]
    assert reopen(d)["l"] == [[1, 2], [1]]


def test_every_set_operation_replays_exactly(where):
    plain = {1, 2, 3}
    d = RDSDict(where, "s")
    d["s"] = set(plain)
    for name, args in [
        ("add", (4,)),
        ("discard", (1,)),
        ("remove", (2,)),
        ("update", ([5, 6], {7})),
        ("__ior__", ({8},)),
        ("difference_update", ([5],)),
        ("__isub__", ({6},)),
        ("intersection_update", ([3, 4, 7, 8, 9],)),
        ("__iand__", ({3, 4, 8},)),
        ("symmetric_difference_update", ([4, 10],)),
        ("__ixor__", ({3, 11},)),
    ]:
        getattr(plain, name)(*args)
        getattr(d["s"], name)(*args)
        assert d["s"] == plain, name
    popped = d["s"].pop()
    plain.discard(popped)
    assert reopen(d)["s"] == plain


def test_errors_match_the_builtin_types_and_change_nothing(where):
    d = RDSDict(where, "s")
    d["l"], d["s"], d["m"] = [1], {1}, {}
    last = d.last_id
    for call, error in [
        (lambda: d["l"].__setitem__(5, 0), IndexError),
        (lambda: d["l"].pop(7), IndexError),
        (lambda: d["l"].remove(9), ValueError),
        (lambda: d["l"].__setitem__(slice(None, None, 2), [1, 2]), ValueError),
        (lambda: d["s"].remove(9), KeyError),
        (lambda: d["s"].add([1]), TypeError),
        (lambda: d["m"].__delitem__("x"), KeyError),
        (lambda: d["l"].append(object()), TypeError),
    ]:
        with pytest.raises(error):
            call()
    assert d.last_id == last and d == {"l": [1], "s": {1}, "m": {}}


def test_removed_containers_are_detached(where):
    d = RDSDict(where, "s")
    d["a"] = {"inner": [1]}
    inner, outer = d["a"]["inner"], d["a"]
    d["a"] = "replaced"
    with pytest.raises(DetachedError):
        inner.append(2)
    with pytest.raises(DetachedError):
        outer["x"] = 1
    d["l"] = [[1]]
    held = d["l"][0]
    assert d["l"].pop() == [1] and type(d.get("l")) is not list  # popped values come back plain
    with pytest.raises(DetachedError):
        held.append(2)
    assert reopen(d) == {"a": "replaced", "l": []}


def test_a_container_cannot_be_stored_inside_itself(where):
    d = RDSDict(where, "s")
    d["a"] = {"b": []}
    for call in (lambda: d.__setitem__("x", d), lambda: d["a"]["b"].append(d["a"]), lambda: d["a"].update(z=d)):
        with pytest.raises(ValueError, match="inside itself"):
            call()
    assert d == {"a": {"b": []}}


def test_tracked_containers_copy_and_serialise_like_plain_ones(where):
    d = RDSDict(where, "s")
    d["a"] = {"l": [1, {2}]}
    tracked = d["a"]
    for value in (copy.deepcopy(tracked), pickle.loads(pickle.dumps(tracked))):
        assert type(value) is dict and type(value["l"]) is list and type(value["l"][1]) is set
        assert value == {"l": [1, {2}]}
    assert type(copy.copy(tracked)) is dict and repr(tracked) == "{'l': [1, {2}]}" and repr(d["a"]["l"][1]) == "{2}"
    assert json.loads(json.dumps({"l": d["a"]["l"][:1]})) == {"l": [1]}
    assert isinstance(tracked, dict) and isinstance(tracked["l"], list) and isinstance(tracked["l"][1], set)


def test_appending_to_a_large_nested_list_costs_the_size_of_the_change(where):
    d = RDSDict(where, "s")
    d["big"] = {"items": list(range(100_000))}
    folder = where / "s"
    before = sum(os.path.getsize(folder / name) for name in os.listdir(folder))
    d["big"]["items"].append(100_000)
    growth = sum(os.path.getsize(folder / name) for name in os.listdir(folder)) - before
    assert growth < 300, growth  # two journal copies of one small record
    d.close()


def test_rds_list_is_a_persistent_list(where):
    lst = RDSList(where, "l")
    assert isinstance(lst, list) and lst == [] and lst.last_id is None
    lst.extend([3, 1, 2])
    lst.sort()
    lst.append({"k": [1]})
    lst[3]["k"].append(2)
    lst += ["x"]
    assert lst == [1, 2, 3, {"k": [1, 2]}, "x"] and lst.last_id == 5
    assert type(lst + [1]) is list and type(lst * 2) is list and type(lst.copy()) is list
    again = reopen(lst)
    assert again == [1, 2, 3, {"k": [1, 2]}, "x"] and again.last_id == 5
    again.close()
    with pytest.raises(NotAStoreError, match="holds a list"):
        RDSDict(where, "l")


# -- any sequence of nested operations, then a reopen, equals the same sequence on plain objects ---------------

scalars = st.one_of(st.integers(-3, 3), st.text(max_size=2), st.none())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=1), inner, max_size=3)),
    max_leaves=5,
)


def containers(value, path=()):
    """Every (path, container) inside a plain value."""
    if isinstance(value, (dict, list, set)):
        yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from containers(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from containers(v, path + (i,))


def at(root, path):
    for step in path:
        root = root[step]
    return root


LIST_CALLS = ["append", "insert", "pop", "extend", "setitem", "delitem", "sort", "reverse", "clear", "remove"]
DICT_CALLS = ["setitem", "delitem", "pop", "update", "setdefault", "popitem", "clear"]
SET_CALLS = ["add", "discard", "pop", "update", "clear"]


def call(container, name, pick, value):
    """One call on ``container``; arguments derived from ``pick`` and ``value``, the same for model and store."""
    if isinstance(container, set):
        item = pick % 4
        return {
            "add": lambda: container.add(item),
            "discard": lambda: container.discard(item),
            "pop": container.pop,
            "update": lambda: container.update({item, item + 1}),
            "clear": container.clear,
        }[name]()
    if isinstance(container, list):
        index = pick % (len(container) + 1) - 1
        table = {
            "append": lambda: container.append(copy.deepcopy(value)),
            "insert": lambda: container.insert(index, copy.deepcopy(value)),
            "pop": lambda: container.pop(index),
            "extend": lambda: container.extend([copy.deepcopy(value), pick]),
            "setitem": lambda: container.__setitem__(index, copy.deepcopy(value)),
            "delitem": lambda: container.__delitem__(slice(index, None, 2)),
            "sort": lambda: container.sort(key=repr, reverse=bool(pick % 2)),
            "reverse": container.reverse,
            "clear": container.clear,
            "remove": lambda: container.remove(pick % 3),
        }
        return table[name]()
    key = "abc"[pick % 3]
    return {
        "setitem": lambda: container.__setitem__(key, copy.deepcopy(value)),
        "delitem": lambda: container.__delitem__(key),
        "pop": lambda: container.pop(key),
        "update": lambda: container.update({key: copy.deepcopy(value)}, z=pick),
        "setdefault": lambda: container.setdefault(key, copy.deepcopy(value)),
        "popitem": container.popitem,
        "clear": container.clear,
    }[name]()


@given(
    steps=st.lists(
        st.tuples(st.integers(0, 100), st.integers(0, 100), st.integers(0, 100), values), min_size=1, max_size=20
    )
)
def test_any_nested_operations_then_a_reopen_equal_plain_objects(tmp_path_factory, steps):
    where = tmp_path_factory.mktemp("nested")
    model = {"d": {"x": [1, {"y": []}]}, "l": [[0], 1], "s": {1, 2}}
    d = RDSDict(where, "s", compact_min_bytes=400, redundancy=1)
    d.update(copy.deepcopy(model))
    try:
        for which, method, pick, value in steps:
            found = list(containers(model))
            path, target = found[which % len(found)]
            names = SET_CALLS if isinstance(target, set) else LIST_CALLS if isinstance(target, list) else DICT_CALLS
            name = names[method % len(names)]
            outcome = []
            for root in (d, model):
                try:
                    if root is model and name == "pop" and isinstance(target, set) and outcome[0][0] == "ok":
                        target.remove(outcome[0][1])  # set.pop's choice is arbitrary: follow the store's
                        outcome.append(outcome[0])
                        continue
                    outcome.append(("ok", call(at(root, path), name, pick, value)))
                except (IndexError, KeyError, ValueError, TypeError) as exc:
                    outcome.append(("error", type(exc)))
            assert same(outcome[0], outcome[1]), (path, name)
            assert same(dict(d), model), (path, name)
        d = reopen(d)
        assert same(dict(d), model)
    finally:
        d.close()
