"""Real-size device halves across runtimes, int8 before/after the mobile rewrites, per-op sums: one run.

Models (torchvision, random weights, BatchNorm statistics settled on random images — no
downloads): mobilenet_v3_small to features.6.add, resnet18 to layer2.1.relu_1, efficientnet_b0
to features.3 (224 x 224). Per model: TFLite fp32, fp16 and int8 with the project's exporters, int8
without the rewrites of exporters/mobile_rewrites.py ("before"), ONNX Runtime fp32 and int8 (QDQ,
calibrated on the TFLite int8 calibration data), torch eager, and ExecuTorch XNNPACK fp32 when its
runtime is installed (else recorded as skipped, with the reason).
Every runtime is timed two ways, interleaved round by round in one process, at the same thread count:
  invoke: the runtime call on an input already in its own format (TFLite: invoke() after
          set_tensor; ORT: run(); torch: forward; ExecuTorch: execute()) — what benchmark_model times;
  e2e:    float32 NCHW in -> float32 features out, conversions (quantise / dequantise) included.
Plus: the per-op profile (prefix method, bench/opprofile.py) of every .tflite (sum of op medians vs
the whole invoke); this CPU's measured fp32 GEMM / conv peak per thread count, and every call's
MACs per second (the half's MACs from the project's TFLite graph counter) as a share of it; the
goal ratios (int8 / fp32, int8 / fastest runtime, per-op sums) with goals_met; and first, the bound
this CPU puts on int8 / fp32: single conv ops (3x3, 1x1, depthwise) int8 vs fp32 through the same exporters.
Results -> benchmarks/results/int8_mobile.json. x86 numbers, not phone ones.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import OrderedDict
from pathlib import Path

import int8_mobile_lib as lib  # sibling module (benchmarks/ is sys.path[0] when run as a script)
import numpy as np

MODELS = {"mobilenet_v3_small": "features.6.add", "resnet18": "layer2.1.relu_1", "efficientnet_b0": "features.3"}


def build(name: str, cut: str):
    import torch

    from hybridsplit.models.specs import import_torchvision
    from hybridsplit.models.split import split_model

    tv = import_torchvision()
    torch.manual_seed(0)
    model = getattr(tv.models, name)(weights=None).train()
    with torch.no_grad():  # settle BatchNorm statistics so activations have realistic ranges
        for _ in range(4):
            model(torch.rand(8, 3, 224, 224))
    model.eval()
    model.input_shape = (3, 224, 224)
    return split_model(model, cut).device.eval()


def export_all(device, work: Path) -> dict[str, Path]:
    """The files of one device half; files already in `work` (--workdir of an earlier run) are reused."""
    import torch

    from hybridsplit.exporters import mobile_rewrites
    from hybridsplit.exporters.onnx import export_onnx
    from hybridsplit.exporters.tflite import export_fp32, export_int8

    names = {"tflite_fp32": "fp32.tflite", "tflite_int8": "int8.tflite", "tflite_int8_before": "int8_before.tflite",
             "tflite_fp16": "fp16.tflite", "onnx_fp32": "fp32.onnx", "onnx_int8_qdq": "int8_qdq.onnx"}
    if all((work / f).is_file() for f in names.values()):
        return {k: work / f for k, f in names.items()}
    x = torch.rand(1, 3, 224, 224)
    calib = np.random.default_rng(0).random((16, 3, 224, 224), dtype=np.float32)
    files = {"tflite_fp32": export_fp32(device, x, work / "fp32.tflite").path,
             "tflite_int8": export_int8(device, x, calib, work / "int8.tflite").path}
    saved = dict(mobile_rewrites.REWRITES)
    mobile_rewrites.REWRITES.clear()
    try:
        files["tflite_int8_before"] = export_int8(device, x, calib, work / "int8_before.tflite").path
    finally:
        mobile_rewrites.REWRITES.update(saved)
    files["tflite_fp16"] = lib.export_tflite_fp16(device, x, work / "fp16.tflite")
    files["onnx_fp32"] = export_onnx(device, x, work / "fp32.onnx", "input", "features", dynamic_batch=False)
    files["onnx_int8_qdq"] = lib.export_ort_qdq(files["onnx_fp32"], calib, work / "int8_qdq.onnx")
    return files


def tflite_calls(path: Path, x: np.ndarray, threads: int):
    from hybridsplit.bundle.preprocess import dequantize, quantize
    from hybridsplit.bundle.runtime import TFLiteRunner

    r = TFLiteRunner(path, num_threads=threads)
    it, inp, out, iq, oq = r.interpreter, r.input, r.output, r.input_quant, r.output_quant
    xi = quantize(x, *iq, inp["dtype"]) if iq else x

    def invoke():
        it.invoke()

    def e2e():
        it.set_tensor(inp["index"], quantize(x, *iq, inp["dtype"]) if iq else x)
        it.invoke()
        y = it.get_tensor(out["index"])
        return dequantize(y, *oq) if oq else y.copy()

    it.set_tensor(inp["index"], xi)
    return invoke, e2e


def runtime_calls(device, files: dict[str, Path], threads: int, work: Path) -> tuple[OrderedDict, str | None]:
    """Every runtime's (invoke, e2e) pair on one input, and why ExecuTorch was skipped (None: it is timed)."""
    import torch

    from hybridsplit.bundle.runtime import OnnxRunner

    x = np.random.default_rng(1).random((1, 3, 224, 224), dtype=np.float32)
    xt = torch.from_numpy(x)
    calls = OrderedDict()

    @torch.no_grad()
    def torch_call():
        return device(xt)

    calls["torch_eager_fp32/invoke"] = torch_call
    calls["torch_eager_fp32/e2e"] = lambda: torch_call().numpy()
    # ORT QDQ models keep float32 I/O (Quantize/DequantizeLinear are graph nodes), so the int8
    # model's /invoke runs on the float input too: its conversions are inside the call
    for key in ("onnx_fp32", "onnx_int8_qdq"):
        ort = OnnxRunner(files[key], num_threads=threads)
        label = "onnxruntime_" + key.removeprefix("onnx_")
        calls[f"{label}/invoke"] = lambda s=ort.session, n=ort.input_name: s.run(None, {n: x})
        calls[f"{label}/e2e"] = lambda r=ort: r(x)
    for key in ("tflite_fp32", "tflite_fp16", "tflite_int8", "tflite_int8_before"):
        calls[f"{key}/invoke"], calls[f"{key}/e2e"] = tflite_calls(files[key], x, threads)
    et, skipped = lib.executorch_calls(device, xt, work, threads)
    if et:
        calls["executorch_xnnpack_fp32/invoke"], calls["executorch_xnnpack_fp32/e2e"] = et
    return calls, skipped


