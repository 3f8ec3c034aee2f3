"""Parse what LiteRT's benchmark tools print: `benchmark_model` (every layout since TF 1.x), the
Android benchmark app's `adb logcat` lines, and the new `benchmark_litert_model`.

Lines are normalised first (CRLF, logcat prefixes with or without timestamps, glog prefixes,
`INFO:` levels, `[file.h:NN]` source locations), then matched by their labels; op tables are
read by their `[column]` header row (bench/parse_tables.py). Every field of `FIELDS` is either
parsed or named in `missing`. A failed run, a log cut before its timing summary or inside an op
table, or a log with tables but no timings raises `BenchmarkLogError` (one line).
Formats: `tflite/tools/benchmark/benchmark_model.cc`, `benchmark_tflite_model.cc`,
`litert/tools/benchmark_litert_model.h` of LiteRT / TensorFlow Lite.
"""

from __future__ import annotations

import re
from typing import Any

from hybridsplit.bench.parse_tables import (
    SECTION_INIT,
    SECTION_RUN,
    is_table_title,
    op_rows,
    parse_section,
    parse_stat_line,
)
from hybridsplit.errors import TargetError

__all__ = ["FIELDS", "BenchmarkLogError", "op_times", "parse_benchmark_output", "parse_stat_line"]

FIELDS = ("model_size_mb", "num_threads", "init_ms", "first_inference_us", "warmup_avg_us", "inference_avg_us",
          "warmup_us", "inference_us", "memory_mb", "ops", "delegates")
"""What a complete log can give; the units are in the names (`*_us` stat dicts hold µs)."""


class BenchmarkLogError(TargetError, ValueError):
    """The log is from a failed or cut-off run: it holds no complete timing result."""


_PREFIXES = [
    re.compile(r"^\s*\d\d-\d\d\s+\d\d:\d\d:\d\d\.\d+\s+\d+\s+\d+\s+[VDIWEF]\s+[\w.$-]+\s*:\s?"),  # logcat threadtime
    re.compile(r"^\s*[VDIWEF]/[\w.$-]+\s*\(\s*\d+\s*\):\s?"),  # logcat brief
    re.compile(r"^\s*[VDIWEF]\s+[\w.$-]+\s*:\s"),  # logcat tag only
    re.compile(r"^\s*\.\.\.\s+[\w.$-]+\s*:\s"),  # "... tflite  : " as the TF docs quote it
    re.compile(r"^\s*\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+:\s+[IWEF]\s+\S+:\d+\]\s?"),  # glog (TF 1.x)
]
_LEVEL = re.compile(r"^\s*(?:INFO|WARNING|WARN|VERBOSE|DEBUG):\s?")  # ERROR: is kept, it names the failure
_LOCATION = re.compile(r"^\s*\[[^\]\s]+\.(?:h|cc|cpp):\d+\]\s?")
_NUM = r"([-+]?[0-9.]+(?:[eE][-+]?\d+)?)"


def normalise(text: str) -> tuple[list[str], bool]:
    """Lines with every known prefix removed, and whether logcat prefixes were seen."""
    lines, logcat = [], False
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw
        for i, pattern in enumerate(_PREFIXES):
            line, n = pattern.subn("", line, count=1)
            if n:
                logcat |= i < 4
                break
        line = _LOCATION.sub("", _LEVEL.sub("", line, count=1), count=1)
        lines.append(line.strip())
    return lines, logcat


def _last_run(lines: list[str]) -> tuple[list[str], int]:
    """The last run when a log (a logcat dump, a script's output) holds several."""
    for marker in ("STARTING!", "Log parameter values verbosely"):
        starts = [i for i, ln in enumerate(lines) if ln.startswith(marker)]
        if len(starts) >= 2:
            return lines[starts[-1]:], len(starts)
        if starts:
            return lines, 1
    return lines, 1


_DELEGATES = [
    (re.compile(r"XNNPACK delegate|TfLiteXNNPackDelegate"), "xnnpack"),
    (re.compile(r"delegate for GPU|GPU delegate|TfLiteGpuDelegate"), "gpu"),
    (re.compile(r"delegate for NNAPI|NNAPI delegate|TfLiteNnapiDelegate"), "nnapi"),
    (re.compile(r"Hexagon delegate"), "hexagon"),
    (re.compile(r"Loaded delegate from|External delegate"), "external"),
]
_LITERT = {"Model initialization": "init_ms", "Warmup (first)": "first_inference_us", "Warmup (avg)": "warmup_avg_us",
           "Inference (avg)": "inference_avg_us", "Inference (min)": "min", "Inference (max)": "max",
           "Inference (std)": "std"}
_UNIT_TO_US = {"us": 1.0, "ms": 1e3, "s": 1e6}


