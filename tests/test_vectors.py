"""The implementation against every conformance vector in spec/vectors, and the vectors' byte stability."""

import filecmp
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

import rds
from rds.errors import CorruptionError, FormatVersionError, NotAStoreError

VECTORS = pathlib.Path(__file__).resolve().parent.parent / "spec" / "vectors"
sys.path.insert(0, str(VECTORS))
from generate import untag  # noqa: E402

from sim.campaign import same  # noqa: E402

NAMES = [entry["name"] for entry in json.loads((VECTORS / "index.json").read_text())]
ERRORS = {"corruption": CorruptionError, "format-version": FormatVersionError, "not-a-store": NotAStoreError}


def test_there_are_vectors_for_every_kind_of_case():
    assert len(NAMES) >= 15
    kinds = {json.loads((VECTORS / n / "expected.json").read_text())["error"] is None for n in NAMES}
    assert kinds == {True, False}


@pytest.mark.parametrize("readonly", [True, False], ids=["reader", "writer"])
@pytest.mark.parametrize("name", NAMES)
def test_vector(tmp_path, name, readonly):
    expected = json.loads((VECTORS / name / "expected.json").read_text())
    shutil.copytree(VECTORS / name / "store", tmp_path / "store")
    before = {p.name: p.read_bytes() for p in (tmp_path / "store").iterdir()}
    error = expected["error"]
    if error:
        with pytest.raises(ERRORS[error["kind"]]) as info:
            rds.RDSDict(tmp_path, "store", readonly=readonly)
        if error["file"]:
            assert error["file"] in str(info.value)
        if error["offset"] is not None:
            assert info.value.offset == error["offset"]
        after = {p.name: p.read_bytes() for p in (tmp_path / "store").iterdir() if p.name != "LOCK"}
        assert after == before  # an error never writes
        return
    state = untag(expected["state"])
    kind = rds.RDSList if isinstance(state, list) else rds.RDSDict
    with kind(tmp_path, "store", readonly=readonly) as d:
        assert same(d, state)
        assert same(d.last_id, untag(expected["last_id"]))
    if not readonly:  # after the writer's repairs, a second open is clean and equal
        with kind(tmp_path, "store", readonly=True) as d:
            assert same(d, state) and d.recovery_events == []


def test_regenerating_the_vectors_reproduces_every_byte(tmp_path):
    out = tmp_path / "vectors"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    subprocess.run([sys.executable, str(VECTORS / "generate.py"), "--out", str(out)], check=True, env=env)
    comparison = filecmp.dircmp(VECTORS, out, ignore=["generate.py", "__pycache__"])

    def differences(c):
        found = c.left_only + c.right_only + c.diff_files + c.funny_files
        for sub in c.subdirs.values():
            found += differences(sub)
        return found

    assert differences(comparison) == []
    for path in out.rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (VECTORS / path.relative_to(out)).read_bytes(), path
