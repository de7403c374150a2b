"""Real processes: one writer at a time, read-only opens alongside it, and SIGKILL at random moments loses
nothing that was acknowledged."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from rds import LockedError, RDSDict, ReadOnlyError

HOLD = textwrap.dedent(
    """
    import sys, time, rds
    d = rds.RDSDict(sys.argv[1], "s")
    d["writer"] = "child"
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    d.close()
    """
)


def spawn(code, *args):
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )


def test_a_second_writer_gets_a_clear_error(where):
    child = spawn(HOLD, where, 30)
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(LockedError, match="readonly=True"):
            RDSDict(where, "s")
        with RDSDict(where, "s", readonly=True) as reader:
            assert reader == {"writer": "child"}
            with pytest.raises(ReadOnlyError):
                reader["x"] = 1
    finally:
        child.kill()
        child.wait()


def test_a_writer_can_wait_for_the_lock(where):
    child = spawn(HOLD, where, 0.5)
    try:
        assert child.stdout.readline().strip() == "locked"
        with RDSDict(where, "s", lock_timeout=20) as d:
            assert d == {"writer": "child"}
            d["writer"] = "parent"
    finally:
        child.wait()


def test_the_same_store_twice_in_one_process_is_refused(where):
    with RDSDict(where, "s"), pytest.raises(LockedError):
        RDSDict(where, "s")


WRITER = textwrap.dedent(
    """
    import sys, rds
    d = rds.RDSDict(sys.argv[1], "s", redundancy=int(sys.argv[2]), compact_min_bytes=2048)
    n = d.get("n", 0)
    while True:
        n += 1
        d.update({"n": n, "k%d" % (n % 7): n, "pad": "x" * (n % 300)})
        print(n, flush=True)
    """
)


@pytest.mark.parametrize("redundancy", [1, 2])
def test_sigkill_at_random_moments_loses_nothing_acknowledged(where, redundancy):
    rng = random.Random(1234 + redundancy)
    kills = 30
    landed_in_flight = 0
    recovered = 0  # what the previous reopen found: nothing acknowledged since may be lost
    for _ in range(kills):
        child = spawn(WRITER, where, redundancy)
        time.sleep(rng.uniform(0.15, 0.4))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate()
        acknowledged = [int(line) for line in out.split()]
        with RDSDict(where, "s") as d:
            n = d.get("n", 0)
            last_ack = acknowledged[-1] if acknowledged else recovered
            assert n in (last_ack, last_ack + 1), (n, last_ack)
            recovered = n
            landed_in_flight += n == last_ack + 1
            assert d.last_id == n
            for j in range(max(1, n - 6), n + 1):
                assert d["k%d" % (j % 7)] == j
            assert d["pad"] == "x" * (n % 300)
    assert recovered > kills  # the children really wrote
    print(
        f"{kills} kills at redundancy {redundancy}: {recovered} modifications; "
        f"the in-flight one had landed {landed_in_flight} times"
    )
