"""report.html: the speed / quantisation check of export_report.json (exporters/speedcheck.py)."""

from __future__ import annotations

import html

from hybridsplit.report.tables import html_table

KEY = "speed_quant"


def speed_quant_html(doc: dict) -> str:
    """Findings (what makes an int8 model slow, with what to try) and int8-vs-fp32 timings, as HTML."""
    speed = doc.get(KEY) if isinstance(doc, dict) else None
    if not speed:
        return ""
    rows = []
    for art, a in speed.get("artifacts", {}).items():
        base = {"artifact": art, "ops": a["ops"], "XNNPACK partitions": a["delegate_partitions"],
                "Q/DQ islands": a["qdq_islands"]}
        if not a["findings"]:
            rows.append({**base, "finding": "none: every op in XNNPACK", "where": "", "elements": None,
                         "cost µs": None, "what to try": ""})
        for f in a["findings"]:
            ops = ", ".join(f["ops"][:6]) + (" …" if len(f["ops"]) > 6 else "")
            rows.append({**base, "finding": f["issue"], "where": ops, "elements": f["elements"],
                         "cost µs": f["cost_us"], "what to try": f["fix"]})
    body = "<h3>speed / quantisation check (this host)</h3>" + html_table(rows, max_cols=12)
    pairs = [{"pair": k, **v} for k, v in speed.get("int8_vs_fp32", {}).items()]
    for p in pairs:
        p.pop("finding", None)
    if pairs:
        body += html_table(pairs)
    return body + f"<p>{html.escape('Per-op times: hybridsplit profile <file>.tflite')}</p>"
