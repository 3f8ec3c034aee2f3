"""Energy, network and Pareto arithmetic (no models involved)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hybridsplit.bench.energy import EnergyTables, compute_energy_uj, radio_energy_mj
from hybridsplit.bench.network import end_to_end, get_network, uplink_ms
from hybridsplit.bench.pareto import pareto_front, pareto_mask
from hybridsplit.bench.sweep import Constraints, recommend
from hybridsplit.errors import SpecError, TargetError


def test_compute_energy_uses_the_table_and_can_be_overridden(tmp_path):
    e = compute_energy_uj(1_000_000, 0, 0, "int8")
    assert e["total_uj"] == pytest.approx(0.23)  # 1e6 x (0.2 + 0.03) pJ
    assert compute_energy_uj(1_000_000, 0, 0, "fp32")["total_uj"] == pytest.approx(4.6)
    assert compute_energy_uj(0, 1000, 0, "int8")["weights_uj"] == pytest.approx(1000 * 1950 / 8 * 1e-6)
    f = tmp_path / "t.json"
    f.write_text(json.dumps({"compute": {"mac_pj": {"int8": 0.05}}, "radio": {"wifi": {"beta_mw": 0.0}}}))
    t = EnergyTables.load(f)
    assert compute_energy_uj(1_000_000, 0, 0, "int8", t)["total_uj"] == pytest.approx(0.05)
    assert t.compute["mac_pj"]["fp32"] == pytest.approx(4.6)  # untouched rows keep their defaults
    with pytest.raises(TargetError, match="no energy per MAC for dtype 'int4'"):
        compute_energy_uj(1, 0, 0, "int4")


def test_radio_energy_follows_the_linear_power_model():
    r = radio_energy_mj(1_000_000, "lte", 8.0)  # 8 Mbit at 8 Mbps = 1 s at 438.39*8 + 1288.04 mW
    assert r["seconds"] == pytest.approx(1.0) and r["send_mj"] == pytest.approx(438.39 * 8 + 1288.04)
    assert radio_energy_mj(1000, "lte", 8.0, include_tail=True)["tail_mj"] == pytest.approx(1060 * 11.576)
    assert radio_energy_mj(768, "wifi", 18.88)["total_mj"] < radio_energy_mj(2400, "wifi", 18.88)["total_mj"]


def test_network_profiles_and_end_to_end():
    wifi = get_network("wifi")
    assert uplink_ms(0, wifi) == wifi.rtt_ms
    assert uplink_ms(1_000_000, get_network("wifi", uplink_mbps=8.0, rtt_ms=0)) == pytest.approx(1000.0)
    e = end_to_end(1.0, 768, 0.5, wifi)
    assert e["total_ms"] == pytest.approx(1.0 + 0.5 + wifi.rtt_ms + 8 * 768 / 18.88e6 * 1e3)
    with pytest.raises(SpecError, match="Did you mean 'wifi'"):
        get_network("wiifi")


def test_pareto_and_recommendation():
    pts = np.array([[1.0, 100], [2.0, 50], [3.0, 60], [0.5, 200]])
    assert pareto_mask(pts).tolist() == [True, True, False, True]
    # cost x down, utility y up: (1, .9) beats (2, .8); (3, .95) and (0.5, .5) trade off; a tie is kept
    assert pareto_front([2.0, 1.0, 3.0, 0.5, 1.0], [0.8, 0.9, 0.95, 0.5, 0.9]) == [3, 1, 4, 2]
    assert pareto_front([], []) == []

    def row(cut, ms, b, acc, att, feasible=True):
        return {"cut": cut, "end_to_end_ms": ms, "bytes": b, "accuracy": acc, "attacker_acc": att, "feasible": feasible}

    rows = [row("a", 10, 1000, 0.90, 0.8), row("b", 12, 500, 0.902, 0.3), row("c", 8, 4000, 0.80, 0.9)]
    assert recommend(rows, Constraints())["cut"] == "b"  # accuracy tie (0.5 pt) -> lower attacker accuracy
    rows = [row("a", 10, 1000, 0.9, None, False)]
    rec = recommend(rows, Constraints(max_bytes=100))
    assert rec["cut"] is None and "fewest bytes is 1000 > 100" in rec["reason"]
