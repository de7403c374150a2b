"""The crash campaign: run each workload once cleanly, then again failing at every call under every fault model,
and check every resulting disk state against the oracle.

For one workload and one fault model, ``Campaign.run_model`` yields a ``Verdict`` per distinct disk state it
checked.  A violation carries what is needed to reproduce it: the workload, the model, the call number, the
variant of the disk state, and the calls around the fault.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

import rds
from rds import _format as fmt

from .simfs import MUTATING, Fault, SimFS, SimulatedCrash, Tree, damage, materialize, read_tree
from .workloads import EXPECTED_ERRORS, Oracle, Workload, oracle, run_step

STORE = "store"
MODELS = ("crash", "power", "torn", "eio", "enospc", "fsync-drop", "recovery", "corruption")
# Calls whose failure must reach the caller (a failed close() after a completed sync may be ignored).
MUST_SURFACE = MUTATING | {"open", "read", "listdir", "isdir", "exists", "lock", "seek_end"}


@dataclass
class Violation:
    workload: str
    model: str
    at: int
    variant: str
    message: str
    around: List[str] = field(default_factory=list)
    steps: List[Any] = field(default_factory=list)

    def report(self) -> str:
        lines = [
            f"VIOLATION in workload {self.workload!r}, fault model {self.model!r}, call {self.at}, {self.variant}:",
            f"  {self.message}",
            f"  steps: {self.steps!r}",
            "  calls around the fault:",
        ]
        lines += [f"    {'>' if c.split()[0] == str(self.at) else ' '} {c}" for c in self.around]
        lines.append(f"  reproduce: python -m sim --workloads {self.workload} --models {self.model} --at {self.at}")
        return "\n".join(lines)


@dataclass
class Execution:
    acked: int  # modifications that returned
    step: int  # the step in flight when it stopped (-1: the first open; len(steps): finished)
    error: Optional[BaseException]
    store: Any
    partial: int = 0  # of the step in flight (a group), modifications that completed (counted in acked)


def _kind(value: Any) -> type:
    """A value's type, counting RDS's tracked containers as the built-in type they extend."""
    kind = type(value)
    return kind.__mro__[-2] if kind.__module__.startswith("rds.") else kind


def same(a: Any, b: Any, ordered: bool = True) -> bool:
    """Equal and of the same type all the way down, with dicts in the same order unless not ``ordered``
    (1 == 1.0 == True hides changes).

    RDS's tracked containers count as the built-in types they extend, and custom values as the data they wrap."""
    if hasattr(a, "_rds_parent") and hasattr(a, "getData"):
        a = a.getData()
    if _kind(a) is not _kind(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y, ordered) for x, y in zip(a, b))
    if isinstance(a, dict):
        if not ordered:
            return a.keys() == b.keys() and all(same(a[k], b[k], ordered) for k in a)
        return list(a) == list(b) and all(same(k1, k2) and same(a[k1], b[k2]) for k1, k2 in zip(a, b))
    if isinstance(a, (set, frozenset)):
        return a == b and all(same(x, next(y for y in b if y == x)) for x in a)
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def tree_key(tree: Tree) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(tree):
        content = tree[path]
        digest.update(path.encode() + b"\0" + (b"D" if content is None else b"F" + content) + b"\0")
    return digest.hexdigest()


class CleanRunViolation(Exception):
    """The workload fails, or ends in the wrong state, with no fault injected at all."""


