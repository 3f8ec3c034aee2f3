"""report.html: the runtime comparison of benchmarks/int8_mobile.py (real-size device halves).

Read from the benchmark's JSON (given with `hybridsplit report --runtimes FILE`, or int8_mobile.json
beside the bundle): grouped bars of each runtime's /invoke median per model, one plot per thread
count, and a table of the issue's goal ratios (int8 / fp32, int8 / fastest, per-op sums).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from hybridsplit.report import plots
from hybridsplit.report.sections import Section
from hybridsplit.report.tables import html_table

FILE = "int8_mobile.json"
TITLE = "Runtimes on real-size device halves"


def _invoke_medians(times: dict) -> dict[str, float]:
    return {k.removesuffix("/invoke"): v["median_us"] for k, v in times.items() if k.endswith("/invoke")}


def _bars(models: dict, threads: str) -> str | None:
    names = [m for m, d in models.items() if threads in d.get("threads", {})]
    per_model = {m: _invoke_medians(models[m]["threads"][threads]["times"]) for m in names}
    runtimes: list[str] = []
    for med in per_model.values():
        runtimes += [r for r in med if r not in runtimes]
    if not runtimes:
        return None
    series = {r: [per_model[m].get(r) for m in names] for r in runtimes}
    return plots.grouped_bars(names, series, "invoke median (µs)", f"/invoke per runtime, {threads} thread(s)")


def _goal_rows(models: dict) -> list[dict]:
    rows = []
    for name, d in models.items():
        for n, t in d.get("threads", {}).items():
            r, met = t.get("ratios", {}), t.get("ratios", {}).get("goals_met", {})
            rows.append({"model": name, "threads": n, "int8 / fp32 (TFLite)": r.get("int8_over_fp32"),
                         "int8 / fastest": r.get("int8_over_fastest_invoke"), "fastest": r.get("fastest_invoke"),
                         "int8 ≤ 0.6× fp32": met.get("int8_le_0.6x_fp32"),
                         "int8 ≤ 1.2× fastest": met.get("int8_le_1.2x_fastest"),
                         "per-op sums within 15 %": met.get("per_op_within_15pct")})
    return rows


def _share_rows(models: dict) -> list[dict]:
    rows = []
    for name, d in models.items():
        for n, t in d.get("threads", {}).items():
            rates = t.get("mac_rates") or {}
            row = {"model": name, "threads": n}
            row.update({k.removesuffix("/invoke"): v["share_of_fp32_peak"] for k, v in rates.items()
                        if k.endswith("/invoke")})
            if len(row) > 2:
                rows.append(row)
    return rows


def runtimes_section(bundle_dir: Path, path: Path | None = None) -> Section | None:
    path = Path(path) if path else bundle_dir / FILE
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
        models = doc["models"]
        threads = sorted({n for d in models.values() for n in d["threads"]}, key=int)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        why = f"{path.name} is not a runtimes result ({type(exc).__name__}: {exc})"
        return Section("runtimes", TITLE, f'<p class="warn">{html.escape(why)}</p>', source=str(path))
    images = []
    for n in threads:
        uri = _bars(models, n)
        if uri:
            images.append((f"/invoke median per runtime and model, {n} thread(s) (lower is faster)", uri))
    body = "<h3>Goal ratios (/invoke medians)</h3>" + html_table(_goal_rows(models), max_cols=16)
    shares = _share_rows(models)
    if shares:
        body += "<h3>MACs per second of each /invoke, as a share of this CPU's measured fp32 peak</h3>"
        body += html_table(shares, max_cols=16)
    facts = [f"created {doc.get('created', '?')}", f"host {doc.get('host', {})}"]
    for m, d in models.items():
        for n, why in (d.get("executorch_skipped") or {}).items():  # {threads: reason or None}
            if why:
                facts.append(f"ExecuTorch not timed for {m} at {n} thread(s): {why}")
    body += "".join(f'<p class="note">{html.escape(f)}</p>' for f in facts)
    return Section("runtimes", TITLE, body, images, str(path))
