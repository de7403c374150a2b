"""Workloads and the oracle.

A workload is a list of steps run against an ``RDSDict``; the oracle is a plain model written independently of
the library: it applies each step to an ordinary dict, says whether the step is a modification (and so takes the
next ID), and lists the expected state and ID after every modification.  Nothing here calls RDS's replay code.
"""

from __future__ import annotations

import copy
import itertools
import random
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

Step = Tuple[Any, ...]

BIG = "b" * 700  # crosses a 512-byte sector boundary inside one record
HUGE = bytes(range(256)) * 20  # 5120 bytes: crosses a 4096-byte boundary too


@dataclass
class Workload:
    name: str
    steps: List[Step]
    redundancy: int = 2
    id_max: int = 2**32 - 1
    compact_min_bytes: int = 1 << 20
    root: str = "dict"  # or "list": an RDSList store

    def options(self) -> Dict[str, Any]:
        import rds  # imported late: under pyfakefs the patcher must see rds loaded first

        return {"compact_min_bytes": self.compact_min_bytes, "id_generator": rds.IDGenerator(maximum=self.id_max)}


@dataclass
class Oracle:
    """What the store must show after each modification: ``states[i]``/``ids[i]`` after ``i`` of them."""

    states: List[dict] = field(default_factory=list)
    ids: List[Optional[int]] = field(default_factory=list)
    kinds: List[str] = field(default_factory=list)  # per step: "mod", "noop", "error" or "admin"
    mods: List[int] = field(default_factory=list)  # per step: how many modifications (a group makes several)


#: The errors a step may raise on purpose (the model predicts them).
EXPECTED_ERRORS = (KeyError, IndexError, ValueError, TypeError)


def _at(root: Any, path: List[Any]) -> Any:
    for step in path:
        root = root[step]
    return root


def model_step(state: Any, step: Step) -> str:
    """Apply ``step`` to the plain value ``state``; return "mod", "noop", "error" or "admin".

    ``("call", path, method, args)`` calls a method of the container at ``path``; the workloads only use calls
    that change something when they succeed.  Values are copied in, so the model never shares them with the
    workload (or with the store)."""
    name, args = step[0], copy.deepcopy(step[1:])
    if name in ("reopen", "compact"):
        return "admin"
    if name == "tx":  # ("tx", steps, abort): the steps as one modification; abort raises at the end of the block
        inner, abort = args
        before = copy.deepcopy(state)
        kinds = [model_step(state, one) for one in inner]
        if abort or "mod" not in kinds:
            _restore(state, before)
            return "noop"
        return "mod"
    if name == "call":
        path, method, call_args = args
        try:
            target = _at(state, path)
        except EXPECTED_ERRORS:
            return "error"
        before = copy.deepcopy(target)
        try:
            getattr(target, method)(*call_args)
        except EXPECTED_ERRORS:
            # A failed call changes nothing in a store; a plain list's sort() that fails on a comparison has
            # already moved items (CPython leaves it partly sorted), so the model is put back too.
            _restore(target, before)
            return "error"
        if method == "__imul__":  # a store's repeated items are distinct copies (spec/operations.md)
            target[len(before) :] = copy.deepcopy(target[len(before) :])
        return "mod" if _counts(before, target, method, call_args) else "noop"
    if name == "set":
        state[args[0]] = args[1]
        return "mod"
    if name in ("del", "pop"):
        if args[0] not in state:
            return "error"
        del state[args[0]]
        return "mod"
    if name == "popitem":
        if not state:
            return "error"
        del state[list(state)[-1]]
        return "mod"
    if name == "setdefault":
        if args[0] in state:
            return "noop"
        state[args[0]] = args[1]
        return "mod"
    if name in ("update", "ior"):
        pairs = list(args[0].items()) if isinstance(args[0], dict) else list(args[0])
        for key, value in pairs:
            state[key] = value
        return "mod" if pairs else "noop"
    if name == "clear":
        if not state:
            return "noop"
        state.clear()
        return "mod"
    raise ValueError(f"unknown step {step!r}")


#: Calls that take an ID only when they change the container (spec/operations.md: "a call that changes
#: nothing writes no record").  Every other successful call takes one, even if it stores an equal value.
_ONLY_IF_CHANGED = {
    "sort",
    "reverse",
    "__imul__",
    "clear",
    "extend",
    "__iadd__",
    "add",
    "discard",
    "difference_update",
    "__isub__",
    "intersection_update",
    "__iand__",
    "symmetric_difference_update",
    "__ixor__",
}


