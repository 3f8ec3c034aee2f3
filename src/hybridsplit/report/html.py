"""The page: one self-contained HTML file (inline CSS, images as base64 data URIs, no scripts)."""

from __future__ import annotations

import html

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { background: #1d2330; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; color: #c9d1e0; }
nav { padding: 8px 28px; background: #e9edf3; }
nav a { margin-right: 16px; color: #1d4f9c; text-decoration: none; }
main { padding: 8px 28px 40px; max-width: 1100px; }
section { background: #fff; border: 1px solid #dde2ea; border-radius: 6px; padding: 12px 18px; margin: 16px 0; overflow-x: auto; }
h2 { font-size: 18px; margin: 4px 0 10px; }
h3 { font-size: 14px; margin: 14px 0 6px; }
figure { margin: 8px 0 14px; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 12px; color: #555; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 12.5px; }
th, td { border: 1px solid #dde2ea; padding: 3px 8px; text-align: left; vertical-align: top; }
thead th { background: #f0f3f7; }
td.txt { max-width: 26em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.kv th { background: #f7f8fa; font-weight: 600; }
tr.hl td { background: #fff1e8; }
.src { font-size: 12px; color: #777; margin: 0 0 8px; }
.warn { color: #9c2a1d; }
.note { color: #555; font-size: 12px; }
.missing { color: #777; }
pre { background: #f7f8fa; padding: 8px; overflow: auto; font-size: 12px; }
"""


def render(title: str, subtitle: str, sections: list, missing: list[str]) -> str:
    nav = "".join(f'<a href="#{s.id}">{html.escape(s.title)}</a>' for s in sections)
    parts = []
    for s in sections:
        figs = "".join(
            f'<figure><img src="{uri}" alt="{html.escape(cap)}" data-plot="{s.id}"><figcaption>{html.escape(cap)}</figcaption></figure>'
            for cap, uri in s.images)
        src = f'<p class="src">from {html.escape(s.source)}</p>' if s.source else ""
        parts.append(f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2>{src}{figs}{s.body}</section>')
    if missing:
        items = "".join(f"<li>{html.escape(m)}</li>" for m in missing)
        parts.append(f'<section id="missing" class="missing"><h2>Not in this report</h2><ul>{items}</ul></section>')
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><link rel=\"icon\" href=\"data:,\"><style>{CSS}</style></head><body>"
            f"<header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p></header>"
            f"<nav>{nav}</nav><main>{''.join(parts)}</main></body></html>\n")
