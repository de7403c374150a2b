"""Hypothesis stateful models of a store, with crashes, power cuts, torn writes, corruption and reopens as rules.

The machine drives a real RDSDict through the simulator's seam (sim.simfs.SimFS) over pyfakefs. Its model is a plain
dict and the expected last ID, updated by sim.workloads.model_step, which never calls the library's replay code.
Steps include transactions (committed or aborted) of a few steps. Invariants: the store equals the model and its
last_id the model's; after a crash the recovered state is the one before the interrupted modification or the one
after it, and the model follows what was recovered.

Each example owns its pyfakefs Patcher, so hypothesis's example database stays on the real disk.
Profiles (tests/conftest.py): ``ci`` by default, ``long`` with HYPOTHESIS_PROFILE=long.
"""

import copy
import os

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from pyfakefs.fake_filesystem_unittest import Patcher

import rds
from rds._plans import plain
from sim.simfs import Fault, SimFS, SimulatedCrash, materialize
from sim.workloads import EXPECTED_ERRORS, Tally, model_step, run_step

ROOT = "/machine"
ID_MAX = 5  # small, so IDs wrap within an example
keys = st.sampled_from(["a", "b", "c", 1, (2, "t")])
values = st.one_of(
    st.none(),
    st.builds(Tally, st.lists(st.integers(0, 3), max_size=2)),
    st.integers(-(2**70), 2**70),
    st.text(max_size=3),
    st.binary(max_size=3),
    st.just("x" * 700),  # crosses a sector boundary: torn writes can cut it
    st.lists(st.integers(), max_size=3),
    st.tuples(st.integers(), st.text(max_size=2)),
    st.dictionaries(st.integers(0, 3), st.booleans(), max_size=2),
    st.frozensets(st.integers(0, 5), max_size=3),
)
steps = st.one_of(
    st.tuples(st.just("set"), keys, values),
    st.tuples(st.just("del"), keys),
    st.tuples(st.just("pop"), keys),
    st.tuples(st.just("popitem")),
    st.tuples(st.just("setdefault"), keys, values),
    st.tuples(st.just("update"), st.dictionaries(keys, values, max_size=3)),
    st.tuples(st.just("ior"), st.lists(st.tuples(keys, values), max_size=2)),
    st.tuples(st.just("clear")),
)


list_steps = st.one_of(
    st.tuples(st.just("call"), st.just([]), st.just("append"), st.tuples(values)),
    st.tuples(st.just("call"), st.just([]), st.just("extend"), st.tuples(st.lists(values, min_size=1, max_size=2))),
    st.tuples(st.just("call"), st.just([]), st.just("insert"), st.tuples(st.integers(-3, 3), values)),
    st.tuples(st.just("call"), st.just([]), st.just("pop"), st.tuples(st.integers(-3, 3))),
    st.tuples(st.just("call"), st.just([]), st.just("__setitem__"), st.tuples(st.integers(-3, 3), values)),
    st.tuples(st.just("call"), st.just([]), st.just("__delitem__"), st.tuples(st.builds(slice, st.integers(-3, 3)))),
    st.tuples(st.just("call"), st.just([]), st.just("remove"), st.tuples(values)),
    st.tuples(st.just("call"), st.just([]), st.just("sort"), st.just(())),
    st.tuples(st.just("call"), st.just([]), st.just("reverse"), st.just(())),
    st.tuples(st.just("call"), st.just([]), st.just("__imul__"), st.tuples(st.integers(0, 2))),
    st.tuples(st.just("call"), st.just([]), st.just("clear"), st.just(())),
)


#: Methods to call on a nested container (or custom value) of each type, and their arguments.
NESTED_CALLS = {
    dict: [
        ("__setitem__", st.tuples(keys, values)),
        ("pop", st.tuples(keys)),
        ("update", st.tuples(st.dictionaries(keys, values, max_size=2))),
        ("clear", st.just(())),
    ],
    list: [
        ("append", st.tuples(values)),
        ("insert", st.tuples(st.integers(-2, 2), values)),
        ("pop", st.tuples(st.integers(-2, 2))),
        ("__setitem__", st.tuples(st.integers(-2, 2), values)),
        ("sort", st.just(())),
        ("reverse", st.just(())),
        ("extend", st.tuples(st.lists(st.integers(), max_size=2))),
    ],
    set: [
        ("add", st.tuples(st.integers(0, 5))),
        ("discard", st.tuples(st.integers(0, 5))),
        ("update", st.tuples(st.frozensets(st.integers(0, 5), max_size=2))),
        ("clear", st.just(())),
    ],
    Tally: [("bump", st.tuples(st.integers(-1, 9)))],
}


