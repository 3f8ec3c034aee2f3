"""`bench(bundle, target) -> bench.json`: per-layer latency, memory, energy proxies, cloud half
and end-to-end estimates for one bundle on one target, from the bundle alone.

Steps (each a plain function): cut one prefix model per op from the bundle's device.tflite ->
time them and device.tflite itself on the target in one run -> time cloud.onnx and the whole
model on this host, the "server" -> energy proxies and network estimates -> one JSON document.
The training run is optional: given one, the whole model is also exported, as ONNX for the
cloud-only estimate and as int8 TFLite timed on the target for the device-only one.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from hybridsplit.bench import energy as energy_mod
from hybridsplit.bench import network as net_mod
from hybridsplit.bench import opprofile
from hybridsplit.bench.profile import prefixes_from_tflite, profile_on_target
from hybridsplit.bench.targets import BenchConfig, Target
from hybridsplit.errors import BundleError
from hybridsplit.results.bench import BenchResult


def _time_host(call, x: np.ndarray, runs: int, threads: int, runtime: str) -> dict:
    """Median / p90 latency (ms) of call(x) on this host, after 10 untimed calls."""
    from hybridsplit.bench.runner import summarize

    for _ in range(10):
        call(x)
    samples = []
    for _ in range(runs):
        t = time.perf_counter_ns()
        call(x)
        samples.append((time.perf_counter_ns() - t) / 1e6)
    s = summarize(samples)
    return {"median_ms": s["median"], "p90_ms": s["p90"], "runs": runs, "threads": threads, "runtime": runtime}


def time_onnx(path: Path, input_shape: list[int], runs: int = 300, threads: int = 1, seed: int = 0) -> dict:
    """An ONNX model with batch 1 in ONNX Runtime on this host."""
    from hybridsplit.bundle.runtime import OnnxRunner

    x = np.random.default_rng(seed).standard_normal(input_shape).astype(np.float32)
    return _time_host(OnnxRunner(path, num_threads=threads), x, runs, threads, "onnxruntime")


def time_tflite(path: Path, runs: int = 300, threads: int = 1, seed: int = 0) -> dict:
    """A .tflite called from Python in LiteRT on this host."""
    from hybridsplit.bundle.runtime import TFLiteRunner

    runner = TFLiteRunner(path, num_threads=threads)
    x = np.random.default_rng(seed).standard_normal(runner.input_shape).astype(np.float32)
    return _time_host(runner, x, runs, threads, "litert")


def prepare_run(run_dir: Path, manifest):
    """The run's split at the bundle's cut (exporters.bundle.Prepared), checked to be the bundle's run."""
    from hybridsplit.exporters.bundle import prepare

    prep = prepare(run_dir, manifest.cut)
    recipe, data = prep.ckpt.recipe, prep.data
    if list(data.input_shape) != list(manifest.input.shape[1:]) or manifest.backbone != recipe.model.backbone:
        raise BundleError(f"run '{run_dir}' ({recipe.model.backbone}, input {list(data.input_shape)}) does not match "
                          f"the bundle ({manifest.backbone}, input {manifest.input.shape[1:]}); "
                          "pass the run the bundle was exported from with --run, or none")
    return prep


def export_whole_model(prep, workdir: Path) -> dict[str, Path]:
    """The run's whole model (device + cloud) as ONNX and as int8 TFLite, calibrated as the bundle was."""
    import torch

    from hybridsplit.data.base import calibration_sample
    from hybridsplit.exporters.onnx import export_onnx
    from hybridsplit.exporters.tflite import export_int8

    recipe, data, split = prep.ckpt.recipe, prep.data, prep.split
    sample = torch.from_numpy(data.test.x[:1])
    calib = calibration_sample(data.train.x, recipe.export.calibration_samples, recipe.seed)
    return {"onnx": export_onnx(split.full, sample, workdir / "full.onnx", "input", "logits"),
            "tflite": export_int8(split.full, sample, calib, workdir / "full_int8.tflite").path}


