"""``python -m sim``: the crash campaign.  ``--help`` lists the options; exit status 1 means a violation."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from typing import Any, Dict, Iterator, List, Optional, Tuple

from .campaign import MODELS, Campaign, Violation
from .selftest import BREAKAGES
from .workloads import Workload, exhaustive, randomized, scripted


@contextlib.contextmanager
def backend(kind: str) -> Iterator[str]:
    """A folder for the campaign: on pyfakefs (hermetic) or a real temporary folder (tmpfs when there is one)."""
    if kind == "pyfakefs":
        from pyfakefs.fake_filesystem_unittest import Patcher

        with Patcher():
            os.makedirs("/sim")
            yield "/sim"
        return
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    root = tempfile.mkdtemp(prefix="rds-sim-", dir=base)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def choose_workloads(args: argparse.Namespace, models: List[str]) -> List[Tuple[Workload, List[str]]]:
    """The campaign: which workloads, each under which of the chosen fault models.

    The default campaign runs the scripted workloads under every model, and the exhaustive and random ones under
    all but the compound crash-during-recovery model, which multiplies their cost; ``--full`` runs everything
    under every model.
    """
    every = models
    cheaper = [m for m in models if m != "recovery"]
    if args.workloads:
        wanted = args.workloads.split(",")
        pool = scripted() + exhaustive(3, 1) + exhaustive(3, 2) + randomized(args.seed, 60)
        chosen = [(w, every) for w in pool if any(w.name == n or w.name.startswith(n) for n in wanted)]
        if not chosen:
            raise SystemExit(f"no workload matches {args.workloads!r}")
        return chosen
    if args.full:
        return [(w, every) for w in scripted() + exhaustive(3, 1) + exhaustive(3, 2) + randomized(args.seed, 60)]
    return [(w, every) for w in scripted()] + [(w, cheaper) for w in exhaustive(2, 2) + randomized(args.seed, 6)]


def family(name: str) -> str:
    parts = name.split("/")
    head = "random" if parts[0].startswith("random-") else parts[0]
    return f"{head}/{parts[-1]}"


def progress(total: int, enabled: bool) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is in the sim extra
        enabled = False
    if not enabled:
        return contextlib.nullcontext(None)
    return tqdm(total=total, unit="run", file=sys.stderr, dynamic_ncols=True, leave=False)


def run_campaign(
    args: argparse.Namespace, plan: List[Tuple[Workload, List[str]]], switches: frozenset = frozenset()
) -> Dict[str, Any]:
    states: Dict[str, Dict[str, int]] = defaultdict(lambda: defaultdict(int))
    seconds: Dict[str, float] = defaultdict(float)
    violations: List[Violation] = []
    total = 0
    runs = sum(len(models) for _, models in plan)
    with backend(args.backend) as root, progress(runs, not args.quiet) as bar:
        campaign = Campaign(root, switches)
        for workload, models in plan:
            for model in models:
                start = time.perf_counter()
                for at, variant, problem in campaign.run_model(workload, model, args.at):
                    states[family(workload.name)][model] += 1
                    total += 1
                    if problem is not None:
                        clean = campaign.clean[workload.name][1] if workload.name in campaign.clean else []
                        around = [f"{i} {c}" for i, c in enumerate(clean)][max(at - 5, 0) : at + 4] if at >= 0 else []
                        violations.append(Violation(workload.name, model, at, variant, problem, around, workload.steps))
                seconds[family(workload.name)] += time.perf_counter() - start
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(states=total, violations=len(violations))
                if violations and args.stop_early:
                    return {"states": states, "seconds": seconds, "violations": violations, "total": total}
    return {"states": states, "seconds": seconds, "violations": violations, "total": total}


def print_table(result: Dict[str, Any], models: List[str]) -> None:
    states, seconds, violations = result["states"], result["seconds"], result["violations"]
    per_family: Dict[str, int] = defaultdict(int)
    for v in violations:
        per_family[family(v.workload)] += 1
    width = max([20, *(len(fam) + 2 for fam in states)])
    header = f"{'workloads':<{width}}" + "".join(f"{m:>11}" for m in models) + f"{'violations':>11}{'seconds':>9}"
    print(header)
    print("-" * len(header))
    for fam in states:
        row = f"{fam:<{width}}" + "".join(f"{states[fam].get(m, 0):>11}" for m in models)
        print(row + f"{per_family[fam]:>11}{seconds[fam]:>9.1f}")
    totals = {m: sum(states[f].get(m, 0) for f in states) for m in models}
    print("-" * len(header))
    print(
        f"{'total':<{width}}"
        + "".join(f"{totals[m]:>11}" for m in models)
        + f"{len(violations):>11}"
        + f"{sum(seconds.values()):>9.1f}"
    )


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim", description="RDS crash-consistency campaign")
    parser.add_argument("--full", action="store_true", help="the long campaign (every workload family, more seeds)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the random workloads and garbage bytes")
    parser.add_argument(
        "--models", default=",".join(MODELS), help=f"comma-separated fault models ({', '.join(MODELS)})"
    )
    parser.add_argument("--workloads", default="", help="comma-separated workload names or name prefixes")
    parser.add_argument("--backend", choices=["pyfakefs", "tmpdir"], default="pyfakefs")
    parser.add_argument("--at", type=int, default=None, help="only the fault at this call number (reproductions)")
    parser.add_argument("--self-test", action="store_true", help="run against deliberately broken stores")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--stop-early", action="store_true", help="stop at the first violation")
    args = parser.parse_args(argv)
    # Recoveries and repairs are the point of the campaign; their warnings would drown the table.
    logging.getLogger("rds").setLevel(logging.CRITICAL + 1)
    models = [m for m in args.models.split(",") if m]
    unknown = set(models) - set(MODELS)
    if unknown:
        parser.error(f"unknown fault models: {', '.join(sorted(unknown))}")
    if args.self_test:
        return self_test(args)
    plan = choose_workloads(args, models)
    print(f"rds crash campaign: {len(plan)} workloads, up to {len(models)} fault models each, backend {args.backend}")
    start = time.perf_counter()
    result = run_campaign(args, plan)
    elapsed = time.perf_counter() - start
    print_table(result, models)
    print(f"{result['total']} crash states checked in {elapsed:.1f} s ({result['total'] / elapsed:.0f} per second)")
    for violation in result["violations"][:5]:
        print(violation.report())
    if len(result["violations"]) > 5:
        print(f"... and {len(result['violations']) - 5} more violations")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "backend": args.backend,
                    "states": result["states"],
                    "total": result["total"],
                    "seconds": elapsed,
                    "violations": [v.__dict__ for v in result["violations"]],
                },
                f,
                indent=2,
                default=repr,
            )
    return 1 if result["violations"] else 0


def self_test(args: argparse.Namespace) -> int:
    """Every deliberately broken store must be caught by the campaign."""
    args.stop_early = True
    names = ("basic/r1", "basic/r2", "compaction/r1", "compaction/r2", "transactions/r1", "group/r1")
    workloads = [w for w in scripted() if w.name in names]
    print(f"rds simulator self-test: {len(BREAKAGES)} broken stores, backend {args.backend}")
    missed = []
    for name, (switches, patch, models) in BREAKAGES.items():
        start = time.perf_counter()
        with patch():
            result = run_campaign(args, [(w, list(models)) for w in workloads], switches)
        caught = result["violations"]
        print(
            f"  {name:<36} {'caught' if caught else 'MISSED':<7} after {result['total']:>6} states"
            f" ({time.perf_counter() - start:.1f} s)" + (f": {caught[0].message[:90]}" if caught else "")
        )
        if not caught:
            missed.append(name)
    if missed:
        print(f"self-test FAILED: the campaign did not catch {', '.join(missed)}")
        return 1
    print("self-test passed: every broken store was caught")
    return 0


if __name__ == "__main__":
    sys.exit(main())
