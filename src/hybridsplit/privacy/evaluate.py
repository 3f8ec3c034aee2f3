"""Evaluate bundles side by side on their exported device artifact: privacy.json + the curve.

Every model (undefended baseline, defended, ...) is measured the same way, in one run:
features from the int8 `device.tflite` (dequantized with the manifest's qparams, the manifest's
run-time noise added), primary accuracy through `cloud.onnx` on those noisy features, attribute
inference on the sensitive label, the rank measure, and reconstruction of the input (images: a
conv decoder trained on identities disjoint from the victims', `conv_decoder`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hybridsplit.bundle.manifest import Manifest, load_manifest
from hybridsplit.bundle.preprocess import add_noise
from hybridsplit.data import Dataset
from hybridsplit.errors import BundleError
from hybridsplit.privacy.attacks import DEFAULT_ATTACKS, attribute_inference, chance, window_statistics
from hybridsplit.privacy.features import FeatureSet, artifact_features, bundle_data
from hybridsplit.privacy.linkage import LINKAGE_KS, linkage_attack
from hybridsplit.privacy.metrics import class_scores, recall_warnings
from hybridsplit.privacy.rank import rank_measure
from hybridsplit.privacy.session import SESSION_KS, has_sessions, session_attack, session_point
from hybridsplit.results.privacy import PrivacyResult

PRIVACY_NAME = PrivacyResult.FILE
CURVE_NAME = "privacy_curve.png"
SWEEP_ATTACKS = ("logreg", "knn", "random_forest")
GOAL_SESSION_K = 20
"""The session attacker's goal: at k = 20 pooled windows, best attacker <= chance + 10 points too."""
GOAL_LINKAGE_AUC = 0.60
"""Open-set linkage of whole sessions: ROC AUC at most this."""
GOAL_SSIM_MARGIN = 0.05
"""Images: the reconstruction's SSIM at most the mean image's + this (the decoder learnt nothing of the sample)."""


@dataclass
class EvalConfig:
    artifact: str = "tflite_int8"
    attacks: tuple[str, ...] = DEFAULT_ATTACKS
    sweep: tuple[float, ...] = (0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 1.0, 1.5, 2.0)
    """Noise stds for the privacy-utility curve (run on each defended model's artifact); () = none."""
    sweep_attacks: tuple[str, ...] = SWEEP_ATTACKS
    rank_candidates: int = 1000
    session_ks: tuple[int, ...] = SESSION_KS
    """k pooled windows of one session for the session attacker (0 = whole session); () = none."""
    session_attacks: tuple[str, ...] = SWEEP_ATTACKS
    linkage_ks: tuple[int, ...] = LINKAGE_KS
    """Open-set linkage on k-window samples of sessions (0 = whole session); () = none."""
    recon_epochs: int = 15
    seed: int = 0
    threads: int = 2
    log: Callable[[str], None] = field(default=lambda msg: None)


def _primary_scores(bundle_dir: Path, manifest: Manifest, features: np.ndarray, shape: tuple, labels: np.ndarray,
                    num_classes: int) -> dict:
    """Accuracy, balanced accuracy and per-class recall of the cloud half on these features."""
    from hybridsplit.bundle.runtime import OnnxRunner

    cloud = [a for a in manifest.artifacts.values() if a.role == "cloud" and a.format == "onnx"]
    if not cloud:
        raise BundleError(f"Bundle '{bundle_dir}' has no ONNX cloud half to measure primary accuracy with")
    runner = OnnxRunner(bundle_dir / cloud[0].file)
    logits = runner(features.reshape(len(features), *shape))
    return class_scores(logits.argmax(1), labels, num_classes)


def _defences(manifest: Manifest) -> list[str]:
    """What the exported run was trained with; the recipe's [defence] section only describes what
    `defend` would do with it (an undefended run's recipe may hold one)."""
    if manifest.feature.defences is not None:
        return list(manifest.feature.defences)
    from hybridsplit.recipe import recipe_from_dict

    return recipe_from_dict(manifest.recipe, source="manifest.json recipe").defence.active()


def _data_settings(m: Manifest) -> tuple:
    """The recipe's data section with defaults filled in, so a field added later (e.g. data.color) does not
    tell two bundles of the same data apart."""
    from hybridsplit.recipe import recipe_from_dict

    r = recipe_from_dict(m.recipe, source="manifest.json recipe")
    return r.data.model_dump(mode="json"), r.seed


def _check_same_data(ref: Manifest, other: Manifest, name: str) -> None:
    if _data_settings(ref) != _data_settings(other):
        raise BundleError(f"Bundle '{name}' was built from different data settings than the others; "
                          "compare bundles of the same recipe data section and seed")