def _bundle_files(bundle_dir: Path, manifest) -> tuple[Path, Path, Path | None]:
    """device.tflite (int8), cloud.onnx and device_fp32.tflite of a bundle, checked to exist."""
    device_file = bundle_dir / manifest.artifacts["tflite_int8"].file
    cloud_file = bundle_dir / next(a.file for a in manifest.artifacts.values() if a.role == "cloud")
    for f in (device_file, cloud_file):
        if not f.is_file():
            raise BundleError(f"bundle '{bundle_dir}' lacks {f.name}; re-export it with `hybridsplit export`")
    fp32 = manifest.artifacts.get("tflite_fp32")
    return device_file, cloud_file, (bundle_dir / fp32.file if fp32 and (bundle_dir / fp32.file).is_file() else None)


def _cloud_only(manifest, cloud: dict, whole: dict[str, Path], fp32_file: Path | None, runs: int) -> dict:
    """The whole model on the server: its ONNX export when the run was given, else device_fp32.tflite
    (LiteRT) + cloud.onnx timed on this host, summed."""
    if "onnx" in whole:
        return {**time_onnx(whole["onnx"], manifest.input.shape, runs), "method": "whole model (ONNX Runtime)"}
    if fp32_file is None:
        raise BundleError("the bundle has no device_fp32.tflite for the cloud-only estimate; re-export it or pass --run")
    dev = time_tflite(fp32_file, runs)
    return {"median_ms": dev["median_ms"] + cloud["median_ms"], "p90_ms": None, "runs": runs,
            "method": f"{fp32_file.name} (LiteRT) + cloud half (ONNX Runtime), medians summed"}


def bench(bundle_dir: Path, target: Target, cfg: BenchConfig, run_dir: Path | None = None,
          networks: list[str] | None = None, energy_table: Path | None = None, cloud_runs: int = 300,
          workdir: Path | None = None, progress=None) -> BenchResult:
    from hybridsplit.bundle.manifest import load_manifest

    say = progress or (lambda msg: None)
    say(f"checking target {target.spec}")
    target.check(cfg)  # a missing phone or a refused key fails here, before any work
    bundle_dir = Path(bundle_dir)
    manifest = load_manifest(bundle_dir)
    device_file, cloud_file, fp32_file = _bundle_files(bundle_dir, manifest)
    tmp = tempfile.TemporaryDirectory(prefix="hybridsplit-bench-") if workdir is None else None
    work = Path(tmp.name) if tmp else Path(workdir)
    try:
        prefixes = prefixes_from_tflite(device_file, work / "prefix")
        whole, prep = {}, None
        if run_dir is not None:
            say(f"exporting the whole model of {run_dir} (cloud-only and device-only estimates)")
            prep = prepare_run(Path(run_dir), manifest)
            whole = export_whole_model(prep, work)
        say(f"timing {len(prefixes.paths)} prefixes of {device_file.name} + the file itself on {target.spec}")
        prof = profile_on_target(prefixes, device_file, target, cfg, [whole["tflite"]] if whole else [])
        artifacts = _artifact_profiles(bundle_dir, manifest, device_file, prof, target, cfg, work, say)
        say("timing the cloud half and the whole model on this host")
        cloud = time_onnx(cloud_file, manifest.feature.shape[:1] + manifest.feature.shape[1:], cloud_runs)
        full_cloud = _cloud_only(manifest, cloud, whole, fp32_file, cloud_runs)
    finally:
        if tmp:
            tmp.cleanup()
    cloud["input_shape"] = manifest.feature.shape
    doc = _document(bundle_dir, run_dir, manifest, target, prof, prefixes, device_file, cloud, full_cloud,
                    energy_mod.EnergyTables.load(energy_table), networks)
    doc.artifact_profiles = artifacts
    doc.blocks, doc.blocks_note = _blocks(doc, prep)
    return doc


def _blocks(doc: BenchResult, prep) -> tuple[list, str | None]:
    """The per-op rows grouped by the model's modules (bench/blocks.py); the run names them."""
    if prep is None:
        return [], "per-op rows only: pass the run (--run) to group them by the model's modules"
    import torch

    from hybridsplit.bench.blocks import blocks_of
    from hybridsplit.results.bench import BlockRow

    rows = [r.model_dump() for r in doc.layers]
    blocks, why = blocks_of(rows, prep.split.device.eval(), torch.from_numpy(prep.data.test.x[:1]))
    return [BlockRow(**b) for b in blocks], why


