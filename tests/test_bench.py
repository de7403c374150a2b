"""The benchmark runs and computes its ratios from the figures it measured (never a timing assertion)."""

import json

from sim import bench


def test_the_benchmark_measures_every_rds_figure_and_derives_its_ratios(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench.main(["--count", "40", "--repeat", "1", "--quick", "--only", "rds", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    medians, checks = result["medians"], result["checks"]
    assert set(medians) == {case.name for case in bench.cases(40, quick=True) if "rds" in case.name}
    assert all(value > 0 for value in medians.values())
    assert "durable r=2 vs raw" not in checks  # the raw loop was not chosen: no ratio against it
    ratio = checks["r=1: 4 threads vs 1"]
    assert ratio["value"] == medians["rds r=1, 4 threads"] / medians["rds redundancy=1"]
    assert ratio["target"] == 3.0 and ratio["at_least"]
    assert checks["rds flush mode"]["value"] == medians["rds flush mode"]
    printed = capsys.readouterr().out
    assert "r=1: 4 threads vs 1" in printed and "rds flush mode" in printed