def _counts(before: Any, after: Any, method: str, args: Tuple[Any, ...]) -> bool:
    """Is this successful call a modification?  Decided from the plain values alone."""
    if isinstance(before, dict):
        if method in ("update", "__ior__"):
            return bool(args and len(args[0]) or len(args) > 1)
        if method == "setdefault":
            return args[0] not in before
        if method == "pop":
            return args[0] in before
        return method != "clear" or bool(before)
    if isinstance(before, set) and method in ("update", "__ior__"):
        return after != before
    if method in _ONLY_IF_CHANGED or (method == "__delitem__" and isinstance(args[0], slice)):
        return after != before
    return True


def _restore(state: Any, before: Any) -> None:
    if isinstance(state, (dict, list, set)):
        state.clear()
        (state.extend if isinstance(state, list) else state.update)(before)


class Abort(Exception):
    """Raised inside a workload's transaction to roll it back."""


def oracle(workload: Workload) -> Oracle:
    state: Any = [] if workload.root == "list" else {}
    result = Oracle(states=[copy.deepcopy(state)], ids=[None])

    def record() -> None:
        count = len(result.states)
        result.states.append(copy.deepcopy(state))
        result.ids.append((count - 1) % workload.id_max + 1)

    for step in workload.steps:
        if step[0] == "group":  # ("group", steps): one modification per step that changes something
            mods = 0
            for inner in step[1]:
                if model_step(state, inner) == "mod":
                    record()
                    mods += 1
            result.kinds.append("mod" if mods else "noop")
            result.mods.append(mods)
            continue
        kind = model_step(state, step)
        result.kinds.append(kind)
        result.mods.append(int(kind == "mod"))
        if kind == "mod":
            record()
    return result


def run_step(d: Any, step: Step) -> None:
    """Perform ``step`` on the store ``d`` (reopen is done by the caller)."""
    name, args = step[0], step[1:]
    if name == "group":
        _run_group(d, args[0])
    elif name == "tx":
        inner, abort = args
        try:
            with d.transaction():
                for one in inner:
                    try:
                        run_step(d, one)
                    except EXPECTED_ERRORS:
                        pass  # the call failed and changed nothing; the transaction goes on
                if abort:
                    raise Abort()
        except Abort:
            pass
    elif name == "call":
        path, method, call_args = args
        getattr(_at(d, path), method)(*copy.deepcopy(call_args))
    elif name == "set":
        d[args[0]] = args[1]
    elif name == "del":
        del d[args[0]]
    elif name == "ior":
        d |= args[0]
    elif name == "compact":
        d.compact()
    else:
        getattr(d, name)(*args)


def _run_group(d: Any, steps: List[Step]) -> None:
    """Make ``steps`` as separate modifications that share one sync, as concurrent threads or tasks would: each
    is appended (the first written at once, the others gathered for the syncer) and only then is the last one
    waited for, which writes the gathered frames and syncs them all.  Deterministic, unlike real threads.

    If it fails, the exception's ``acknowledged`` says how many of the group's modifications had become
    durable first (a compaction between them syncs those before it): their threads would have returned."""
    store = d._store
    start, last = store.last_seq, None
    try:
        for step in steps:
            tx = store.begin()
            try:
                run_step(d, step)
            except EXPECTED_ERRORS:
                pass  # the call failed and changed nothing
            except BaseException:
                store.end(tx, failed=True)
                raise
            _, seq = store.end(tx)
            last = seq if seq is not None else last
        if last is not None:
            store.wait_durable(last)
    except BaseException as exc:
        exc.acknowledged = max(0, min(store.synced_seq, last or start) - start)  # type: ignore[attr-defined]
        raise


class Tally:
    """A user's own class, stored through rds.register_type and tracked through the seed's RDSSubBase recipe."""

    def __init__(self, counts: Optional[List[int]] = None) -> None:
        self.counts = list(counts or [])

    def bump(self, n: int) -> None:
        if n < 0:
            raise ValueError("negative")
        self.counts.append(n)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Tally) and other.counts == self.counts

    def __repr__(self) -> str:
        return f"Tally({self.counts!r})"


