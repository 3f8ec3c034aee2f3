"""Speed / quantisation check of one .tflite, at export: what makes an int8 model slow, with what to try.

Read from the file (bench/tflite_graph.py) and from LiteRT's own delegation on this host
(bench/runner.delegation): ops computing in float inside an integer model, DEQUANTIZE -> ... ->
QUANTIZE float islands, QUANTIZE int8 -> int8 requantisations, ops XNNPACK does not run (each
one splits the delegate's partition and runs on LiteRT's own kernels). Each finding names its
ops, the elements they touch and, for ops left out of XNNPACK, the measured cost on this host
(paired difference of the prefix models ending just before and at the op). `compare` adds
"int8 slower than fp32" from both files timed interleaved.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from hybridsplit.bench.runner import delegation
from hybridsplit.bench.tflite_graph import OpInfo, TFLiteGraph

_INT = ("int8", "uint8", "int16")
_FLOAT = ("float32", "float16")

# What to try for ops XNNPACK leaves to LiteRT's own kernels (this LiteRT's XNNPACK has no int8 kernel).
FIXES = {
    "HARD_SWISH": "XNNPACK has no int8 HARD_SWISH: hybridsplit's int8 export rewrites nn.Hardswish modules "
                  "(exporters/mobile_rewrites.py); a functional F.hardswish is not rewritten: use the module, "
                  "or keep this model fp32",
    "PADV2": "litert-torch writes nn.MaxPool2d(padding=p) as PADV2 (pad with -inf) + MAX_POOL_2D; XNNPACK has no "
             "PADV2, so it costs one copy of the map on LiteRT's kernel and a partition split; usually small",
    "MEAN": "a global mean over H, W: use nn.AdaptiveAvgPool2d(1) / AVERAGE_POOL_2D, which XNNPACK runs in int8",
}
DEFAULT_FIX = ("XNNPACK has no kernel for this op and dtype here: replace the layer with one XNNPACK runs, move the "
               "cut before it, or keep the model fp32 if this op dominates")
ISLAND_FIX = ("the quantizer left these ops float (no int8 annotation for them): each island costs a DEQUANTIZE and a "
              "QUANTIZE; on 1x1xC tensors (squeeze-excite) it is cheap, on feature maps it costs "
              "two conversions per element: compare int8 with fp32 below, or pick fp32 for this model")


def _elements(op: OpInfo) -> int:
    return op.outputs[0].numel if op.outputs else 0


def _float_islands(ops: list[OpInfo]) -> list[dict]:
    """DEQUANTIZE int->float, the float ops after it, up to the QUANTIZE float->int that closes it."""
    islands, cur = [], None
    for op in ops:
        out, first_in = op.outputs[0].dtype, next((t.dtype for t in op.inputs if not t.constant), "")
        if op.op == "DEQUANTIZE" and first_in in _INT:
            cur = {"ops": [f"{op.name} {op.op}"], "elements": _elements(op)}
        elif cur is not None and op.op == "QUANTIZE" and first_in in _FLOAT:
            cur["ops"].append(f"{op.name} {op.op}")
            islands.append(cur)
            cur = None
        elif cur is not None and out in _FLOAT:
            cur["ops"].append(f"{op.name} {op.op}")
    return islands


def _prefix_cost_us(graph: TFLiteGraph, k: int, runs: int, threads: int) -> float:
    """Median paired difference between the prefixes ending at op k and at op k-1, timed here."""
    from ai_edge_litert.interpreter import Interpreter

    with tempfile.TemporaryDirectory(prefix="hybridsplit-speed-") as d:
        interps = []
        for j in ([k - 1, k] if k else [k]):
            it = Interpreter(model_path=str(graph.write_prefix(j, Path(d) / f"p{j}.tflite")), num_threads=threads)
            it.allocate_tensors()
            inp = it.get_input_details()[0]
            it.set_tensor(inp["index"], np.zeros(inp["shape"], inp["dtype"]))
            it.invoke()
            interps.append(it)
        diffs = []
        for _ in range(runs):
            ts = []
            for it in interps:
                t = time.perf_counter_ns()
                it.invoke()
                ts.append((time.perf_counter_ns() - t) / 1e3)
            diffs.append(ts[-1] - (ts[0] if len(ts) == 2 else 0.0))
    return float(np.median(diffs))


def check(path: Path, runs: int = 30, threads: int = 1) -> dict:
    """Findings for one .tflite: float ops in an int8 model, Q/DQ islands, ops not delegated (with cost)."""
    from ai_edge_litert.interpreter import Interpreter

    graph = TFLiteGraph(path)
    ops = graph.ops
    interp = Interpreter(model_path=str(path), num_threads=threads)
    interp.allocate_tensors()
    deleg = delegation(interp)
    integer = any(t.dtype in _INT and t.dtype != "int32" for op in ops for t in op.outputs)
    findings = []
    islands = _float_islands(ops) if integer else []
    if islands:  # one finding for all islands: their ops, and the elements each DEQUANTIZE converts
        kinds = sorted({o.split()[1] for isl in islands for o in isl["ops"][1:-1]})
        findings.append({"issue": f"{len(islands)} float island(s) DEQUANTIZE -> {'/'.join(kinds)} -> QUANTIZE",
                         "ops": [o for isl in islands for o in isl["ops"]],
                         "elements": sum(isl["elements"] for isl in islands), "cost_us": None, "fix": ISLAND_FIX})
    part = deleg["partition_of"]
    for op in ops:
        if part[op.index] is None:
            dtype = op.outputs[0].dtype
            findings.append({"issue": f"not delegated to XNNPACK ({dtype})", "ops": [f"{op.name} {op.op}"],
                             "elements": _elements(op), "cost_us": round(_prefix_cost_us(graph, op.index, runs, threads), 2),
                             "fix": FIXES.get(op.op, DEFAULT_FIX)})
    float_ops = [f"{o.name} {o.op}" for o in ops if integer and o.op != "DEQUANTIZE" and o.outputs[0].dtype in _FLOAT]
    return {
        "file": Path(path).name, "ops": len(ops), "integer_model": integer,
        "float_ops_in_integer_model": float_ops,
        "quantize_ops": sum(o.op == "QUANTIZE" and o.inputs[0].dtype in _FLOAT for o in ops),
        "dequantize_ops": sum(o.op == "DEQUANTIZE" and o.inputs[0].dtype in _INT for o in ops),
        "requantize_ops": sum(o.op == "QUANTIZE" and o.inputs[0].dtype in _INT for o in ops),
        "qdq_islands": len(islands),
        "delegate_partitions": deleg["partitions"],
        "not_delegated": [f"{o.name} {o.op}" for o in ops if part[o.index] is None],
        "findings": findings,
        "host": "this host (x86 XNNPACK); phone kernels differ — rerun `hybridsplit profile` there",
    }


def time_invoke_us(paths: list[Path], runs: int = 50, threads: int = 1) -> list[float]:
    """Median invoke() of each file, timed interleaved round by round in this process."""
    from ai_edge_litert.interpreter import Interpreter

    interps = []
    for p in paths:
        it = Interpreter(model_path=str(p), num_threads=threads)
        it.allocate_tensors()
        inp = it.get_input_details()[0]
        it.set_tensor(inp["index"], np.zeros(inp["shape"], inp["dtype"]))
        for _ in range(3):
            it.invoke()
        interps.append(it)
    samples: list[list[float]] = [[] for _ in interps]
    for _ in range(runs):
        for i, it in enumerate(interps):
            t = time.perf_counter_ns()
            it.invoke()
            samples[i].append((time.perf_counter_ns() - t) / 1e3)
    return [float(np.median(s)) for s in samples]


def compare(int8: Path, fp32: Path, runs: int = 50, threads: int = 1) -> dict | None:
    """`int8 slower than fp32` finding (None when int8 is faster)."""
    q, f = time_invoke_us([int8, fp32], runs, threads)
    doc = {"int8_us": round(q, 2), "fp32_us": round(f, 2), "int8_over_fp32": round(q / f, 3), "threads": threads}
    if q <= f:
        return {**doc, "finding": None}
    return {**doc, "finding": {
        "issue": "int8 slower than fp32", "ops": [], "elements": None, "cost_us": round(q - f, 2),
        "fix": "run `hybridsplit profile` on both files: the per-op table names the ops that lose (float islands, "
               "ops not delegated, TRANSPOSEs); ship device_fp32.tflite for this model on this kind of CPU"
               + ("" if int8_dot_product() is not False else _NO_DOT),
    }}


_NO_DOT = ("; this host's CPU has no int8 dot-product instructions (x86 VNNI / Arm dotprod), on which XNNPACK's int8 "
           "convolutions run about as fast as fp32 ones (measured: `make bench-int8-mobile`, kernel_bound): time "
           "the int8 file on the phone (`hybridsplit bench --target adb`) before judging it")


def int8_dot_product(cpuinfo: str | None = None) -> bool | None:
    """Whether this CPU has int8 dot-product instructions (x86 avx512_vnni / avx_vnni, Arm asimddp), from
    /proc/cpuinfo's flags; None when it cannot be read."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return None
    flags = {f for line in cpuinfo.splitlines() if line.split(":")[0].strip() in ("flags", "Features")
             for f in line.split(":", 1)[1].split()}
    if not flags:
        return None
    return bool(flags & {"avx512_vnni", "avx_vnni", "asimddp"})