def evaluate_bundles(bundles: dict[str, Path], cfg: EvalConfig | None = None) -> PrivacyResult:
    """Measure each bundle (name -> dir) on its device artifact; the result written as privacy.json."""
    cfg = cfg or EvalConfig()
    manifests = {name: load_manifest(path) for name, path in bundles.items()}
    first = next(iter(manifests.values()))
    for name, m in manifests.items():
        _check_same_data(first, m, name)
    data = bundle_data(first)
    tr_y, te_y = data.train.sensitive, data.test.sensitive
    k = len(data.sensitive_names)
    ch = chance(tr_y, te_y, k)
    out: dict = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "artifact": cfg.artifact,
        "protocol": data.protocol,
        "sensitive_attribute": "subject" if data.name == "watch" else "sensitive",
        "input_kind": data.unit,
        "models": {}, "features_from": {}, "primary_accuracy": {}, "primary_balanced_accuracy": {},
        "primary_recall": {}, "primary_classes": list(data.primary_names),
        "sensitive": {"chance": ch["uniform"], "majority": ch["majority"], "classes": k,
                      "attacks": {a: {} for a in cfg.attacks}, "best": {}},
        "rank": {}, "reconstruction": {},
    }
    unit = data.unit
    cfg.log(f"raw-input reference: random forest on {unit} statistics")
    raw = attribute_inference(window_statistics(data.train.x), tr_y, window_statistics(data.test.x), te_y,
                              attacks=("random_forest",), seed=cfg.seed, threads=cfg.threads)
    out["sensitive"]["raw_input_reference"] = {"attack": f"random_forest on {unit} statistics",
                                               "accuracy": raw["best_accuracy"]}
    feature_sets: dict[str, tuple[FeatureSet, Manifest]] = {}
    for name, path in bundles.items():
        path = Path(path)
        cfg.log(f"{name}: features from {path}/{cfg.artifact}")
        fs, manifest, _ = artifact_features(path, data, cfg.artifact, seed=cfg.seed)
        feature_sets[name] = (fs, manifest)
        out["features_from"][name] = fs.source
        out["models"][name] = {"bundle": str(path), "defences": _defences(manifest), "noise": fs.noise,
                               "pca_dims": manifest.feature.pca_dims, "feature_shape": manifest.feature.shape,
                               "bytes_per_inference": manifest.feature.bytes_per_inference,
                               "raw_input_bytes": manifest.feature.raw_input_bytes}
        prim = _primary_scores(path, manifest, fs.test, fs.shape, data.test.primary, len(data.primary_names))
        out["primary_accuracy"][name] = prim["accuracy"]
        out["primary_balanced_accuracy"][name] = prim["balanced_accuracy"]
        out["primary_recall"][name] = prim["recall"]
        cfg.log(f"{name}: primary accuracy {prim['accuracy']:.4f} (balanced {prim['balanced_accuracy']:.4f}); "
                f"attacks {', '.join(cfg.attacks)}")
        res = attribute_inference(fs.train, tr_y, fs.test, te_y, cfg.attacks, cfg.seed, cfg.threads)
        for attack, acc in res["attacks"].items():
            out["sensitive"]["attacks"][attack][name] = acc
        out["sensitive"]["best"][name] = {"attack": res["best"], "accuracy": res["best_accuracy"]}
        out["rank"][name] = {**rank_measure(fs.test_clean, fs.test, cfg.rank_candidates, cfg.seed), "noise": fs.noise}
        out["reconstruction"][name] = _reconstruction(name, fs, data, cfg)
        _stream_attacks(out, name, fs, data, res, cfg)
    out["goal"] = goal(out)
    out["warnings"] = recall_warnings(out["primary_recall"], out["primary_classes"])
    for line in out["warnings"]:
        cfg.log(f"warning: {line}")
    if cfg.sweep:
        out["curve"] = noise_sweep(feature_sets, bundles, data, cfg)
        out["curve_attacks"] = list(cfg.sweep_attacks)
    return PrivacyResult.from_dict(out, "privacy result")


