"""Stand-alone LiteRT benchmark runner: the one program the `local` and `ssh://` targets execute.

It needs only the standard library, numpy and ai-edge-litert, so it is copied as a single
file to a board (Raspberry Pi, Jetson, ...) and run there; the local target runs the very
same file in a child process. Both therefore return the same JSON (schema below), printed
on stdout:

    {"schema": 1, "runner": "litert-python", "host": {...}, "config": {...},
     "models": [{"model", "file_bytes", "input", "output", "init_ms",
                 "latency_us": {count, mean, median, p90, min, max, std},
                 "samples_us": [...], "memory": {...}, "ops": [],
                 "delegation": {"nodes", "delegated", "partitions"}}]}

Phase 1 loads each model in turn and measures its peak RSS (VmHWM, reset through
/proc/self/clear_refs where the kernel allows it); phase 2 times all models *interleaved*
round by round (model 0, 1, ..., n-1, then again), so slow drift on a shared machine hits
every model alike and per-round differences between prefix models are paired.
Exit code 3 with one line on stderr means the board lacks something (numpy, ai-edge-litert).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import sys
import time

SCHEMA = 1


def _status_kb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # Linux >= 4.0: reset VmHWM to the current RSS
        return True
    except OSError:
        return False


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    pos = (len(sorted_values) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarize(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {
        "count": len(s), "mean": statistics.fmean(s) if s else float("nan"),
        "median": _percentile(s, 0.5), "p90": _percentile(s, 0.9),
        "min": s[0] if s else float("nan"), "max": s[-1] if s else float("nan"),
        "std": statistics.pstdev(s) if len(s) > 1 else 0.0,
    }


def delegation(interp) -> dict:
    """Which of the file's ops a delegate (XNNPACK by default) took over, read from the interpreter.

    After delegation the node list is the file's ops followed by one DELEGATE node per partition,
    whose inputs/outputs are the partition's boundary tensors. Walking back from a partition's
    outputs through producers, stopping at its inputs, finds exactly its ops; an op outside every
    partition runs on LiteRT's own (reference/optimized) kernels.
    """
    nodes = [(interp._interpreter.NodeName(i), [int(t) for t in interp._interpreter.NodeInputs(i)],
              [int(t) for t in interp._interpreter.NodeOutputs(i)]) for i in range(interp._interpreter.NumNodes())]
    first_delegate = next((i for i, n in enumerate(nodes) if n[0] == "DELEGATE"), len(nodes))
    ops = nodes[:first_delegate]
    producer = {t: i for i, (_, _, outs) in enumerate(ops) for t in outs}
    delegated: dict[int, int] = {}
    for p, (_, ins, outs) in enumerate(nodes[first_delegate:]):
        stop, todo = set(ins), [t for t in outs]
        while todo:
            op = producer.get(todo.pop())
            if op is None or op in delegated:
                continue
            delegated[op] = p
            todo += [t for t in ops[op][1] if t >= 0 and t not in stop]
    return {"nodes": len(ops), "partitions": len(nodes) - first_delegate,
            "delegated": sorted(delegated), "partition_of": [delegated.get(i) for i in range(len(ops))]}


def _delegation_or_none(interp) -> dict | None:
    try:  # the node list is read through the wrapper LiteRT's own _get_ops_details uses
        return delegation(interp)
    except Exception:  # noqa: BLE001 - an older runtime on a board: no delegation column, timings still valid
        return None


def _input_for(detail: dict, rng) -> object:
    import numpy as np

    shape, dtype = detail["shape"], detail["dtype"]
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, -100), min(info.max, 100) + 1, size=shape, dtype=dtype)
    return rng.standard_normal(shape).astype(dtype)


def run(models: list[str], runs: int, warmup: int, threads: int, seed: int = 0) -> dict:
    try:
        import numpy as np
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        print(f"ERROR: this Python ({sys.executable}) lacks {exc.name}; pip install ai-edge-litert numpy",
              file=sys.stderr)
        sys.exit(3)
    rng = np.random.default_rng(seed)
    loaded = []
    for path in models:
        can_reset = _reset_peak()
        rss0 = _status_kb("VmRSS")
        t0 = time.perf_counter()
        interp = Interpreter(model_path=path, num_threads=threads)
        interp.allocate_tensors()
        init_ms = (time.perf_counter() - t0) * 1e3
        rss1 = _status_kb("VmRSS")
        inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
        x = _input_for(inp, rng)
        interp.set_tensor(inp["index"], x)
        for _ in range(max(warmup, 1)):
            interp.invoke()
        hwm = _status_kb("VmHWM")
        loaded.append({
            "interp": interp, "index": inp["index"], "x": x,
            "row": {
                "model": os.path.basename(path), "path": path, "file_bytes": os.path.getsize(path),
                "input": {"shape": [int(d) for d in inp["shape"]], "dtype": np.dtype(inp["dtype"]).name},
                "output": {"shape": [int(d) for d in out["shape"]], "dtype": np.dtype(out["dtype"]).name},
                "init_ms": init_ms,
                "memory": {
                    "rss_before_load_mb": rss0 / 1024 if rss0 else None,
                    "rss_after_load_mb": rss1 / 1024 if rss1 else None,
                    "peak_rss_mb": hwm / 1024 if hwm else None,
                    "peak_rss_delta_mb": (hwm - rss0) / 1024 if (hwm and rss0 and can_reset) else None,
                    "peak_reset": can_reset,
                },
                "ops": [],
                "delegation": _delegation_or_none(interp),
            },
        })
    samples: list[list[float]] = [[] for _ in loaded]
    clock = time.perf_counter_ns
    for _ in range(runs):
        for i, m in enumerate(loaded):
            m["interp"].set_tensor(m["index"], m["x"])
            t = clock()
            m["interp"].invoke()
            samples[i].append((clock() - t) / 1e3)
    rows = []
    for m, s in zip(loaded, samples, strict=True):
        row = m["row"]
        row["latency_us"] = summarize(s)
        row["samples_us"] = [round(v, 3) for v in s]
        rows.append(row)
    return {
        "schema": SCHEMA,
        "runner": "litert-python",
        "host": host_info(),
        "config": {"runs": runs, "warmup": warmup, "threads": threads, "interleaved": True,
                   "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None},
        "models": rows,
    }


def host_info() -> dict:
    try:
        from importlib.metadata import version

        litert = version("ai-edge-litert")
    except Exception:  # noqa: BLE001 - metadata may be missing on a board
        litert = None
    return {
        "hostname": socket.gethostname(), "machine": platform.machine(), "system": platform.system(),
        "release": platform.release(), "cpu": _cpu_name(), "cpu_count": os.cpu_count(),
        "python": platform.python_version(), "ai_edge_litert": litert,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+")
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--cpu-mask", default=None, help="hex CPU mask, as taskset takes it (e.g. f0)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if a.cpu_mask:
        cpus = {i for i in range(256) if int(a.cpu_mask, 16) >> i & 1}
        try:
            os.sched_setaffinity(0, cpus)
        except (OSError, ValueError) as exc:
            print(f"ERROR: cannot pin to CPU mask {a.cpu_mask} ({exc}); this machine has {os.cpu_count()} CPUs",
                  file=sys.stderr)
            return 3
    for path in a.models:
        if not os.path.isfile(path):
            print(f"ERROR: model file {path} not found", file=sys.stderr)
            return 3
    json.dump(run(a.models, a.runs, a.warmup, a.threads, a.seed), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