def agreement(calls: dict, ref: np.ndarray) -> dict:
    """max |runtime - torch| / max |torch| of every /e2e output: each runtime computes the same function."""
    out = {}
    for k, fn in calls.items():
        if k.endswith("/e2e"):
            y = np.asarray(fn()).reshape(ref.shape)
            out[k.removesuffix("/e2e")] = float(np.abs(y - ref).max() / max(np.abs(ref).max(), 1e-12))
    return out


def per_op_checks(files: dict[str, Path], threads: int, runs: int) -> dict:
    from hybridsplit.bench.opprofile import profile_tflite
    from hybridsplit.bench.targets import BenchConfig, LocalTarget
    from hybridsplit.errors import HybridsplitError

    cfg = BenchConfig(runs=runs, warmup=10, threads=threads, timeout_s=3600)
    out = {}
    for key in ("tflite_fp32", "tflite_fp16", "tflite_int8", "tflite_int8_before"):
        try:
            doc = profile_tflite(files[key], LocalTarget(), cfg)
        except HybridsplitError as exc:  # one file that cannot be profiled is recorded, not fatal
            out[key] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}
            continue
        out[key] = {"check": doc["check"], "delegation": doc["delegation"], "by_kind": doc["by_kind"][:6],
                    "ops": len(doc["ops"])}
    return out


