"""BYOM matrix: for each model, 3 cuts -> device∘cloud parity, TFLite fp32 and int8 parity.

    .venv/bin/python benchmarks/byom_matrix.py [--size 64] [--models SPEC ...] [--out benchmarks/results/byom.json]

Random weights (no pretrained weights can be fetched here); inputs are random normal images.
fp32 gate: max|tflite - torch| / max|torch| <= 1e-4 (the bundle's parity_rtol). int8 error is
reported, not gated (static full-int8 of a random-weight net has no accuracy to keep).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

DEFAULT_MODELS = [
    "python:hybridsplit.models.byom_examples:tiny_resnet",
    "torchvision:mobilenet_v3_small",
    "torchvision:resnet18",
    "torchvision:efficientnet_b0",
]
FP32_RTOL = 1e-4


def pick_cuts(cuts, k: int = 3):
    """k cuts spread over the network, preferring ones that end a named module (block ends)."""
    named = [c for c in cuts if c.ends] or cuts
    named = [c for c in named if len(c.output_shape) > 1] or named  # feature maps, not the pooled vector
    if len(named) <= k:
        return named
    idx = [min(len(named) - 1, round((i + 0.5) * len(named) / k)) for i in range(k)]
    return [named[i] for i in dict.fromkeys(idx)]


def settle_batchnorm(model, shape, n: int = 32) -> None:
    """Random weights, but BatchNorm statistics of real activations (random-normal images), as a
    trained net has: default (0, 1) statistics let activations vanish layer by layer, which makes
    int8 numbers meaningless."""
    import torch

    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: one pass gives this batch's statistics
    model.train()
    with torch.no_grad():
        model(torch.randn(n, *shape))
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.eval()


def run_model(spec: str, size: int, workdir: Path, n_check: int = 8, n_calib: int = 64) -> dict:
    import numpy as np
    import torch

    from hybridsplit.bundle.runtime import TFLiteRunner
    from hybridsplit.exporters.parity import measure_parity
    from hybridsplit.exporters.tflite import export_fp32, export_int8
    from hybridsplit.models import create_backbone, split_model
    from hybridsplit.models.graph_split import list_cuts

    torch.manual_seed(0)
    shape = (3, size, size)
    model = create_backbone(spec, 10, shape).eval()
    settle_batchnorm(model, shape)
    t0 = time.time()
    cuts = list_cuts(model)
    row = {"model": spec, "input_shape": list(shape), "n_valid_cuts": len(cuts),
           "list_s": round(time.time() - t0, 2), "cuts": []}
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n_check, *shape)).astype(np.float32)
    calib = rng.standard_normal((n_calib, *shape)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    for cut in pick_cuts(cuts):
        t = time.time()
        split = split_model(model, cut.name)
        with torch.no_grad():
            feats = split.device(torch.from_numpy(x)).numpy()
            again = split.cloud(torch.from_numpy(feats)).numpy()
        entry = {"cut": cut.name, "aliases": list(cut.ends), "output_shape": list(cut.output_shape),
                 "device_macs": cut.macs, "total_macs": cut.total_macs,
                 "compose_max_abs": float(np.abs(again - ref).max())}
        sample = torch.from_numpy(x[:1])
        f32 = workdir / f"{len(row['cuts'])}_{spec.split(':')[-1]}_fp32.tflite"
        i8 = f32.with_name(f32.name.replace("fp32", "int8"))
        export_fp32(split.device, sample, f32)
        p32 = measure_parity(feats, TFLiteRunner(f32)(x), FP32_RTOL)
        export_int8(split.device, sample, calib, i8)
        r8 = TFLiteRunner(i8)
        p8 = measure_parity(feats, r8(x))
        entry.update({
            "tflite_fp32": {"max_abs": p32.max_abs, "rel": p32.rel, "gate_pass": p32.rel <= FP32_RTOL},
            "tflite_int8": {"max_abs": p8.max_abs, "mean_abs": p8.mean_abs, "rel": p8.rel,
                            "mean_rel": p8.mean_abs / (float(np.abs(feats).mean()) or 1.0),
                            "int8_input": r8.input_quant is not None, "int8_output": r8.output_quant is not None},
            "seconds": round(time.time() - t, 1),
        })
        row["cuts"].append(entry)
        print(f"{spec:52} {cut.name:28} compose {entry['compose_max_abs']:.1e}  fp32 rel {p32.rel:.1e} "
              f"({'pass' if p32.rel <= FP32_RTOL else 'FAIL'})  int8 rel {p8.rel:.1e} max_abs {p8.max_abs:.2e} "
              f"mean_rel {entry['tflite_int8']['mean_rel']:.1e} int8 out {r8.output_quant is not None}  "
              f"{entry['seconds']}s", flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--models", nargs="*", default=DEFAULT_MODELS)
    ap.add_argument("--out", default="benchmarks/results/byom.json")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.models:
            results.append(run_model(spec, args.size, Path(tmp)))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"host": "x86_64 CPU (2 cores), litert-torch + ai-edge-litert", "weights": "random",
                               "results": results}, indent=1) + "\n")
    ok = all(c["compose_max_abs"] <= 1e-5 and c["tflite_fp32"]["gate_pass"] for r in results for c in r["cuts"])
    print(f"wrote {out}; {'all gates pass' if ok else 'SOME GATES FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
