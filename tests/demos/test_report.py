"""hybridsplit report: a self-contained report.html with whichever results exist, checked in Chromium."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hybridsplit.report import make_report

from .conftest import browse


def _png(path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0.1, 0.3, 0.6], [0.99, 0.95, 0.8], "o-")
    ax.set_title(title)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def bench_doc() -> dict:
    """A bench.json as `hybridsplit bench` writes it (bench/harness.py, schema 1), abridged."""
    layers = []
    cum = 0.0
    for name, macs, lat in (("block1", 38400, 21.0), ("block2", 614400, 48.5), ("block3", 393216, 30.2)):
        cum += lat
        layers.append({"name": name, "kind": "Conv1d+BatchNorm1d+ReLU+MaxPool1d", "output_shape": [1, 64, 12],
                       "output_bytes_fp32": 3072, "output_bytes_int8": 768, "macs": macs, "params": 6000,
                       "weight_bytes_int8": 6000, "weight_bytes_fp32": 24000, "latency_us_median": lat,
                       "latency_us_p90": lat * 1.2, "latency_method": "paired difference",
                       "cumulative_us_median": cum, "energy_uj": 1.5})
    return {"schema": 1, "cut": "block3", "backbone": "imu_cnn",
            "target": {"spec": "local", "kind": "local", "host": "x86_64"},
            "method": "prefix: one int8 prefix model per stage", "layers": layers,
            "check": {"sum_of_layer_medians_us": cum, "whole_median_us": cum * 1.05, "ratio": 0.95, "within_15pct": True},
            "device_half": {"file": "device.tflite", "file_bytes": 35224, "latency_us": {"median": cum * 1.05, "p90": cum * 1.3}},
            "networks": {"wifi": {"total_ms": 12.5, "uplink_ms": 0.3}, "lte": {"total_ms": 48.0, "uplink_ms": 2.1}}}


def privacy_doc() -> dict:
    """A privacy.json as `hybridsplit privacy` writes it (privacy/evaluate.py, schema 1), abridged."""
    curve = [{"model": "defended", "noise": s, "pca_dims": 8, "primary_accuracy": 0.98 - 0.05 * s,
              "best_attack": "logreg", "best_attack_accuracy": 0.6 - 0.2 * s} for s in (0.0, 0.5, 1.0, 2.0)]
    return {"schema_version": 1, "artifact": "tflite_int8", "protocol": "time", "sensitive_attribute": "subject",
            "models": {"undefended": {"defences": [], "noise": 0.0, "pca_dims": None, "bytes_per_inference": 768},
                       "defended": {"defences": ["siamese", "pca", "noise"], "noise": 0.5, "pca_dims": 8,
                                    "bytes_per_inference": 8}},
            "primary_accuracy": {"undefended": 0.987, "defended": 0.962},
            "sensitive": {"chance": 0.1, "majority": 0.12, "classes": 10,
                          "attacks": {"logreg": {"undefended": 0.71, "defended": 0.19}},
                          "best": {"undefended": {"attack": "logreg", "accuracy": 0.71},
                                   "defended": {"attack": "logreg", "accuracy": 0.19}},
                          "raw_input_reference": {"attack": "random_forest", "accuracy": 0.8}},
            "rank": {"undefended": {"top1": 0.4, "mean_rank_over_n": 0.1}, "defended": {"top1": 0.05, "mean_rank_over_n": 0.4}},
            "reconstruction": {"undefended": {"nmse": 0.3}, "defended": {"nmse": 0.9}},
            "goal": {"sensitive_max": 0.2, "primary_min": 0.967, "met": {"defended": False}},
            "curve": curve}


def sweep_doc() -> dict:
    """A sweep.json as `hybridsplit sweep` writes it (bench/sweep.py, schema 1), abridged."""
    rows = [{"cut": c, "bytes": b, "end_to_end_ms": e, "device_ms": d, "accuracy": a, "attacker_acc": None,
             "energy_mj": 0.1 * i, "pareto": p, "feasible": True}
            for i, (c, b, e, d, a, p) in enumerate((("block1", 6400, 9.0, 0.05, 0.985, True),
                                                    ("block2", 3072, 9.5, 0.12, 0.989, True),
                                                    ("block3", 768, 12.0, 0.2, 0.987, False)))]
    return {"schema": 1, "target": {"spec": "local"}, "cuts": rows,
            "recommendation": {"cut": "block2", "reason": "best int8 accuracy"}}


@pytest.fixture()
def bundle_copy(default_bundle, tmp_path) -> Path:
    out = tmp_path / "bundle"
    shutil.copytree(default_bundle, out, ignore=shutil.ignore_patterns("*.png", "*.json", "report.html"))
    shutil.copy(default_bundle / "manifest.json", out / "manifest.json")
    return out


@pytest.fixture()
def full_results(bundle_copy, tmp_path) -> tuple[Path, Path]:
    (bundle_copy / "bench.json").write_text(json.dumps(bench_doc()))
    (bundle_copy / "privacy.json").write_text(json.dumps(privacy_doc()))
    _png(bundle_copy / "privacy_curve.png", "privacy curve (stage PNG)")
    (bundle_copy / "export_report.json").write_text(json.dumps(
        {"rows": [{"artifact": "tflite_int8", "mode": "int8", "max_abs": 0.19, "ok": True},
                  {"artifact": "coreml_fp16", "mode": "fp16", "max_abs": None, "ok": True}], "gate": "passed"}))
    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    (sweep_dir / "sweep.json").write_text(json.dumps(sweep_doc()))
    _png(sweep_dir / "pareto.png", "pareto (stage PNG)")
    return bundle_copy, sweep_dir / "sweep.json"


def test_report_with_the_manifest_alone(bundle_copy):
    rep = make_report(bundle_copy)
    assert rep.section_ids == ["manifest", "exports"]
    assert len(rep.missing) == 3 and rep.plot_count == 0
    html = rep.html()
    assert "imu_cnn" in html and "block3" in html and "768 bytes per inference" in html
    assert "tflite_int8" in html and "Not in this report" in html


def test_report_with_every_result(full_results):
    bundle, sweep = full_results
    rep = make_report(bundle, sweep)
    assert rep.section_ids == ["manifest", "exports", "bench", "privacy", "sweep"]
    assert rep.missing == []
    by_id = {s.id: s for s in rep.sections}
    assert len(by_id["bench"].images) == 1                       # per-layer bars rendered from bench.json
    assert [c.split()[0] for c, _ in by_id["privacy"].images] == ["privacy_curve.png"]  # the stage's own curve
    assert len(by_id["sweep"].images) == 2                        # our 2-D front + the sweep's pareto.png
    html = rep.html()
    assert "coreml_fp16" in html                                  # export_report.json rows
    assert "re-identified (rank top-1)" in html and "0.962" in html
    assert html.count('class="hl"') == 2                          # the sweep's own Pareto flags
    # self-contained: no scripts, no external resources, images inline
    assert "<script" not in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert html.count('src="data:image/png;base64,') == rep.plot_count == 4


def test_report_renders_privacy_curve_without_a_stage_png(bundle_copy):
    (bundle_copy / "privacy.json").write_text(json.dumps(privacy_doc()))
    rep = make_report(bundle_copy)
    sec = next(s for s in rep.sections if s.id == "privacy")
    assert len(sec.images) == 1 and "best_attack_accuracy" in sec.images[0][0]


def test_report_survives_unreadable_results(bundle_copy):
    (bundle_copy / "bench.json").write_text("{not json")
    (bundle_copy / "sweep.json").write_text(json.dumps({"unexpected": "shape"}))
    rep = make_report(bundle_copy)
    html = rep.html()
    assert "bench.json is not valid JSON" in html
    assert "sweep" in rep.section_ids


def test_report_command(full_results):
    from hybridsplit.cli import app

    bundle, sweep = full_results
    r = CliRunner().invoke(app, ["report", "--bundle", str(bundle), "--sweep", str(sweep)])
    assert r.exit_code == 0, r.output
    assert (bundle / "report.html").is_file() and "4 plot(s)" in r.output


def test_report_command_needs_a_bundle(tmp_path):
    from hybridsplit.cli import app

    r = CliRunner().invoke(app, ["report", "--bundle", str(tmp_path / "missing")])
    assert r.exit_code == 2
    assert "No manifest.json" in r.output and "Traceback" not in r.output


@pytest.mark.slow
def test_report_opens_in_chromium_with_every_plot_drawn(full_results, tmp_path):
    """report.html in headless Chromium: no console errors, every <img> decoded, each plot visibly
    drawn in a full-page screenshot (pixels inside its box are not blank)."""
    import matplotlib.image as mpimg

    bundle, sweep = full_results
    path = make_report(bundle, sweep).save()
    shot = tmp_path / "report.png"
    out = browse({"mode": "page", "url": path.resolve().as_uri(), "screenshot": str(shot)})
    assert [c for c in out["console"] if c["type"] in ("error", "warning")] == []
    assert out["pageErrors"] == [] and out["failedRequests"] == []
    assert out["sections"][:5] == ["manifest", "exports", "bench", "privacy", "sweep"]
    imgs = out["images"]
    assert len(imgs) == 4
    assert sorted({i["plot"] for i in imgs}) == ["bench", "privacy", "sweep"]
    for img in imgs:
        assert img["complete"] and img["naturalWidth"] > 0 and img["naturalHeight"] > 0, img["alt"]
    pixels = mpimg.imread(shot)[..., :3]
    for img in imgs:
        b = img["box"]
        crop = pixels[int(b["y"]): int(b["y"] + b["height"]), int(b["x"]): int(b["x"] + b["width"])]
        assert crop.size > 0, img["alt"]
        ink = (crop.mean(axis=2) < 0.9).mean()
        assert 0.01 < ink < 0.9 and float(np.std(crop)) > 0.05, f"{img['alt']}: blank in the screenshot"
