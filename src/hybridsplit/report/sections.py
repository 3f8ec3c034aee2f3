"""One function per report section; each returns a Section, or None when its results do not exist."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path

from hybridsplit.bench.pareto import pareto_front
from hybridsplit.bundle.manifest import Manifest
from hybridsplit.report import plots, speed
from hybridsplit.report.tables import (
    find_records,
    fmt,
    html_table,
    is_num,
    kv_table,
    label_of,
    numeric_columns,
    pick,
    pretty_json,
)

RESULT_FILES = {"bench": "bench.json", "privacy": "privacy.json", "sweep": "sweep.json", "export": "export_report.json"}


@dataclass
class Section:
    id: str
    title: str
    body: str
    images: list[tuple[str, str]] = field(default_factory=list)
    """(caption, data URI) pairs, shown above the body."""
    source: str = ""


def load_json(path: Path) -> tuple[object | None, str | None]:
    """(document, None) or (None, why it could not be read)."""
    try:
        return json.loads(path.read_text()), None
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"cannot read {path.name}: {exc}"
    except json.JSONDecodeError as exc:
        return None, f"{path.name} is not valid JSON ({exc.msg}, line {exc.lineno})"


def _warn(text: str) -> str:
    return f'<p class="warn">{html.escape(text)}</p>'


def png_files(bundle_dir: Path, words: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in bundle_dir.glob("*.png") if any(w in p.stem.lower() for w in words))


def _embed(paths: list[Path]) -> list[tuple[str, str]]:
    return [(f"{p.name} (written by the stage that made it)", plots.png_file_uri(p.read_bytes())) for p in paths]


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
    acc_rows = [{"model": k, "test accuracy": v} for k, v in m.accuracy.items()]
    body = (kv_table(facts)
            + "<h3>Primary accuracy on the test split</h3>" + html_table(acc_rows)
            + "<h3>Files</h3>" + html_table([{"file": n, "bytes": e.bytes, "sha256": e.sha256[:16] + "…"}
                                             for n, e in m.files.items()])
            + "<h3>Versions</h3>" + kv_table(m.versions))
    return Section("manifest", "Manifest summary", body, source="manifest.json")


def export_section(m: Manifest, bundle_dir: Path) -> Section:
    rows = []
    for key, a in m.artifacts.items():
        p = m.parity.get(key)
        entry = m.files.get(a.file)
        rows.append({"artifact": key, "file": a.file, "role": a.role, "format": a.format, "mode": a.mode,
                     "converter": a.converter, "I/O": f"{a.input_dtype} → {a.output_dtype}",
                     "bytes": entry.bytes if entry else None, "accuracy": m.accuracy.get(key),
                     "max |Δ| vs torch": p.max_abs if p else None, "rel": p.rel if p else None})
    body = html_table(rows)
    source = "manifest.json"
    path = bundle_dir / RESULT_FILES["export"]
    if path.is_file():
        doc, err = load_json(path)
        source += f", {path.name}"
        if err:
            body += _warn(err)
        else:
            recs = find_records(doc)
            body += f"<h3>{html.escape(path.name)}</h3>"
            body += html_table(recs, max_cols=14) if recs else ""
            if isinstance(doc, dict):
                scalars = {k: v for k, v in doc.items() if not isinstance(v, dict | list)}
                if scalars:
                    body += kv_table(scalars)
                for key, val in doc.items():
                    if key == speed.KEY:
                        body += speed.speed_quant_html(doc)
                    elif isinstance(val, dict) and val and all(isinstance(v, dict) for v in val.values()):
                        body += f"<h3>{html.escape(key)}</h3>" + html_table([{"name": k, **v} for k, v in val.items()])
                if not recs:
                    body += f"<pre>{pretty_json(doc)}</pre>"
    return Section("exports", "Exports", body, source=source)


# ---- bench.json: per-layer latency ------------------------------------------------------------

def _us_factor(col: str) -> float:
    c = col.lower()
    return 1000.0 if ("ms" in c.split("_") or c.endswith("_ms") or "_ms_" in c) else 1.0


def bench_section(bundle_dir: Path) -> Section | None:
    path = bundle_dir / RESULT_FILES["bench"]
    pngs = png_files(bundle_dir, ("bench", "latency", "layer"))
    if not path.is_file() and not pngs:
        return None
    images, body = [], ""
    if path.is_file():
        doc, err = load_json(path)
        if err:
            return Section("bench", "Per-layer latency", _warn(err), _embed(pngs), path.name)
        layers = doc.get("layers") if isinstance(doc, dict) else None
        layers = layers if isinstance(layers, list) and layers and all(isinstance(r, dict) for r in layers) else find_records(doc)
        target = doc.get("target", {}) if isinstance(doc, dict) else {}
        target_name = target.get("spec") if isinstance(target, dict) else str(target)
        if layers:
            cols = numeric_columns(layers)
            med = pick(cols, [r"^latency_us_median$", r"median_us", r"latency.*median", r"median", r"latency", r"_ms$", r"_us$"],
                       exclude=[r"cumulative", r"p90", r"p95", r"p99"])
            p90 = pick(cols, [r"^latency_us_p90$", r"latency.*p90", r"p90"], exclude=[r"cumulative"])
            if med:
                k = _us_factor(med)
                names = [label_of(r) or f"layer {j}" for j, r in enumerate(layers)]
                medians = [float(r.get(med) or 0) * k for r in layers]
                p90s = [float(r[p90]) * k if p90 and is_num(r.get(p90)) else None for r in layers]
                images.append((f"per-layer latency of the device half on {target_name or 'the target'} ({med})",
                               plots.layer_bars(names, medians, p90s, f"device half per layer — {target_name or ''}")))
            show = [c for c in ("name", "kind", "output_shape", "output_bytes_int8", "macs", "params",
                                "latency_us_median", "latency_us_p90", "cumulative_us_median", "latency_method",
                                "energy_uj") if any(c in r for r in layers)]
            body += html_table(layers, show or None)
        if isinstance(doc, dict):
            facts = {"target": target_name, "method": doc.get("method")}
            dev = doc.get("device_half")
            if isinstance(dev, dict):
                lat = dev.get("latency_us")
                if isinstance(lat, dict):
                    facts.update({f"device half latency {k} (µs)": v for k, v in lat.items() if is_num(v)})
                facts["device half file bytes"] = dev.get("file_bytes")
            check = doc.get("check")
            if isinstance(check, dict):
                facts.update({f"check: {k}": v for k, v in check.items()})
            body += kv_table({k: v for k, v in facts.items() if v is not None})
            nets = doc.get("networks")
            if isinstance(nets, dict) and nets:
                body += "<h3>End-to-end estimates per network</h3>" + html_table(
                    [{"network": n, **v} for n, v in nets.items() if isinstance(v, dict)], max_cols=10)
    return Section("bench", "Per-layer latency", body, images + _embed(pngs),
                   ", ".join([path.name] * path.is_file() + [p.name for p in pngs]))


# ---- privacy.json: privacy–utility curve ---------------------------------------------------

UTILITY = [r"primary.*acc", r"utility", r"task.*acc", r"^accuracy$", r"acc"]
PRIVACY = [r"sensitive.*acc", r"attack.*acc", r"adversar", r"reid", r"re_id", r"rank", r"leak", r"privacy", r"sensitive"]


def privacy_summary(doc: dict) -> list[dict]:
    """One row per model of a hybridsplit privacy.json (schema 1): utility, attacks, rank, reconstruction."""
    prim = doc.get("primary_accuracy")
    sens = doc.get("sensitive") if isinstance(doc.get("sensitive"), dict) else {}
    if not isinstance(prim, dict):
        return []
    models = doc.get("models") if isinstance(doc.get("models"), dict) else {}
    best = sens.get("best") if isinstance(sens.get("best"), dict) else {}
    rank = doc.get("rank") if isinstance(doc.get("rank"), dict) else {}
    recon = doc.get("reconstruction") if isinstance(doc.get("reconstruction"), dict) else {}
    met = (doc.get("goal") or {}).get("met", {}) if isinstance(doc.get("goal"), dict) else {}
    rows = []
    for name, acc in prim.items():
        m = models.get(name, {}) if isinstance(models.get(name), dict) else {}
        b = best.get(name, {}) if isinstance(best.get(name), dict) else {}
        r = rank.get(name, {}) if isinstance(rank.get(name), dict) else {}
        rc = recon.get(name, {}) if isinstance(recon.get(name), dict) else {}
        rows.append({
            "model": name, "defences": ", ".join(m.get("defences") or []) or "none", "noise σ": m.get("noise"),
            "PCA dims": m.get("pca_dims"), "bytes sent": m.get("bytes_per_inference"),
            "primary accuracy": acc, "best attack": b.get("attack"), "attacker accuracy": b.get("accuracy"),
            "re-identified (rank top-1)": r.get("top1"), "reconstruction NMSE": rc.get("nmse"),
            "goal met": met.get(name) if name in met else None,
        })
    return rows


def privacy_section(bundle_dir: Path) -> Section | None:
    path = bundle_dir / RESULT_FILES["privacy"]
    pngs = png_files(bundle_dir, ("privacy", "utility"))
    if not path.is_file() and not pngs:
        return None
    images, body = [], ""
    if path.is_file():
        doc, err = load_json(path)
        if err:
            return Section("privacy", "Privacy–utility", _warn(err), _embed(pngs), path.name)
        summary = privacy_summary(doc) if isinstance(doc, dict) else []
        if summary:
            sens = doc.get("sensitive", {})
            body += html_table(summary)
            facts = {"features from": doc.get("artifact"), "protocol": doc.get("protocol"),
                     "sensitive attribute": doc.get("sensitive_attribute"), "chance": sens.get("chance"),
                     "majority class": sens.get("majority"),
                     "raw-input attacker": (sens.get("raw_input_reference") or {}).get("accuracy")}
            body += kv_table({k: v for k, v in facts.items() if v is not None})
        rows = find_records(doc.get("curve") if isinstance(doc, dict) and "curve" in doc else doc)
        if rows and not pngs:  # the privacy stage's own PNG shows the same curve with its goal lines
            flat = [_flat_num(r) for r in rows]
            cols = numeric_columns(flat)
            ycol = pick(cols, UTILITY, exclude=[r"sensitive", r"attack", r"adversar"])
            xcol = pick(cols, PRIVACY, exclude=[r"primary"])
            if xcol and ycol and len(flat) >= 2:
                groups: dict[str, tuple[list, list]] = {}
                notes: dict[str, list] = {}
                for r, fr in zip(rows, flat, strict=True):
                    if is_num(fr.get(xcol)) and is_num(fr.get(ycol)):
                        g = str(r.get("model") or r.get("defence") or r.get("method") or "points")
                        groups.setdefault(g, ([], []))
                        groups[g][0].append(fr[xcol])
                        groups[g][1].append(fr[ycol])
                        notes.setdefault(g, []).append(_short_label(r))
                if groups:
                    images.append((f"privacy–utility: {ycol} against {xcol}",
                                   plots.xy_curve(groups, xcol, ycol, "privacy–utility trade-off", notes)))
        if rows:
            body += "<h3>Curve points</h3>" + html_table(rows, max_cols=12)
        if not summary and not rows:
            body += f"<pre>{pretty_json(doc)}</pre>"
    return Section("privacy", "Privacy–utility", body, _embed(pngs) + images,
                   ", ".join([path.name] * path.is_file() + [p.name for p in pngs]))


def _flat_num(row: dict) -> dict:
    from hybridsplit.report.tables import flatten

    return {k: v for k, v in flatten(row).items() if is_num(v)}


def _short_label(row: dict) -> str:
    for k in ("noise", "std", "pca_dims", "weight", "dims", "cut", "name", "label"):
        if k in row and not isinstance(row[k], dict | list):
            return f"{k}={fmt(row[k])}"
    return label_of(row)


# ---- sweep.json: Pareto front ------------------------------------------------------------------

COST = [r"end_to_end", r"latency", r"_ms$", r"bytes", r"_us$", r"energy", r"cost"]


def sweep_section(bundle_dir: Path, sweep_path: Path | None = None) -> Section | None:
    path = Path(sweep_path) if sweep_path else bundle_dir / RESULT_FILES["sweep"]
    pngs = png_files(bundle_dir, ("pareto", "sweep"))
    if sweep_path and path.parent != bundle_dir:
        pngs += png_files(path.parent, ("pareto", "sweep"))
    if not path.is_file() and not pngs:
        return None
    images, body = [], ""
    if path.is_file():
        doc, err = load_json(path)
        if err:
            return Section("sweep", "Sweep and Pareto front", _warn(err), _embed(pngs), path.name)
        rows = find_records(doc)
        if rows:
            flat = [_flat_num(r) for r in rows]
            cols = numeric_columns(flat)
            ycol = pick(cols, UTILITY, exclude=[r"sensitive", r"attack", r"adversar", r"fp32"])
            xcol = pick(cols, COST, exclude=[r"p90", r"p95", r"p99"])
            flagged = [j for j, r in enumerate(rows) if r.get("pareto") is True]
            front: list[int] = []
            if xcol and ycol:
                idx = [j for j, fr in enumerate(flat) if is_num(fr.get(xcol)) and is_num(fr.get(ycol))]
                xs = [flat[j][xcol] for j in idx]
                ys = [flat[j][ycol] for j in idx]
                front = [idx[k] for k in pareto_front(xs, ys)]
                if idx:
                    images.append((f"Pareto front of {ycol} (higher is better) against {xcol} (lower is better)",
                                   plots.pareto_plot(xs, ys, [label_of(rows[j]) for j in idx],
                                                     [idx.index(j) for j in front], xcol, ycol, "sweep over cut points")))
            marks = flagged or front
            body += html_table(rows, max_cols=14, highlight=marks)
            if marks:
                body += ('<p class="note">Highlighted rows are Pareto-optimal '
                         + ("(the sweep's own multi-objective front)" if flagged else f"({ycol} against {xcol})") + ".</p>")
        if isinstance(doc, dict):
            scalars = {k: v for k, v in doc.items() if not isinstance(v, list) and k not in ("config", "paths")}
            if scalars:
                body += kv_table(scalars)
    return Section("sweep", "Sweep and Pareto front", body, images + _embed(pngs),
                   ", ".join([str(path)] * path.is_file() + [p.name for p in pngs]))


def other_images_section(bundle_dir: Path, used: set[str]) -> Section | None:
    rest = [p for p in sorted(bundle_dir.glob("*.png")) if p.name not in used]
    if not rest:
        return None
    return Section("other", "Other plots", "", _embed(rest), ", ".join(p.name for p in rest))
