"""One function per report section; each returns a Section, or None when its results do not exist.

Every result is read through its typed model (hybridsplit.results), so columns are named, not
guessed; a result that cannot be read (not JSON, another schema) is one warning line in its section.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from hybridsplit.bench.pareto import pareto_front
from hybridsplit.bundle.manifest import Manifest
from hybridsplit.report import plots, speed
from hybridsplit.report.tables import html_table, kv_table
from hybridsplit.results import BenchResult, ExportReport, PrivacyResult, Result, ResultError, SweepResult

R = TypeVar("R", bound=Result)
RESULT_FILES = {"bench": BenchResult.FILE, "privacy": PrivacyResult.FILE, "sweep": SweepResult.FILE,
                "export": ExportReport.FILE}


@dataclass
class Section:
    id: str
    title: str
    body: str
    images: list[tuple[str, str]] = field(default_factory=list)
    """(caption, data URI) pairs, shown above the body."""
    source: str = ""


def load_result(cls: type[R], path: Path) -> tuple[R | None, str | None]:
    """(result, None) or (None, why it could not be read)."""
    try:
        return cls.load(path), None
    except ResultError as exc:
        return None, str(exc)


def _warn(text: str) -> str:
    return f'<p class="warn">{html.escape(text)}</p>'


def png_files(bundle_dir: Path, words: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in bundle_dir.glob("*.png") if any(w in p.stem.lower() for w in words))


def _embed(paths: list[Path]) -> list[tuple[str, str]]:
    return [(f"{p.name} (written by the stage that made it)", plots.png_file_uri(p.read_bytes())) for p in paths]


def _unreadable(sid: str, title: str, why: str, pngs: list[Path], path: Path) -> Section:
    """The section of a result that could not be read: the reason, and the stage's own plots if any."""
    return Section(sid, title, _warn(why), _embed(pngs), path.name)


def _sources(path: Path, pngs: list[Path], name: str | None = None) -> str:
    return ", ".join([name or path.name] * path.is_file() + [p.name for p in pngs])


# ---- manifest + exports (always present) ----------------------------------------------------

def manifest_section(m: Manifest, bundle_dir: Path) -> Section:
    f, i = m.feature, m.input
    facts = {
        "bundle": str(bundle_dir), "created": m.created, "toolkit": m.toolkit_version,
        "backbone": m.backbone, "cut": m.cut, "protocol": m.protocol, "dataset": m.dataset.get("dataset"),
        "input": f"{i.dtype} {i.shape} {i.layout}" + (f", int8 scale {i.quantization.scale:.4g} zero point "
                                                      f"{i.quantization.zero_point}" if i.quantization else ""),
        "channels": ", ".join(i.channels) or "–",
        "sample rate": f"{i.sample_rate_hz:g} Hz" if i.sample_rate_hz else "–",
        "features sent": f"{f.dtype} {f.shape}, {f.bytes_per_inference:,} bytes per inference "
                         f"(raw input {f.raw_input_bytes:,} bytes, {f.raw_input_bytes / f.bytes_per_inference:.2f}× smaller)",
        "PCA dims": f.pca_dims or "–", "feature noise std": f.noise,
        "labels (primary)": ", ".join(m.labels),
        "sensitive labels": f"{len(m.sensitive_labels)} classes" if m.sensitive_labels else "–",
    }
    acc_rows = [{"model": k, "test accuracy": v, "balanced accuracy": m.balanced_accuracy.get(k),
                 "lowest class recall": _lowest_recall(m, k)} for k, v in m.accuracy.items()]
    body = (kv_table(facts)
            + "<h3>Primary accuracy on the test split</h3>" + html_table(acc_rows)
            + "<h3>Files</h3>" + html_table([{"file": n, "bytes": e.bytes, "sha256": e.sha256[:16] + "…"}
                                             for n, e in m.files.items()])
            + "<h3>Versions</h3>" + kv_table(m.versions))
    return Section("manifest", "Manifest summary", body, source="manifest.json")


def _lowest_recall(m: Manifest, key: str) -> str | None:
    recall = [(r, name) for r, name in zip(m.class_recall.get(key, []), m.labels) if r is not None]
    return f"{min(recall)[0]:.4f} ({min(recall)[1]})" if recall else None


