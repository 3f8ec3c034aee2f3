"""Per-layer cost of a device half by the prefix method (Neurosurgeon-style), on any target.

One prefix model per stage (stages 1..k of the backbone) is exported the way the bundle's
device half is (full-int8 TFLite by default, or fp32) and all prefixes are timed on the
target in one run; a layer's latency is the difference of successive prefixes. On local
and ssh targets the runner times the prefixes interleaved, so the per-round differences are
paired and their median / p90 are reported; on adb (one benchmark_model run per model) the
difference of medians is used. Static costs (MACs, params, output shape and bytes) come from
the PyTorch stage itself. Per-op times, where the target prints them (benchmark_model's op
profiling), are attached to the whole-model row.
"""

from __future__ import annotations

import tempfile
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hybridsplit.bench.targets import BenchConfig, Target


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


@dataclass
class PrefixModels:
    """Exported prefixes: paths[k] runs stages[: k + 1]."""

    stages: list[StageStats]
    paths: list[Path]
    mode: str
    workdir: Path
    input_shape: list[int]
    extra: dict = field(default_factory=dict)


def _kind(module: nn.Module) -> str:
    leaves = [m for m in module.modules() if not list(m.children())] or [module]
    return "+".join(type(m).__name__ for m in leaves)


def _mac_hooks(counter: list[int]):
    def conv(m: nn.Module, inp, out):
        k = int(np.prod(m.kernel_size))
        counter[0] += int(out.numel() // out.shape[0]) * (m.in_channels // m.groups) * k

    def linear(m: nn.Linear, inp, out):
        counter[0] += int(out.numel() // out.shape[0]) * m.in_features

    return conv, linear


@torch.no_grad()
def stage_stats(stages: list[tuple[str, nn.Module]], sample: torch.Tensor) -> list[StageStats]:
    """Static per-stage costs for one sample: MACs (conv + linear), params, output shape and bytes."""
    out, x = [], sample[:1]
    for name, stage in stages:
        counter = [0]
        conv, linear = _mac_hooks(counter)
        handles = []
        for m in stage.modules():
            if isinstance(m, nn.Conv1d | nn.Conv2d | nn.Conv3d):
                handles.append(m.register_forward_hook(conv))
            elif isinstance(m, nn.Linear):
                handles.append(m.register_forward_hook(linear))
        x = stage.eval()(x)
        for h in handles:
            h.remove()
        params = sum(p.numel() for p in stage.parameters())
        numel = int(x[0].numel())
        out.append(StageStats(name=name, kind=_kind(stage), output_shape=list(x.shape[1:]),
                              output_bytes_fp32=4 * numel, output_bytes_int8=numel, macs=counter[0], params=params,
                              weight_bytes_int8=params, weight_bytes_fp32=4 * params))
    return out


def calibration_sample(x: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(x), size=min(n, len(x)), replace=False)
    return x[np.sort(idx)]


def export_prefixes(model: nn.Sequential, sample: torch.Tensor, calibration: np.ndarray | None,
                    out_dir: Path | None = None, upto: int | None = None, mode: str = "int8") -> PrefixModels:
    """Export stages[:1], stages[:2], ... stages[:upto] of `model` as .tflite (int8 or fp32)."""
    from hybridsplit.exporters import tflite as tflite_export

    stages = list(model.named_children())[: upto or None]
    workdir = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="hybridsplit-prefix-"))
    workdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(1, len(stages) + 1):
        prefix = nn.Sequential(OrderedDict(stages[:k])).eval()
        path = workdir / f"prefix_{k:02d}_{stages[k - 1][0]}.tflite"
        if mode == "int8":
            if calibration is None:
                raise ValueError("int8 prefixes need calibration data")
            tflite_export.export_int8(prefix, sample, calibration, path)
        else:
            tflite_export.export_fp32(prefix, sample, path)
        paths.append(path)
    return PrefixModels(stage_stats(stages, sample), paths, mode, workdir, list(sample.shape))


def prefixes_from_run(run_dir: Path, cut: str | None = None, out_dir: Path | None = None, mode: str = "int8",
                      whole_model: bool = False) -> PrefixModels:
    """Prefixes of the run's model up to its cut (or every stage when whole_model), with the recipe's calibration."""
    from hybridsplit.exporters.bundle import prepare

    prep = prepare(run_dir, cut)
    recipe, data = prep.ckpt.recipe, prep.data
    device_stages = len(list(prep.split.device.children()))
    sample = torch.from_numpy(data.test.x[:1])
    calib = calibration_sample(data.train.x, recipe.export.calibration_samples, recipe.seed) if mode == "int8" else None
    model = prep.split.full if whole_model else prep.split.device
    pm = export_prefixes(model, sample, calib, out_dir, mode=mode)
    pm.extra = {"cut": prep.split.cut, "device_stages": device_stages, "recipe_sha256": recipe.digest()}
    return pm


def _layer_latency(rows: list[dict], k: int) -> dict:
    """Latency of layer k from prefix rows k-1 and k: paired per-round differences when samples exist."""
    cur = rows[k]
    if k == 0:
        base = cur["latency_us"]
        return {"median": base["median"], "p90": base.get("p90"), "method": "prefix"}
    prev = rows[k - 1]
    a, b = cur.get("samples_us") or [], prev.get("samples_us") or []
    if a and len(a) == len(b):
        d = np.asarray(a) - np.asarray(b)
        return {"median": float(np.median(d)), "p90": float(np.percentile(d, 90)), "method": "paired difference"}
    return {"median": cur["latency_us"]["median"] - prev["latency_us"]["median"], "p90": None,
            "method": "difference of medians"}


def layer_table(prefixes: PrefixModels, result: dict, n_prefix: int | None = None) -> list[dict]:
    """One row per stage: static costs + latency (median, p90) + cumulative latency (median of the prefix)."""
    rows = result["models"][: n_prefix or len(prefixes.paths)]
    table = []
    for k, (st, row) in enumerate(zip(prefixes.stages, rows, strict=True)):
        lat = _layer_latency(rows, k)
        table.append({
            **asdict(st),
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
    result = target.run(models, cfg)
    n = len(prefixes.paths)
    table = layer_table(prefixes, result, n)
    whole_row = result["models"][n]
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