class Campaign:
    """Runs workloads against the store in the folder ``root`` (real or pyfakefs)."""

    def __init__(self, root: str, switches: frozenset = frozenset()):
        self.root = root
        self.switches = switches  # seam breakages for the self-test
        self.cache: Dict[Tuple, Optional[str]] = {}
        self.clean: Dict[str, Tuple[Oracle, List[str], Tree]] = {}
        self.seed = 0

    # -- running ---------------------------------------------------------------------------------------------

    def fresh(self, fault: Optional[Fault] = None, tree: Optional[Tree] = None) -> SimFS:
        materialize(self.root, tree or {})
        fs = SimFS(self.root, fault, seed=self.seed, switches=self.switches)
        if tree:
            fs.load(tree)
        self.seed += 1
        return fs

    def open(self, workload: Workload, fs: rds.FileSystem, first: bool = False) -> Any:
        kind = rds.RDSList if workload.root == "list" else rds.RDSDict
        return kind(self.root, STORE, redundancy=workload.redundancy if first else None, fs=fs, **workload.options())

    def execute(self, workload: Workload, model: Oracle, fs: SimFS) -> Execution:
        d = None
        acked, step = 0, -1
        try:
            d = self.open(workload, fs, first=True)
            for step, s in enumerate(workload.steps):
                if s[0] == "reopen":
                    d.close()
                    d = None
                    d = self.open(workload, fs)
                    continue
                try:
                    run_step(d, s)
                except EXPECTED_ERRORS:
                    if model.kinds[step] != "error":
                        raise
                else:
                    if model.kinds[step] == "error":
                        raise AssertionError(f"step {s!r} should have raised") from None
                acked += model.mods[step]
            step = len(workload.steps)
            d.close()
        except (SimulatedCrash, Exception) as exc:  # noqa: BLE001 - every outcome is judged by the caller
            partial = getattr(exc, "acknowledged", 0)  # a group's records a sync covered before it failed
            return Execution(acked + partial, step, exc, d, partial)
        return Execution(acked, step, None, d)

    def kill(self, fs: SimFS) -> None:
        """The process dies: its descriptors (and so its lock) go; its objects must never touch them again."""
        for fd in list(fs.fds):
            try:
                rds.FileSystem.close(fs, fd)
            except OSError:
                pass
        fs.fds.clear()
        fs.dead = True

    def allowed(self, model: Oracle, workload: Workload, ex: Execution) -> List[int]:
        """Indices into ``model.states`` that a reopen may show after ``ex`` stopped."""
        counts = [ex.acked]
        if 0 <= ex.step < len(workload.steps):
            # A group's records are appended in order and synced together: any prefix of them may survive.
            counts += [ex.acked + i for i in range(1, model.mods[ex.step] - ex.partial + 1)]
        return counts

    def verify(self, workload: Workload, model: Oracle, counts: List[int], tree: Optional[Tree]) -> Optional[str]:
        """Reopen (with a plain seam) the disk state ``tree`` and judge it; None means it holds."""
        key = (workload.name, tuple(counts), tree_key(tree)) if tree is not None else None
        if key is not None and key in self.cache:
            return self.cache[key]
        if tree is not None:
            materialize(self.root, tree)
        verdict = self._judge(workload, model, counts)
        if key is not None:
            self.cache[key] = verdict
        return verdict

    def _judge(self, workload: Workload, model: Oracle, counts: List[int]) -> Optional[str]:
        try:
            d = self.open(workload, rds.FileSystem())
        except Exception as exc:  # noqa: BLE001
            return f"reopening failed: {type(exc).__name__}: {exc}"
        try:
            got, got_id = d.copy(), d.last_id
            match = [c for c in counts if same(d, model.states[c]) and got_id == model.ids[c]]
            if not match:
                expected = " or ".join(f"{_short(model.states[c])} with id {model.ids[c]}" for c in counts)
                return f"recovered {_short(got)} with id {got_id}; expected {expected}"
            if workload.root == "list":  # numbering continues after the recovered modification
                d.append("__probe__")
            else:
                d["__probe__"] = 0
            following = match[0] % workload.id_max + 1
            if d.last_id != following:
                return f"after recovering id {got_id}, the next modification got id {d.last_id}, not {following}"
            return None
        except Exception as exc:  # noqa: BLE001
            return f"the reopened store failed: {type(exc).__name__}: {exc}"
        finally:
            d.close()

    # -- the clean run ---------------------------------------------------------------------------------------

    def clean_run(self, workload: Workload) -> Tuple[Oracle, SimFS, Tree]:
        model = oracle(workload)
        fs = self.fresh()
        ex = self.execute(workload, model, fs)
        if ex.error is not None:
            raise CleanRunViolation(f"the workload fails without any fault: {ex.error!r}") from ex.error
        final = read_tree(self.root)
        if final != fs.current():
            raise RuntimeError(f"the simulator's shadow drifted from the files in workload {workload.name}")
        problem = self.verify(workload, model, [len(model.states) - 1], final)
        if problem:
            raise CleanRunViolation(f"the workload ends wrong without any fault: {problem}")
        return model, fs, final

    # -- fault models ----------------------------------------------------------------------------------------

    def run_model(
        self, workload: Workload, name: str, at: Optional[int] = None
    ) -> Iterator[Tuple[int, str, Optional[str]]]:
        """Yield (call number, variant, violation message or None) for every disk state checked."""
        if workload.name not in self.clean:
            try:
                model, clean, final = self.clean_run(workload)
            except CleanRunViolation as exc:  # the store is wrong before any fault: that is a violation too
                yield -1, "no fault", str(exc)
                return
            self.clean[workload.name] = (model, [line.split()[1] for line in clean.trace], final)
        model, calls, final = self.clean[workload.name]
        everywhere = range(len(calls) + 1)
        points = {
            "crash": [k for k in everywhere if k == len(calls) or calls[k] in MUTATING],
            "torn": [k for k, c in enumerate(calls) if c == "write"],
            "eio": list(range(len(calls))),
            "enospc": [k for k, c in enumerate(calls) if c in ("write", "create", "mkdir")],
            "fsync-drop": [k for k, c in enumerate(calls) if c in ("fsync", "fdatasync")],
        }
        points["power"] = points["recovery"] = points["crash"]
        if name == "corruption":
            yield from self._corruption(workload, model, final)
            return
        for k in points[name]:
            if at is not None and k != at:
                continue
            if name in ("crash", "power", "torn", "recovery"):
                yield from self._crash(workload, model, name, k)
            else:
                for sticky in (False, True):
                    kind = "eio" if name == "eio" else name
                    yield from self._io_error(workload, model, Fault(kind, k, sticky), calls[k])
                    if name == "fsync-drop":
                        break

    def _crash(self, workload: Workload, model: Oracle, name: str, k: int) -> Iterator[Tuple[int, str, Optional[str]]]:
        fs = self.fresh(Fault("torn" if name == "torn" else "crash", k))
        ex = self.execute(workload, model, fs)
        self.kill(fs)
        if k < fs.calls and not isinstance(ex.error, SimulatedCrash):
            yield k, "no crash", f"expected the simulated crash, got {ex.error!r}"
            return
        counts = self.allowed(model, workload, ex)
        if name == "crash":
            yield k, "process", self.verify(workload, model, counts, fs.current())
        elif name == "power":
            for variant, tree in fs.power_loss_states():
                yield k, variant, self.verify(workload, model, counts, tree)
        elif name == "torn":
            for variant, tree in fs.torn_states():
                yield k, variant, self.verify(workload, model, counts, tree)
        else:
            firsts = [("process", fs.current())] + [next(iter(fs.power_loss_states()))]
            for first, tree in firsts:
                yield from self._crash_in_recovery(workload, model, counts, k, first, tree)

    def _crash_in_recovery(
        self, workload: Workload, model: Oracle, counts: List[int], k: int, first: str, tree: Tree
    ) -> Iterator[Tuple[int, str, Optional[str]]]:
        probe = self.fresh(tree=tree)
        try:
            self.open(workload, probe).close()
        except Exception:  # noqa: BLE001 - judged below, by verify
            pass
        second_points = [j for j, line in enumerate(probe.trace) if line.split()[1] in MUTATING]
        for j in second_points:
            fs = self.fresh(Fault("crash", j), tree=tree)
            try:
                self.open(workload, fs).close()
            except (SimulatedCrash, Exception):  # noqa: BLE001
                pass
            self.kill(fs)
            for variant, second in [("process", fs.current()), next(iter(fs.power_loss_states()))]:
                label = f"{first} crash, then {variant} crash at recovery call {j}"
                yield k, label, self.verify(workload, model, counts, second)
        if not second_points:
            yield k, f"{first} crash, recovery writes nothing", self.verify(workload, model, counts, tree)

    def _io_error(
        self, workload: Workload, model: Oracle, fault: Fault, call: str
    ) -> Iterator[Tuple[int, str, Optional[str]]]:
        variant = f"{fault.kind}{' from then on' if fault.sticky else ' once'} in {call}"
        fs = self.fresh(fault)
        ex = self.execute(workload, model, fs)
        problem = None
        if ex.error is None:
            if call in MUST_SURFACE:
                problem = f"the injected {fault.kind} in {call} was swallowed: the workload completed"
        elif not isinstance(ex.error, (OSError, rds.RDSError)):
            problem = f"the failing call raised {type(ex.error).__name__}: {ex.error}"
        elif 0 <= ex.step < len(workload.steps) and workload.steps[ex.step][0] != "reopen" and ex.store is not None:
            d = ex.store
            # Undoing a failed group may move a dict key whose deletion it undid to the end (README.rst says so).
            ordered = workload.steps[ex.step][0] != "group"
            if not (same(d, model.states[ex.acked], ordered) and d.last_id == model.ids[ex.acked]):
                problem = f"the failed step changed memory: {_short(d.copy())} id {d.last_id}"
            else:
                try:
                    d.append(1) if workload.root == "list" else d.__setitem__("__probe__", 1)
                    problem = "the store accepted a modification after a failed write or sync"
                except rds.StoreFailedError:
                    pass
                except Exception as exc:  # noqa: BLE001
                    problem = f"after a failed write, a modification raised {type(exc).__name__}, not StoreFailedError"
        self.kill(fs)
        if problem is None:
            counts = self.allowed(model, workload, ex) if ex.error is not None else [len(model.states) - 1]
            problem = self.verify(workload, model, counts, fs.current())
        yield fault.at, variant, problem

    def _corruption(self, workload: Workload, model: Oracle, final: Tree) -> Iterator[Tuple[int, str, Optional[str]]]:
        last = len(model.states) - 1
        files = sorted(p for p, c in final.items() if c is not None and fmt.parse_name(p.rsplit("/", 1)[-1]))
        single = workload.redundancy == 1
        for path in files:
            data = final[path] or b""
            name = path.rsplit("/", 1)[-1]
            last_frame = self._last_frame_start(name, data)
            for offset in _corruption_offsets(len(data)):
                for how in ("flip", "zero"):
                    damaged = damage(data, offset, how)
                    if damaged == data:
                        continue
                    tree = dict(final)
                    tree[path] = damaged
                    counts = [last]
                    if single and last_frame is not None and offset >= last_frame:
                        counts = [last - 1, last]  # indistinguishable from a torn last write
                    yield offset, f"{how} {name}@{offset}", self._judge_damage(workload, model, counts, tree, single)
            tree = {p: c for p, c in final.items() if p != path}
            yield -1, f"delete {name}", self._judge_damage(workload, model, [last], tree, single)

    def _judge_damage(
        self, workload: Workload, model: Oracle, counts: List[int], tree: Tree, beyond: bool
    ) -> Optional[str]:
        problem = self.verify(workload, model, counts, tree)
        if problem and beyond and problem.startswith("reopening failed: CorruptionError"):
            return None  # beyond the redundancy: a typed error is the right answer
        return problem

    @staticmethod
    def _last_frame_start(name: str, data: bytes) -> Optional[int]:
        if not name.startswith("journal") or len(data) < fmt.HEADER_SIZE:
            return None
        header, _ = fmt.decode_header(data, "journal")
        if header is None:
            return None
        frames = fmt.scan_frames(data, fmt.HEADER_SIZE, header.seq + 1).frames
        return frames[-1].start if frames else None


def _corruption_offsets(size: int) -> List[int]:
    """Every byte of small files; of large ones, the first and last 128 bytes and every 61st byte between."""
    if size <= 1024:
        return list(range(size))
    return sorted(set(range(128)) | set(range(128, size - 128, 61)) | set(range(size - 128, size)))
