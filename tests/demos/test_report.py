"""hybridsplit report: a self-contained report.html with whichever results exist, checked in Chromium."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hybridsplit.report import make_report

from .conftest import browse
from result_docs import bench_doc, export_doc, privacy_doc, sweep_doc


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
    (bundle_copy / "export_report.json").write_text(json.dumps(export_doc()))
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
    assert "coreml_fp16" in html and "no macOS" in html and "2.829" in html  # export_report.json rows, ratios
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
    assert "σ=0.5" not in sec.body and "0.6" in sec.body           # curve points tabulated


@pytest.mark.parametrize(("name", "doc", "why"), [
    ("bench.json", {**bench_doc(), "schema": 99}, "bench.json has schema 99; this hybridsplit reads bench schema <= 1"),
    ("bench.json", {**bench_doc(), "layers": [{"kind": "CONV"}]}, "bench.json: field 'layers.0.name': Field required"),
    ("privacy.json", {**privacy_doc(), "kind": "sweep"}, "privacy.json is a 'sweep' result, not 'privacy'"),
    ("export_report.json", [1, 2], "export_report.json: expected a JSON object, got list"),
])
def test_report_names_what_is_wrong_with_a_result(bundle_copy, name, doc, why):
    (bundle_copy / name).write_text(json.dumps(doc))
    page = html.unescape(make_report(bundle_copy).html())
    assert why in page


def test_report_survives_unreadable_results(bundle_copy):
    (bundle_copy / "bench.json").write_text("{not json")
    (bundle_copy / "sweep.json").write_text(json.dumps({"unexpected": "shape"}))
    rep = make_report(bundle_copy)
    html = rep.html()
    assert "bench.json is not valid JSON" in html
    assert "sweep" in rep.section_ids
    assert "sweep.json: field &#x27;created&#x27;: Field required" in html


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


def _runtimes_doc() -> dict:
    """A hand-written result of benchmarks/int8_mobile.py: two models, 1 and 2 threads."""
    def half(scale: float, ratios: tuple[float, float], met: tuple[bool, bool, bool]) -> dict:
        runtimes = {"tflite_fp32": 1000.0, "tflite_int8": 550.0, "onnxruntime_fp32": 800.0,
                    "onnxruntime_int8_qdq": 700.0, "executorch_xnnpack_fp32": 900.0}
        times = {f"{k}/{kind}": {"median_us": v * scale * (1.1 if kind == "e2e" else 1)}
                 for k, v in runtimes.items() for kind in ("invoke", "e2e")}
        return {"times": times,
                "ratios": {"int8_over_fp32": ratios[0], "int8_over_fastest_invoke": ratios[1],
                           "fastest_invoke": "tflite_int8",
                           "goals_met": {"int8_le_0.6x_fp32": met[0], "int8_le_1.2x_fastest": met[1],
                                         "per_op_within_15pct": met[2]}},
                "mac_rates": {k: {"mac_per_s": 1e9, "share_of_fp32_peak": 0.0371} for k in times}}

    return {"created": "2025-01-01T00:00:00Z", "host": {"cpu_count": 2}, "models": {
        "mobilenet_v3_small": {"threads": {"1": half(1, (0.537, 1.183), (True, True, False)),
                                           "2": half(0.6, (0.612, 1.291), (False, False, False))}},
        "resnet18": {"threads": {"1": half(3, (0.448, 0.871), (True, True, True))},
                     "executorch_skipped": {"1": "no executorch here"}}}}


def test_report_runtimes_section(bundle_copy, tmp_path):
    path = tmp_path / "rt.json"
    path.write_text(json.dumps(_runtimes_doc()))
    rep = make_report(bundle_copy, runtimes=path)
    assert rep.section_ids[-1] == "runtimes" and len(rep.missing) == 3  # a benchmark's result, never "missing"
    sec = rep.sections[-1]
    assert [c.split(",")[1].strip() for c, _ in sec.images] == ["1 thread(s) (lower is faster)",
                                                                 "2 thread(s) (lower is faster)"]
    assert all(uri.startswith("data:image/png;base64,") and len(uri) > 2000 for _, uri in sec.images)
    page = rep.html()
    assert page.count('data-plot="runtimes"') == 2
    for ratio in ("0.537", "1.183", "0.612", "1.291", "0.448", "0.871", "0.0371"):
        assert f">{ratio}<" in page, ratio
    assert "onnxruntime_int8_qdq" in page and "int8 ≤ 0.6× fp32" in html.unescape(page)
    assert "ExecuTorch not timed for resnet18 at 1 thread(s): no executorch here" in page


def test_report_runtimes_found_beside_the_bundle_or_unreadable(bundle_copy):
    (bundle_copy / "int8_mobile.json").write_text(json.dumps(_runtimes_doc()))
    assert make_report(bundle_copy).section_ids[-1] == "runtimes"
    (bundle_copy / "int8_mobile.json").write_text(json.dumps({"models": {"m": {"nothreads": 1}}}))
    sec = make_report(bundle_copy).sections[-1]
    assert sec.id == "runtimes" and not sec.images and "is not a runtimes result (KeyError" in sec.body
