"""Every supported value type comes back after a reopen, equal and of the same type; others are refused."""

import collections
import enum
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rds import MsgpackCodec, PickleCodec, RDSDict, UnsupportedTypeError
from rds.errors import CodecMismatchError
from sim.campaign import same

hashables = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=-(2**200), max_value=2**200),
        st.floats(allow_nan=False),
        st.text(),
        st.binary(),
    ),
    lambda inner: st.one_of(st.tuples(inner, inner), st.frozensets(inner, max_size=3)),
    max_leaves=6,
)
values = st.recursive(
    hashables,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner),
        st.dictionaries(hashables, inner, max_size=4),
        st.sets(hashables, max_size=4),
    ),
    max_leaves=8,
)


@given(key=hashables, value=values)
def test_values_round_trip_through_a_reopen(tmp_path_factory, key, value):
    where = tmp_path_factory.mktemp("v")
    with RDSDict(where, "s", redundancy=1) as d:
        d[key] = value
        assert same(d[key], value)
    with RDSDict(where, "s") as d:
        (stored_key,) = d.keys()
        assert same(stored_key, key) and same(d[key], value)


@given(value=values)
def test_codec_round_trip(value):
    codec = MsgpackCodec()
    assert same(codec.loads(codec.dumps(value)), value)


def test_special_floats_and_edge_ints_round_trip(where):
    specials = [float("inf"), -float("inf"), -0.0, 2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**63) - 1, 10**100]
    with RDSDict(where, "s") as d:
        d["v"] = specials
        d["nan"] = float("nan")
    with RDSDict(where, "s") as d:
        assert same(d["v"], specials) and math.copysign(1, d["v"][2]) == -1 and math.isnan(d["nan"])


class Color(enum.IntEnum):
    RED = 1


@pytest.mark.parametrize(
    "bad",
    [object(), collections.OrderedDict(a=1), Color.RED, [1, object()], {"k": {1: complex(1, 2)}}, "\ud800"],
    ids=["object", "OrderedDict", "IntEnum", "nested", "deep", "surrogate"],
)
def test_unsupported_values_raise_and_change_nothing(where, bad):
    with RDSDict(where, "s") as d:
        d["keep"] = 1
        with pytest.raises(UnsupportedTypeError) as info:
            d["x"] = bad
        assert isinstance(info.value, TypeError)
        with pytest.raises(TypeError):
            d.update({"y": 2, "x": bad})
        assert d == {"keep": 1} and d.last_id == 1
    with RDSDict(where, "s") as d:
        assert d == {"keep": 1} and d.last_id == 1


def test_a_value_containing_itself_is_refused(where):
    loop = []
    loop.append(loop)
    with RDSDict(where, "s") as d:
        with pytest.raises(UnsupportedTypeError):
            d["loop"] = loop
        assert d == {}


class Point:
    def __init__(self, x):
        self.x = x

    def __eq__(self, other):
        return isinstance(other, Point) and other.x == self.x


def test_pickle_is_an_explicit_opt_in(where):
    with RDSDict(where, "s", codec=PickleCodec()) as d:
        d["p"] = Point(3)
    with pytest.raises(CodecMismatchError, match="pickle"):
        RDSDict(where, "s")
    with RDSDict(where, "s", codec=PickleCodec()) as d:
        assert d["p"] == Point(3)


@pytest.mark.parametrize("depth", [600, 1100, 3000])
@pytest.mark.parametrize("wrap", [lambda v: [v], lambda v: (v,), lambda v: {1: v}], ids=["list", "tuple", "dict"])
def test_values_too_deep_to_read_back_are_refused_before_writing(where, depth, wrap):
    value = None
    for _ in range(depth):
        value = wrap(value)
    with RDSDict(where, "s") as d:
        try:
            d["deep"] = value
        except UnsupportedTypeError:
            assert d == {} and d.last_id is None
        else:
            assert d["deep"] == value
    with RDSDict(where, "s") as d:  # whatever was accepted reads back
        assert d in ({}, {"deep": value})
