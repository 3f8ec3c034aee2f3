"""Reading result documents whose exact schema belongs to other stages: find rows, pick columns.

The report must render whichever results exist (bench.json, privacy.json, sweep.json,
export_report.json) and survive their schemas growing, so it looks for lists of records and
for columns by name instead of hard-coding every field.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Iterable, Sequence

ROW_KEYS = ("points", "rows", "results", "curve", "sweep", "cuts", "runs", "entries", "artifacts", "exports", "items")


def is_num(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def find_records(doc: object, depth: int = 0) -> list[dict]:
    """The most likely table in a document: a list of dicts, or a dict of dicts (keyed rows)."""
    if isinstance(doc, list) and doc and all(isinstance(r, dict) for r in doc):
        return doc
    if not isinstance(doc, dict) or depth > 2:
        return []
    keys = [k for k in ROW_KEYS if k in doc] + [k for k in doc if k not in ROW_KEYS]
    for k in keys:
        v = doc[k]
        if isinstance(v, list) and v and all(isinstance(r, dict) for r in v):
            return v
        if isinstance(v, dict) and len(v) > 1 and all(isinstance(r, dict) for r in v.values()):
            if any(is_num(x) for r in v.values() for x in r.values()):
                return [{"name": name, **r} for name, r in v.items()]
    for k in keys:
        rows = find_records(doc[k], depth + 1) if isinstance(doc[k], dict) else []
        if rows:
            return rows
    return []


def flatten(row: dict, prefix: str = "") -> dict:
    """{'a': {'b': 1}} -> {'a.b': 1}; lists of scalars become short strings."""
    out: dict = {}
    for k, v in row.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        elif isinstance(v, list):
            out[key] = v if len(v) <= 8 and all(not isinstance(e, dict | list) for e in v) else f"[{len(v)} items]"
        else:
            out[key] = v
    return out


def numeric_columns(rows: Sequence[dict]) -> list[str]:
    cols: list[str] = []
    for r in rows:
        for k, v in r.items():
            if is_num(v) and k not in cols:
                cols.append(k)
    return [c for c in cols if sum(is_num(r.get(c)) for r in rows) >= max(1, len(rows) // 2)]


def pick(columns: Iterable[str], patterns: Sequence[str], exclude: Sequence[str] = ()) -> str | None:
    """First column matching the first pattern that matches any (patterns in priority order)."""
    cols = list(columns)
    for pat in patterns:
        rx = re.compile(pat, re.I)
        for c in cols:
            if rx.search(c) and not any(re.search(e, c, re.I) for e in exclude):
                return c
    return None


def label_of(row: dict) -> str:
    for k in ("name", "label", "cut", "defence", "method", "config", "artifact", "id"):
        if k in row and isinstance(row[k], str | int | float):
            return str(row[k])
    return ""


def fmt(v: object) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) >= 1e5 or abs(v) < 1e-3:
            return f"{v:.3e}"
        return f"{v:.4g}"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, list):
        return ", ".join(fmt(e) for e in v)
    if v is None:
        return "–"
    return str(v)


def html_table(rows: Sequence[dict], columns: Sequence[str] | None = None, max_cols: int = 12, highlight: Iterable[int] = ()) -> str:
    rows = [flatten(r) for r in rows]
    if columns is None:
        columns = []
        for r in rows:
            columns += [k for k in r if k not in columns]
        columns = columns[:max_cols]
    marks = set(highlight)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = []
    for i, r in enumerate(rows):
        cls = ' class="hl"' if i in marks else ""
        cells = "".join(_cell(r.get(c)) for c in columns)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f'<table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _cell(v: object, limit: int = 140) -> str:
    text = fmt(v)
    if len(text) > limit:
        return f'<td class="txt" title="{html.escape(text)}">{html.escape(text[:limit])}…</td>'
    return f'<td class="{"num" if is_num(v) else "txt"}">{html.escape(text)}</td>'


def kv_table(d: dict, max_rows: int = 40) -> str:
    flat = flatten(d)
    rows = [(k, v) for k, v in flat.items() if not isinstance(v, str) or len(v) < 200][:max_rows]
    body = "".join(f'<tr><th>{html.escape(k)}</th><td>{html.escape(fmt(v))}</td></tr>' for k, v in rows)
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def pretty_json(doc: object, limit: int = 4000) -> str:
    text = json.dumps(doc, indent=1, default=str)
    if len(text) > limit:
        text = text[:limit] + "\n…"
    return html.escape(text)
