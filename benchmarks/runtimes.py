"""The default device half on this CPU across runtimes, in one run, same input, same thread count.

Runtimes: torch eager fp32, ONNX Runtime fp32, TFLite fp32 (LiteRT, XNNPACK), TFLite int8
(the bundle's device.tflite), and ExecuTorch XNNPACK fp32 when `executorch` is installed.
Every timed call takes the same float32 window and returns float32 features (the int8 model
quantizes its input and dequantizes its output inside the call, as a device must). Calls are
interleaved round by round, so drift on a shared machine hits every runtime alike.

Plus: the achieved MAC/s of the largest layer (by MACs), run alone in each runtime, against a
measured GEMM peak of this CPU (numpy and torch float32 matmul, same thread count).
Results: medians, p90s and ratios (to TFLite int8 and to torch eager) -> benchmarks/results/runtimes.json.
x86 numbers are not phone numbers; the host is recorded with them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections import OrderedDict
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
from int8_mobile_lib import (  # sibling module (benchmarks/ is sys.path[0] when run as a script)
    SPIN_GAP_S,
    best_rate,
    time_interleaved,
)


def _versions() -> dict:
    out = {}
    for name in ("torch", "onnxruntime", "ai-edge-litert", "numpy", "executorch"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def gemm_peak(threads: int, n: int = 512, reps: int = 20) -> dict:
    """Best sustained float32 matmul rate of this CPU: MAC/s of an n x n x n product (numpy and torch)."""
    import torch
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    out = {}
    for name, fn in (("numpy", lambda: a @ b), ("torch", lambda: torch.mm(ta, tb))):
        with threadpool_limits(limits=threads):  # numpy's BLAS would otherwise use every core
            out[name] = {"n": n, **best_rate(fn, n**3, reps, warmup=3)}
    out["peak_mac_per_s"] = max(v["best_mac_per_s"] for v in out.values() if isinstance(v, dict))
    return out


def _tflite_invoke_only(path: Path, x: np.ndarray, threads: int):
    """Just interpreter.invoke() on an input already set (what benchmark_model times)."""
    from hybridsplit.bundle.preprocess import quantize
    from hybridsplit.bundle.runtime import TFLiteRunner

    r = TFLiteRunner(path, num_threads=threads)
    iq = r.input_quant
    r.interpreter.set_tensor(r.input["index"], quantize(x, *iq, r.input["dtype"]) if iq else x)
    return r.interpreter.invoke


def _tflite_call(path: Path, x: np.ndarray, threads: int):
    from hybridsplit.bundle.preprocess import dequantize, quantize
    from hybridsplit.bundle.runtime import TFLiteRunner

    r = TFLiteRunner(path, num_threads=threads)
    inp, out = r.input, r.output
    iq, oq = r.input_quant, r.output_quant
    interp = r.interpreter

    def call():
        xi = quantize(x, *iq, inp["dtype"]) if iq and inp["dtype"] != np.float32 else x
        interp.set_tensor(inp["index"], xi)
        interp.invoke()
        y = interp.get_tensor(out["index"])
        return dequantize(y, *oq) if oq and y.dtype != np.float32 else y.copy()

    return call


def _executorch_call(module, sample, workdir: Path):
    """ExecuTorch XNNPACK fp32 .pte (the toolkit's own exporter), or the reason it could not run."""
    from hybridsplit.errors import ExportError
    from hybridsplit.exporters import pte
    from hybridsplit.exporters.config import PteConfig

    if not pte.available():
        return None, pte.NOT_INSTALLED
    try:
        path = workdir / "device_xnnpack.pte"
        pte.export(module, sample, PteConfig(), path)
        method = pte.load(path)
        return ((lambda: method.execute([sample])), (lambda: method.execute([sample])[0].numpy())), None
    except (ExportError, RuntimeError) as exc:  # report, do not fail the other runtimes
        return None, f"executorch failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"


def executorch_overhead(work: Path, rounds: int, warmup: int) -> dict:
    """ExecuTorch's fixed cost per Python call: a .pte computing x + 1 on 4 floats, through the same
    `execute`, against torch eager on the same op; what is left of a model's time is its kernels."""
    import torch

    from hybridsplit.exporters import pte
    from hybridsplit.exporters.config import PteConfig

    class AddOne(torch.nn.Module):
        def forward(self, x):
            return x + 1

    t = torch.zeros(1, 4)
    path = work / "add_one.pte"
    pte.export(AddOne(), t, PteConfig(), path)
    method = pte.load(path)
    times = time_interleaved({"executorch_execute": lambda: method.execute([t]), "torch_eager": lambda: t + 1},
                             rounds, warmup)
    return {"model": "x + 1 on a 1x4 float tensor (XNNPACK-lowered .pte)", **times,
            "per_call_overhead_us": times["executorch_execute"]["median_us"] - times["torch_eager"]["median_us"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundle", type=Path, default=Path("bundles/default"))
    p.add_argument("--run", type=Path, default=Path("runs/default"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=2000)
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/runtimes.json"))
    a = p.parse_args(argv)

    import torch
    from torch import nn

    from hybridsplit.bundle.manifest import load_manifest
    from hybridsplit.bundle.runtime import OnnxRunner
    from hybridsplit.data.base import calibration_sample
    from hybridsplit.exporters.bundle import prepare
    from hybridsplit.exporters.onnx import export_onnx
    from hybridsplit.exporters.tflite import export_fp32, export_int8
    from hybridsplit.models.graph_split import trace

    torch.set_num_threads(a.threads)
    manifest = load_manifest(a.bundle)
    prep = prepare(a.run, manifest.cut)
    device = prep.split.device.eval()
    x = prep.data.test.x[:1].astype(np.float32)
    xt = torch.from_numpy(x)
    work = Path(tempfile.mkdtemp(prefix="hybridsplit-runtimes-"))
    print(f"exporting helper models into {work}", file=sys.stderr)
    onnx_path = export_onnx(device, xt, work / "device.onnx", "input", "features", dynamic_batch=False)
    ort = OnnxRunner(onnx_path, num_threads=a.threads)

    @torch.no_grad()
    def torch_call():
        return device(xt)

    int8_path, fp32_path = (a.bundle / manifest.artifacts[k].file for k in ("tflite_int8", "tflite_fp32"))
    sess, in_name = ort.session, ort.input_name
    # like for like: every runtime twice — "/invoke" on an input already in its own format (no
    # conversion: what benchmark_model times), "/e2e" float32 window in, float32 features out
    calls = OrderedDict()
    calls["torch_eager_fp32/invoke"] = torch_call
    calls["torch_eager_fp32/e2e"] = lambda: torch_call().numpy()
    calls["onnxruntime_fp32/invoke"] = lambda: sess.run(None, {in_name: x})
    calls["onnxruntime_fp32/e2e"] = lambda: ort(x)
    calls["tflite_fp32/invoke"] = _tflite_invoke_only(fp32_path, x, a.threads)
    calls["tflite_fp32/e2e"] = _tflite_call(fp32_path, x, a.threads)
    calls["tflite_int8/invoke"] = _tflite_invoke_only(int8_path, x, a.threads)
    calls["tflite_int8/e2e"] = _tflite_call(int8_path, x, a.threads)
    et_call, et_note = _executorch_call(device, xt, work)
    et_probe = None
    if et_call:
        calls["executorch_xnnpack_fp32/invoke"], calls["executorch_xnnpack_fp32/e2e"] = et_call
        et_probe = executorch_overhead(work, a.rounds, a.warmup)
    # same input -> same features (sanity: every runtime computes the same function)
    ref = torch_call().numpy()
    agreement = {}
    for k, fn in calls.items():
        if k.endswith("/invoke"):
            continue
        y = fn()
        y = y.numpy() if hasattr(y, "numpy") else np.asarray(y[0] if isinstance(y, list | tuple) else y)
        agreement[k] = float(np.abs(y.reshape(ref.shape) - ref).max())
        agreement[k.replace("/e2e", "/invoke")] = agreement[k]
    gap = SPIN_GAP_S if a.threads > 1 else 0.0  # let other runtimes' spinning threads settle
    whole = time_interleaved(calls, a.rounds, a.warmup, gap)
    for k, v in whole.items():
        same = k.split("/")[1]  # ratios within the same kind of call
        v["ratio_to_tflite_int8"] = v["median_us"] / whole[f"tflite_int8/{same}"]["median_us"]
        v["ratio_to_torch_eager"] = v["median_us"] / whole[f"torch_eager_fp32/{same}"]["median_us"]
        v["max_abs_vs_torch"] = agreement[k]

    # the largest layer alone (the stage of the device half with the most MACs), in each runtime, vs the GEMM peak
    full = prep.split.full
    names = full.stage_names()
    stages = [(n, getattr(full, n).eval()) for n in names[: names.index(manifest.cut) + 1]]
    stage_macs, sx = [], xt
    with torch.no_grad():
        for _, stage in stages:
            stage_macs.append(sum(trace(stage, sx).macs.values()))  # the graph splitter's MAC counter
            sx = stage(sx)
    k = int(np.argmax(stage_macs))
    layer_name, layer = stages[k]
    head = nn.Sequential(OrderedDict(stages[:k])).eval()
    with torch.no_grad():
        lx = head(xt)
        calib_x = calibration_sample(prep.data.train.x, 256, prep.ckpt.recipe.seed)
        lcalib = head(torch.from_numpy(calib_x)).numpy()
    lxn = lx.numpy()
    l_onnx = export_onnx(layer, lx, work / "layer.onnx", "input", "out", dynamic_batch=False)
    l_fp32 = export_fp32(layer, lx, work / "layer_fp32.tflite").path
    l_int8 = export_int8(layer, lx, lcalib, work / "layer_int8.tflite").path
    l_ort = OnnxRunner(l_onnx, num_threads=a.threads)

    @torch.no_grad()
    def l_torch():
        return layer(lx)

    lcalls = OrderedDict(torch_eager_fp32=l_torch, onnxruntime_fp32=lambda: l_ort(lxn),
                         tflite_fp32=_tflite_call(l_fp32, lxn, a.threads), tflite_int8=_tflite_call(l_int8, lxn, a.threads))
    ltimes = time_interleaved(lcalls, a.rounds, a.warmup, gap)
    peak = gemm_peak(a.threads)
    macs = stage_macs[k]
    for v in ltimes.values():
        v["mac_per_s"] = macs / (v["median_us"] * 1e-6)
        v["fraction_of_gemm_peak"] = v["mac_per_s"] / peak["peak_mac_per_s"]

    doc = {
        "benchmark": "device half across runtimes",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {"machine": platform.machine(), "cpu": _cpu(), "cpu_count": os.cpu_count(),
                 "loadavg_at_start": os.getloadavg()},
        "versions": _versions(),
        "bundle": str(a.bundle), "cut": manifest.cut, "input_shape": list(x.shape), "threads": a.threads,
        "rounds": a.rounds, "warmup": a.warmup,
        "call": "batch 1; '/invoke': the runtime's call on an input already in its format (TFLite invoke() after "
                "set_tensor, ORT run(), torch forward, ExecuTorch execute()); '/e2e': float32 window in, float32 "
                "features out (int8: quantize + set_tensor + invoke + get_tensor + dequantize)",
        "executorch_overhead": et_probe,
        "whole_device_half": whole,
        "executorch": et_note or "included",
        "largest_layer": {"name": layer_name, "kind": "+".join(type(m).__name__ for m in layer.modules() if not list(m.children())), "macs": macs,
                          "input_shape": list(lx.shape), "runtimes": ltimes},
        "gemm_peak": peak,
        "note": "x86 timings on a shared 2-core VM are not phone timings; compare ratios, not absolute numbers",
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"{'runtime':28} {'median µs':>10} {'p90 µs':>9} {'x int8':>7} {'x torch':>8}")
    for k2, v in whole.items():
        print(f"{k2:28} {v['median_us']:10.2f} {v['p90_us']:9.2f} {v['ratio_to_tflite_int8']:7.2f} {v['ratio_to_torch_eager']:8.2f}")
    print(f"largest layer {layer_name} ({macs:,} MACs); GEMM peak {peak['peak_mac_per_s'] / 1e9:.2f} GMAC/s (fp32, {a.threads} thread(s))")
    for k2, v in ltimes.items():
        print(f"  {k2:26} {v['median_us']:8.2f} µs  {v['mac_per_s'] / 1e9:6.2f} GMAC/s  {100 * v['fraction_of_gemm_peak']:5.1f}% of peak")
    print(f"executorch: {doc['executorch']}")
    if et_probe:
        print(f"executorch fixed cost per execute() call (x + 1 on 4 floats): "
              f"{et_probe['executorch_execute']['median_us']:.1f} µs vs torch {et_probe['torch_eager']['median_us']:.1f} µs")
    print(f"wrote {a.out}")
    return 0


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
