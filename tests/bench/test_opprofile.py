"""Per-op profile of any .tflite and the XNNPACK delegation read from LiteRT, on real files.

The delegation oracle is LiteRT itself run another way: with delegate node fusion disabled
(`experimental_disable_delegate_node_fusion`), XNNPACK wraps every op it takes in a DELEGATE node
of its own, so the delegated ops are exactly the producers of those nodes' outputs, with no graph
walk. The int8 model with a HARD_SWISH (which this LiteRT's XNNPACK does not run in int8) is made
by the project's own int8 exporter with its rewrites switched off.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from hybridsplit.bench.runner import delegation
from hybridsplit.bench.tflite_graph import TFLiteGraph

pytestmark = pytest.mark.slow


def _unfused_delegated(path) -> set[int]:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), num_threads=1, experimental_disable_delegate_node_fusion=True)
    it.allocate_tensors()
    n = len(TFLiteGraph(path).ops)
    producer = {int(t): i for i in range(n) for t in it._interpreter.NodeOutputs(i)}
    delegate_nodes = range(n, it._interpreter.NumNodes())
    assert all(it._interpreter.NodeName(i) == "DELEGATE" for i in delegate_nodes)
    return {producer[int(t)] for i in delegate_nodes for t in it._interpreter.NodeOutputs(i)}


def _fused(path) -> dict:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    return delegation(it)


def test_delegation_matches_litert_unfused_partitions(hardswish_int8, hardswish_fp32):
    plain, rewritten = hardswish_int8
    for path in (plain, rewritten, hardswish_fp32):
        d = _fused(path)
        assert set(d["delegated"]) == _unfused_delegated(path), path.name
    ops = TFLiteGraph(plain).ops
    left_out = [o.op for o in ops if o.index not in _unfused_delegated(plain)]
    assert left_out == ["HARD_SWISH"]  # int8 HARD_SWISH: LiteRT's own kernel
    assert _fused(plain)["partitions"] == 2  # the op splits XNNPACK's graph in two


def test_int8_export_rewrites_hardswish_and_stays_in_one_partition(hardswish_int8, hardswish_torch):
    from hybridsplit.bundle.runtime import TFLiteRunner

    plain, rewritten = hardswish_int8
    assert "HARD_SWISH" not in [o.op for o in TFLiteGraph(rewritten).ops]
    d = _fused(rewritten)
    assert d["partitions"] == 1 and len(d["delegated"]) == d["nodes"] == len(_unfused_delegated(rewritten))
    model, x = hardswish_torch
    want = model(x).detach().numpy()
    for path in (plain, rewritten):  # both compute the same function as torch, to int8 precision
        runner = TFLiteRunner(path)
        got = runner(x.numpy())
        assert np.abs(got - want).max() <= 0.05 * np.abs(want).max(), path.name


def test_speed_check_names_the_op_its_cost_and_the_fix(hardswish_int8):
    from hybridsplit.exporters.speedcheck import check

    plain, rewritten = hardswish_int8
    doc = check(plain, runs=10)
    (f,) = [f for f in doc["findings"] if f["issue"].startswith("not delegated")]
    assert f["ops"] == [n for n in doc["not_delegated"]] and f["ops"][0].endswith("HARD_SWISH")
    assert "hardswish" in f["fix"].lower() and isinstance(f["cost_us"], float)
    assert f["elements"] == 16 * 16 * 16  # the conv's 16 channels on 16 x 16
    assert doc["delegate_partitions"] == 2 and doc["integer_model"] is True
    clean = check(rewritten, runs=10)
    assert clean["not_delegated"] == [] and clean["delegate_partitions"] == 1


def test_profile_cli_on_any_tflite(hardswish_int8, hardswish_fp32, tmp_path):
    from typer.testing import CliRunner

    from hybridsplit.cli import app

    for path in (hardswish_fp32, hardswish_int8[0]):
        out = tmp_path / f"{path.stem}.json"
        res = CliRunner().invoke(app, ["profile", str(path), "--runs", "100", "--warmup", "10", "--out", str(out)],
                                 catch_exceptions=False)
        assert res.exit_code == 0, res.output
        doc = json.loads(out.read_text())
        graph = TFLiteGraph(path)
        assert [o["kind"] for o in doc["ops"]] == [o.op for o in graph.ops]
        assert doc["input"]["shape"] == graph.input_shape
        conv = next(o for o in doc["ops"] if o["kind"] == "CONV_2D")
        assert [o["delegated"] for o in doc["ops"]] == [o.index in _unfused_delegated(path) for o in graph.ops]
        assert all(isinstance(o["latency_us_median"], float) for o in doc["ops"])
        assert doc["check"]["whole_median_us"] == doc["whole_latency_us"]["median"]
    # the int8 file: int8 activations and weights, the HARD_SWISH named as not delegated
    assert conv["inputs"][0]["dtype"] == "int8" and conv["weight_dtype"] == "int8"
    assert conv["outputs"][0]["shape"] == [1, 16, 16, 16]  # NHWC inside LiteRT
    assert [n.split()[1] for n in doc["delegation"]["not_delegated"]] == ["HARD_SWISH"]
    assert "sum of per-op medians" in res.output and "time per op kind" in res.output
    missing = CliRunner().invoke(app, ["profile", str(tmp_path / "nope.tflite")])
    assert missing.exit_code != 0 and "not found" in missing.output


def test_export_report_and_report_html_carry_the_speed_check(default_bundle, tmp_path, hardswish_int8):
    import shutil

    from hybridsplit.exporters.report import load_report
    from hybridsplit.exporters.speedcheck import speed_quant_report
    from hybridsplit.report import make_report

    speed = load_report(default_bundle).speed_quant  # written by the export itself
    assert set(speed["artifacts"]) == {"tflite_int8", "tflite_fp32"}
    for key in ("tflite_int8", "tflite_fp32"):
        a = speed["artifacts"][key]
        path = default_bundle / a["file"]
        assert a["ops"] == len(TFLiteGraph(path).ops) == len(_unfused_delegated(path))  # all in XNNPACK here
        assert a["not_delegated"] == [] and a["delegate_partitions"] == 1
    assert speed["artifacts"]["tflite_int8"]["integer_model"] and not speed["artifacts"]["tflite_fp32"]["integer_model"]
    pair = speed["int8_vs_fp32"]["tflite_int8/tflite_fp32"]
    assert pair["int8_over_fp32"] == pytest.approx(pair["int8_us"] / pair["fp32_us"], rel=0.01)
    # a bundle whose int8 model has a HARD_SWISH: the report page names the op and what to try
    copy = tmp_path / "bundle"
    shutil.copytree(default_bundle, copy)
    doc = json.loads((copy / "export_report.json").read_text())
    doc["speed_quant"] = speed_quant_report({"tflite_int8": hardswish_int8[0]}, [], runs=5)
    (copy / "export_report.json").write_text(json.dumps(doc))
    page = make_report(copy).html()
    assert "speed / quantisation check" in page and "HARD_SWISH" in page and "XNNPACK has no int8 HARD_SWISH" in page


def test_summary_lines_read_well_with_and_without_ops():
    """The export printout: an 'int8 slower' finding has no ops (it printed "fp32:  — 19 µs here")."""
    from hybridsplit.exporters.speedcheck import summary_lines

    slower = {"issue": "int8 slower than fp32", "ops": [], "elements": None, "cost_us": 19.2, "fix": "ship fp32"}
    island = {"issue": "2 float island(s)", "ops": [f"op{i:02d} ADD" for i in range(6)], "elements": 96,
              "cost_us": None, "fix": "look"}
    lines = summary_lines({"artifacts": {"tflite_int8": {"findings": [slower, island]}}})
    assert lines == ["tflite_int8: int8 slower than fp32 — 19 µs here. Try: ship fp32",
                     "tflite_int8: 2 float island(s): op00 ADD, op01 ADD, op02 ADD, op03 ADD … Try: look"]


@pytest.fixture(scope="module")
def fp16_strided(tmp_path_factory):
    """fp16 weights (a DEQUANTIZE of constants before each conv) and a stride-2 conv (torch's symmetric
    padding becomes an explicit PAD before it): the two ops no prefix may end at."""
    import torch
    from torch import nn

    from hybridsplit.exporters.config import TFLiteConfig, TFLiteMode
    from hybridsplit.exporters.tflite import export

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1)).eval()
    out = tmp_path_factory.mktemp("fp16") / "fp16.tflite"
    return export(model, torch.rand(1, 3, 32, 32), TFLiteConfig(TFLiteMode.fp16), out).path


def test_profile_of_fp16_weights_and_a_padded_conv(fp16_strided, tmp_path):
    """A prefix ending at a DEQUANTIZE of constants made XNNPACK fail ('failed to setup XNNPACK runtime'),
    and one ending at a PAD timed a copy the whole model never makes (the conv after it came out negative)."""
    from ai_edge_litert.interpreter import Interpreter

    from hybridsplit.bench.opprofile import profile_tflite
    from hybridsplit.bench.targets import BenchConfig, make_target

    ops = TFLiteGraph(fp16_strided).ops
    kinds = [o.op for o in ops]
    assert "DEQUANTIZE" in kinds and "PAD" in kinds  # the file has both cases
    deq = next(o for o in ops if o.op == "DEQUANTIZE")
    with pytest.raises(RuntimeError, match="XNNPACK"):  # the failure a plain prefix at it meets
        it = Interpreter(str(TFLiteGraph(fp16_strided).write_prefix(deq.index, tmp_path / "deq.tflite")))
        it.allocate_tensors()
        it.invoke()
    doc = profile_tflite(fp16_strided, make_target("local"), BenchConfig(runs=100, warmup=10, threads=1))
    rows = {o["name"]: o for o in doc["ops"]}
    pad = next(o for o in ops if o.op == "PAD")
    conv = next(o for o in ops[pad.index:] if o.op == "CONV_2D")
    for o in ops:
        r = rows[o.name]
        if o.op == "DEQUANTIZE":
            assert r["latency_method"].startswith("constant input") and r["latency_us_median"] == 0.0
            assert r["timed_with"] == "load"
        elif o.op == "PAD":
            assert r["latency_method"] == f"timed with {conv.name} (fused into it)" and r["latency_us_median"] == 0.0
            assert r["timed_with"] == conv.name
        else:
            assert r["latency_us_median"] > -1.0, (o.name, r)  # none clearly negative (a 1 µs op may read ~0)
    assert rows[conv.name]["latency_method"].endswith(f"(includes {pad.name})")
    assert rows[conv.name]["latency_us_median"] > 0  # it came out at -8.7 µs with a prefix ending at the PAD
    assert doc["check"]["within_15pct"], doc["check"]