def _register_tally() -> None:
    import rds
    from rds.rds_subtypes import RDSSubBase, registerRDSSubType

    class TallyRDS(RDSSubBase):
        def __init__(self, master: Any, instance: Tally) -> None:
            RDSSubBase.__init__(self, master)
            self.__object = instance

        def bump(self, n: int) -> None:
            id = self._awaitTurn()
            try:
                self.__object.bump(n)
            except BaseException:
                self._running.remove(id)
                raise
            try:
                self._save()
            finally:
                self._running.remove(id)

        def getData(self) -> Tally:  # noqa: N802 - the seed's name
            return Tally(self.__object.counts)

        def __eq__(self, other: Any) -> bool:  # "used identically to the type it replaces", as the seed asks
            return self.__object == (other.getData() if isinstance(other, TallyRDS) else other)

    rds.register_type(Tally, "sim.Tally", lambda t: t.counts, Tally)
    registerRDSSubType(Tally, TallyRDS)


_register_tally()


def scripted() -> List[Workload]:
    basic = [("set", "a", 1), ("set", "b", [1, 2]), ("set", "a", 2), ("del", "b"), ("update", {"c": 3, "d": (1, 2)})]
    all_ops = [
        ("set", "x", {"k": [1, 2.5, None]}),
        ("setdefault", "y", {1, 2}),
        ("setdefault", "y", "ignored"),
        ("ior", [("z", b"bytes"), (3, frozenset({1}))]),
        ("pop", "x"),
        ("popitem",),
        ("update", {(1, "t"): 2**70, "neg": -(2**65)}),
        ("clear",),
        ("set", "after", True),
    ]
    big = [("set", "x", BIG), ("set", "y", HUGE), ("del", "x"), ("set", "z", BIG + "z")]
    many = [("set", f"k{i % 4}", i) for i in range(8)]
    nested = [
        ("set", "cfg", {"hosts": ["a"], "tags": {1}, "deep": [{"n": 0}]}),
        ("call", ["cfg", "hosts"], "append", ("b",)),
        ("call", ["cfg", "tags"], "add", (2,)),
        ("call", ["cfg", "hosts"], "insert", (0, BIG)),
        ("call", ["cfg", "deep", 0], "__setitem__", ("n", 1)),
        ("call", ["cfg", "hosts"], "sort", ()),
        ("call", ["cfg", "hosts"], "__setitem__", (slice(0, 1), ["y", "z"])),
        ("call", ["cfg", "tags"], "symmetric_difference_update", ({2, 3},)),
        ("call", ["cfg"], "pop", ("deep",)),
        ("call", ["cfg", "hosts"], "remove", ("nope",)),  # fails: changes nothing
    ]
    list_steps = [
        ("call", [], "append", (1,)),
        ("call", [], "extend", ([2, HUGE],)),
        ("call", [], "insert", (0, {"k": [1]})),
        ("call", [0, "k"], "append", (2,)),
        ("call", [], "reverse", ()),
        ("call", [], "pop", (1,)),
        ("call", [], "__imul__", (2,)),
        ("call", [], "__delitem__", (slice(0, None, 2),)),
        ("call", [], "append", ({"z": [0]},)),
        ("call", [], "__imul__", (2,)),
        ("call", [-1, "z"], "append", (1,)),  # only the last copy changes
    ]
    custom = [
        ("set", "t", Tally([1])),
        ("call", ["t"], "bump", (2,)),
        ("set", "pad", BIG),
        ("call", ["t"], "bump", (3,)),
        ("call", ["t"], "bump", (-1,)),  # fails: saves nothing
        ("set", "l", [Tally()]),
        ("call", ["l", 0], "bump", (4,)),
    ]
    transactions = [
        ("set", "a", 1),
        ("set", "z", 0),
        ("tx", [("set", "b", [1]), ("call", ["b"], "append", (BIG,)), ("del", "a"), ("set", "t", {"l": []})], False),
        ("tx", [("call", ["t", "l"], "append", (1,)), ("del", "z"), ("set", "c", HUGE)], True),  # rolled back
        ("tx", [("del", "missing"), ("call", ["t", "l"], "extend", ([2, 3],)), ("set", "u", Tally([1]))], False),
        ("tx", [("call", ["u"], "bump", (5,)), ("call", ["t"], "pop", ("l",)), ("set", "t", {1, 2})], False),
        ("tx", [], False),  # empty: no ID
        ("tx", [("del", "b"), ("call", ["u"], "bump", (-1,)), ("set", "a", 2)], False),
    ]
    group = [
        ("set", "a", 1),
        ("set", "l", []),
        ("set", "z", 0),
        ("group", [("set", "b", 2), ("call", ["l"], "append", (BIG,)), ("del", "a"), ("set", "t", Tally([1]))]),
        ("group", [("call", ["t"], "bump", (2,)), ("del", "missing"), ("update", {"c": HUGE}), ("del", "z")]),
        ("group", [("call", ["l"], "extend", ([1, 2],))]),
    ]
    workloads = []
    for redundancy in (1, 2):
        workloads += [
            Workload(f"basic/r{redundancy}", basic, redundancy),
            Workload(f"all-ops/r{redundancy}", all_ops, redundancy),
            Workload(f"big-values/r{redundancy}", big, redundancy),
            Workload(f"compaction/r{redundancy}", many, redundancy, compact_min_bytes=0),
            Workload(f"explicit-compact/r{redundancy}", basic[:3] + [("compact",)] + basic[3:], redundancy),
            Workload(f"wrap/r{redundancy}", many[:7], redundancy, id_max=3, compact_min_bytes=0),
            Workload(
                f"reopen/r{redundancy}", basic[:2] + [("reopen",)] + basic[2:4] + [("reopen",)] + basic[4:], redundancy
            ),
        ]
        workloads += [
            Workload(f"nested/r{redundancy}", nested, redundancy),
            Workload(f"list/r{redundancy}", list_steps, redundancy, root="list"),
            Workload(f"nested-compaction/r{redundancy}", nested, redundancy, compact_min_bytes=0),
            Workload(f"custom/r{redundancy}", custom, redundancy, compact_min_bytes=0),
            Workload(f"transactions/r{redundancy}", transactions, redundancy),
            Workload(f"transactions-compaction/r{redundancy}", transactions, redundancy, compact_min_bytes=0),
            Workload(f"group/r{redundancy}", group, redundancy),
            Workload(f"group-compaction/r{redundancy}", group, redundancy, compact_min_bytes=0),
        ]
    workloads.append(Workload("basic/r3", basic, 3))
    return workloads