def _timing_line(line: str, out: dict[str, Any]) -> bool:
    """The summary lines of every layout; True when the line was one."""
    if line.startswith("Inference timings in us:"):
        out["format"] = "current"
        for label, key in (("Init", "init_us"), ("First inference", "first_inference_us"),
                           (r"Warmup \(avg\)", "warmup_avg_us"), (r"Inference \(avg\)", "inference_avg_us")):
            if m := re.search(label + r":\s*" + _NUM, line):
                out[key] = float(m.group(1))
        return True
    if line.startswith("Average inference timings in us:"):  # TF <= 2.1 ("Inference") and 1.x ("no stats")
        out["format"] = "older"
        for label, key in (("Warmup", "warmup_avg_us"), ("Init", "init_us"), ("Inference", "inference_avg_us"),
                           ("no stats", "inference_avg_us")):
            if m := re.search(r"\b" + label + r":\s*" + _NUM, line):
                out[key] = float(m.group(1))
        return True
    label = next((k for k in _LITERT if line.startswith(k + ":")), None)
    if label and out.get("format") == "litert":
        m = re.match(re.escape(label) + r":\s*" + _NUM + r"\s*(us|ms|s)?", line)
        if m:
            value, unit = float(m.group(1)), m.group(2)
            key = _LITERT[label]
            if key == "init_ms":
                out["init_ms"] = value * _UNIT_TO_US[unit or "ms"] / 1e3
            elif key in ("min", "max", "std"):  # std is printed without a unit, in ms like its neighbours
                out.setdefault("_litert_stats", {})[key] = value * _UNIT_TO_US[unit or "ms"]
            else:
                out[key] = value * _UNIT_TO_US[unit or "ms"]
        return True
    return False


def _memory_line(line: str, memory: dict[str, float], out: dict[str, Any]) -> bool:
    pairs = r"\(MB\):\s*init=" + _NUM + r"\s+overall=" + _NUM
    if (m := re.search(r"Memory footprint delta from the start of the tool " + pairs, line)) or \
            (m := re.search(r"^Peak memory footprint " + pairs, line)):
        # The older "Peak memory footprint" line measures the same growth since the tool started.
        memory["init_delta"], memory["overall_delta"] = float(m.group(1)), float(m.group(2))
        out["memory_line"] = "peak_footprint (older builds: growth since start, not an absolute peak)" \
            if line.startswith("Peak") else "footprint_delta"
    elif m := re.search(r"Overall peak memory footprint \(MB\) via periodic monitoring:\s*" + _NUM, line):
        memory["peak"] = float(m.group(1))
    elif m := re.match(r"(Init footprint|Overall footprint|Peak memory):\s*" + _NUM + r"\s*MB", line):
        memory[{"Init footprint": "init_footprint", "Overall footprint": "overall_footprint",
                "Peak memory": "peak"}[m.group(1)]] = float(m.group(2))
    else:
        return False
    return True


def _facts(line: str, out: dict[str, Any]) -> None:
    """Model size, session init, threads, delegates, failure markers."""
    if m := re.search(r"The input model file size \(MB\):\s*" + _NUM, line):
        out["model_size_mb"] = float(m.group(1))
    elif m := re.search(r"Initialized session in\s*" + _NUM + r"\s*ms", line):
        out["init_ms"] = float(m.group(1))
    elif m := re.search(r"(?:#threads used for CPU inference|Num threads)\s*:\s*\[(\d+)\]", line):
        out["num_threads"] = int(m.group(1))
    elif m := re.search(r"Replacing (\d+) out of (\d+) node\(s\) with delegate \((\w+)\)", line):
        out["delegated_nodes"] = {"delegate": m.group(3), "replaced": int(m.group(1)), "total": int(m.group(2))}
    elif line.startswith("Throughput:") and (m := re.search(_NUM + r"\s*MB/s", line)):
        out["throughput_mb_per_s"] = float(m.group(1))
    if "will not be executed by the delegate" in line or "Failed to apply" in line:
        out.setdefault("notes", []).append(line)
    if line.startswith("========== BENCHMARK RESULTS"):
        out["format"], out["tool"] = "litert", "benchmark_litert_model"
    if "Benchmarking failed" in line:
        out["failed"] = True
    if (line.startswith("ERROR") or "Segmentation fault" in line) and "first_error" not in out:
        out["first_error"] = line
    for pattern, name in _DELEGATES:
        if pattern.search(line) and name not in out.setdefault("delegates", []):
            out["delegates"].append(name)