def _reconstruction(name: str, fs: FeatureSet, data: Dataset, cfg: EvalConfig) -> dict:
    """Images: the conv decoder trained on other people (pixels back on [0, 1]); windows: the MLP decoder."""
    if data.input_layout == "NCHW":
        from hybridsplit.bundle.preprocess import channel_stats
        from hybridsplit.privacy.conv_decoder import conv_reconstruction_attack  # the decoder trains in torch

        cfg.log(f"{name}: reconstruction, conv decoder trained on disjoint identities")
        mean, std = channel_stats(data.norm.mean, data.norm.std, data.norm.axis, data.train.x.ndim)
        pixels = np.concatenate([data.train.x, data.test.x]) * std + mean
        return conv_reconstruction_attack(np.concatenate([fs.train, fs.test]), pixels,
                                          np.concatenate([data.train.sensitive, data.test.sensitive]),
                                          cfg.recon_epochs, cfg.seed, cfg.threads)
    from hybridsplit.privacy.reconstruction import reconstruction_attack

    cfg.log(f"{name}: reconstruction decoder")
    return reconstruction_attack(fs.train, data.train.x, fs.test, data.test.x, cfg.recon_epochs, cfg.seed,
                                 cfg.threads)


def _stream_attacks(out: dict, name: str, fs: FeatureSet, data: Dataset, per_window: dict, cfg: EvalConfig) -> None:
    """The session attacker (k pooled windows) and open-set linkage, when the data has sessions."""
    if not has_sessions(data.train.group) or not has_sessions(data.test.group):
        return
    out.setdefault("session_of", "recording" if data.name == "watch" else "session")
    ks = tuple(k for k in cfg.session_ks if k != 1)
    pts = session_attack(fs, data.train, data.test, ks, cfg.session_attacks, cfg.seed, cfg.threads,
                         cfg.rank_candidates, cfg.log)
    if 1 in cfg.session_ks:  # one window: the per-window numbers above, every attack included
        rank = out["rank"][name]
        pts.insert(0, {"k": 1, "windows": 1.0, "train_k": 1, "train_samples": len(fs.train),
                       "test_samples": len(fs.test), "sessions": int(len(np.unique(data.test.group))),
                       "attacks": per_window["attacks"], "best_attack": per_window["best"],
                       "best_accuracy": per_window["best_accuracy"],
                       "rank_mean_over_n": rank["mean_rank_over_n"], "rank_top1": rank["top1"]})
    out.setdefault("session", {})[name] = pts
    x = np.concatenate([fs.train, fs.test])
    ids = np.concatenate([data.train.sensitive, data.test.sensitive])
    groups = np.concatenate([data.train.group, data.test.group])
    primary = np.concatenate([data.train.primary, data.test.primary])  # the cloud predicts it (~99%)
    start = None if data.train.start is None else np.concatenate([data.train.start, data.test.start])
    for k in cfg.linkage_ks:
        cfg.log(f"{name}: open-set linkage, k = {k or 'whole session'}")
        out.setdefault("linkage", {}).setdefault(name, []).append(
            linkage_attack(x, ids, groups, start, k, cfg.seed, context=primary))


def goal(result: dict) -> dict:
    """The issue's bar: best attacker <= chance + 10 points, primary accuracy and balanced accuracy each
    >= undefended - 2 points (balanced, so a defence cannot pass by dropping a minority class)."""
    sens_max = result["sensitive"]["chance"] + 0.10
    base = result["primary_accuracy"].get("undefended")
    bal = result.get("primary_balanced_accuracy", {})
    prim_min = None if base is None else base - 0.02
    bal_min = None if bal.get("undefended") is None else bal["undefended"] - 0.02
    met = {}
    for name, acc in result["primary_accuracy"].items():
        if name == "undefended":
            continue
        best = result["sensitive"]["best"][name]["accuracy"]
        ok_bal = bal_min is None or bal.get(name, 0.0) >= bal_min - 1e-12
        met[name] = bool(best <= sens_max + 1e-12 and (prim_min is None or acc >= prim_min - 1e-12) and ok_bal)
    session_met, session_max, linkage_met = {}, {}, {}
    for name, ok in met.items():
        pts = [p for p in result.get("session", {}).get(name, []) if p.get("k") == GOAL_SESSION_K and "best_accuracy" in p]
        if pts:
            session_max[name], ok_session = session_bar(pts[0], result["sensitive"]["chance"])
            session_met[name] = bool(ok and ok_session)
        link = [p for p in result.get("linkage", {}).get(name, []) if p.get("k") == 0 and "auc" in p]
        if link:
            linkage_met[name] = bool(link[0]["auc"] <= GOAL_LINKAGE_AUC + 1e-12)
    recon_met = {}
    for name in met:
        r = result.get("reconstruction", {}).get(name) or {}
        base = (r.get("baseline") or {}).get("ssim")
        if r.get("ssim") is not None and base is not None:
            recon_met[name] = bool(r["ssim"] <= base + GOAL_SSIM_MARGIN + 1e-12)
    return {"sensitive_max": sens_max, "primary_min": prim_min, "primary_balanced_min": bal_min, "met": met,
            "session_k": GOAL_SESSION_K, "session_met": session_met, "session_max": session_max,
            "linkage_auc_max": GOAL_LINKAGE_AUC, "linkage_met": linkage_met,
            "reconstruction_ssim_margin": GOAL_SSIM_MARGIN if recon_met else None, "reconstruction_met": recon_met}


