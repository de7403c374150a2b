"""Modification IDs: one per modification, wrapping, customisable, continued after reopen."""

import pytest

from rds import IDGenerator, RDSDict


def test_generator_wraps_after_its_maximum():
    gen = IDGenerator(maximum=3, minimum=0)
    ids = [gen.first()]
    for _ in range(6):
        ids.append(gen.after(ids[-1]))
    assert ids == [0, 1, 2, 3, 0, 1, 2]


def test_out_of_range_ids_restart_the_cycle():
    gen = IDGenerator(maximum=10, minimum=5)
    assert gen.after(100) == 5 and gen.after(None) == 5 and gen.after(True) == 5


@pytest.mark.parametrize("args", [(0, 1), ("9", 1), (True, 0)])
def test_bad_bounds_are_refused(args):
    with pytest.raises((ValueError, TypeError)):
        IDGenerator(*args)


def test_store_ids_wrap_and_continue_after_reopen(where):
    with RDSDict(where, "s", id_generator=IDGenerator(maximum=3)) as d:
        seen = []
        for i in range(4):
            d[i] = i
            seen.append(d.last_id)
        assert seen == [1, 2, 3, 1]
    with RDSDict(where, "s", id_generator=IDGenerator(maximum=3)) as d:
        assert d.last_id == 1
        d["x"] = 1
        assert d.last_id == 2


def test_ids_survive_compaction(where):
    with RDSDict(where, "s", id_generator=IDGenerator(maximum=7), compact_min_bytes=0) as d:
        for i in range(20):
            d["k"] = i
        assert d.last_id == 20 % 7 or d.last_id == 7
        last = d.last_id
    with RDSDict(where, "s", id_generator=IDGenerator(maximum=7)) as d:
        assert d.last_id == last and d["k"] == 19


class Tagged:
    """A custom generator: any object with first() and after()."""

    def first(self):
        return "m-1"

    def after(self, last):
        return f"m-{int(last.split('-')[1]) + 1}"


def test_custom_generators_are_used(where):
    with RDSDict(where, "s", id_generator=Tagged()) as d:
        d["a"] = 1
        d["b"] = 2
        assert d.last_id == "m-2"
    with RDSDict(where, "s", id_generator=Tagged()) as d:
        d["c"] = 3
        assert d.last_id == "m-3"
