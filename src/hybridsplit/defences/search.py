"""Defence search: the least primary-accuracy loss that keeps the best attacker <= X on the int8 artifact.

The expensive steps are the fine-tune and the int8 export, so the search spends them on the knobs that
need them and sweeps the cheap one:
1. `budget` fine-tunes over (Siamese weight, adversarial weight, projection and its dims: PCA, or DCA's
   primary-discriminant directions), each from the undefended run, cloud half
   re-trained at one σ (the recipe's, else 0.4), each exported to a bundle (int8 `device.tflite`);
2. on each bundle, the run-time noise σ swept over a grid *without* re-training: σ is added to the
   dequantized int8 features exactly as the device adds it, primary accuracy through the bundle's
   `cloud.onnx` (trained at that run's σ), every attacker trained and tested on those features;
3. the chosen point (highest primary accuracy, then lowest attacker, among points with attacker <= X)
   is fine-tuned again at its own σ with `seeds` fine-tuning seeds, each exported and attacked on its
   own int8 artifact with the manifest's noise: the first seed's run is the result, the rest the spread.
Re-running with the same OUT reuses every fine-tune and export whose recipe and seed match.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hybridsplit.bundle.preprocess import add_noise
from hybridsplit.checkpoint import Checkpoint
from hybridsplit.data import Dataset
from hybridsplit.errors import CheckpointError, ExportError, RecipeError
from hybridsplit.privacy.attacks import DEFAULT_ATTACKS, attribute_inference, chance
from hybridsplit.privacy.metrics import class_scores
from hybridsplit.recipe import Recipe
from hybridsplit.results.defence_search import DefenceSearchResult, SearchPoint, SeedRun, Settings, Spread, Stat

NOISE_GRID = (0.0, 0.25, 0.4, 0.5, 0.75, 1.0, 1.5)
"""σ (whitened-PCA units) swept on every explored bundle."""
TRAIN_NOISE = 0.4
"""σ the cloud half is re-trained with during the search when the recipe sets none."""
SEARCH_DIR = "search"
METHOD = ("search points: the int8 device.tflite of each explored fine-tune, σ added to its dequantized "
          "features, primary accuracy through its cloud.onnx (re-trained at that run's σ); chosen setting: "
          "fine-tuned again at its own σ per seed, exported, attacked on its own int8 artifact with the "
          "manifest's noise")


@dataclass
class SearchConfig:
    max_attacker: float
    siamese: tuple[float, ...] | None = None
    """Siamese weights to fine-tune with (None: around the recipe's, see `candidates`)."""
    adversarial: tuple[float, ...] | None = None
    """Weights of the gradient-reversal adversary against the sensitive label (None: the recipe's, then one
    stronger setting; see `candidates`)."""
    pca: tuple[int, ...] | None = None
    """PCA dims to fine-tune with (None: around the recipe's)."""
    projection: tuple[str, ...] | None = None
    """Projections to fine-tune with, "pca" and/or "dca" (None: see `candidates`); DCA always with primary
    classes - 1 dims."""
    noise: tuple[float, ...] = NOISE_GRID
    budget: int = 3
    """Fine-tunes in the search (the chosen setting's seeds come on top)."""
    seeds: int = 3
    attacks: tuple[str, ...] = DEFAULT_ATTACKS
    seed: int = 0
    """Seed of the attackers and of the noise draws."""
    threads: int = 2
    show_progress: bool = False
    log: Callable[[str], None] = field(default=lambda msg: None)


def base_defence(recipe: Recipe, pool_ok: Callable[[], bool] = lambda: True) -> Recipe:
    """The recipe whose [defence] the search varies: the recipe's own, or Siamese + PCA + noise, the PCA
    pooled over space when the cloud half starts with a global pool (`pool_ok`), flattened otherwise."""
    d = recipe.defence
    if d.active():
        return recipe
    return recipe.model_copy(update={"defence": d.model_copy(update={"pool": pool_ok()})})


def pool_invariant(base, recipe: Recipe, data) -> bool:
    """Whether the run's cloud half gives the same answer for spatially averaged features (a global pool
    first), so PCA may be fitted on pooled channels."""
    from hybridsplit.defences.fit_check import check_pool_invariant
    from hybridsplit.errors import RecipeError
    from hybridsplit.models import split_model
    from hybridsplit.train import load_model

    split = split_model(load_model(base), recipe.model.cut)
    if len(split.feature_shape) < 2:
        return False
    try:
        check_pool_invariant(split, data.train.x[:8])
    except RecipeError:
        return False
    return True


def candidates(recipe: Recipe, cfg: SearchConfig, num_primary: int = 2) -> list[tuple[float, float, int, str]]:
    """(Siamese weight, adversarial weight, projection dims, projection) to fine-tune, mildest first, `budget`
    of them.

    Without a grid from the user: the recipe's setting; then DCA with primary classes - 1 directions (the
    least a cloud needs to tell the classes apart, chosen for exactly that, so it drops what PCA keeps when
    the sensitive attribute carries more variance than the primary one: identities in face images), with the
    recipe's own loss weights only (on the faces, 8 epochs of Siamese 0.3 first cost DCA 8 points of
    smiling accuracy, 0.910 against 0.993 from the undefended features); then
    fewer PCA dims, the adversary (3x the recipe's weight, or 0.3 without one) — a sensitive attribute with
    many classes keeps what a contrastive loss on the primary label does not remove —, then stronger Siamese
    weights."""
    d = recipe.defence
    w0, a0 = d.siamese.weight or 0.3, d.adversarial.weight
    m0 = d.pca.method
    d0 = d.pca.dims or 8
    a1 = 3 * a0 if a0 > 0 else 0.3
    dca = max(num_primary - 1, 1)
    if cfg.siamese or cfg.pca or cfg.adversarial or cfg.projection:
        grid = [(w, a, dca if m == "dca" else p, m) for m in (cfg.projection or (m0,)) for p in (cfg.pca or (d0,))
                for a in (cfg.adversarial or (a0,)) for w in (cfg.siamese or (w0,))]
    else:
        fewer, fewest = max(d0 - 2, 1), max(d0 - 4, 1)
        first = (w0, a0, dca if m0 == "dca" else d0, m0)
        grid = [first, (d.siamese.weight, a0, dca, "dca"), (w0, a0, fewer, "pca"), (w0, a1, fewer, "pca"),
                (3 * w0, a0, fewer, "pca"), (3 * w0, a1, fewest, "pca"), (w0 / 3, a0, d0, "pca"), (3 * w0, a0, d0, "pca")]
    return list(dict.fromkeys((round(w, 6), round(a, 6), int(p), m) for w, a, p, m in grid))[: cfg.budget]


def setting_recipe(recipe: Recipe, siamese: float, adversarial: float, pca_dims: int, noise: float,
                   projection: str = "pca") -> Recipe:
    d = recipe.defence
    upd = {"siamese": d.siamese.model_copy(update={"weight": siamese}),
           "adversarial": d.adversarial.model_copy(update={"weight": adversarial}),
           "pca": d.pca.model_copy(update={"dims": pca_dims, "method": projection}),
           "noise": d.noise.model_copy(update={"std": float(noise)})}
    return recipe.model_copy(update={"defence": d.model_copy(update=upd)})


def _matches(run_dir: Path, recipe: Recipe, seed: int) -> bool:
    """A finished run (checkpoint + bundle) of this recipe and fine-tuning seed is there to reuse."""
    try:
        ck = Checkpoint.load(run_dir / "run")
    except (CheckpointError, OSError):
        return False
    return (ck.recipe.digest() == recipe.digest() and ck.metrics.get("finetune_seed") == seed
            and (run_dir / "bundle" / "manifest.json").is_file())


def defended_bundle(base: Checkpoint, recipe: Recipe, data: Dataset, where: Path, seed: int,
                    cfg: SearchConfig) -> tuple[Path, float]:
    """Fine-tune + export into where/run and where/bundle (reused when already there); (dir, seconds)."""
    from hybridsplit.defences.finetune import defend
    from hybridsplit.exporters.bundle import build_bundle

    if _matches(where, recipe, seed):
        cfg.log(f"reusing {where}")
        return where, 0.0
    t0 = time.perf_counter()
    shutil.rmtree(where, ignore_errors=True)
    ckpt = defend(base, recipe, data, show_progress=cfg.show_progress, seed=seed)
    ckpt.save(where / "run")
    build_bundle(where / "run", where / "bundle")
    return where, time.perf_counter() - t0


def measure(bundle: Path, data: Dataset, noise: float | None, cfg: SearchConfig, clean=None) -> dict:
    """Primary scores and every attacker on the bundle's int8 features with σ `noise` (None: the manifest's)."""
    from hybridsplit.bundle.runtime import OnnxRunner
    from hybridsplit.privacy.features import artifact_features

    if clean is None:
        clean = artifact_features(bundle, data, "tflite_int8", noise=0.0, seed=cfg.seed)
    fs, manifest, _ = clean
    sigma = manifest.feature.noise if noise is None else noise
    rng = np.random.default_rng(cfg.seed)  # the draw order of FeatureSet.from_clean: train, then test
    tr, te = add_noise(fs.train_clean, sigma, rng), add_noise(fs.test_clean, sigma, rng)
    cloud = next(a for a in manifest.artifacts.values() if a.role == "cloud" and a.format == "onnx")
    logits = OnnxRunner(bundle / cloud.file)(te.reshape(len(te), *fs.shape))
    prim = class_scores(logits.argmax(1), data.test.primary, len(data.primary_names))
    res = attribute_inference(tr, data.train.sensitive, te, data.test.sensitive, cfg.attacks, cfg.seed, cfg.threads)
    return {"noise": float(sigma), "primary_accuracy": prim["accuracy"],
            "primary_balanced_accuracy": prim["balanced_accuracy"], "best_attack": res["best"],
            "best_attack_accuracy": res["best_accuracy"], "attacks": res["attacks"],
            "met": bool(res["best_accuracy"] <= cfg.max_attacker + 1e-12)}


def explore(base: Checkpoint, recipe: Recipe, data: Dataset, work: Path, cfg: SearchConfig) -> tuple[list, list]:
    """Every candidate fine-tuned + exported once, σ swept on its artifact: (fine-tunes, points)."""
    from hybridsplit.privacy.features import artifact_features

    train_sigma = recipe.defence.noise.std or TRAIN_NOISE
    finetunes, points = [], []
    for i, (w, adv, dims, proj) in enumerate(candidates(recipe, cfg, len(data.primary_names))):
        r = setting_recipe(recipe, w, adv, dims, train_sigma, proj)
        cfg.log(f"fine-tune {i + 1}: siamese {w:g}, adversarial {adv:g}, {proj.upper()} {dims}, cloud re-trained at σ "
                f"{train_sigma:g}")
        try:
            where, secs = defended_bundle(base, r, data, work / f"finetune{i}", recipe.seed, cfg)
        except (RecipeError, ExportError) as exc:  # refused before training, or its int8 export failed a gate
            cfg.log(f"fine-tune {i + 1} skipped: {exc}")
            finetunes.append({"index": i, "siamese": w, "adversarial": adv, "pca_dims": dims, "projection": proj,
                              "skipped": str(exc)})
            continue
        finetunes.append({"index": i, "siamese": w, "adversarial": adv, "pca_dims": dims, "projection": proj,
                          "trained_noise": train_sigma,
                          "run": str(where / "run"), "bundle": str(where / "bundle"), "seconds": round(secs, 1)})
        clean = artifact_features(where / "bundle", data, "tflite_int8", noise=0.0, seed=cfg.seed)
        for sigma in cfg.noise:
            m = measure(where / "bundle", data, sigma, cfg, clean)
            s = Settings(siamese=w, adversarial=adv, pca_dims=dims, projection=proj, noise=sigma)
            points.append(SearchPoint(settings=s, finetune=i, trained_noise=train_sigma, **_point_fields(m)))
            cfg.log(f"  σ {sigma:g}: primary {m['primary_accuracy']:.4f}, best attacker "
                    f"{m['best_attack_accuracy']:.3f} ({m['best_attack']}){'  meets X' if m['met'] else ''}")
    return finetunes, points


def _point_fields(m: dict) -> dict:
    return {k: m[k] for k in ("primary_accuracy", "primary_balanced_accuracy", "best_attack",
                              "best_attack_accuracy", "attacks", "met")}


def order(points: list[SearchPoint]) -> list[SearchPoint]:
    """Points meeting X, least primary-accuracy loss first (balanced accuracy, then the attacker, break ties)."""
    met = [p for p in points if p.met]
    return sorted(met, key=lambda p: (-p.primary_accuracy, -p.primary_balanced_accuracy, p.best_attack_accuracy))


def closest(points: list[SearchPoint]) -> SearchPoint | None:
    return min(points, key=lambda p: (p.best_attack_accuracy, -p.primary_accuracy), default=None)


def verify(base: Checkpoint, recipe: Recipe, data: Dataset, point: SearchPoint, finetunes: list, out: Path,
           cfg: SearchConfig, failed: list[str]) -> list[SeedRun]:
    """The chosen setting fine-tuned at its own σ with each seed, exported, attacked on its own int8 artifact.
    A seed whose export fails a gate is appended to `failed` and left out of the spread."""
    s = point.settings
    r = setting_recipe(recipe, s.siamese, s.adversarial, s.pca_dims, s.noise, s.projection)
    runs: list[SeedRun] = []
    for k in range(cfg.seeds):
        seed = recipe.seed + k
        where = out / SEARCH_DIR / f"seed{seed}"
        reuse = finetunes[point.finetune] if k == 0 and s.noise == point.trained_noise else None
        if reuse is not None:  # the explored run is this setting at this seed already
            where = Path(reuse["bundle"]).parent
        cfg.log(f"chosen setting, seed {seed}: {'explored run reused' if reuse else 'fine-tune + export'}")
        try:
            where, _ = defended_bundle(base, r, data, where, seed, cfg)
        except ExportError as exc:  # e.g. the parity gate: this seed's int8 model lost too much accuracy
            cfg.log(f"  seed {seed}: no bundle ({exc})")
            failed.append(f"seed {seed}: {str(exc).splitlines()[0]}")
            continue
        m = measure(where / "bundle", data, None, cfg)
        runs.append(SeedRun(seed=seed, bundle=str(where / "bundle"), **_point_fields(m)))
        cfg.log(f"  seed {seed}: primary {m['primary_accuracy']:.4f}, best attacker {m['best_attack_accuracy']:.3f} "
                f"({m['best_attack']})")
        if len(runs) == 1:  # the result: the first seed that gave a bundle, a normal defended run in OUT
            Checkpoint.load(where / "run").save(out)
    return runs


def spread(runs: list[SeedRun]) -> Spread:
    def stat(values: list[float]) -> Stat:
        return Stat(mean=float(np.mean(values)), min=float(np.min(values)), max=float(np.max(values)))

    return Spread(seeds=[r.seed for r in runs], primary_accuracy=stat([r.primary_accuracy for r in runs]),
                  primary_balanced_accuracy=stat([r.primary_balanced_accuracy for r in runs]),
                  best_attack_accuracy=stat([r.best_attack_accuracy for r in runs]), met_all=all(r.met for r in runs))


def search(run: Path, recipe: Recipe, out: Path, cfg: SearchConfig) -> DefenceSearchResult:
    """Explore, choose, verify; defence_search.json written in `out` (also when X is not met)."""
    from hybridsplit.data import build_data

    t0 = time.perf_counter()
    base = Checkpoint.load(run)
    data = build_data(recipe.data, recipe.seed)
    recipe = base_defence(recipe, lambda: pool_invariant(base, recipe, data))
    out.mkdir(parents=True, exist_ok=True)
    result = DefenceSearchResult(
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), run=str(run), out=str(out),
        max_attacker=cfg.max_attacker, attacks=list(cfg.attacks), method=METHOD,
        chance=chance(data.train.sensitive, data.test.sensitive, len(data.sensitive_names))["uniform"],
        undefended_accuracy=base.metrics.get("test_accuracy"))
    result.finetunes, result.points = explore(base, recipe, data, out / SEARCH_DIR, cfg)
    ranked = order(result.points)
    if not ranked:
        near = closest(result.points)
        result.message = _unmet_message(near, cfg.max_attacker, result.chance)
    else:
        result.chosen, failed = ranked[0], []
        result.verified = verify(base, recipe, data, ranked[0], result.finetunes, out, cfg, failed)
        result.spread = spread(result.verified) if result.verified else None
        result.met = bool(result.verified) and result.verified[0].met
        if not result.verified:
            result.message = (f"the chosen setting met X = {cfg.max_attacker:g} in the search, but re-trained at its own "
                              f"σ no seed gave a bundle ({'; '.join(failed)}); try another point of the frontier "
                              "(--noise, --pca) or raise export.max_int8_drop if the loss is acceptable")
        elif not result.met:
            result.message = (f"the chosen setting met X = {cfg.max_attacker:g} in the search but its run in {out} "
                              f"reached {result.verified[0].best_attack_accuracy:.3f} on its own int8 artifact; "
                              "try a stricter setting (--noise larger, --pca smaller) or more --budget")
    result.seconds = round(time.perf_counter() - t0, 1)
    result.save(out / DefenceSearchResult.FILE)
    return result


def _unmet_message(near: SearchPoint | None, x: float, chance_level: float) -> str:
    if near is None:
        return "no defence setting could be fine-tuned on this run (see the skipped fine-tunes)"
    s = near.settings
    hint = (f"X = {x:g} is below chance ({chance_level:.3f}): no defence can push an attacker under chance"
            if x < chance_level else "try larger noise σ (--noise), fewer PCA dims (--pca), DCA (--projection dca), a larger Siamese weight "
            "(--siamese), a stronger adversary (--adversarial) or more --budget")
    return (f"no explored setting keeps the best attacker <= {x:g}; closest: siamese {s.siamese:g}, adversarial "
            f"{s.adversarial:g}, {s.projection_text}, "
            f"σ {s.noise:g} -> attacker {near.best_attack_accuracy:.3f} ({near.best_attack}), primary "
            f"{near.primary_accuracy:.4f}; {hint}")