def nested_targets(value, path=()):
    """Paths to every container (and custom value) below the root, with its type."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, child in items:
        kind = type(child)
        if kind in NESTED_CALLS:
            yield [*path, key], kind
        yield from nested_targets(child, (*path, key))


class StoreMachine(RuleBasedStateMachine):
    switches: frozenset = frozenset()  # the simulator's self-test breakages, for the can-it-fail test
    root = rds.RDSDict
    steps = steps

    def __init__(self):
        super().__init__()
        self.patcher = Patcher()
        self.patcher.setUp()
        os.makedirs(ROOT)
        self.fs = None
        self.d = None
        self.model = self.root._rds_base()
        self.count = 0  # modifications so far: the model's last ID is derived from it

    def model_id(self, count=None):
        count = self.count if count is None else count
        return None if count == 0 else (count - 1) % ID_MAX + 1

    def open(self, redundancy=None, tree=None):
        self.fs = SimFS(ROOT, switches=self.switches)
        if tree is not None:
            self.fs.load(tree)
        self.d = self.root(
            ROOT,
            "s",
            redundancy=redundancy,
            fs=self.fs,
            compact_min_bytes=300,
            id_generator=rds.IDGenerator(maximum=ID_MAX),
        )

    @initialize(redundancy=st.integers(1, 3))
    def start(self, redundancy):
        self.redundancy = redundancy
        self.open(redundancy)

    def teardown(self):
        if self.fs is not None and not self.fs.dead and self.d is not None:
            self.d.close()
        self.patcher.tearDown()

    # -- modifications ---------------------------------------------------------------------------------------

    def draw_step(self, data, model=None, transactions=True):
        """A top-level step, a call on a container or custom value nested in the model, or a transaction of a
        few such steps (each drawn against the state the ones before it leave), committed or aborted."""
        model = self.model if model is None else model
        if transactions and data.draw(st.integers(0, 4), label="transaction?") == 0:
            state, inner = copy.deepcopy(model), []
            for _ in range(data.draw(st.integers(1, 3), label="size")):
                inner.append(self.draw_step(data, state, transactions=False))
                model_step(state, inner[-1])
            return ("tx", inner, data.draw(st.booleans(), label="abort"))
        targets = list(nested_targets(model))
        if targets and data.draw(st.booleans(), label="nested"):
            path, kind = data.draw(st.sampled_from(targets), label="target")
            method, arguments = data.draw(st.sampled_from(NESTED_CALLS[kind]), label="method")
            return ("call", path, method, data.draw(arguments, label="args"))
        return data.draw(self.steps)

    @rule(data=st.data())
    def modify(self, data):
        step = self.draw_step(data)
        expected = copy.deepcopy(self.model)
        kind = model_step(expected, step)
        try:
            run_step(self.d, step)
        except EXPECTED_ERRORS:
            assert kind == "error", f"{step!r} raised; the model says {kind}"
            return
        assert kind != "error", f"{step!r} should have raised KeyError"
        if kind == "mod":
            self.model, self.count = expected, self.count + 1

    @rule()
    def reopen(self):
        self.d.close()
        self.open(tree=self.fs.current())

    @rule()
    def compact(self):
        self.d.compact()

    # -- faults ----------------------------------------------------------------------------------------------

    @rule(
        data=st.data(),
        after=st.integers(0, 40),
        kind=st.sampled_from(["process crash", "power loss", "torn write"]),
        pick=st.integers(0, 10**6),
    )
    def crash(self, data, after, kind, pick):
        """Run a step but crash ``after`` calls into it (or right after it, if it makes fewer calls)."""
        step = self.draw_step(data)
        before, before_count = copy.deepcopy(self.model), self.count
        expected = copy.deepcopy(self.model)
        is_mod = model_step(expected, step) == "mod"
        self.fs.fault = Fault("torn" if kind == "torn write" else "crash", self.fs.calls + after)
        try:
            run_step(self.d, step)
        except (SimulatedCrash, *EXPECTED_ERRORS):
            pass
        fs = self.fs
        fs.fault = None
        for fd in list(fs.fds):
            rds.FileSystem.close(fs, fd)
        fs.fds.clear()
        fs.dead = True
        if kind == "process crash":
            states = [fs.current()]
        elif kind == "power loss":
            states = [tree for _, tree in fs.power_loss_states()]
        else:
            states = [tree for _, tree in fs.torn_states()] or [fs.current()]
        tree = states[pick % len(states)]
        materialize(ROOT, tree)
        try:
            self.open(tree=tree)
        except rds.RDSError as exc:
            raise AssertionError(f"after a {kind}: reopening failed: {exc!r}") from exc
        got = plain(self.d)
        if is_mod and got == expected and self.d.last_id == self.model_id(before_count + 1):
            self.model, self.count = expected, before_count + 1
        else:
            assert got == before, f"after a {kind}: recovered {got!r}; expected {before!r} or {expected!r}"
            assert self.d.last_id == self.model_id(before_count)

    @precondition(lambda self: getattr(self, "redundancy", 1) >= 2)
    @rule(which=st.integers(0, 100), offset=st.integers(0, 10**6), how=st.sampled_from(["flip", "zero", "delete"]))
    def corrupt(self, which, offset, how):
        """Damage one file, within the redundancy: nothing may be lost."""
        self.d.close()
        tree = self.fs.current()
        files = sorted(p for p, c in tree.items() if c is not None and not p.endswith("LOCK"))
        path = files[which % len(files)]
        data = tree[path]
        if how == "delete" or not data:
            del tree[path]
        else:
            at = offset % len(data)
            tree[path] = data[:at] + bytes([0 if how == "zero" else data[at] ^ 0xFF]) + data[at + 1 :]
        materialize(ROOT, tree)
        self.open(tree=tree)

    @invariant()
    def matches_the_model(self):
        if self.d is not None:
            assert plain(self.d) == self.model
            assert self.d.last_id == self.model_id()


StoreMachine.TestCase.settings = settings(settings.default, stateful_step_count=20)
TestStore = StoreMachine.TestCase


class ListMachine(StoreMachine):
    """The same rules and invariants for an RDSList."""

    root = rds.RDSList
    steps = list_steps


ListMachine.TestCase.settings = settings(settings.default, stateful_step_count=20)
TestListStore = ListMachine.TestCase


class NoFileSyncMachine(StoreMachine):
    switches = frozenset({"no-file-sync"})


def test_the_machine_catches_a_store_that_never_syncs_files():
    with pytest.raises(AssertionError, match="after a power loss"):
        run_state_machine_as_test(
            NoFileSyncMachine,
            settings=settings(
                max_examples=300,
                stateful_step_count=25,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.generate],  # finding the bug is the point; shrinking it would take minutes
            ),
        )
