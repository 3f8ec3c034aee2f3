"""`hybridsplit sweep` on two cuts of the default recipe: bundles, sweep.json, Pareto PNG, recommendation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DEFAULT_RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "watch.toml"

pytestmark = pytest.mark.slow


def test_sweep_two_cuts_writes_json_plot_and_recommends(tmp_path, trained_run):
    from typer.testing import CliRunner

    from hybridsplit.cli import app

    out = tmp_path / "sweep"
    res = CliRunner().invoke(app, ["sweep", "--recipe", str(DEFAULT_RECIPE), "--run", str(trained_run),
                                   "--out", str(out), "--cut", "block1", "--cut", "block3", "--runs", "300",
                                   "--network", "lte", "--max-bytes", "2000"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "sweep.json").read_text())
    assert (out / "pareto.png").stat().st_size > 10_000
    rows = {r["cut"]: r for r in doc["cuts"]}
    assert set(rows) == {"block1", "block3"}
    assert rows["block1"]["bytes"] == 32 * 50 and rows["block3"]["bytes"] == 64 * 12  # int8 features
    for r in rows.values():
        assert r["device_ms"] > 0 and r["cloud_ms"] > 0 and 0 < r["accuracy"] <= 1 and r["energy_mj"] > 0
        assert r["end_to_end_ms"] == pytest.approx(r["device_ms"] + r["uplink_ms"] + r["cloud_ms"])
        assert (out / "bundles" / r["cut"] / "manifest.json").is_file()
    # both fit --max-bytes 2000 (1600 B, 768 B); block3 sends the fewest bytes, so nothing dominates it
    assert rows["block3"]["pareto"]
    assert doc["recommendation"]["cut"] in rows
    if doc["cuts"][0]["attacker_acc"] is not None:  # the privacy package is present
        assert all(0 <= r["attacker_acc"] <= 1 for r in rows.values())
    else:
        assert "not measured" in doc["privacy_note"]
    assert "recommended cut" in res.output

    # a constraint no cut can meet: no recommendation, and the reason names it
    from hybridsplit.bench.sweep import Constraints, recommend

    rec = recommend([{**r, "feasible": False} for r in doc["cuts"]], Constraints(max_bytes=100))
    assert rec["cut"] is None and "fewest bytes is 768 > 100" in rec["reason"]