def one_model(name: str, cut: str, threads: list[int], rounds: int, op_runs: int, work: Path, peaks: dict) -> dict:
    import torch

    from hybridsplit.bench.tflite_graph import TFLiteGraph
    from hybridsplit.exporters.speedcheck import check

    device = build(name, cut)
    t0 = time.time()
    files = export_all(device, work / name)
    macs = sum(op.macs for op in TFLiteGraph(files["tflite_fp32"]).ops)
    doc = {"cut": cut, "export_s": round(time.time() - t0, 1), "macs": macs, "threads": {}}
    doc["per_op"] = per_op_checks(files, 1, op_runs)
    for n in threads:
        torch.set_num_threads(n)
        calls, skipped = runtime_calls(device, files, n, work / name)
        doc.setdefault("executorch_skipped", {})[str(n)] = skipped
        ref = calls["torch_eager_fp32/e2e"]()
        times = lib.time_interleaved(calls, rounds, max(5, rounds // 10), lib.SPIN_GAP_S if n > 1 else 0.0)
        doc["threads"][str(n)] = {"times": times, "ratios": lib.goal_ratios(times, doc["per_op"]),
                                  "mac_rates": lib.mac_rates(times, macs, peaks[n]["peak_mac_per_s"]),
                                  "rel_err_vs_torch": agreement(calls, ref), "executorch_threads": lib.executorch_threads()}
    doc["speed_check"] = {k: {kk: check(files[k], runs=10)[kk] for kk in ("not_delegated", "qdq_islands", "delegate_partitions")}
                          for k in ("tflite_int8", "tflite_int8_before")}
    return doc


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--rounds", type=int, default=100)
    p.add_argument("--op-runs", type=int, default=60, help="timed runs per prefix model in the per-op check")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/int8_mobile.json"))
    p.add_argument("--workdir", type=Path, default=None, help="keep (and reuse) the exported files here")
    a = p.parse_args(argv)
    work = a.workdir or Path(tempfile.mkdtemp(prefix="hybridsplit-int8-mobile-"))
    peaks = {n: lib.cpu_peak(n) for n in a.threads}
    doc = {"benchmark": "real-size device halves: int8 before/after rewrites, runtimes, per-op sums",
           "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "host": {"cpu_count": os.cpu_count(), "loadavg_at_start": os.getloadavg()},
           "rounds": a.rounds, "cpu_peak": {str(n): v for n, v in peaks.items()},
           "goals": {"int8_over_fp32_max": lib.INT8_OVER_FP32_MAX, "int8_over_fastest_max": lib.INT8_OVER_FASTEST_MAX,
                     "per_op_tolerance": lib.PER_OP_TOLERANCE},
           "models": {}}
    doc["kernel_bound"] = {}
    for n in a.threads:
        doc["kernel_bound"][str(n)] = b = lib.kernel_bound(n, work / "kernels")
        print(f"kernels {n}T: " + ", ".join(f"{k} int8/fp32 {v['int8_over_fp32']:.2f}" for k, v in b["ops"].items())
              + f"; the 0.6x goal is {'within' if b['goal_reachable_here'] else 'out of'} this CPU's reach")
    for name in a.models:
        print(f"{name}: exporting and timing", file=sys.stderr)
        doc["models"][name] = one_model(name, MODELS[name], a.threads, a.rounds, a.op_runs, work, peaks)
        doc["host"]["loadavg_at_end"] = os.getloadavg()
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(doc, indent=2) + "\n")  # partial results survive a later failure
        m = doc["models"][name]
        for n, t in m["threads"].items():
            r = t["ratios"]
            print(f"{name} {n}T: int8/fp32 {r['int8_over_fp32']:.2f} (before {r['int8_before_over_fp32']:.2f}), "
                  f"int8/fastest ({r['fastest_invoke']}) {r['int8_over_fastest_invoke']:.2f}; goals {r['goals_met']}; "
                  + ", ".join(f"{k} {v['median_us']:.0f} µs ({100 * t['mac_rates'][k]['share_of_fp32_peak']:.0f}% of peak)"
                              for k, v in t["times"].items() if k.endswith("/invoke")))
        for n, why in m["executorch_skipped"].items():
            if why:
                print(f"  executorch skipped at {n} thread(s): {why}")
        for k, v in m["per_op"].items():
            if "error" in v:
                print(f"  per-op {k}: not profiled ({v['error']})")
                continue
            print(f"  per-op {k}: ratio {v['check']['ratio']:.3f}, not delegated {v['delegation']['not_delegated'][:3]}")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
