"""HTML tables of records and key-value facts, with numbers formatted for reading."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence


def is_num(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


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