def export_section(m: Manifest, bundle_dir: Path) -> Section:
    rows = []
    for key, a in m.artifacts.items():
        p = m.parity.get(key)
        entry = m.files.get(a.file)
        rows.append({"artifact": key, "file": a.file, "role": a.role, "format": a.format, "mode": a.mode,
                     "converter": a.converter, "I/O": f"{a.input_dtype} → {a.output_dtype}",
                     "bytes": entry.bytes if entry else None, "accuracy": m.accuracy.get(key),
                     "balanced accuracy": m.balanced_accuracy.get(key),
                     "max |Δ| vs torch": p.max_abs if p else None, "rel": p.rel if p else None})
    body, source = html_table(rows), "manifest.json"
    path = bundle_dir / ExportReport.FILE
    if path.is_file():
        source += f", {path.name}"
        report, err = load_result(ExportReport, path)
        if err:
            body += _warn(err)
        else:
            cols = ["artifact", "format", "mode", "converter", "status", "file", "bytes", "layout", "max_abs", "rel",
                    "tolerance", "accuracy", "balanced_accuracy", "message"]
            body += f"<h3>{html.escape(path.name)}: every artifact tried</h3>"
            body += html_table([r.model_dump() for r in report.rows], cols)
            if report.size_ratios:
                body += "<h3>Size ratios</h3>" + html_table(
                    [{"name": k, **v.model_dump()} for k, v in report.size_ratios.items()])
            body += speed.speed_quant_html(report.to_dict())
    return Section("exports", "Exports", body, source=source)


# ---- bench.json: per-layer latency ------------------------------------------------------------

LAYER_COLUMNS = ["name", "kind", "output_shape", "output_bytes_int8", "macs", "params", "latency_us_median",
                 "latency_us_p90", "cumulative_us_median", "latency_method", "energy_uj"]


def bench_section(bundle_dir: Path) -> Section | None:
    path = bundle_dir / BenchResult.FILE
    pngs = png_files(bundle_dir, ("bench", "latency", "layer"))
    if not path.is_file() and not pngs:
        return None
    images, body = [], ""
    if path.is_file():
        doc, err = load_result(BenchResult, path)
        if err:
            return _unreadable("bench", "Per-layer latency", err, pngs, path)
        spec = doc.target.spec
        if doc.layers:
            medians = [r.latency_us_median or 0.0 for r in doc.layers]
            images.append((f"per-layer latency of the device half on {spec} (median µs, whisker to p90)",
                           plots.layer_bars([r.name for r in doc.layers], medians,
                                            [r.latency_us_p90 for r in doc.layers], f"device half per layer — {spec}")))
        body += html_table([r.model_dump() for r in doc.layers], LAYER_COLUMNS)
        lat, c = doc.device_half.latency_us, doc.check
        facts = {"target": spec, "method": doc.method, "device half latency median (µs)": lat.median,
                 "device half latency p90 (µs)": lat.p90, "device half file bytes": doc.device_half.file_bytes,
                 "sum of layer medians (µs)": c.sum_of_layer_medians_us, "sum / whole": c.ratio,
                 "within 15%": c.within_15pct, "cloud half median (ms, this host)": doc.cloud.half.median_ms}
        body += kv_table({k: v for k, v in facts.items() if v is not None})
        if doc.networks:
            body += "<h3>End-to-end estimates per network</h3>" + html_table(_network_rows(doc))
    return Section("bench", "Per-layer latency", body, images + _embed(pngs), _sources(path, pngs))


def _network_rows(doc: BenchResult) -> list[dict]:
    rows = []
    for name, e in doc.networks.items():
        radio = e.get("radio_energy", {})
        rows.append({"network": name, "split ms": e.get("split", {}).get("total_ms"),
                     "cloud-only ms": e.get("cloud_only", {}).get("total_ms"),
                     "device-only ms": e.get("device_only", {}).get("total_ms"),
                     "radio mJ split": radio.get("split", {}).get("total_mj"),
                     "radio mJ cloud-only": radio.get("cloud_only", {}).get("total_mj")})
    return rows


# ---- privacy.json: privacy–utility curve ---------------------------------------------------

def privacy_summary(doc: PrivacyResult) -> list[dict]:
    """One row per model: utility, best attack, rank, reconstruction, goal."""
    rows = []
    for name, acc in doc.primary_accuracy.items():
        m, b = doc.models.get(name), doc.sensitive.best.get(name)
        rows.append({
            "model": name, "defences": ", ".join(m.defences) if m and m.defences else "none",
            "noise σ": m.noise if m else None, "PCA dims": m.pca_dims if m else None,
            "bytes sent": m.bytes_per_inference if m else None, "primary accuracy": acc,
            "primary balanced accuracy": doc.primary_balanced_accuracy.get(name),
            "best attack": b.attack if b else None, "attacker accuracy": b.accuracy if b else None,
            "re-identified (rank top-1)": doc.rank.get(name, {}).get("top1"),
            "reconstruction NMSE": doc.reconstruction.get(name, {}).get("nmse"),
            "mean-input NMSE": (doc.reconstruction.get(name, {}).get("baseline") or {}).get("nmse"),
            "reconstruction SSIM": doc.reconstruction.get(name, {}).get("ssim"),
            "session attacker (k=20)": _session_best(doc, name, 20),
            "linkage AUC (sessions)": _linkage_auc(doc, name),
            "goal met": doc.goal.met.get(name),
        })
    return rows


def _session_best(doc: PrivacyResult, name: str, k: int) -> float | None:
    return next((p.best_accuracy for p in doc.session.get(name, []) if p.k == k), None)


