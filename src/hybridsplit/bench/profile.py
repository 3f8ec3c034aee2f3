"""Per-layer cost of a device half by the prefix method (Neurosurgeon-style), on any target.

The prefixes are cut from the bundle's own device .tflite (bench/tflite_graph.py): prefix k runs
the file's ops 0..k, so every layer of the artifact the phone runs gets a row, for any model, with
no torch and no training run. All prefixes are timed on the target in one run; a layer's latency
is the difference of successive prefixes. On local and ssh targets the runner times the prefixes
interleaved, so the per-round differences are paired and their median / p90 are reported; on adb
(one benchmark_model run per model) the difference of medians is used. Static costs (MACs,
params, output shape and bytes) are read from the op's own tensors. Per-op times, where the
target prints them (benchmark_model's op profiling), are attached to the whole-model row.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from hybridsplit.bench.targets import BenchConfig, Target
from hybridsplit.bench.tflite_graph import OpInfo, TFLiteGraph
from hybridsplit.errors import BundleError


@dataclass
class StageStats:
    name: str
    kind: str
    output_shape: list[int]
    output_bytes_fp32: int
    output_bytes_int8: int
    macs: int
    params: int
    weight_bytes_int8: int
    weight_bytes_fp32: int
    inputs: list[dict] = field(default_factory=list)
    """The op's activation inputs (not weights): [{"shape", "dtype"}] as the file declares them."""
    outputs: list[dict] = field(default_factory=list)
    output_dtype: str = ""
    weight_dtype: str = ""
    timed_with: str = ""
    """'' when the op has its own prefix; 'load' when it reads constants only (computed once at load,
    latency 0); the next op's name when its time is counted there (a PAD that XNNPACK fuses into the conv)."""


@dataclass
class PrefixModels:
    """Exported prefixes: paths[k] runs stages[: k + 1]."""

    stages: list[StageStats]
    paths: list[Path]
    mode: str
    workdir: Path
    input_shape: list[int]
    extra: dict = field(default_factory=dict)


def prefixes_from_tflite(path: Path, out_dir: Path | None = None) -> PrefixModels:
    """One prefix .tflite per op of `path` (ops 0..k), with each op's static costs read from the file."""
    graph = TFLiteGraph(path)
    workdir = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="hybridsplit-prefix-"))
    ops = graph.ops
    with_ = [_timed_with(ops, k) for k in range(len(ops))]
    timed = [k for k in range(len(ops)) if not with_[k]]
    if not timed:
        raise BundleError(f"'{path.name}' computes nothing from its input (every op reads constants only)")
    written = {k: graph.write_prefix(k, workdir / f"prefix_{k:03d}_{ops[k].op.lower()}.tflite") for k in timed}
    # an op without a prefix of its own reuses a neighbour's (timed once, see profile_on_target)
    paths = [written.get(k) or written[max((j for j in timed if j < k), default=timed[0])] for k in range(len(ops))]
    return PrefixModels([op_stats(op, w) for op, w in zip(ops, with_, strict=True)], paths, "as the file", workdir,
                        graph.input_shape, extra={"source": path.name, "ops": len(ops)})


_PADS = ("PAD", "PADV2")
_PADDED = ("CONV_2D", "DEPTHWISE_CONV_2D")


def _timed_with(ops: list[OpInfo], k: int) -> str:
    """Where op k's time is counted when no prefix may end at it (see StageStats.timed_with).

    A prefix ending at a PAD makes the padded tensor an output, so XNNPACK cannot fold the pad into the
    conv that reads it, as it does in the whole model: that prefix times a copy the model never makes,
    and the conv's difference comes out negative. The pair is timed together, on the conv's row."""
    op = ops[k]
    if op.constant_only:
        return "load"
    nxt = next((o for o in ops[k + 1 :] if not o.constant_only), None)  # weights dequantized between them
    if op.op in _PADS and nxt is not None and nxt.op in _PADDED and nxt.inputs[0].index == op.outputs[0].index:
        return nxt.name
    return ""


def op_stats(op: OpInfo, timed_with: str = "") -> StageStats:
    out = op.outputs[0]
    numel = out.numel // max(out.shape[0], 1) if out.shape else out.numel
    return StageStats(name=op.name, kind=op.op, output_shape=list(out.shape[1:]), output_bytes_fp32=4 * numel,
                      output_bytes_int8=numel, macs=op.macs, params=op.params, weight_bytes_int8=op.params,
                      weight_bytes_fp32=4 * op.params,
                      inputs=[{"shape": list(t.shape), "dtype": t.dtype} for t in op.inputs if not t.constant],
                      outputs=[{"shape": list(t.shape), "dtype": t.dtype} for t in op.outputs], output_dtype=out.dtype,
                      weight_dtype=op.weights[0].dtype if op.weights else "", timed_with=timed_with)


