"""Parse the text output of LiteRT's `benchmark_model` (the on-phone / on-board C++ tool).

Header-driven: timing lines are matched by their labels, and operator-profiling tables are
read by their `[column]` header row, not by position, so both the current layout (no
`[start]` column, space-aligned, `INFO: ` prefixes, `p5/median/p95` on stat lines) and the
older one (`[start]` column, tab-separated, `Average inference timings in us: ...`) parse.
Formats: `tflite/tools/benchmark/benchmark_model.cc`, `benchmark_tflite_model.cc` and
`profiling/profile_summarizer.cc` of LiteRT / TensorFlow Lite.
"""

from __future__ import annotations

import re
from typing import Any

_PREFIX = re.compile(r"^\s*(?:(?:INFO|WARNING|ERROR|VERBOSE):\s*)?")
_STAT = re.compile(r"\bcount=(\d+)((?:\s+\w+=[-+0-9.eE]+)*)")
_KV = re.compile(r"(\w+)=([-+0-9.eE]+)")
_NUM = r"([-+0-9.eE]+)"
_TABLE_TITLE = re.compile(r"^=+\s*(.+?)\s*=+$")
_SECTION_INIT = "Profiling Info for Benchmark Initialization"
_SECTION_RUN = "Operator-wise Profiling Info for Regular Benchmark Runs"


def _strip(line: str) -> str:
    return _PREFIX.sub("", line.rstrip("\n"), count=1).rstrip()


def _num(text: str) -> float:
    return float(text.rstrip("%"))


def parse_stat_line(line: str) -> dict[str, float] | None:
    """`count=N first=F curr=C min=M max=X avg=A std=S [p5=.. median=.. p95=..]` -> dict (us)."""
    m = _STAT.search(line)
    if not m or "=" not in m.group(2):
        return None
    out: dict[str, float] = {"count": float(m.group(1))}
    for key, value in _KV.findall(m.group(2)):
        out[key] = float(value)
    return out


def _split_header(header: str) -> list[str]:
    return [h.strip().lower() for h in re.findall(r"\[([^\]]+)\]", header)]


def _split_row(row: str, ncols: int) -> list[str] | None:
    """Split a table row into ncols cells: by tabs when present, else by runs of 2+ spaces.

    The last column ([Name]) may itself contain single spaces; node types may too
    (`Convolution (NHWC, QC8) GEMM`), which is why single spaces never split.
    """
    text = row.strip()
    cells = [c.strip() for c in text.split("\t")] if "\t" in text else re.split(r"\s{2,}", text)
    cells = [c for c in cells if c != ""]
    if len(cells) < ncols:
        return None
    if len(cells) > ncols:  # extra splits can only come from the free-text name column
        cells = cells[: ncols - 1] + ["  ".join(cells[ncols - 1 :])]
    return cells


_COLUMN_KEYS = {
    "node type": "node_type", "start": "start_ms", "first": "first_ms", "avg ms": "avg_ms",
    "%": "pct", "avg %": "pct", "cdf%": "cdf_pct", "cdf %": "cdf_pct", "mem kb": "mem_kb",
    "times called": "times_called", "name": "name", "count": "count",
}


def _parse_table(lines: list[str], start: int) -> tuple[list[dict[str, Any]], int]:
    """Rows of the table whose header row is lines[start]; returns (rows, next index)."""
    header = _split_header(lines[start])
    keys = [_COLUMN_KEYS.get(h, h.replace(" ", "_")) for h in header]
    rows: list[dict[str, Any]] = []
    i = start + 1
    while i < len(lines):
        text = _strip(lines[i])
        if not text.strip() or text.lstrip().startswith("=") or re.fullmatch(r"(\s*\[[^\]]*\]\s*)+", text):
            break
        cells = _split_row(text, len(keys))
        if cells is None:
            break
        row: dict[str, Any] = {}
        for key, cell in zip(keys, cells, strict=True):
            if key in ("node_type", "name"):
                row[key] = cell
            else:
                try:
                    row[key] = _num(cell)
                except ValueError:
                    row[key] = cell
        if "times_called" in row:
            row["times_called"] = int(row["times_called"])
        rows.append(row)
        i += 1
    return rows, i


def _parse_profile(lines: list[str], start: int) -> tuple[dict[str, Any], int]:
    """A profiling section: its Run Order, Top by Computation Time and Summary by node type tables."""
    section: dict[str, Any] = {}
    i = start
    while i < len(lines):
        text = _strip(lines[i])
        if _SECTION_RUN in text or _SECTION_INIT in text:
            break
        title = _TABLE_TITLE.match(text.strip())
        if title and i + 1 < len(lines) and "[" in lines[i + 1]:
            key = {"Run Order": "run_order", "Top by Computation Time": "top_by_time",
                   "Summary by node type": "by_node_type"}.get(title.group(1), title.group(1))
            rows, i = _parse_table(lines, i + 1)
            section[key] = rows
            continue
        m = re.search(r"Number of nodes executed:\s*(\d+)", text)
        if m:
            section["nodes_executed"] = int(m.group(1))
        if text.startswith("Timings (microseconds):"):
            section["timings_us"] = parse_stat_line(text)
        if text.startswith("Memory (bytes):"):
            stat = parse_stat_line(text)
            if stat:
                section["memory_bytes"] = stat
        if re.match(r"^\d+ nodes observed", text):
            i += 1
            break
        i += 1
    return section, i