def speed_quant_report(files: dict[str, Path], pairs: list[tuple[str, str]], runs: int = 30) -> dict:
    """export_report.json's `speed_quant`: per .tflite artifact, its check; per (int8, fp32) pair, the timing."""
    out: dict = {"artifacts": {}, "int8_vs_fp32": {}}
    for key, path in files.items():
        out["artifacts"][key] = check(path, runs)
    for q, f in pairs:
        if q in files and f in files:
            cmp = compare(files[q], files[f], runs * 2)
            out["int8_vs_fp32"][f"{q}/{f}"] = cmp
            if cmp["finding"]:
                out["artifacts"][q]["findings"].append(cmp["finding"])
    return out


def summary_lines(speed: dict) -> list[str]:
    """What `hybridsplit export` prints: one line per finding, or one 'clean' line per artifact."""
    lines = []
    for key, a in speed.get("artifacts", {}).items():
        if not a["findings"]:
            lines.append(f"{key}: {a['ops']} ops, all in XNNPACK ({a['delegate_partitions']} partition), "
                         f"{a['qdq_islands']} float islands")
        for f in a["findings"]:
            cost = f" — {f['cost_us']:.0f} µs here" if f.get("cost_us") is not None else ""
            ops = (": " + ", ".join(f["ops"][:4]) + (" …" if len(f["ops"]) > 4 else "")) if f["ops"] else ""
            lines.append(f"{key}: {f['issue']}{ops}{cost}{'' if ops.endswith('…') and not cost else '.'} Try: {f['fix']}")
    for pair, c in speed.get("int8_vs_fp32", {}).items():
        lines.append(f"{pair}: int8 {c['int8_us']:.0f} µs vs fp32 {c['fp32_us']:.0f} µs = {c['int8_over_fp32']:.2f}x "
                     f"({c['threads']} thread, this host)")
    return lines