def _artifact_profiles(bundle_dir: Path, manifest, device_file: Path, prof: dict, target: Target, cfg: BenchConfig,
                       work: Path, say) -> dict:
    """Per-op profile of every .tflite artifact of the bundle (device.tflite's from the run just made).
    The adb target's runner is benchmark_model, whose own op table is attached instead."""
    out = {}
    for name, art in manifest.artifacts.items():
        path = bundle_dir / art.file
        if art.format != "tflite" or not path.is_file():
            continue
        if path == device_file:
            out[name] = opprofile.summarize(path, prof)
        elif target.kind != "adb":
            say(f"per-op profile of {path.name} on {target.spec}")
            out[name] = opprofile.profile_tflite(path, target, cfg, work / f"ops_{name}")
        if name in out:
            out[name]["mode"] = art.mode
    return out


def _document(bundle_dir, run_dir, manifest, target, prof, prefixes, device_file, cloud, full_cloud, tables,
              networks) -> BenchResult:
    layers = prof["layers"]
    for row in layers:  # energy proxies per layer (int8 device half)
        row["energy_uj"] = energy_mod.compute_energy_uj(row["macs"], row["weight_bytes_int8"],
                                                        row["output_bytes_int8"], "int8", tables)["total_uj"]
    compute = energy_mod.compute_energy_uj(sum(r["macs"] for r in layers), sum(r["weight_bytes_int8"] for r in layers),
                                           sum(r["output_bytes_int8"] for r in layers), "int8", tables)
    feature_bytes, raw_bytes = manifest.feature.bytes_per_inference, manifest.feature.raw_input_bytes
    device_ms = prof["whole"]["latency_us"]["median"] / 1e3
    full_device_ms = prof["extras"][0]["latency_us"]["median"] / 1e3 if prof["extras"] else None
    nets = {}
    for name in networks or list(net_mod.NETWORKS):
        net = net_mod.get_network(name)
        est = net_mod.estimates(device_ms, feature_bytes, cloud["median_ms"], raw_bytes, full_cloud["median_ms"],
                                full_device_ms, net)
        est["radio_energy"] = {
            "split": energy_mod.radio_energy_mj(feature_bytes, net.radio, net.uplink_mbps, tables),
            "cloud_only": energy_mod.radio_energy_mj(raw_bytes, net.radio, net.uplink_mbps, tables),
        }
        nets[name] = est
    whole = prof["whole"]
    return BenchResult.from_dict({
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "bundle": str(bundle_dir), "run": str(run_dir) if run_dir else None, "cut": manifest.cut,
        "backbone": manifest.backbone,
        "target": {"spec": target.spec, "kind": target.kind, "host": prof["host"], "runner": prof["runner"]},
        "config": prof["config"],
        "prefix_models": prefixes.extra,
        "method": f"prefix: one prefix of {device_file.name} per op (ops 0..k), layer = difference of successive "
                  "prefixes (paired per-round differences when the runner returns samples)",
        "layers": layers,
        "check": prof["check"],
        "device_half": {
            "file": device_file.name, "file_bytes": whole["file_bytes"], "latency_us": whole["latency_us"],
            "init_ms": whole.get("init_ms"), "memory": whole.get("memory"), "ops": whole.get("ops", []),
            "ops_note": whole.get("ops_note"), "delegate": whole.get("delegate"),
            "params": sum(r["params"] for r in layers), "macs": sum(r["macs"] for r in layers),
        },
        "whole_model_on_target": prof["extras"][0] if prof["extras"] else None,
        "cloud": {"half": cloud, "whole_model": full_cloud, "host": "this host (the server)"},
        "energy": {
            "compute_uj": compute,
            "compute_source": tables.compute["source"], "compute_model": tables.compute["model"],
            "note": "proxies from published per-op energies, not measurements (no energy counters here)",
        },
        "feature": {"bytes": feature_bytes, "raw_input_bytes": raw_bytes, "dtype": manifest.feature.dtype,
                    "shape": manifest.feature.shape},
        "networks": nets,
    }, "bench result")