def session_bar(point: dict, uniform: float) -> tuple[float, bool]:
    """(accuracy bar, met) of one session point: best attacker <= its samples' chance + 10 points, chance being
    the larger of 1/K and the constant guess there, and its best balanced accuracy <= 1/K + 10 points (so an
    attacker that does beat the constant guess on the smaller subjects still fails the goal)."""
    bar = max(uniform, point.get("chance_majority") or 0.0) + 0.10
    bal = point.get("best_balanced_accuracy")
    return bar, bool(point["best_accuracy"] <= bar + 1e-12 and (bal is None or bal <= uniform + 0.10 + 1e-12))


def noise_sweep(feature_sets: dict[str, tuple[FeatureSet, Manifest]], bundles: dict[str, Path], data: Dataset,
                cfg: EvalConfig) -> list[dict]:
    """Primary accuracy and best attacker accuracy as the run-time noise std varies (same artifact)."""
    points = []
    tr_y, te_y = data.train.sensitive, data.test.sensitive
    for name, (fs, manifest) in feature_sets.items():
        if name == "undefended" or manifest.feature.pca_dims is None:
            continue  # noise stds are in whitened-PCA units: sweep only projected features
        for sigma in cfg.sweep:
            cfg.log(f"curve: {name} noise {sigma:g}")
            rng = np.random.default_rng(cfg.seed + 7)
            tr, te = add_noise(fs.train_clean, sigma, rng), add_noise(fs.test_clean, sigma, rng)
            prim = _primary_scores(Path(bundles[name]), manifest, te, fs.shape, data.test.primary,
                                   len(data.primary_names))
            res = attribute_inference(tr, tr_y, te, te_y, cfg.sweep_attacks, cfg.seed, cfg.threads)
            sess = {}
            if GOAL_SESSION_K in cfg.session_ks and has_sessions(data.test.group):
                noisy = FeatureSet(tr, te, fs.train_clean, fs.test_clean, float(sigma), fs.source, fs.shape)
                sess = session_point(noisy, data.train, data.test, GOAL_SESSION_K, cfg.sweep_attacks, cfg.seed,
                                     cfg.threads, cfg.rank_candidates)
            points.append({"model": name, "noise": float(sigma), "pca_dims": manifest.feature.pca_dims,
                           "primary_accuracy": prim["accuracy"],
                           "primary_balanced_accuracy": prim["balanced_accuracy"], "best_attack": res["best"],
                           "best_attack_accuracy": res["best_accuracy"],
                           "session_k": GOAL_SESSION_K if sess else None,
                           "session_attack_accuracy": sess.get("best_accuracy")})
    return points


def plot_curve(result: PrivacyResult, path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    by_model: dict[str, list] = {}
    for p in result.curve or []:
        by_model.setdefault(p.model, []).append(p)
    for name, pts in by_model.items():
        ax.plot([p.best_attack_accuracy for p in pts], [p.primary_accuracy for p in pts], "o-",
                label=f"{name} (PCA {pts[0].pca_dims}), noise sweep")
        for p in pts:
            ax.annotate(f"σ={p.noise:g}", (p.best_attack_accuracy, p.primary_accuracy),
                        textcoords="offset points", xytext=(4, 4), fontsize=7)
    for name, acc in result.primary_accuracy.items():
        best = result.sensitive.best[name].accuracy
        ax.plot([best], [acc], "s", ms=9, label=f"{name} as exported (σ={result.models[name].noise:g})")
    g = result.goal
    ax.axvline(g.sensitive_max, color="grey", ls="--", lw=1, label="chance + 10 points")
    ax.axvline(result.sensitive.chance, color="grey", ls=":", lw=1, label="chance")
    if g.primary_min is not None:
        ax.axhline(g.primary_min, color="red", ls="--", lw=1, label="undefended − 2 points")
    ax.set_xlabel(f"best attacker accuracy on {result.sensitive_attribute} (lower is more private)")
    ax.set_ylabel("primary accuracy (int8 device.tflite + cloud.onnx)")
    ax.set_title("privacy–utility trade-off, features from the int8 artifact")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_result(result: PrivacyResult, out_path: Path) -> tuple[Path, Path | None]:
    """Write privacy.json (atomically) and the curve PNG beside it."""
    out_path = result.save(out_path)
    png = plot_curve(result, out_path.parent / CURVE_NAME) if result.curve is not None else None
    return out_path, png
