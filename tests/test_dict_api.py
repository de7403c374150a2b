"""RDSDict behaves as a dict does, and every change survives a reopen."""

import copy
import json
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rds import RDSDict, StoreClosedError


def reopen(d):
    d.close()
    return RDSDict(d.path.rsplit("/", 1)[0], d.path.rsplit("/", 1)[1])


@pytest.fixture
def d(where):
    store = RDSDict(where, "store")
    yield store
    store.close()


def test_is_a_dict_and_starts_empty(d):
    assert isinstance(d, dict)
    assert d == {} and len(d) == 0 and d.last_id is None


def test_every_mutating_method_is_saved(where, d):
    d["a"] = 1
    d["b"] = 2
    del d["a"]
    d.update({"c": 3}, d=4)
    d.update([("e", 5)])
    d |= {"f": 6}
    d |= [("g", 7)]
    assert d.setdefault("h", 8) == 8
    assert d.setdefault("h", 9) == 8
    assert d.pop("b") == 2
    assert d.pop("missing", "dflt") == "dflt"
    assert d.popitem() == ("h", 8)
    expected = {"c": 3, "d": 4, "e": 5, "f": 6, "g": 7}
    assert d == expected
    e = reopen(d)
    assert e == expected and list(e) == list(expected)
    e.clear()
    assert reopen(e) == {}


def test_insertion_order_survives_reopen(d):
    for key in ["z", "a", "m", 3, (1, 2), b"k", None, 2.5, True]:
        d[key] = key
    del d["a"]
    d["a"] = "again"
    order = list(d)
    assert list(reopen(d)) == order


def test_popitem_is_lifo_and_fails_when_empty(d):
    d.update(a=1, b=2, c=3)
    assert [d.popitem() for _ in range(3)] == [("c", 3), ("b", 2), ("a", 1)]
    with pytest.raises(KeyError):
        d.popitem()


def test_errors_match_dict_and_change_nothing(d):
    d["x"] = 1
    last = d.last_id
    with pytest.raises(KeyError):
        del d["nope"]
    with pytest.raises(KeyError):
        d.pop("nope")
    with pytest.raises(TypeError):
        d[["unhashable"]] = 1
    with pytest.raises(TypeError):
        d.update([("ok", 1), (["bad"], 2)])
    with pytest.raises(ValueError):
        d.update([("ok", 1), (1, 2, 3)])
    with pytest.raises(TypeError):
        d.update({}, {})
    assert d == {"x": 1} and d.last_id == last
    assert reopen(d) == {"x": 1}


def test_calls_that_change_nothing_take_no_id(d):
    d["a"] = 1
    last = d.last_id
    d.setdefault("a", 2)
    d.update()
    d.update({})
    d.pop("zz", None)
    d.clear()  # not a no-op: it empties the dict
    assert d.last_id == last + 1
    d.clear()
    assert d.last_id == last + 1


def test_operators_and_views_behave_like_dict(d):
    d.update(a=1, b=2)
    merged = d | {"c": 3}
    assert type(merged) is dict and merged == {"a": 1, "b": 2, "c": 3}
    assert {"z": 0} | d == {"z": 0, "a": 1, "b": 2}
    assert list(reversed(d)) == ["b", "a"]
    assert d.keys() == {"a", "b"} and list(d.values()) == [1, 2] and ("a", 1) in d.items()
    assert d == {"b": 2, "a": 1} and d != {"a": 1}
    assert dict(d) == {"a": 1, "b": 2} and json.loads(json.dumps(d)) == {"a": 1, "b": 2}
    assert d.get("zz", 5) == 5 and "a" in d


def test_copies_and_pickles_are_plain_dicts(d):
    d["k"] = [1, 2]
    for plain in (d.copy(), copy.copy(d), copy.deepcopy(d), pickle.loads(pickle.dumps(d))):
        assert type(plain) is dict and plain == {"k": [1, 2]}
    deep = copy.deepcopy(d)
    deep["k"].append(3)
    assert d["k"] == [1, 2]
    assert RDSDict.fromkeys("ab", 0) == {"a": 0, "b": 0} and type(RDSDict.fromkeys("a")) is dict