def _scan(lines: list[str]) -> tuple[dict[str, Any], list[dict[str, float]], dict, bool]:
    """One pass over a run: (facts, stat lines, profile sections, all sections complete?)."""
    out: dict[str, Any] = {"tool": "benchmark_model"}
    memory: dict[str, float] = {}
    stats: list[dict[str, float]] = []
    profile: dict[str, Any] = {}
    complete, i = True, 0
    while i < len(lines):
        line = lines[i]
        # A title outside any section is a headerless table (TF <= 2.1, benchmark_litert_model): the run's.
        if SECTION_RUN in line or SECTION_INIT in line or is_table_title(lines, i):
            key = "init" if SECTION_INIT in line else "run"
            start = i if is_table_title(lines, i) else i + 1
            profile[key], i, done = parse_section(lines, start)
            complete &= done
            continue
        if line.startswith("count=") and (stat := parse_stat_line(line)):
            stats.append(stat)
        elif not _timing_line(line, out) and not _memory_line(line, memory, out):
            _facts(line, out)
        i += 1
    out["memory_mb"] = memory
    return out, stats, profile, complete


def _refuse(out: dict[str, Any], stats: list[dict], profile: dict, complete: bool, summary: bool) -> None:
    err = f" (first error: {out['first_error'][:160]})" if out.get("first_error") else ""
    if out.get("failed"):
        raise BenchmarkLogError(f"the benchmark run failed ('Benchmarking failed.' in the log){err}")
    if not complete:
        raise BenchmarkLogError("the log ends inside an op-profiling table (truncated?): the op list would be "
                                "partial; pass the whole log")
    if summary:
        return
    if stats:
        phase = "warmup" if len(stats) == 1 else "timed-runs"
        raise BenchmarkLogError(f"the log is truncated after the {phase} stats line (count={int(stats[-1]['count'])}) "
                                "and before the timing summary; pass the whole log")
    if profile:
        raise BenchmarkLogError("the log has op-profiling tables but no timing lines; pass the whole log "
                                "(the timings come before the tables)")
    raise BenchmarkLogError("no benchmark timings in the log (no 'Inference timings in us', 'Average inference "
                            f"timings' or 'BENCHMARK RESULTS' lines): not a benchmark log, or the run died{err}")


def _assign_stats(out: dict[str, Any], stats: list[dict[str, float]]) -> None:
    """The tool prints one stats line per phase, warmup first; a lone line is matched by its average."""
    if len(stats) >= 2:
        out["warmup_us"], out["inference_us"] = stats[-2], stats[-1]
    elif stats:
        avg, inf = stats[0].get("avg"), out.get("inference_avg_us")
        key = "warmup_us" if avg is not None and inf and abs(avg - inf) > 0.01 * inf and \
            out.get("warmup_avg_us") and abs(avg - out["warmup_avg_us"]) <= 0.01 * out["warmup_avg_us"] else "inference_us"
        out[key] = stats[0]
    if out.get("format") == "litert":
        inf = out.get("inference_us")
        if inf and inf.get("avg") is not None:  # the stats line is exact; the summary is rounded to 0.01 ms
            out["inference_avg_us"] = inf["avg"]
        elif "_litert_stats" in out:
            out["inference_us"] = out["_litert_stats"]
    out.pop("_litert_stats", None)


def parse_benchmark_output(text: str) -> dict[str, Any]:
    """Everything the log gives, as a plain dict; raises BenchmarkLogError for failed/truncated logs.

    Keys: the FIELDS present, `missing` (the FIELDS absent), `tool`, `format` (current, older,
    litert), `source` (logcat or stdout), `runs_in_log`, `profile` (raw tables), `ops_hidden_by`
    (a delegate's fused node type when it hides the per-op breakdown), `memory_line`, `notes`.
    """
    all_lines, logcat = normalise(text)
    lines, runs = _last_run(all_lines)
    out, stats, profile, complete = _scan(lines)
    summary = out.get("inference_avg_us") is not None
    _refuse(out, stats, profile, complete, summary)
    _assign_stats(out, stats)
    if out.get("init_us") is not None and "init_ms" not in out:
        out["init_ms"] = out["init_us"] / 1e3
    out.update(source="logcat" if logcat else "stdout", runs_in_log=runs)
    if profile:
        out["profile"] = profile
        if any("start_ms" in r for r in profile.get("run", {}).get("run_order", [])):
            out["profile_columns"] = "with_start"
    ops, hidden = op_rows(profile.get("run", {}).get("run_order", []))
    out["ops"], out["ops_hidden_by"] = ops, hidden
    out["missing"] = [f for f in FIELDS if out.get(f) in (None, [], {})]
    return out


def op_times(parsed: dict[str, Any]) -> list[dict[str, Any]]:
    """The regular-run op rows [{node_type, name, avg_ms, first_ms, pct, times_called}] (may be empty)."""
    return parsed.get("ops", [])
