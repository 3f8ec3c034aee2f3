"""The operator-profiling tables of LiteRT's benchmark tools, read by their `[column]` header row.

Tables come in sections: "Profiling Info for Benchmark Initialization", "Operator-wise
Profiling Info for Regular Benchmark Runs", or (TF <= 2.1 and the new benchmark_litert_model)
no section header at all, just a `=== Run Order ===` title. A section ends with
"N nodes observed"; one that never does was cut off and is reported as incomplete, so a
truncated log is refused instead of yielding a partial op list.
Formats: `profiling/profile_summarizer.cc` and `util/stats_calculator.cc` of LiteRT / TensorFlow Lite.
"""

from __future__ import annotations

import re
from typing import Any

STAT = re.compile(r"\bcount=(\d+)((?:\s+\w+=[-+0-9.eE]+)*)")
_KV = re.compile(r"(\w+)=([-+0-9.eE]+)")
TABLE_TITLE = re.compile(r"^=+\s*(.+?)\s*=+$")
SECTION_INIT = "Profiling Info for Benchmark Initialization"
SECTION_RUN = "Operator-wise Profiling Info for Regular Benchmark Runs"
_TITLES = {"Run Order": "run_order", "Top by Computation Time": "top_by_time", "Summary by node type": "by_node_type"}
_COLUMN_KEYS = {
    "node type": "node_type", "start": "start_ms", "first": "first_ms", "avg ms": "avg_ms",
    "%": "pct", "avg %": "pct", "cdf%": "cdf_pct", "cdf %": "cdf_pct", "mem kb": "mem_kb",
    "times called": "times_called", "name": "name", "count": "count",
}


def parse_stat_line(line: str) -> dict[str, float] | None:
    """`count=N first=F curr=C min=M max=X avg=A std=S [p5=.. median=.. p95=..]` -> dict (µs)."""
    m = STAT.search(line)
    if not m or "=" not in m.group(2):
        return None
    out: dict[str, float] = {"count": float(m.group(1))}
    for key, value in _KV.findall(m.group(2)):
        out[key] = float(value)
    return out


def is_table_title(lines: list[str], i: int) -> bool:
    """A `=== Run Order ===` style title followed by its `[column]` header row."""
    return bool(TABLE_TITLE.match(lines[i].strip())) and i + 1 < len(lines) and "[" in lines[i + 1]


def _split_row(row: str, ncols: int) -> list[str] | None:
    """Cells of a row: by tabs when present, else by runs of 2+ spaces (names hold single spaces)."""
    text = row.strip()
    cells = [c.strip() for c in text.split("\t")] if "\t" in text else re.split(r"\s{2,}", text)
    cells = [c for c in cells if c != ""]
    if len(cells) < ncols:
        return None
    if len(cells) > ncols:  # extra splits can only come from the free-text name column
        cells = cells[: ncols - 1] + ["  ".join(cells[ncols - 1:])]
    return cells


def _cell(key: str, cell: str) -> Any:
    if key in ("node_type", "name"):
        return cell
    try:
        value = float(cell.rstrip("%"))
    except ValueError:
        return cell
    return int(value) if key in ("times_called", "count") else value


def _parse_table(lines: list[str], start: int) -> tuple[list[dict[str, Any]], int]:
    """Rows of the table whose header row is lines[start]; returns (rows, next index)."""
    keys = [_COLUMN_KEYS.get(h, h.replace(" ", "_"))
            for h in (h.strip().lower() for h in re.findall(r"\[([^\]]+)\]", lines[start]))]
    rows: list[dict[str, Any]] = []
    i = start + 1
    while i < len(lines):
        text = lines[i]
        if not text.strip() or text.lstrip().startswith("=") or re.fullmatch(r"(\s*\[[^\]]*\]\s*)+", text):
            break
        cells = _split_row(text, len(keys))
        if cells is None:
            break
        rows.append({key: _cell(key, cell) for key, cell in zip(keys, cells, strict=True)})
        i += 1
    return rows, i


def parse_section(lines: list[str], start: int) -> tuple[dict[str, Any], int, bool]:
    """One profiling section from lines[start]: (tables, next index, complete?)."""
    section: dict[str, Any] = {}
    i = start
    while i < len(lines):
        text = lines[i].strip()
        if SECTION_RUN in text or SECTION_INIT in text:
            return section, i, False
        if is_table_title(lines, i):
            title = TABLE_TITLE.match(text).group(1)  # type: ignore[union-attr]
            section[_TITLES.get(title, title)], i = _parse_table(lines, i + 1)
            continue
        if m := re.search(r"Number of nodes executed:\s*(\d+)", text):
            section["nodes_executed"] = int(m.group(1))
        elif text.startswith("Timings (microseconds):"):
            section["timings_us"] = parse_stat_line(text)
        elif text.startswith("Memory (bytes):") and (stat := parse_stat_line(text)):
            section["memory_bytes"] = stat
        elif re.match(r"^\d+ nodes observed", text):
            return section, i + 1, True
        i += 1
    return section, i, False


# Node types a delegate prints for one fused kernel: the ops inside it have no rows of their own.
_FUSED_DELEGATE = re.compile(r"^(TfLite\w*Delegate\w*|.*DelegateKernel.*|Delegate)$", re.I)
_INIT_EVENTS = {"AllocateTensors", "ModifyGraphWithDelegate"}


def op_rows(run_order: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
    """The regular-run Run Order as op rows, and the fused-delegate node type hiding ops (or None).

    Init-time events (AllocateTensors, ModifyGraphWithDelegate), which benchmark_litert_model
    lists among the run rows, are not per-inference ops and are left out.
    """
    rows = [{"node_type": r.get("node_type"), "name": r.get("name"), "avg_ms": r.get("avg_ms"),
             "first_ms": r.get("first_ms"), "pct": r.get("pct"), "times_called": r.get("times_called", 1)}
            for r in run_order if r.get("node_type") not in _INIT_EVENTS]
    fused = sorted({r["node_type"] for r in rows if _FUSED_DELEGATE.match(str(r["node_type"]))})
    return rows, ", ".join(fused) or None
