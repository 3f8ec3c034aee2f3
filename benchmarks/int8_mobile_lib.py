"""Helpers of int8_mobile.py: the runtimes it adds (TFLite fp16, ONNX Runtime int8 QDQ, ExecuTorch
XNNPACK), this CPU's measured fp32 conv/GEMM peak, MAC/s and share of that peak, and the goal ratios.

The arithmetic (`mac_rates`, `goal_ratios`) is plain Python on the timing dict, so tests check it
on made-up timings; the exporters and timers import their runtimes lazily.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

# the goals (issue 16): int8 at most 0.6x TFLite fp32 and at most 1.2x the fastest runtime
# (both /invoke on the same half); every .tflite's per-op sum within 15 % of its whole invoke
INT8_OVER_FP32_MAX = 0.6
INT8_OVER_FASTEST_MAX = 1.2
PER_OP_TOLERANCE = 0.15


# ---- timing ------------------------------------------------------------------------------------

def time_interleaved(calls: dict, rounds: int, warmup: int, gap_s: float = 0.0) -> dict:
    """Median / p90 / mean / min µs of every call, timed round by round (drift on a shared machine hits
    every runtime alike), with `gap_s` of sleep before each call, untimed.

    The gap matters with more than one thread: ONNX Runtime's and OpenMP's worker threads spin for a while
    after a call returns, and the runtime timed next shares the cores with them (measured: TFLite fp32
    MobileNetV3 at 2 threads 3.9 ms alone, 4.6 ms right after an ORT call, 3.8 ms with 5 ms between)."""
    for fn in calls.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {k: [] for k in calls}
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for name, fn in calls.items():
            if gap_s:
                time.sleep(gap_s)
            t = clock()
            fn()
            samples[name].append((clock() - t) / 1e3)
    return {k: timing_stats(v) for k, v in samples.items()}


def timing_stats(samples_us: list[float]) -> dict:
    a = np.asarray(samples_us)
    return {"median_us": float(np.median(a)), "p90_us": float(np.percentile(a, 90)), "mean_us": float(a.mean()),
            "min_us": float(a.min()), "count": int(a.size)}


SPIN_GAP_S = 0.005  # between calls when threads > 1 (see time_interleaved)


# ---- TFLite fp16 -------------------------------------------------------------------------------

def export_tflite_fp16(device, sample, path: Path) -> Path:
    """float16 weights, float32 activations and I/O (the project's exporter: litert-torch + ai-edge-quantizer)."""
    from hybridsplit.exporters.config import TFLiteConfig, TFLiteMode
    from hybridsplit.exporters.tflite import export

    return export(device.eval(), sample, TFLiteConfig(TFLiteMode.fp16), path).path


# ---- ONNX Runtime int8 (QDQ) -------------------------------------------------------------------

def export_ort_qdq(fp32_onnx: Path, calibration: np.ndarray, path: Path) -> Path:
    """Static int8 QDQ model of an fp32 .onnx: per-channel int8 weights, int8 activations (MinMax),
    calibrated one sample at a time on `calibration` (the same array TFLite int8 is calibrated on).

    int8 activations and weights (S8S8), like the TFLite int8 model, rather than ORT's U8S8 option.
    The model keeps float32 input and output: the QuantizeLinear / DequantizeLinear of the I/O are
    nodes inside the graph, so an ORT "invoke" always includes them."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    name = onnx.load(str(fp32_onnx), load_external_data=False).graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(calibration[i : i + 1].astype(np.float32) for i in range(len(calibration)))

        def get_next(self):
            x = next(self._it, None)
            return None if x is None else {name: x}

    path.parent.mkdir(parents=True, exist_ok=True)
    quantize_static(str(fp32_onnx), str(path), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    return path


# ---- ExecuTorch XNNPACK fp32 -------------------------------------------------------------------

def executorch_calls(device, sample, work: Path, threads: int):
    """((invoke, e2e), None) for the device half as an XNNPACK-lowered .pte run in ExecuTorch's own
    runtime, or (None, why not). The .pte is exported once per `work`.

    Like for like only: ExecuTorch is timed at a thread count only when its XNNPACK thread pool has
    that many threads. Its pool is sized once per process (one per core) and not resized here:
    `_unsafe_reset_threadpool` in the same process as torch corrupted memory on this host (a
    malloc abort, then a KeyError from the interpreter's own dicts, after a second reset)."""
    from hybridsplit.errors import ExportError
    from hybridsplit.exporters import pte
    from hybridsplit.exporters.config import PteConfig

    if not pte.available():
        return None, pte.NOT_INSTALLED
    try:
        path = work / "xnnpack_fp32.pte"
        if not path.is_file():
            pte.export(device, sample, PteConfig(), path)
        method = pte.load(path)
    except (ExportError, RuntimeError) as exc:  # record, do not fail the other runtimes
        return None, f"executorch failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    pool = executorch_threads()
    if pool is not None and pool != threads:
        return None, (f"ExecuTorch's XNNPACK thread pool has {pool} threads, not {threads}; it is not resized in "
                      "this process (_unsafe_reset_threadpool next to torch corrupted memory)")
    return ((lambda: method.execute([sample])), (lambda: method.execute([sample])[0].numpy())), None


def executorch_threads() -> int | None:
    try:
        from executorch.extension.pybindings.portable_lib import _threadpool_get_thread_count

        return int(_threadpool_get_thread_count())
    except ImportError:
        return None


# ---- this CPU's fp32 peak ----------------------------------------------------------------------

def best_rate(fn, macs: int, reps: int, warmup: int = 2) -> dict:
    """MAC/s of `fn` from its median and its best of `reps` timed calls (after `warmup` untimed ones)."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return {"macs": macs, "median_s": float(np.median(ts)), "mac_per_s": macs / float(np.median(ts)),
            "best_mac_per_s": macs / float(min(ts))}


def cpu_peak(threads: int, n: int = 1024, reps: int = 10) -> dict:
    """Best fp32 rate of this CPU at `threads` threads: an n x n x n torch.matmul and a 3x3
    256 -> 256 convolution on 56 x 56 (a resnet-sized layer). `peak_mac_per_s` is the larger best rate."""
    import torch

    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    x, w = torch.randn(1, 256, 56, 56, generator=g), torch.randn(256, 256, 3, 3, generator=g)
    with torch.no_grad():
        out = {"threads": threads,
               "gemm": {"shape": [n, n, n], **best_rate(lambda: torch.matmul(a, b), n**3, reps)},
               "conv": {"shape": "1x256x56x56 * 256x256x3x3, pad 1",
                        **best_rate(lambda: torch.nn.functional.conv2d(x, w, padding=1), 56 * 56 * 256 * 256 * 9, reps)}}
    out["peak_mac_per_s"] = max(out["gemm"]["best_mac_per_s"], out["conv"]["best_mac_per_s"])
    return out


def mac_rates(times: dict, macs: int, peak_mac_per_s: float) -> dict:
    """Per timed call: the half's MACs per second of its median, and that rate's share of the fp32 peak."""
    out = {}
    for key, t in times.items():
        rate = macs / (t["median_us"] * 1e-6)
        out[key] = {"mac_per_s": rate, "share_of_fp32_peak": rate / peak_mac_per_s}
    return out


# ---- this CPU's int8 kernels against its fp32 ones ---------------------------------------------

KERNELS = {  # one op each, at sizes of the three models' layers: (module, input shape)
    "conv3x3 64->64 on 56x56": (lambda nn: nn.Conv2d(64, 64, 3, padding=1), (1, 64, 56, 56)),
    "conv1x1 256->256 on 28x28": (lambda nn: nn.Conv2d(256, 256, 1), (1, 256, 28, 28)),
    "depthwise3x3 256 on 28x28": (lambda nn: nn.Conv2d(256, 256, 3, padding=1, groups=256), (1, 256, 28, 28)),
}


def kernel_bound(threads: int, work: Path, runs: int = 60) -> dict:
    """int8 / fp32 of single conv ops, each exported by the project's exporters and timed as the conv's
    own row of the per-op profile (the layout transposes around it excluded), at `threads` threads.

    A model's int8 speed-up comes from these kernels; when none of them runs int8 in 0.6x its fp32 time,
    no device half made of them can: the bound is this CPU's (its XNNPACK int8 kernels), not the exporter's."""
    import torch
    from torch import nn

    from hybridsplit.bench.opprofile import profile_tflite
    from hybridsplit.bench.targets import BenchConfig, LocalTarget
    from hybridsplit.exporters.tflite import export_fp32, export_int8

    cfg = BenchConfig(runs=runs, warmup=10, threads=threads, timeout_s=1200)
    ops = {}
    for i, (name, (make, shape)) in enumerate(KERNELS.items()):
        torch.manual_seed(i)
        module, x = make(nn).eval(), torch.rand(*shape)
        calib = np.random.default_rng(i).random((8, *shape[1:]), dtype=np.float32)
        files = {"fp32": work / f"k{i}_fp32.tflite", "int8": work / f"k{i}_int8.tflite"}
        if not files["fp32"].is_file():
            export_fp32(module, x, files["fp32"])
        if not files["int8"].is_file():
            export_int8(module, x, calib, files["int8"])
        row = {}
        for kind, path in files.items():
            doc = profile_tflite(path, LocalTarget(), cfg)
            (conv,) = [o for o in doc["ops"] if o["kind"] in ("CONV_2D", "DEPTHWISE_CONV_2D")]
            row[f"{kind}_us"], row["macs"] = conv["latency_us_median"], conv["macs"]
        ops[name] = {**row, "int8_over_fp32": row["int8_us"] / row["fp32_us"]}
    return bound_summary(threads, ops)


def bound_summary(threads: int, ops: dict) -> dict:
    """The best int8 / fp32 any kernel reached, and whether the 0.6x goal is within this CPU's reach."""
    best = min(ops, key=lambda k: ops[k]["int8_over_fp32"])
    return {"threads": threads, "ops": ops, "best_op": best, "best_int8_over_fp32": ops[best]["int8_over_fp32"],
            "goal_reachable_here": ops[best]["int8_over_fp32"] <= INT8_OVER_FP32_MAX}


# ---- goals -------------------------------------------------------------------------------------

def goal_ratios(times: dict, per_op: dict | None = None) -> dict:
    """The issue's ratios on one half at one thread count, from the /invoke medians, and whether each goal is met.

    fastest: the quickest /invoke among the runtimes a deployment would choose (not the int8 model
    without the mobile rewrites). per_op: {file key: {"check": {"ratio": sum / whole}}}."""
    inv = {k.removesuffix("/invoke"): v["median_us"] for k, v in times.items() if k.endswith("/invoke")}
    q, f = inv["tflite_int8"], inv["tflite_fp32"]
    candidates = {k: v for k, v in inv.items() if k != "tflite_int8_before"}
    fastest = min(candidates, key=candidates.get)
    ratios = {"int8_over_fp32": q / f, "int8_over_fastest_invoke": q / candidates[fastest], "fastest_invoke": fastest}
    if "tflite_int8_before" in inv:
        b = inv["tflite_int8_before"]
        ratios.update(int8_before_over_fp32=b / f, int8_after_over_before=q / b)
    per_op_ok = None
    if per_op:  # a file whose per-op profile failed ({"error": ...}) fails the goal: it was not shown to hold
        per_op_ok = all("check" in v and abs(v["check"]["ratio"] - 1) <= PER_OP_TOLERANCE for v in per_op.values())
    ratios["goals_met"] = {"int8_le_0.6x_fp32": ratios["int8_over_fp32"] <= INT8_OVER_FP32_MAX,
                           "int8_le_1.2x_fastest": ratios["int8_over_fastest_invoke"] <= INT8_OVER_FASTEST_MAX,
                           "per_op_within_15pct": per_op_ok}
    return ratios
