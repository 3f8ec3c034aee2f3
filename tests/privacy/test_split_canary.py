"""The privacy evaluation's train/test split, checked by a canary, and the goal against its definition.

Canary: features that carry the sensitive label in one code on the training windows and in a
shifted code on the test windows. An attacker that learns on the training features and is scored
on the test features (the evaluation's split) lands below chance; one that saw the test
features scores near 100 %. So if evaluate_bundles ever fits its attackers on test features (or
scores them on training features) the reported accuracy jumps and this test fails.
"""

from __future__ import annotations

import numpy as np
import pytest

from hybridsplit.privacy.attacks import attribute_inference
from hybridsplit.privacy.evaluate import goal

ATTACKS = ("logreg", "knn")


def _canary(labels: np.ndarray, dims: int, shift: int, k: int, seed: int) -> np.ndarray:
    """Noise, plus a spike of 6 at dim (label + shift) % k."""
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=0.3, size=(len(labels), dims)).astype(np.float32)
    x[np.arange(len(labels)), (labels + shift) % k] += 6.0
    return x


@pytest.mark.slow
def test_the_attacker_never_sees_test_features(default_bundle, monkeypatch):
    import hybridsplit.privacy.evaluate as evaluate
    from hybridsplit.bundle.manifest import load_manifest
    from hybridsplit.privacy.features import FeatureSet, bundle_data

    manifest = load_manifest(default_bundle)
    data = bundle_data(manifest)
    k, dims = len(data.sensitive_names), int(np.prod(manifest.feature.shape[1:]))
    train = _canary(data.train.sensitive, dims, 0, k, 0)
    test = _canary(data.test.sensitive, dims, 1, k, 1)
    # the canary is visible: seeing the test features is worth ~100 %, the honest split below chance
    seen = attribute_inference(test, data.test.sensitive, test, data.test.sensitive, ATTACKS, threads=1)
    honest = attribute_inference(train, data.train.sensitive, test, data.test.sensitive, ATTACKS, threads=1)
    assert seen["best_accuracy"] > 0.9 and honest["best_accuracy"] < 1 / k

    def canary_features(bundle_dir, data_, artifact="tflite_int8", noise=None, seed=0):
        fs = FeatureSet.from_clean(train, test, 0.0, seed, "canary")
        fs.shape = tuple(manifest.feature.shape[1:])
        return fs, manifest, data_

    monkeypatch.setattr(evaluate, "artifact_features", canary_features)
    cfg = evaluate.EvalConfig(attacks=ATTACKS, sweep=(), rank_candidates=50, recon_epochs=1, threads=1)
    res = evaluate.evaluate_bundles({"canary": default_bundle}, cfg)
    assert res.sensitive.chance == pytest.approx(1 / k)
    for attack in ATTACKS:
        assert res.sensitive.attacks[attack]["canary"] < 1 / k, res.sensitive
    assert res.sensitive.best["canary"].accuracy == pytest.approx(honest["best_accuracy"], abs=0.01)


def _result(best: float, primary: float, chance: float = 0.1, base: float | None = 0.95) -> dict:
    prim = {"defended": primary} if base is None else {"undefended": base, "defended": primary}
    return {"sensitive": {"chance": chance, "best": {"defended": {"accuracy": best}, "undefended": {"accuracy": 0.6}}},
            "primary_accuracy": prim}


@pytest.mark.parametrize(("best", "primary", "met"), [
    (0.20, 0.93, True),    # both bounds exactly: attacker at chance + 10 points, primary at baseline - 2 points
    (0.15, 0.95, True),
    (0.21, 0.95, False),   # the attacker 1 point too good
    (0.15, 0.929, False),  # primary 0.1 point too low
    (0.50, 0.50, False),
])
def test_goal_against_its_definition(best, primary, met):
    g = goal(_result(best, primary))
    assert g["met"] == {"defended": met}
    assert g["sensitive_max"] == pytest.approx(0.20) and g["primary_min"] == pytest.approx(0.93)


@pytest.mark.parametrize(("ssim", "met"), [(0.389, True), (0.39, True), (0.391, False), (0.421, False)])
def test_image_goal_judges_the_reconstruction_against_the_mean_image(ssim, met):
    """The faces bar: the decoder's SSIM at most 0.05 above the mean image's (0.34 here)."""
    r = _result(0.10, 0.95)
    r["reconstruction"] = {"undefended": {"ssim": 0.6, "baseline": {"ssim": 0.34}},
                           "defended": {"ssim": ssim, "baseline": {"ssim": 0.34}}}
    g = goal(r)
    assert g["reconstruction_met"] == {"defended": met} and g["reconstruction_ssim_margin"] == 0.05
    assert goal(_result(0.10, 0.95))["reconstruction_met"] == {}  # windows: NMSE only, no SSIM bar


def test_goal_without_a_baseline_checks_the_attacker_only():
    assert goal(_result(0.19, 0.10, base=None))["met"] == {"defended": True}
    assert goal(_result(0.21, 0.99, base=None))["met"] == {"defended": False}


@pytest.mark.parametrize("met", [True, False])
def test_the_printed_goal_row_says_what_the_goal_says(met, capsys):
    from hybridsplit.cli.privacy import print_privacy_table
    from hybridsplit.results import PrivacyResult

    best = 0.15 if met else 0.45
    r = _result(best, 0.94)
    r.update({"artifact": "tflite_int8", "protocol": "time", "sensitive_attribute": "subject",
              "models": {n: {"defences": [], "bytes_per_inference": 6} for n in ("undefended", "defended")},
              "rank": {n: {"mean_rank_over_n": 0.5, "top1": 0.0} for n in ("undefended", "defended")},
              "reconstruction": {n: {"nmse": 1.0, "correlation": 0.0} for n in ("undefended", "defended")}})
    r["sensitive"].update({"attacks": {"knn": {"undefended": 0.6, "defended": best}}})
    r["sensitive"]["best"] = {"undefended": {"accuracy": 0.6, "attack": "knn"}, "defended": {"accuracy": best, "attack": "knn"}}
    r["goal"] = goal(r)
    r["models"] = {n: {"bundle": n, **m} for n, m in r["models"].items()}
    print_privacy_table(PrivacyResult.from_dict(r))
    row = next(ln for ln in capsys.readouterr().out.splitlines() if "goal met" in ln)
    cells = [c.strip() for c in row.replace("│", "|").split("|") if c.strip()]
    assert cells == ["goal met", "-", "yes" if met else "no"]


def test_chance_by_hand():
    from hybridsplit.privacy.attacks import chance

    # 5 classes given, 3 seen: uniform is 1/5; the train majority (0) is right on 1 of 3 test windows
    assert chance(np.array([0, 0, 1, 2]), np.array([0, 1, 1]), num_classes=5) == pytest.approx(
        {"uniform": 0.2, "majority": 1 / 3})
    # no class count given: the largest label seen anywhere (3, on test) + 1 = 4 classes
    assert chance(np.array([0, 0, 1]), np.array([3, 3, 0])) == pytest.approx({"uniform": 0.25, "majority": 1 / 3})
