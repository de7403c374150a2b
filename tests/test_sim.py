"""The simulator itself: its durability model, its agreement across backends, and its ability to fail."""

import argparse
import os

import pytest

from rds import FileSystem
from sim.__main__ import backend, run_campaign
from sim.campaign import Campaign
from sim.selftest import BREAKAGES
from sim.simfs import Fault, SimFS, SimulatedCrash
from sim.workloads import Workload, oracle, scripted


def test_power_loss_keeps_only_what_was_synced(tmp_path):
    fs = SimFS(str(tmp_path))
    folder = str(tmp_path / "d")
    fs.mkdir(folder)
    fs.fsync_dir(str(tmp_path))
    fd = fs.open(os.path.join(folder, "f"), fs.CREATE)
    fs.write(fd, b"synced")
    fs.fdatasync(fd)
    fs.fsync_dir(folder)
    fs.write(fd, b"+later")
    fs.replace(os.path.join(folder, "f"), os.path.join(folder, "g"))
    fs.close(fd)
    states = dict(fs.power_loss_states())
    assert states["drop"] == {"d": None, "d/f": b"synced"}  # rename undone, unsynced write gone
    assert states["dir-prefix-1"] == {"d": None, "d/g": b"synced"}
    assert states["file-prefix-1"] == {"d": None, "d/g": b"synced+later"}
    assert fs.current() == {"d": None, "d/g": b"synced+later"}


def test_a_torn_write_is_cut_at_sector_boundaries(tmp_path):
    fs = SimFS(str(tmp_path), Fault("torn", 1))
    fd = fs.open(str(tmp_path / "f"), fs.CREATE)
    with pytest.raises(SimulatedCrash):
        fs.write(fd, b"x" * 1100)
    states = dict(fs.torn_states())
    assert set(states) == {f"torn@{cut}-{fill}" for cut in (0, 512, 1024) for fill in ("unwritten", "zero", "garbage")}
    assert states["torn@512-unwritten"]["f"] == b"x" * 512
    assert states["torn@1024-zero"]["f"] == b"x" * 1024 + b"\0" * 76
    assert states["torn@0-zero"]["f"] == b"\0" * 1100


def test_a_failed_fsync_drops_the_unsynced_data(tmp_path):
    fs = SimFS(str(tmp_path), Fault("fsync-drop", 4))
    fd = fs.open(str(tmp_path / "f"), fs.CREATE)
    fs.write(fd, b"kept")
    fs.fdatasync(fd)
    fs.write(fd, b"lost")
    with pytest.raises(OSError):
        fs.fdatasync(fd)
    fs.close(fd)
    assert (tmp_path / "f").read_bytes() == b"kept" and fs.current() == {"f": b"kept"}


def verdicts(kind, workload, models, switches=frozenset(), patch=None):
    with backend(kind) as root:
        campaign = Campaign(root, switches)
        out = []
        for model in models:
            out += [(model, at, variant, problem) for at, variant, problem in campaign.run_model(workload, model)]
        return out


@pytest.mark.parametrize("breakage", [None, "no directory fsync"])
def test_both_backends_reach_the_same_verdicts(breakage):
    workload = Workload("basic", [("set", "a", 1), ("set", "b", "x" * 600), ("del", "a")], redundancy=2)
    switches = BREAKAGES[breakage][0] if breakage else frozenset()
    models = ["crash", "power", "torn", "eio"]
    fake = verdicts("pyfakefs", workload, models, switches)
    real = verdicts("tmpdir", workload, models, switches)
    assert len(fake) > 100
    assert fake == real
    assert any(problem for *_, problem in real) == (breakage is not None)


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_every_broken_store_is_caught(breakage):
    switches, patch, models = BREAKAGES[breakage]
    args = argparse.Namespace(backend="tmpdir", quiet=True, at=None, stop_early=True)
    names = ("basic/r1", "compaction/r2", "transactions/r1", "group/r1")
    plan = [(w, list(models)) for w in scripted() if w.name in names]
    with patch():
        result = run_campaign(args, plan, switches)
    assert result["violations"], f"the campaign missed: {breakage}"


def test_the_oracle_is_independent_of_the_library():
    import ast
    import pathlib

    source = (pathlib.Path(__file__).parent.parent / "sim" / "workloads.py").read_text()
    imported = {
        alias.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {node.module for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)}
    assert not any(name and name.startswith("rds._") for name in imported)
    model = oracle(Workload("w", [("set", "a", 1), ("setdefault", "a", 2), ("del", "a"), ("clear",)], id_max=1))
    assert model.kinds == ["mod", "noop", "mod", "noop"] and model.states == [{}, {"a": 1}, {}]
    assert model.ids == [None, 1, 1]


def test_a_clean_seam_is_unaffected_by_a_dead_simulated_process(tmp_path):
    # After a simulated crash, the dead process's store objects must not close descriptors reused by others.
    fs = SimFS(str(tmp_path))
    fd = fs.open(str(tmp_path / "f"), fs.CREATE)
    fs.dead = True
    fs.close(fd)  # ignored
    FileSystem().write(fd, b"still open")
    FileSystem().close(fd)
    assert (tmp_path / "f").read_bytes() == b"still open"
