"""Benchmarks: RDS against what the disk allows and against other Python stores, in one run
(``python -m sim.bench``).

Every figure is the median of ``--repeat`` runs, with the systems interleaved within each round so that a noisy
neighbour slows all of them alike, and every ratio is between figures of the same run.  The reference is a raw
loop that appends a 64-byte record to one file and fdatasyncs it: a durable store cannot beat that.  Targets
(issues #5 and #8) are printed beside the ratios and never asserted: machines here are shared and noisy.

Peers (the ``bench`` extra): sqlitedict (WAL, ``synchronous=FULL``, autocommit), diskcache
(``sqlite_synchronous=FULL``), lmdb (``sync=True``, one transaction per write) and shelve (which never fsyncs,
so it is not durable: shown for scale).  Each peer's durability setting is read back and printed.  py-rds, the
original project, shares the import name ``rds`` and is left out.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

import rds
from rds import _format
from rds._codec import MsgpackCodec
from rds._store import read_file


class Case(NamedTuple):
    suite: str
    name: str
    run: Callable[[str], float]  # folder -> the figure
    unit: str


# -- durable writes ------------------------------------------------------------------------------------------


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


def raw_append_fdatasync(count: int, threads: int = 1) -> Callable[[str], float]:
    """A bare loop appending a 64-byte record to one file and fdatasyncing it, in ``threads`` threads."""

    def run(folder: str) -> float:
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


def rds_writes(count: int, redundancy: int, durability: str = "fsync", threads: int = 1) -> Callable[[str], float]:
    """Single-key writes into one RDSDict from ``threads`` threads (each its own keys)."""

    def run(folder: str) -> float:
        with rds.RDSDict(folder, "bench", redundancy=redundancy, durability=durability) as d:

            def body(index: int, n: int) -> None:
                for i in range(n):
                    d[index * 1000 + i % 1000] = i

            return in_threads(threads, body, count)

    return run


def rds_asyncio(count: int, redundancy: int, tasks: int) -> Callable[[str], float]:
    """Single-key ``await d.aset(k, v)`` from ``tasks`` concurrent asyncio tasks."""

    def run(folder: str) -> float:
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


#: What each peer's durability setting read back as (filled in as they run; printed with the results).
SETTINGS: Dict[str, str] = {}


def sqlitedict_writes(count: int, threads: int = 1) -> Callable[[str], float]:
    def run(folder: str) -> float:
        from sqlitedict import SqliteDict

        d = SqliteDict(os.path.join(folder, "db.sqlite"), autocommit=True, journal_mode="WAL")
        d.conn.execute("PRAGMA synchronous=FULL")
        mode = d.conn.select_one("PRAGMA journal_mode")[0]
        SETTINGS["sqlitedict"] = f"journal_mode={mode} synchronous={d.conn.select_one('PRAGMA synchronous')[0]}"

        def body(index: int, n: int) -> None:
            for i in range(n):
                d[str(index * 1000 + i % 1000)] = i
                d.commit(blocking=True)  # autocommit queues the commit: wait for it, as a durable write must

        try:
            return in_threads(threads, body, count)
        finally:
            d.close()

    return run


def diskcache_writes(count: int, threads: int = 1) -> Callable[[str], float]:
    def run(folder: str) -> float:
        import diskcache

        cache = diskcache.Cache(folder, sqlite_synchronous=2)
        SETTINGS["diskcache"] = f"synchronous={cache._sql('PRAGMA synchronous').fetchone()[0]}"

        def body(index: int, n: int) -> None:
            for i in range(n):
                cache[index * 1000 + i % 1000] = i

        try:
            return in_threads(threads, body, count)
        finally:
            cache.close()

    return run


def lmdb_writes(count: int, threads: int = 1) -> Callable[[str], float]:
    def run(folder: str) -> float:
        import lmdb

        env = lmdb.open(folder, map_size=1 << 30, sync=True, metasync=True)
        SETTINGS["lmdb"] = f"sync={env.flags()['sync']} metasync={env.flags()['metasync']}"

        def body(index: int, n: int) -> None:
            for i in range(n):
                with env.begin(write=True) as txn:
                    txn.put(str(index * 1000 + i % 1000).encode(), str(i).encode())

        try:
            return in_threads(threads, body, count)
        finally:
            env.close()

    return run


def shelve_writes(count: int) -> Callable[[str], float]:
    def run(folder: str) -> float:
        import shelve

        SETTINGS["shelve"] = "no fsync at all (not durable)"
        with shelve.open(os.path.join(folder, "shelf")) as shelf:
            start = time.perf_counter()
            for i in range(count):
                shelf[str(i % 1000)] = i
                shelf.sync()
            return count / (time.perf_counter() - start)

    return run


def json_rewrite_writes(count: int, keys: int = 1000) -> Callable[[str], float]:
    """The naive store: rewrite the whole JSON file beside, fsync it, rename it over the old one."""

    def run(folder: str) -> float:
        data: Dict[str, int] = {str(i): i for i in range(keys)}
        path, tmp = os.path.join(folder, "data.json"), os.path.join(folder, "data.json.tmp")
        start = time.perf_counter()
        for i in range(count):
            data[str(i % keys)] = i
            with open(tmp, "w") as f:
                json.dump(data, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        return count / (time.perf_counter() - start)

    return run


# -- size, nesting, flush mode, reopen, memory ---------------------------------------------------------------


def _filled(folder: str, keys: int, **options: Any) -> rds.RDSDict:
    d = rds.RDSDict(folder, "bench", redundancy=1, **options)
    with d.transaction():
        d.update((f"key{i}", i) for i in range(keys))
    d.compact()  # start measuring with an empty journal
    return d


def write_time_at_size(keys: int, count: int) -> Callable[[str], float]:
    """Microseconds per durable single-key write into a store already holding ``keys`` keys."""

    def run(folder: str) -> float:
        with _filled(folder, keys) as d:
            start = time.perf_counter()
            for i in range(count):
                d[f"key{i * 7919 % keys}"] = -i
            return (time.perf_counter() - start) / count * 1e6

    return run


def nested_append(items: int, count: int) -> Callable[[str], float]:
    """Microseconds per durable append to a nested list already holding ``items`` items."""

    def run(folder: str) -> float:
        with rds.RDSDict(folder, "bench", redundancy=1) as d:
            d["log"] = list(range(items))
            d.compact()
            log = d["log"]
            start = time.perf_counter()
            for i in range(count):
                log.append(i)
            return (time.perf_counter() - start) / count * 1e6

    return run


def flush_mode(count: int) -> Callable[[str], float]:
    """Modifications per second in ``durability="flush"`` (written to the OS, synced by ``sync()``/``close()``)."""

    def run(folder: str) -> float:
        with rds.RDSDict(folder, "bench", redundancy=1, durability="flush") as d:
            start = time.perf_counter()
            for i in range(count):
                d[i % 1000] = i
            return count / (time.perf_counter() - start)

    return run


def reopen(keys: int) -> Callable[[str], float]:
    """Milliseconds to open a store of ``keys`` keys (snapshot only)."""

    def run(folder: str) -> float:
        _filled(folder, keys).close()
        gc.collect()
        start = time.perf_counter()
        d = rds.RDSDict(folder, "bench", readonly=True)
        elapsed = time.perf_counter() - start
        d.close()
        return elapsed * 1e3

    return run


def bare_decode(keys: int) -> Callable[[str], float]:
    """Milliseconds to decode the same store's snapshot with the codec alone (no checks, no tracking)."""

    def run(folder: str) -> float:
        _filled(folder, keys).close()
        data = read_file(rds.FileSystem(), os.path.join(folder, "bench", _format.file_name("snapshot", 1, 0)))
        assert data is not None
        body, damage = _format.decode_snapshot_body(data)
        assert body is not None and damage is None
        codec = MsgpackCodec()
        gc.collect()
        start = time.perf_counter()
        codec.loads(body)
        return (time.perf_counter() - start) * 1e3

    return run


