"""`hybridsplit sweep`: every candidate cut of a recipe's model, measured, with a Pareto front.

Per cut: a full bundle (int8 device.tflite + cloud.onnx, parity-gated, accuracy on the test
split through the real runtimes), the device half timed on the target (all cuts in one
target run), the cloud half timed on this host (ONNX Runtime), bytes sent, energy (compute
proxy of the device half + radio energy of the bytes under the chosen network), and, when
the privacy package is importable, the accuracy of an attacker inferring the sensitive
attribute from the int8 features. Objectives: end-to-end latency, bytes, energy and attacker
accuracy are minimised, accuracy maximised. The recommendation is, among the cuts meeting
the constraints, the one with the best accuracy (ties within 0.5 points broken by lowest
attacker accuracy, then lowest end-to-end latency).
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hybridsplit.bench import energy as energy_mod
from hybridsplit.bench import network as net_mod
from hybridsplit.bench.cut_choice import choose_cuts
from hybridsplit.bench.harness import time_onnx
from hybridsplit.bench.pareto import pareto_mask
from hybridsplit.bench.targets import BenchConfig, Target
from hybridsplit.errors import SpecError
from hybridsplit.results.sweep import SweepResult

ACC_TIE = 0.005


@dataclass(frozen=True)
class Constraints:
    max_latency_ms: float | None = None
    max_bytes: int | None = None
    max_attacker_acc: float | None = None


def _attacker_accuracy(bundle_dir: Path, data, attacks: tuple[str, ...]) -> tuple[float | None, str | None]:
    """Best attacker accuracy on the sensitive attribute from the bundle's int8 features, if privacy exists."""
    if importlib.util.find_spec("hybridsplit.privacy") is None:
        return None, "hybridsplit.privacy is not installed: attacker accuracy not measured"
    try:
        from hybridsplit.privacy.attacks import attribute_inference
        from hybridsplit.privacy.features import artifact_features
    except ImportError as exc:
        return None, f"hybridsplit.privacy has no usable attack API ({exc}): attacker accuracy not measured"
    fs, _, data = artifact_features(bundle_dir, data)
    res = attribute_inference(fs.train, data.train.sensitive, fs.test, data.test.sensitive, attacks=attacks)
    return float(res["best_accuracy"]), (f"attacker: best of {', '.join(attacks)} on the dequantized int8 features "
                                         "(hybridsplit.privacy); stronger attacks: --attack logreg --attack mlp ...")


def recommend(rows: list[dict], cons: Constraints) -> dict:
    feasible = [r for r in rows if r["feasible"]]
    if not feasible:
        why = []
        if cons.max_latency_ms is not None:
            why.append(f"fastest end-to-end is {min(r['end_to_end_ms'] for r in rows):.2f} ms > {cons.max_latency_ms:g}")
        if cons.max_bytes is not None:
            why.append(f"fewest bytes is {min(r['bytes'] for r in rows)} > {cons.max_bytes}")
        if cons.max_attacker_acc is not None:
            accs = [r["attacker_acc"] for r in rows if r["attacker_acc"] is not None]
            why.append(f"lowest attacker accuracy is {min(accs):.3f} > {cons.max_attacker_acc:g}" if accs
                       else "attacker accuracy was not measured (no hybridsplit.privacy)")
        return {"cut": None, "reason": "; ".join(why) or "no cuts"}
    best_acc = max(r["accuracy"] for r in feasible)
    near = [r for r in feasible if r["accuracy"] >= best_acc - ACC_TIE]
    near.sort(key=lambda r: (r["attacker_acc"] if r["attacker_acc"] is not None else 0.0, r["end_to_end_ms"]))
    pick = near[0]
    return {"cut": pick["cut"],
            "reason": f"{len(feasible)} of {len(rows)} cuts meet the constraints; best int8 accuracy "
                      f"{pick['accuracy']:.4f} (ties within {100 * ACC_TIE:g} pt broken by attacker accuracy, then "
                      f"latency), {pick['bytes']:,} B sent, {pick['end_to_end_ms']:.2f} ms end-to-end"}