def _layer_latency(rows: list[dict], k: int, with_: list[str], names: list[str]) -> dict:
    """Latency of layer k from its prefix row and the previous timed layer's: paired per-round differences
    when samples exist. A layer without a prefix of its own reads 0 (StageStats.timed_with says where)."""
    if with_[k] == "load":
        return {"median": 0.0, "p90": 0.0, "method": "constant input: computed once at load"}
    if with_[k]:
        return {"median": 0.0, "p90": 0.0, "method": f"timed with {with_[k]} (fused into it)"}
    cur = rows[k]
    joined = [names[i] for i in range(k) if with_[i] == names[k]]
    note = f" (includes {' + '.join(joined)})" if joined else ""
    j = max((i for i in range(k) if not with_[i]), default=None)
    if j is None:
        base = cur["latency_us"]
        return {"median": base["median"], "p90": base.get("p90"), "method": "prefix" + note}
    prev = rows[j]
    a, b = cur.get("samples_us") or [], prev.get("samples_us") or []
    if a and len(a) == len(b):
        d = np.asarray(a) - np.asarray(b)
        return {"median": float(np.median(d)), "p90": float(np.percentile(d, 90)),
                "method": "paired difference" + note}
    return {"median": cur["latency_us"]["median"] - prev["latency_us"]["median"], "p90": None,
            "method": "difference of medians" + note}


def layer_table(prefixes: PrefixModels, result: dict, n_prefix: int | None = None,
                delegation: dict | None = None) -> list[dict]:
    """One row per stage: static costs + latency (median, p90) + cumulative latency (median of the prefix)
    + whether the whole model's delegate (XNNPACK) runs it (`delegation` from the runner's whole-model row)."""
    rows = result["models"][: n_prefix or len(prefixes.paths)]
    part = (delegation or {}).get("partition_of") or []
    whole_ops = len(part) == len(rows)  # op-per-prefix only: stage prefixes are not ops of the file
    table, with_, names = [], [st.timed_with for st in prefixes.stages], [st.name for st in prefixes.stages]
    for k, (st, row) in enumerate(zip(prefixes.stages, rows, strict=True)):
        lat = _layer_latency(rows, k, with_, names)
        table.append({
            **asdict(st),
            "delegated": (part[k] is not None) if whole_ops else None,
            "partition": part[k] if whole_ops else None,
            "latency_us_median": lat["median"], "latency_us_p90": lat["p90"], "latency_method": lat["method"],
            "cumulative_us_median": row["latency_us"]["median"], "cumulative_us_p90": row["latency_us"].get("p90"),
            "prefix_file": row["model"], "prefix_file_bytes": row["file_bytes"],
            "prefix_peak_rss_delta_mb": (row.get("memory") or {}).get("peak_rss_delta_mb"),
        })
    return table


def profile_on_target(prefixes: PrefixModels, whole: Path, target: Target, cfg: BenchConfig,
                      extra_models: list[Path] | None = None) -> dict:
    """Time all prefixes + the whole device half (+ extras) in one target run; the per-layer table and the check."""
    models = [*prefixes.paths, whole, *(extra_models or [])]
    unique = list(dict.fromkeys(models))  # constant-only ops share a prefix file: time each file once
    result = target.run(unique, cfg)
    by_path = dict(zip(unique, result["models"], strict=True))
    result = {**result, "models": [by_path[m] for m in models]}
    n = len(prefixes.paths)
    whole_row = result["models"][n]
    table = layer_table(prefixes, result, n, whole_row.get("delegation"))
    sum_layers = float(sum(r["latency_us_median"] for r in table))
    whole_median = float(whole_row["latency_us"]["median"])
    return {
        "layers": table,
        "whole": whole_row,
        "extras": result["models"][n + 1 :],
        "prefixes": result["models"][:n],
        "check": {
            "sum_of_layer_medians_us": sum_layers, "whole_median_us": whole_median,
            "ratio": sum_layers / whole_median if whole_median else None,
            "within_15pct": abs(sum_layers / whole_median - 1) <= 0.15 if whole_median else False,
        },
        "host": result["host"], "config": result["config"], "runner": result["runner"],
    }