def parse_benchmark_output(text: str) -> dict[str, Any]:
    """Everything benchmark_model printed that the harness uses, as a plain dict.

    Keys (present only when printed): model_size_mb, init_ms, init_us, first_inference_us,
    warmup_avg_us, inference_avg_us, warmup (stat dict), inference (stat dict), memory
    ({init_delta_mb, overall_delta_mb, peak_mb}), profile ({init, run}: tables), format
    ("current" or "older"), num_threads. Raises ValueError when no inference timing is found.
    """
    lines = text.splitlines()
    out: dict[str, Any] = {"format": "current"}
    stats: list[dict[str, float]] = []
    profile: dict[str, Any] = {}
    memory: dict[str, float] = {}
    i = 0
    while i < len(lines):
        line = _strip(lines[i])
        if _SECTION_RUN in line or _SECTION_INIT in line:
            key = "run" if _SECTION_RUN in line else "init"
            profile[key], i = _parse_profile(lines, i + 1)
            continue
        if m := re.search(r"The input model file size \(MB\):\s*" + _NUM, line):
            out["model_size_mb"] = float(m.group(1))
        elif m := re.search(r"Initialized session in\s*" + _NUM + r"\s*ms", line):
            out["init_ms"] = float(m.group(1))
        elif m := re.search(r"#?\s*threads used for CPU inference:\s*\[?(\d+)", line, re.I):
            out["num_threads"] = int(m.group(1))
        elif m := re.search(r"Num threads:\s*\[(\d+)\]", line):
            out["num_threads"] = int(m.group(1))
        elif line.startswith("Inference timings in us:"):
            for label, key in (("Init", "init_us"), ("First inference", "first_inference_us"),
                               (r"Warmup \(avg\)", "warmup_avg_us"), (r"Inference \(avg\)", "inference_avg_us")):
                if m := re.search(label + r":\s*" + _NUM, line):
                    out[key] = float(m.group(1))
        elif line.startswith("Average inference timings in us:"):  # older builds
            out["format"] = "older"
            for label, key in (("Warmup", "warmup_avg_us"), ("Init", "init_us"), ("Inference", "inference_avg_us")):
                if m := re.search(r"\b" + label + r":\s*" + _NUM, line):
                    out[key] = float(m.group(1))
        elif m := re.search(r"Memory footprint delta from the start of the tool \(MB\):\s*init=" + _NUM + r"\s+overall=" + _NUM, line):
            memory["init_delta_mb"] = float(m.group(1))
            memory["overall_delta_mb"] = float(m.group(2))
        elif m := re.search(r"Overall peak memory footprint \(MB\) via periodic monitoring:\s*" + _NUM, line):
            memory["peak_mb"] = float(m.group(1))
        elif line.lstrip().startswith("count=") and (stat := parse_stat_line(line)):
            stats.append(stat)
        i += 1
    # The tool prints one stat line per phase: warmup first, then the regular runs.
    if len(stats) >= 2:
        out["warmup"], out["inference"] = stats[-2], stats[-1]
    elif stats:
        out["inference"] = stats[-1]
    if "inference_avg_us" not in out and "inference" in out:
        out["inference_avg_us"] = out["inference"].get("avg")
    if "inference_avg_us" not in out:
        raise ValueError("no inference timings found in benchmark_model output")
    if out.get("init_us") is not None and "init_ms" not in out:
        out["init_ms"] = out["init_us"] / 1000.0
    if memory:
        out["memory"] = memory
    if profile:
        out["profile"] = profile
        if profile.get("run", {}).get("run_order") and any("start_ms" in r for r in profile["run"]["run_order"]):
            out["profile_columns"] = "with_start"
    return out


def op_times(parsed: dict[str, Any]) -> list[dict[str, Any]]:
    """The regular-run Run Order table as [{node_type, name, avg_ms, pct, times_called}] (may be empty)."""
    rows = parsed.get("profile", {}).get("run", {}).get("run_order", [])
    return [{"node_type": r.get("node_type"), "name": r.get("name"), "avg_ms": r.get("avg_ms"),
             "first_ms": r.get("first_ms"), "pct": r.get("pct"), "times_called": r.get("times_called", 1)}
            for r in rows]
