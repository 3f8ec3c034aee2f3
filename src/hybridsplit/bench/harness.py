"""`bench(bundle, run, target) -> bench.json`: per-layer latency, memory, energy proxies, cloud half
and end-to-end estimates for one bundle on one target.

Steps (each a plain function): export the prefix models of the run's device half (+ the whole
model, for device-only) -> time them and the bundle's own device.tflite on the target in one
run -> time cloud.onnx and the whole model (ONNX Runtime) on this host, the "server" ->
energy proxies and network estimates -> one JSON document.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from hybridsplit.bench import energy as energy_mod
from hybridsplit.bench import network as net_mod
from hybridsplit.bench.profile import PrefixModels, calibration_sample, export_prefixes, profile_on_target
from hybridsplit.bench.targets import BenchConfig, Target
from hybridsplit.errors import BundleError

BENCH_SCHEMA = 1


def time_onnx(path: Path, input_shape: list[int], runs: int = 300, threads: int = 1, seed: int = 0) -> dict:
    """Median / p90 latency (ms) of an ONNX model with batch 1 in ONNX Runtime on this host."""
    from hybridsplit.bench.runner import summarize
    from hybridsplit.bundle.runtime import OnnxRunner

    runner = OnnxRunner(path, num_threads=threads)
    x = np.random.default_rng(seed).standard_normal(input_shape).astype(np.float32)
    for _ in range(10):
        runner(x)
    samples = []
    for _ in range(runs):
        t = time.perf_counter_ns()
        runner(x)
        samples.append((time.perf_counter_ns() - t) / 1e6)
    s = summarize(samples)
    return {"median_ms": s["median"], "p90_ms": s["p90"], "runs": runs, "threads": threads, "runtime": "onnxruntime"}


def export_for_bench(run_dir: Path, bundle_dir: Path, workdir: Path, whole_model: bool = True) -> tuple[PrefixModels, dict]:
    """Prefixes of the bundle's device half (int8, the recipe's calibration) and host-side ONNX files."""
    import torch

    from hybridsplit.bundle.manifest import load_manifest
    from hybridsplit.exporters.bundle import prepare
    from hybridsplit.exporters.onnx import export_onnx
    from hybridsplit.exporters.tflite import export_int8

    manifest = load_manifest(bundle_dir)
    prep = prepare(run_dir, manifest.cut)
    recipe, data, split = prep.ckpt.recipe, prep.data, prep.split
    if list(data.input_shape) != list(manifest.input.shape[1:]) or manifest.backbone != recipe.model.backbone:
        raise BundleError(f"run '{run_dir}' ({recipe.model.backbone}, input {list(data.input_shape)}) does not match "
                          f"bundle '{bundle_dir}' ({manifest.backbone}, input {manifest.input.shape[1:]}); "
                          "pass the run the bundle was exported from with --run")
    if not isinstance(split.device, torch.nn.Sequential):
        raise BundleError(f"per-layer profiling needs a staged device half (nn.Sequential of stages); "
                          f"{manifest.backbone} is cut as a graph, which has no stage prefixes")
    sample = torch.from_numpy(data.test.x[:1])
    calib = calibration_sample(data.train.x, recipe.export.calibration_samples, recipe.seed)
    prefixes = export_prefixes(split.device, sample, calib, workdir / "prefix")
    prefixes.extra = {"cut": split.cut, "run_recipe_sha256": recipe.digest(),
                      "same_recipe_as_bundle": recipe.digest() == manifest.recipe_sha256}
    extra = {"full_onnx": export_onnx(split.full, sample, workdir / "full.onnx", "input", "logits")}
    if whole_model:
        extra["full_tflite"] = export_int8(split.full, sample, calib, workdir / "full_int8.tflite").path
    return prefixes, extra


def bench(bundle_dir: Path, run_dir: Path, target: Target, cfg: BenchConfig, networks: list[str] | None = None,
          energy_table: Path | None = None, whole_model: bool = True, cloud_runs: int = 300,
          workdir: Path | None = None, progress=None) -> dict:
    from hybridsplit.bundle.manifest import load_manifest

    say = progress or (lambda msg: None)
    say(f"checking target {target.spec}")
    target.check(cfg)  # a missing phone or a refused key fails here, before minutes of exports
    bundle_dir, run_dir = Path(bundle_dir), Path(run_dir)
    manifest = load_manifest(bundle_dir)
    device_file = bundle_dir / manifest.artifacts["tflite_int8"].file
    cloud_file = bundle_dir / next(a.file for a in manifest.artifacts.values() if a.role == "cloud")
    for f in (device_file, cloud_file):
        if not f.is_file():
            raise BundleError(f"bundle '{bundle_dir}' lacks {f.name}; re-export it with `hybridsplit export`")
    tmp = tempfile.TemporaryDirectory(prefix="hybridsplit-bench-") if workdir is None else None
    work = Path(tmp.name) if tmp else Path(workdir)
    try:
        say("exporting one int8 prefix model per device-half stage (prefix method)")
        prefixes, extra = export_for_bench(run_dir, bundle_dir, work, whole_model)
        say(f"timing {len(prefixes.paths)} prefixes + device.tflite on {target.spec}")
        extras = [extra["full_tflite"]] if whole_model else []
        prof = profile_on_target(prefixes, device_file, target, cfg, extras)
        say("timing the cloud half and the whole model on this host (ONNX Runtime)")
        cloud = time_onnx(cloud_file, manifest.feature.shape[:1] + manifest.feature.shape[1:], cloud_runs)
        full_cloud = time_onnx(Path(extra["full_onnx"]), manifest.input.shape, cloud_runs)
    finally:
        if tmp:
            tmp.cleanup()
    cloud["input_shape"] = manifest.feature.shape
    tables = energy_mod.EnergyTables.load(energy_table)

    # energy proxies per layer (int8 device half) and radio energy of what is sent
    for row in prof["layers"]:
        row["energy_uj"] = energy_mod.compute_energy_uj(row["macs"], row["weight_bytes_int8"],
                                                        row["output_bytes_int8"], "int8", tables)["total_uj"]
    layers = prof["layers"]
    compute = energy_mod.compute_energy_uj(sum(r["macs"] for r in layers), sum(r["weight_bytes_int8"] for r in layers),
                                           sum(r["output_bytes_int8"] for r in layers), "int8", tables)
    feature_bytes, raw_bytes = manifest.feature.bytes_per_inference, manifest.feature.raw_input_bytes
    device_ms = prof["whole"]["latency_us"]["median"] / 1e3
    full_device_ms = prof["extras"][0]["latency_us"]["median"] / 1e3 if whole_model else None
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
    return {
        "schema": BENCH_SCHEMA,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "bundle": str(bundle_dir), "run": str(run_dir), "cut": manifest.cut, "backbone": manifest.backbone,
        "target": {"spec": target.spec, "kind": target.kind, "host": prof["host"], "runner": prof["runner"]},
        "config": prof["config"],
        "prefix_models": prefixes.extra,
        "method": "prefix: one int8 prefix model per stage, layer = difference of successive prefixes "
                  "(paired per-round differences when the runner returns samples)",
        "layers": layers,
        "check": prof["check"],
        "device_half": {
            "file": device_file.name, "file_bytes": whole["file_bytes"], "latency_us": whole["latency_us"],
            "init_ms": whole.get("init_ms"), "memory": whole.get("memory"), "ops": whole.get("ops", []),
            "params": sum(r["params"] for r in layers), "macs": sum(r["macs"] for r in layers),
        },
        "whole_model_on_target": prof["extras"][0] if whole_model else None,
        "cloud": {"half": cloud, "whole_model": full_cloud, "host": "this host (the server)"},
        "energy": {
            "compute_uj": compute,
            "compute_source": tables.compute["source"], "compute_model": tables.compute["model"],
            "note": "proxies from published per-op energies, not measurements (no energy counters here)",
        },
        "feature": {"bytes": feature_bytes, "raw_input_bytes": raw_bytes, "dtype": manifest.feature.dtype,
                    "shape": manifest.feature.shape},
        "networks": nets,
    }


def write_json(doc: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    tmp.replace(path)
    return path