def _linkage_auc(doc: PrivacyResult, name: str) -> float | None:
    return next((p.auc for p in doc.linkage.get(name, []) if p.k == 0), None)


def privacy_section(bundle_dir: Path) -> Section | None:
    path = bundle_dir / PrivacyResult.FILE
    pngs = png_files(bundle_dir, ("privacy", "utility"))
    if not path.is_file() and not pngs:
        return None
    images, body = [], ""
    if path.is_file():
        doc, err = load_result(PrivacyResult, path)
        if err:
            return _unreadable("privacy", "Privacy–utility", err, pngs, path)
        s = doc.sensitive
        body += "".join(_warn(f"warning: {w}") for w in doc.warnings)
        rows = privacy_summary(doc)
        cols = [c for c in rows[0] if any(r[c] is not None for r in rows)] if rows else None
        body += html_table(rows, cols)  # a column nothing filled (e.g. SSIM on windows) is left out
        facts = {"features from": doc.artifact, "protocol": doc.protocol, "sensitive attribute": doc.sensitive_attribute,
                 "chance": s.chance, "majority class": s.majority,
                 "raw-input attacker": (s.raw_input_reference or {}).get("accuracy"),
                 "goal: attacker at most": doc.goal.sensitive_max, "goal: primary at least": doc.goal.primary_min,
                 "goal: balanced primary at least": doc.goal.primary_balanced_min}
        body += kv_table({k: v for k, v in facts.items() if v is not None})
        curve = doc.curve or []
        if curve and not pngs:  # the privacy stage's own PNG shows the same curve with its goal lines
            groups: dict[str, tuple[list, list]] = {}
            notes: dict[str, list] = {}
            for p in curve:
                xs, ys = groups.setdefault(p.model, ([], []))
                xs.append(p.best_attack_accuracy)
                ys.append(p.primary_accuracy)
                notes.setdefault(p.model, []).append(f"σ={p.noise:g}")
            images.append(("privacy–utility: primary_accuracy against best_attack_accuracy (noise sweep)",
                           plots.xy_curve(groups, "best attacker accuracy (lower is more private)",
                                          "primary accuracy", "privacy–utility trade-off", notes)))
        if curve:
            body += "<h3>Curve points (run-time noise σ swept on each defended artifact)</h3>"
            body += html_table([p.model_dump() for p in curve])
    return Section("privacy", "Privacy–utility", body, _embed(pngs) + images, _sources(path, pngs))


# ---- sweep.json: Pareto front ------------------------------------------------------------------

SWEEP_COLUMNS = ["cut", "bytes", "device_ms", "cloud_ms", "end_to_end_ms", "energy_mj", "accuracy", "attacker_acc",
                 "pareto", "feasible"]


def sweep_section(bundle_dir: Path, sweep_path: Path | None = None) -> Section | None:
    path = Path(sweep_path) if sweep_path else bundle_dir / SweepResult.FILE
    pngs = png_files(bundle_dir, ("pareto", "sweep"))
    if sweep_path and path.parent != bundle_dir:
        pngs += png_files(path.parent, ("pareto", "sweep"))
    if not path.is_file() and not pngs:
        return None
    images, body = [], ""
    if path.is_file():
        doc, err = load_result(SweepResult, path)
        if err:
            return _unreadable("sweep", "Sweep and Pareto front", err, pngs, path)
        xs = [r.end_to_end_ms for r in doc.cuts]
        ys = [r.accuracy for r in doc.cuts]
        front = pareto_front(xs, ys)
        if doc.cuts:
            images.append(("Pareto front of int8 accuracy (higher is better) against end-to-end latency (lower is better)",
                           plots.pareto_plot(xs, ys, [r.cut for r in doc.cuts], front, "end-to-end latency (ms)",
                                             "int8 accuracy", "sweep over cut points")))
        flagged = [j for j, r in enumerate(doc.cuts) if r.pareto]
        body += html_table([r.model_dump() for r in doc.cuts], SWEEP_COLUMNS, highlight=flagged)
        if flagged:
            body += ('<p class="note">Highlighted rows are Pareto-optimal over every objective the sweep '
                     "minimises or maximises (the plot shows the two-objective front only).</p>")
        rec = doc.recommendation
        facts = {"target": doc.target.spec, "network": doc.network.get("name"), "objectives": doc.objectives,
                 "recommended cut": rec.cut or "none meets the constraints", "why": rec.reason,
                 "skipped cuts": "; ".join(f"{s.cut}: {s.reason}" for s in doc.skipped) or None}
        body += kv_table({k: v for k, v in facts.items() if v is not None})
    return Section("sweep", "Sweep and Pareto front", body, images + _embed(pngs),
                   _sources(path, pngs, str(path)))


def other_images_section(bundle_dir: Path, used: set[str]) -> Section | None:
    rest = [p for p in sorted(bundle_dir.glob("*.png")) if p.name not in used]
    if not rest:
        return None
    return Section("other", "Other plots", "", _embed(rest), ", ".join(p.name for p in rest))