def plot_pareto(rows: list[dict], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    has_priv = any(r["attacker_acc"] is not None for r in rows)
    for ax, (ykey, ylabel) in zip(axes, (("bytes", "bytes sent per inference"),
                                         ("attacker_acc" if has_priv else "energy_mj",
                                          "attacker accuracy" if has_priv else "device energy (mJ, proxy)")), strict=True):
        xs = [r["end_to_end_ms"] for r in rows]
        ys = [r[ykey] for r in rows]
        colors = ["tab:red" if r["pareto"] else "tab:gray" for r in rows]
        ax.scatter(xs, ys, c=colors, s=[30 + 400 * max(r["accuracy"] - 0.5, 0.02) for r in rows], alpha=0.8)
        for r, x, y in zip(rows, xs, ys, strict=True):
            ax.annotate(f"{r['cut']} ({r['accuracy']:.3f})", (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
        front = sorted((r for r in rows if r["pareto"]), key=lambda r: r["end_to_end_ms"])
        if len(front) > 1:
            ax.plot([r["end_to_end_ms"] for r in front], [r[ykey] for r in front], "r--", lw=1)
        ax.set_xlabel("end-to-end latency (ms)")
        ax.set_ylabel(ylabel)
        if ykey == "bytes":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    fig.suptitle(title + "  (red: Pareto-optimal; marker size: int8 accuracy)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _ensure_run(recipe, run_dir: Path, data, progress) -> Path:
    from hybridsplit.checkpoint import Checkpoint
    from hybridsplit.errors import CheckpointError
    from hybridsplit.train import train

    try:
        ckpt = Checkpoint.load(run_dir)
        if ckpt.recipe.digest() == recipe.digest():
            return run_dir
    except CheckpointError:
        pass
    progress(f"training {recipe.name} into {run_dir}")
    _, ckpt = train(recipe, data, show_progress=False)
    ckpt.save(run_dir)
    return run_dir


def _export_cuts(run_dir: Path, out: Path, chosen: list[str], say) -> tuple[list, list[dict]]:
    """A parity-gated bundle per cut; a cut that cannot be exported is reported, not fatal."""
    from hybridsplit.exporters.bundle import build_bundle

    bundles, skipped = [], []
    for c in chosen:
        say(f"exporting the bundle for cut {c}")
        bdir = out / "bundles" / c
        try:
            manifest = build_bundle(run_dir, bdir, c)
        except Exception as exc:  # noqa: BLE001
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            skipped.append({"cut": c, "reason": f"{type(exc).__name__}: {first}"})
            say(f"cut {c} skipped: {first}")
            continue
        bundles.append((c, bdir, manifest))
    if not bundles:
        reasons = "; ".join(f"{s['cut']}: {s['reason']}" for s in skipped)
        raise SpecError(f"no cut could be exported ({reasons})")
    return bundles, skipped


def _cut_row(c: str, bdir: Path, manifest, timed: dict, dev_stats: list, net, data, attacks) -> tuple[dict, str | None]:
    """One cut measured: device (timed on the target), cloud half (this host), bytes, energy, attacker."""
    cloud_file = bdir / next(a.file for a in manifest.artifacts.values() if a.role == "cloud")
    cloud = time_onnx(cloud_file, manifest.feature.shape, runs=200)
    comp = energy_mod.compute_energy_uj(sum(s.macs for s in dev_stats), sum(s.weight_bytes_int8 for s in dev_stats),
                                        sum(s.output_bytes_int8 for s in dev_stats), "int8")
    nbytes = manifest.feature.bytes_per_inference
    radio = energy_mod.radio_energy_mj(nbytes, net.radio, net.uplink_mbps)
    device_ms = timed["latency_us"]["median"] / 1e3
    e2e = net_mod.end_to_end(device_ms, nbytes, cloud["median_ms"], net)
    att, privacy_note = _attacker_accuracy(bdir, data, attacks)
    return {
        "cut": c, "bytes": nbytes, "feature_shape": manifest.feature.shape,
        "device_ms": device_ms, "device_p90_ms": (timed["latency_us"].get("p90") or float("nan")) / 1e3,
        "device_file_bytes": timed["file_bytes"], "device_params": sum(s.params for s in dev_stats),
        "device_macs": sum(s.macs for s in dev_stats),
        "peak_rss_delta_mb": (timed.get("memory") or {}).get("peak_rss_delta_mb"),
        "cloud_ms": cloud["median_ms"], "uplink_ms": e2e["uplink_ms"], "end_to_end_ms": e2e["total_ms"],
        "compute_energy_mj": comp["total_uj"] / 1e3, "radio_energy_mj": radio["total_mj"],
        "energy_mj": comp["total_uj"] / 1e3 + radio["total_mj"],
        "accuracy": manifest.accuracy["tflite_int8"], "accuracy_torch_fp32": manifest.accuracy["torch_fp32"],
        "attacker_acc": att, "bundle": str(bdir),
    }, privacy_note


def _mark_front(rows: list[dict], cons: Constraints) -> None:
    """Pareto flag (all objectives at once) and feasibility under the user's constraints, per row."""
    cols = [[r["end_to_end_ms"], r["bytes"], r["energy_mj"], -r["accuracy"]] +
            ([r["attacker_acc"]] if all(x["attacker_acc"] is not None for x in rows) else []) for r in rows]
    for r, p in zip(rows, pareto_mask(np.asarray(cols, dtype=float)), strict=True):
        r["pareto"] = bool(p)
        r["feasible"] = ((cons.max_latency_ms is None or r["end_to_end_ms"] <= cons.max_latency_ms)
                         and (cons.max_bytes is None or r["bytes"] <= cons.max_bytes)
                         and (cons.max_attacker_acc is None or (r["attacker_acc"] is not None
                                                                 and r["attacker_acc"] <= cons.max_attacker_acc)))


def run_sweep(recipe_path: Path, out: Path, target: Target, cfg: BenchConfig, cons: Constraints,
              run_dir: Path | None = None, cuts: list[str] | None = None, network: str = "wifi",
              overrides: list[str] | None = None, attacks: tuple[str, ...] = ("knn",), progress=None,
              cuts_n: int | None = None) -> SweepResult:
    import torch

    from hybridsplit.data import build_data
    from hybridsplit.exporters.bundle import prepare
    from hybridsplit.recipe import load_recipe
    from hybridsplit.train import load_model

    say = progress or (lambda msg: None)
    out = Path(out)
    recipe = load_recipe(recipe_path, overrides)
    net = net_mod.get_network(network)
    data = build_data(recipe.data, recipe.seed)
    if run_dir is None:
        run_dir = _ensure_run(recipe, out / "run", data, say)
    model = load_model(prepare(run_dir).ckpt)
    chosen, per_cut = choose_cuts(model, torch.from_numpy(data.test.x[:1]), cuts, cuts_n)
    bundles, skipped = _export_cuts(run_dir, out, chosen, say)
    say(f"timing {len(bundles)} device halves on {target.spec}")
    result = target.run([b / m.artifacts["tflite_int8"].file for _, b, m in bundles], cfg)
    rows, privacy_note = [], None
    for (c, bdir, manifest), timed in zip(bundles, result["models"], strict=True):
        say(f"cloud half and attacker for cut {c}")
        row, privacy_note = _cut_row(c, bdir, manifest, timed, per_cut[c], net, data, attacks)
        rows.append(row)
    _mark_front(rows, cons)
    raw = int(4 * np.prod(data.input_shape))
    doc = SweepResult.from_dict({
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "recipe": str(recipe_path), "recipe_sha256": recipe.digest(), "run": str(run_dir),
        "target": {"spec": target.spec, "kind": target.kind, "host": result["host"], "runner": result["runner"]},
        "config": result["config"], "network": {"name": net.name, "uplink_mbps": net.uplink_mbps, "rtt_ms": net.rtt_ms,
                                                "radio": net.radio, "source": net.source},
        "cloud_only": {"bytes": raw, "uplink_ms": net_mod.uplink_ms(raw, net),
                       "radio_energy_mj": energy_mod.radio_energy_mj(raw, net.radio, net.uplink_mbps)["total_mj"]},
        "constraints": {"max_latency_ms": cons.max_latency_ms, "max_bytes": cons.max_bytes,
                        "max_attacker_acc": cons.max_attacker_acc},
        "objectives": "minimise end_to_end_ms, bytes, energy_mj, attacker_acc (when measured); maximise accuracy",
        "cuts": rows, "skipped": skipped, "privacy_note": privacy_note,
        "recommendation": recommend(rows, cons),
        "paths": {"json": str(out / "sweep.json"), "plot": str(out / "pareto.png")},
    }, "sweep result")
    plot_pareto(rows, out / "pareto.png", f"{recipe.name}: cuts on {target.spec}, {net.name}")
    doc.save(out / "sweep.json")
    return doc
