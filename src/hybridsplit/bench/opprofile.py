"""Per-op profile of any .tflite on a target, from the file alone (no torch, no run, no bundle).

One prefix model per op (bench/tflite_graph.py), all timed with the file itself in one target run
(bench/profile.py): each op's row gives its kind, activation input / output shapes and dtypes,
weight dtype, MACs, whether the whole model's delegate (XNNPACK) runs it, and its median / p90
latency (paired prefix differences). `check` compares the sum of the per-op medians with the
whole invoke's median (goal: within 15%). `by_kind` sums the time per op kind, which is where
a slow int8 model shows its cause (e.g. HARD_SWISH left to LiteRT's own kernels).
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from pathlib import Path

from hybridsplit.bench.profile import prefixes_from_tflite, profile_on_target
from hybridsplit.bench.targets import BenchConfig, Target

OP_FIELDS = ("name", "kind", "inputs", "outputs", "output_dtype", "weight_dtype", "macs", "params",
             "delegated", "partition", "latency_us_median", "latency_us_p90", "latency_method", "timed_with", "cumulative_us_median")


def op_rows(layers: list[dict]) -> list[dict]:
    """The per-op columns of a prefix layer table (bench/profile.layer_table)."""
    return [{k: r.get(k) for k in OP_FIELDS} for r in layers]


def by_kind(ops: list[dict]) -> list[dict]:
    """Time, count and delegation per op kind, slowest first."""
    acc: dict[str, dict] = defaultdict(lambda: {"count": 0, "latency_us": 0.0, "not_delegated": 0})
    for o in ops:
        a = acc[o["kind"]]
        a["count"] += 1
        a["latency_us"] += o["latency_us_median"] or 0.0
        a["not_delegated"] += o["delegated"] is False
    return sorted(({"kind": k, **v} for k, v in acc.items()), key=lambda r: -r["latency_us"])


def summarize(path: Path, prof: dict) -> dict:
    """The per-op document of one file from a `profile_on_target` result."""
    ops = op_rows(prof["layers"])
    whole = prof["whole"]
    deleg = whole.get("delegation") or {}
    return {
        "file": Path(path).name, "file_bytes": whole["file_bytes"],
        "input": whole["input"], "output": whole["output"],
        "whole_latency_us": whole["latency_us"], "init_ms": whole.get("init_ms"),
        "delegation": {"partitions": deleg.get("partitions"), "ops": deleg.get("nodes"),
                       "delegated": len(deleg.get("delegated") or []),
                       "not_delegated": [o["name"] + " " + o["kind"] for o in ops if o["delegated"] is False]},
        "check": prof["check"], "by_kind": by_kind(ops), "ops": ops,
        "method": "prefix: ops 0..k of the file per prefix, op = paired per-round difference of successive prefixes",
    }


def profile_tflite(path: Path, target: Target, cfg: BenchConfig, workdir: Path | None = None) -> dict:
    """Per-op profile of one .tflite on `target` (local or ssh: the runner reports delegation)."""
    tmp = tempfile.TemporaryDirectory(prefix="hybridsplit-ops-") if workdir is None else None
    work = Path(tmp.name) if tmp else Path(workdir)
    try:
        prefixes = prefixes_from_tflite(Path(path), work)
        prof = profile_on_target(prefixes, Path(path), target, cfg)
    finally:
        if tmp:
            tmp.cleanup()
    doc = summarize(path, prof)
    doc.update(host=prof["host"], config=prof["config"], runner=prof["runner"], target=target.spec)
    return doc