def test_stored_containers_are_copies_of_the_callers_objects(d):
    # The caller's list is copied in, so memory always equals what a reopen would load.
    mine = [1, 2]
    d["l"] = mine
    mine.append(3)
    assert d["l"] == [1, 2] and d["l"] is not mine


def test_ids_count_modifications_and_continue_after_reopen(d):
    for i in range(5):
        d[i] = i
    assert d.last_id == 5
    e = reopen(d)
    assert e.last_id == 5
    e["x"] = 0
    assert e.last_id == 6


def test_closed_store_refuses_modifications_but_reads(where):
    d = RDSDict(where, "s")
    d["a"] = 1
    d.close()
    d.close()  # idempotent
    assert d["a"] == 1
    with pytest.raises(StoreClosedError):
        d["b"] = 2
    with pytest.raises(StoreClosedError):
        d.setdefault("a")
    assert d == {"a": 1}


def test_context_manager_closes(where):
    with RDSDict(where, "s") as d:
        d["a"] = 1
    assert d.closed
    with RDSDict(where, "s") as e:
        assert e == {"a": 1}


def test_init_cannot_be_called_twice(d):
    with pytest.raises(RuntimeError):
        d.__init__(d.path, "x")


keys = st.one_of(st.integers(-5, 5), st.text(max_size=2))
values = st.one_of(st.none(), st.integers(), st.text(max_size=3), st.lists(st.integers(), max_size=3))
operations = st.lists(
    st.one_of(
        st.tuples(st.just("set"), keys, values),
        st.tuples(st.just("del"), keys),
        st.tuples(st.just("pop"), keys),
        st.tuples(st.just("popitem")),
        st.tuples(st.just("setdefault"), keys, values),
        st.tuples(st.just("update"), st.dictionaries(keys, values, max_size=3)),
        st.tuples(st.just("ior"), st.lists(st.tuples(keys, values), max_size=3)),
        st.tuples(st.just("clear")),
        st.tuples(st.just("reopen")),
    ),
    max_size=25,
)


def run(target, op):
    name, *args = op
    if name == "set":
        target[args[0]] = args[1]
    elif name == "del":
        del target[args[0]]
    elif name == "ior":
        target |= args[0]
    else:
        return getattr(target, name)(*args)


@given(ops=operations)
def test_any_sequence_of_operations_matches_a_plain_dict(tmp_path_factory, ops):
    where = tmp_path_factory.mktemp("diff")
    model: dict = {}
    d = RDSDict(where, "s", compact_min_bytes=256)  # small limit: compactions happen too
    modifications = 0
    try:
        for op in ops:
            if op[0] == "reopen":
                d = reopen(d)
                continue
            before = d.last_id
            outcomes = []
            for target in (model, d):
                try:
                    outcomes.append(("ok", run(target, op)))
                except KeyError as exc:
                    outcomes.append(("error", type(exc)))
            assert outcomes[0] == outcomes[1]
            assert d == model and list(d) == list(model)
            modifications += d.last_id != before
        assert (d.last_id or 0) == modifications
        d = reopen(d)
        assert d == model and list(d) == list(model)
    finally:
        d.close()


def test_the_fast_path_of_setitem_writes_exactly_what_the_planned_path_writes(where):
    from rds._dict import _PLANNED

    steps = [("a", 1), ("b", "x"), ("a", 2.5), (3, None), (b"k", True), ("big", 2**70), (-1, b"\x00")]
    for name, setitem in (("fast", RDSDict.__setitem__), ("planned", _PLANNED["__setitem__"])):
        with RDSDict(where, name, redundancy=1) as d:
            for key, value in steps:
                setitem(d, key, value)
            assert list(d.items()) == [("a", 2.5), ("b", "x"), (3, None), (b"k", True), ("big", 2**70), (-1, b"\0")]
    for file in ("journal.0.0", "snapshot.0.0"):
        assert (where / "fast" / file).read_bytes() == (where / "planned" / file).read_bytes()
