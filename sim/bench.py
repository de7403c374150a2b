"""Benchmarks: RDS against what the disk allows, measured in one run (``python -m sim.bench``).

Each figure is the median of ``--repeat`` runs, systems interleaved, so that a noisy neighbour slows every system
alike.  The reference is a raw loop that appends a 64-byte record to one file and fdatasyncs it: a durable store
cannot beat that, so the ratio against it says how close RDS comes to the disk.  Targets are printed beside the
figures and never asserted (machines here are shared and noisy).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, List

import rds


def raw_append_fdatasync(folder: str, count: int) -> float:
    """Writes per second of a bare append + fdatasync loop."""
    fd = os.open(os.path.join(folder, "raw"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    record = b"x" * 64
    start = time.perf_counter()
    for _ in range(count):
        os.write(fd, record)
        os.fdatasync(fd)
    elapsed = time.perf_counter() - start
    os.close(fd)
    return count / elapsed


def rds_writes(redundancy: int, durability: str) -> Callable[[str, int], float]:
    def run(folder: str, count: int) -> float:
        with rds.RDSDict(folder, "bench", redundancy=redundancy, durability=durability) as d:
            start = time.perf_counter()
            for i in range(count):
                d[i % 1000] = i
            elapsed = time.perf_counter() - start
        return count / elapsed

    return run


SYSTEMS: Dict[str, Callable[[str, int], float]] = {
    "raw append+fdatasync": raw_append_fdatasync,
    "rds redundancy=1 fsync": rds_writes(1, "fsync"),
    "rds redundancy=2 fsync": rds_writes(2, "fsync"),
}
TARGETS = {"rds redundancy=1 fsync": 0.9, "rds redundancy=2 fsync": 0.6}


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="durable writes per run (default 2000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per system; the median is reported")
    parser.add_argument("--dir", default=None, help="where to write (default: a temporary folder)")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    rates: Dict[str, List[float]] = {name: [] for name in SYSTEMS}
    for _ in range(args.repeat):
        for name, run in SYSTEMS.items():
            folder = tempfile.mkdtemp(dir=args.dir)
            try:
                rates[name].append(run(folder, args.count))
            finally:
                shutil.rmtree(folder)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    reference = medians["raw append+fdatasync"]
    print(
        f"durable single-thread writes, {args.count} per run, median of {args.repeat} (Python {sys.version.split()[0]})"
    )
    print(f"{'system':<26}{'writes/s':>10}{'us/write':>10}{'vs raw':>8}{'target':>8}")
    for name, rate in medians.items():
        target = TARGETS.get(name)
        print(
            f"{name:<26}{rate:>10.0f}{1e6 / rate:>10.1f}{rate / reference:>8.2f}"
            + (f"{'>=' + format(target, '.1f'):>8}" if target else "")
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"count": args.count, "repeat": args.repeat, "rates": rates, "medians": medians}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