def memory_ratio(keys: int) -> Callable[[str], float]:
    """Memory an opened store of ``keys`` keys holds, over that of the same plain dict (tracemalloc)."""

    def run(folder: str) -> float:
        _filled(folder, keys).close()
        gc.collect()
        tracemalloc.start()
        plain = {f"key{i}": i for i in range(keys)}
        plain_bytes = tracemalloc.get_traced_memory()[0]
        del plain
        gc.collect()
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        d = rds.RDSDict(folder, "bench", readonly=True)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        d.close()
        return held / plain_bytes

    return run


def cases(count: int, quick: bool) -> List[Case]:
    big = 100_000 if quick else 1_000_000
    reopen_keys = 100_000
    return [
        Case("durable", "raw append+fdatasync", raw_append_fdatasync(count), "writes/s"),
        Case("durable", "rds redundancy=1", rds_writes(count, 1), "writes/s"),
        Case("durable", "rds redundancy=2", rds_writes(count, 2), "writes/s"),
        Case("durable", "sqlitedict (WAL, FULL)", sqlitedict_writes(count), "writes/s"),
        Case("durable", "diskcache (FULL)", diskcache_writes(count), "writes/s"),
        Case("durable", "lmdb (sync)", lmdb_writes(count), "writes/s"),
        Case("durable", "json rewrite+fsync+rename", json_rewrite_writes(count // 4), "writes/s"),
        Case("durable", "shelve (never fsyncs)", shelve_writes(count), "writes/s"),
        Case("threads", "raw, 4 threads", raw_append_fdatasync(count, 4), "writes/s"),
        Case("threads", "rds r=1, 4 threads", rds_writes(count, 1, threads=4), "writes/s"),
        Case("threads", "rds r=2, 4 threads", rds_writes(count, 2, threads=4), "writes/s"),
        Case("threads", "rds r=1, 8 asyncio tasks", rds_asyncio(count, 1, 8), "writes/s"),
        Case("threads", "lmdb, 4 threads", lmdb_writes(count, 4), "writes/s"),
        Case("threads", "diskcache, 4 threads", diskcache_writes(count, 4), "writes/s"),
        Case("size", "rds write, 100 keys", write_time_at_size(100, count // 2), "us/write"),
        Case("size", "rds write, 100k keys", write_time_at_size(100_000, count // 2), "us/write"),
        Case("size", f"rds write, {big // 1000}k keys", write_time_at_size(big, count // 2), "us/write"),
        Case("size", "rds nested append, 100k items", nested_append(100_000, count // 2), "us/write"),
        Case("flush", "rds flush mode", flush_mode(count * 25), "writes/s"),
        Case("reopen", f"rds reopen, {reopen_keys // 1000}k keys", reopen(reopen_keys), "ms"),
        Case("reopen", f"msgpack decode, {reopen_keys // 1000}k keys", bare_decode(reopen_keys), "ms"),
        Case("memory", f"rds / dict memory, {reopen_keys // 1000}k keys", memory_ratio(reopen_keys), "x"),
    ]


#: (what, numerator, denominator, target, at_least): ratios of two figures from the same run.
RATIOS: List[Tuple[str, str, str, float, bool]] = [
    ("durable r=1 vs raw", "rds redundancy=1", "raw append+fdatasync", 0.9, True),
    ("durable r=2 vs raw", "rds redundancy=2", "raw append+fdatasync", 0.6, True),
    ("r=1: 4 threads vs 1", "rds r=1, 4 threads", "rds redundancy=1", 3.0, True),
    ("r=2: 4 threads vs 1", "rds r=2, 4 threads", "rds redundancy=2", 3.0, True),
    ("r=1: 8 asyncio tasks vs 1 thread", "rds r=1, 8 asyncio tasks", "rds redundancy=1", 0.0, True),
    ("raw: 4 threads vs 1", "raw, 4 threads", "raw append+fdatasync", 0.0, True),
    ("lmdb: 4 threads vs 1", "lmdb, 4 threads", "lmdb (sync)", 0.0, True),
    ("diskcache: 4 threads vs 1", "diskcache, 4 threads", "diskcache (FULL)", 0.0, True),
    ("per write: largest vs 100 keys", "rds write, {big}k keys", "rds write, 100 keys", 1.2, False),
    ("nested append vs top-level write", "rds nested append, 100k items", "rds write, 100 keys", 0.0, False),
    ("reopen vs bare decode", "rds reopen, 100k keys", "msgpack decode, 100k keys", 1.2, False),
]
#: Absolute targets: (figure, target, at_least).
ABSOLUTE = [("rds flush mode", 500_000.0, True), ("rds reopen, 100k keys", 50.0, False)]
ABSOLUTE += [("rds / dict memory, 100k keys", 2.0, False)]


def _meets(value: float, target: float, at_least: bool) -> str:
    if not target:
        return ""
    return "yes" if (value >= target if at_least else value <= target) else "NO"


def report(medians: Dict[str, float], units: Dict[str, str], big: int) -> Dict[str, Dict[str, Any]]:
    print(f"{'figure':<36}{'median':>12}  unit")
    for name, value in medians.items():
        print(f"{name:<36}{value:>12,.1f}  {units[name]}")
    if SETTINGS:
        print("\npeers' durability settings, read back: " + "; ".join(f"{k}: {v}" for k, v in SETTINGS.items()))
    print(f"\n{'ratio or target':<36}{'measured':>10}{'target':>10}{'met':>6}")
    checks: Dict[str, Dict[str, Any]] = {}
    for what, numerator, denominator, target, at_least in RATIOS:
        numerator = numerator.format(big=big // 1000)
        if numerator in medians and denominator in medians:
            value = medians[numerator] / medians[denominator]
            checks[what] = {"value": value, "target": target or None, "at_least": at_least}
    for name, target, at_least in ABSOLUTE:
        if name in medians:
            checks[name] = {"value": medians[name], "target": target, "at_least": at_least}
    for what, check in checks.items():
        target, at_least = check["target"] or 0.0, check["at_least"]
        shown = f"{'>=' if at_least else '<='}{target:g}" if target else ""
        print(f"{what:<36}{check['value']:>10.2f}{shown:>10}{_meets(check['value'], target, at_least):>6}")
    return checks


def chart(path: str, medians: Dict[str, float], units: Dict[str, str]) -> None:
    """A bar chart of the write rates (durable and concurrent), RDS highlighted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [name for name in medians if units[name] == "writes/s" and name != "rds flush mode"]
    values = [medians[name] for name in names]
    fig, ax = plt.subplots(figsize=(9, 0.38 * len(names) + 1.2))
    colours = ["#c0392b" if name.startswith("rds") else "#7f8c8d" for name in names]
    ax.barh(names[::-1], values[::-1], color=colours[::-1])
    for y, value in enumerate(values[::-1]):
        ax.text(value, y, f" {value:,.0f}", va="center", fontsize=8)
    ax.set_xlabel("durable writes per second (median; higher is better)")
    ax.set_title("RDS and peers: each write synced before it returns (shelve never syncs)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="durable writes per run (default 2000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the median is reported")
    parser.add_argument("--only", default=None, help="run only the figures whose name contains this")
    parser.add_argument("--quick", action="store_true", help="100k keys instead of 1M for the size figure")
    parser.add_argument("--dir", default=None, help="where to write (default: a temporary folder)")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    parser.add_argument("--chart", default=None, help="also draw the write rates to this PNG file")
    args = parser.parse_args(argv)
    big = 100_000 if args.quick else 1_000_000
    chosen = [case for case in cases(args.count, args.quick) if args.only is None or args.only in case.name]
    runs: Dict[str, List[float]] = {case.name: [] for case in chosen}
    print(f"rds benchmark: {len(chosen)} figures, median of {args.repeat} (Python {sys.version.split()[0]})")
    for _ in range(args.repeat):
        for case in chosen:
            folder = tempfile.mkdtemp(dir=args.dir)
            try:
                runs[case.name].append(case.run(folder))
            finally:
                shutil.rmtree(folder)
    medians = {name: statistics.median(values) for name, values in runs.items()}
    units = {case.name: case.unit for case in chosen}
    checks = report(medians, units, big)
    if args.json:
        with open(args.json, "w") as f:
            figures = {"count": args.count, "repeat": args.repeat, "python": sys.version.split()[0]}
            json.dump({**figures, "runs": runs, "medians": medians, "units": units, "checks": checks}, f, indent=1)
    if args.chart:
        chart(args.chart, medians, units)
    return 0


if __name__ == "__main__":
    sys.exit(main())