ALPHABET: List[Step] = [("set", "a", 1), ("set", "b", BIG), ("del", "a"), ("clear",), ("update", {"a": 2, "c": 3})]


def exhaustive(max_len: int = 3, redundancy: int = 2) -> List[Workload]:
    """Every sequence of up to ``max_len`` steps from a small alphabet (as CrashMonkey's Ace does)."""
    out = []
    for length in range(1, max_len + 1):
        for combo in itertools.product(range(len(ALPHABET)), repeat=length):
            steps = [ALPHABET[i] for i in combo]
            out.append(Workload(f"ace{length}/{''.join(map(str, combo))}/r{redundancy}", steps, redundancy))
    return out


def randomized(seed: int, count: int, length: int = 8) -> List[Workload]:
    """Random workloads from ``seed``: keys from a small set, so deletes and overwrites hit."""
    rng = random.Random(seed)
    values = [0, -1, 2**64, 1.5, "s", BIG, b"\x00\xff", [1, [2]], (1, "t"), {"n": {1: None}}, {3, 4}, frozenset("ab")]
    out = []
    for index in range(count):
        steps: List[Step] = []
        for _ in range(length):
            key = rng.choice(["a", "b", "c", 1, (2, 3)])
            kind = rng.choice(["set", "set", "set", "del", "pop", "update", "setdefault", "popitem", "clear", "reopen"])
            if kind in ("set", "setdefault"):
                steps.append((kind, key, rng.choice(values)))
            elif kind in ("del", "pop"):
                steps.append((kind, key))
            elif kind == "update":
                steps.append((kind, {key: rng.choice(values), "u": rng.choice(values)}))
            else:
                steps.append((kind,))
        redundancy = rng.choice([1, 2, 3])
        compact = rng.choice([0, 200, 1 << 20])
        out.append(Workload(f"random-{seed}-{index}/r{redundancy}", steps, redundancy, compact_min_bytes=compact))
    return out
