"""Benchmarks: RDS against what the disk allows, measured in one run (``python -m sim.bench``).

Each figure is the median of ``--repeat`` runs, systems interleaved, so that a noisy neighbour slows every system
alike.  The reference is a raw loop that appends a 64-byte record to one file and fdatasyncs it: a durable store
cannot beat that, so the ratio against it says how close RDS comes to the disk.  Targets are printed beside the
figures and never asserted (machines here are shared and noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from typing import Callable, Dict, List, Tuple

import rds


def in_threads(threads: int, body: Callable[[int, int], None], count: int) -> float:
    """Writes per second of ``threads`` threads each running ``body(index, count // threads)`` together."""
    each = count // threads
    gate = threading.Barrier(threads + 1)

    def run(index: int) -> None:
        gate.wait()
        body(index, each)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    gate.wait()
    start = time.perf_counter()
    for worker in workers:
        worker.join()
    return each * threads / (time.perf_counter() - start)


def raw_append_fdatasync(threads: int) -> Callable[[str, int], float]:
    """A bare loop appending a 64-byte record to one file and fdatasyncing it, in ``threads`` threads."""

    def run(folder: str, count: int) -> float:
        fd = os.open(os.path.join(folder, "raw"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        record = b"x" * 64

        def body(index: int, n: int) -> None:
            for _ in range(n):
                os.write(fd, record)
                os.fdatasync(fd)

        try:
            return in_threads(threads, body, count)
        finally:
            os.close(fd)

    return run


def rds_writes(redundancy: int, durability: str, threads: int = 1) -> Callable[[str, int], float]:
    """Single-key writes into one RDSDict from ``threads`` threads (each its own keys)."""

    def run(folder: str, count: int) -> float:
        with rds.RDSDict(folder, "bench", redundancy=redundancy, durability=durability) as d:

            def body(index: int, n: int) -> None:
                for i in range(n):
                    d[index * 1000 + i % 1000] = i

            return in_threads(threads, body, count)

    return run


def rds_asyncio(redundancy: int, tasks: int) -> Callable[[str, int], float]:
    """Single-key ``await d.aset(k, v)`` from ``tasks`` concurrent asyncio tasks."""

    def run(folder: str, count: int) -> float:
        each = count // tasks

        async def main(d: rds.RDSDict) -> float:
            async def body(index: int) -> None:
                for i in range(each):
                    await d.aset(index * 1000 + i % 1000, i)

            start = time.perf_counter()
            await asyncio.gather(*(body(i) for i in range(tasks)))
            return each * tasks / (time.perf_counter() - start)

        with rds.RDSDict(folder, "bench", redundancy=redundancy) as d:
            return asyncio.run(main(d))

    return run


RAW = "raw append+fdatasync"
SYSTEMS: Dict[str, Callable[[str, int], float]] = {
    RAW: raw_append_fdatasync(1),
    "rds redundancy=1 fsync": rds_writes(1, "fsync"),
    "rds redundancy=2 fsync": rds_writes(2, "fsync"),
    "raw, 4 threads": raw_append_fdatasync(4),
    "rds r=1 fsync, 4 threads": rds_writes(1, "fsync", 4),
    "rds r=2 fsync, 4 threads": rds_writes(2, "fsync", 4),
    "rds r=1 asyncio, 8 tasks": rds_asyncio(1, 8),
}
#: (what, numerator, denominator, target): each printed as numerator's rate / denominator's.
RATIOS: List[Tuple[str, str, str, float]] = [
    ("r=1 vs raw", "rds redundancy=1 fsync", RAW, 0.9),
    ("r=2 vs raw", "rds redundancy=2 fsync", RAW, 0.6),
    ("r=1: 4 threads vs 1", "rds r=1 fsync, 4 threads", "rds redundancy=1 fsync", 3.0),
    ("r=2: 4 threads vs 1", "rds r=2 fsync, 4 threads", "rds redundancy=2 fsync", 3.0),
    ("raw: 4 threads vs 1", "raw, 4 threads", RAW, 0.0),
    ("r=1: 8 asyncio tasks vs 1 thread", "rds r=1 asyncio, 8 tasks", "rds redundancy=1 fsync", 0.0),
]


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="durable writes per run (default 2000)")
    parser.add_argument("--only", default=None, help="run only the systems whose name contains this")
    parser.add_argument("--repeat", type=int, default=3, help="runs per system; the median is reported")
    parser.add_argument("--dir", default=None, help="where to write (default: a temporary folder)")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    systems = {name: run for name, run in SYSTEMS.items() if args.only is None or args.only in name}
    rates: Dict[str, List[float]] = {name: [] for name in systems}
    for _ in range(args.repeat):
        for name, run in systems.items():
            folder = tempfile.mkdtemp(dir=args.dir)
            try:
                rates[name].append(run(folder, args.count))
            finally:
                shutil.rmtree(folder)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    print(f"durable writes, {args.count} per run, median of {args.repeat} (Python {sys.version.split()[0]})")
    print(f"{'system':<28}{'writes/s':>10}{'us/write':>10}")
    for name, rate in medians.items():
        print(f"{name:<28}{rate:>10.0f}{1e6 / rate:>10.1f}")
    print(f"\n{'ratio':<34}{'measured':>10}{'target':>8}")
    ratios = {}
    for what, numerator, denominator, target in RATIOS:
        if numerator not in medians or denominator not in medians:
            continue
        ratios[what] = medians[numerator] / medians[denominator]
        print(f"{what:<34}{ratios[what]:>10.2f}" + (f"{'>=' + format(target, '.1f'):>8}" if target else ""))
    if args.json:
        with open(args.json, "w") as f:
            figures = {"count": args.count, "repeat": args.repeat, "rates": rates, "medians": medians}
            json.dump({**figures, "ratios": ratios}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
