"""End to end on a small budget: defend the shared default run, export it, attack both bundles'
int8 device.tflite in one run, write privacy.json + the curve; and the CLI's one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hybridsplit.cli import app

runner = CliRunner()
RECIPES = Path(__file__).resolve().parents[2] / "recipes"


@pytest.fixture(scope="module")
def defended_bundle(tmp_path_factory, trained_run, default_recipe, watch_data):
    from hybridsplit.checkpoint import Checkpoint
    from hybridsplit.defences.finetune import defend
    from hybridsplit.exporters.bundle import build_bundle
    from hybridsplit.recipe import recipe_from_dict

    raw = default_recipe.model_dump(mode="json")
    raw["defence"] = {"epochs": 1, "cloud_epochs": 1, "siamese": {"weight": 0.05, "margin": 10.0},
                      "adversarial": {"weight": 0.5}, "pca": {"dims": 6}, "noise": {"std": 0.5}}
    ckpt = defend(Checkpoint.load(trained_run), recipe_from_dict(raw), watch_data, show_progress=False)
    assert ckpt.metrics["defences"] == ["siamese", "adversarial", "pca", "noise"]
    assert [k for k in ckpt.metrics["finetune"][0] if k in ("siamese", "adversarial")] == ["siamese", "adversarial"]
    run = tmp_path_factory.mktemp("runs") / "defended"
    ckpt.save(run)
    assert Checkpoint.load(run).extra["defence"]["pca_dims"] == 6  # weights_only load keeps the state
    out = tmp_path_factory.mktemp("bundles") / "defended"
    build_bundle(run, out)
    return run, out


@pytest.mark.slow
def test_defended_bundle_manifest_and_folded_pca(defended_bundle, default_bundle, watch_data):
    from hybridsplit.bundle.manifest import load_manifest
    from hybridsplit.checkpoint import Checkpoint
    from hybridsplit.defences.pca import PCAState
    from hybridsplit.models import split_model
    from hybridsplit.privacy.features import artifact_features
    from hybridsplit.train import load_model, predict

    run, bundle = defended_bundle
    m = load_manifest(bundle)
    assert m.feature.pca_dims == 6 and m.feature.noise == 0.5 and m.feature.shape == [1, 6]
    # the defences come from the run's training, not from its recipe's [defence] section
    from hybridsplit.privacy.evaluate import _defences

    plain = load_manifest(default_bundle)
    assert m.feature.defences == ["siamese", "adversarial", "pca", "noise"] and plain.feature.defences == []
    with_section = plain.model_copy(update={"recipe": {**plain.recipe, "defence": m.recipe["defence"]}})
    assert _defences(with_section) == [] and _defences(m) == m.feature.defences
    assert m.feature.bytes_per_inference == 6 < load_manifest(default_bundle).feature.bytes_per_inference
    # the int8 artifact's features (no noise) match the torch device half + the PCA projection
    fs, _, _ = artifact_features(bundle, watch_data, noise=0.0)
    assert fs.noise == 0.0 and np.array_equal(fs.test, fs.test_clean)
    ckpt = Checkpoint.load(run)
    split = split_model(load_model(ckpt), "block3")
    ref = PCAState.from_dict(ckpt.extra["defence"]["pca"]).project(predict(split.device, watch_data.test.x))
    assert np.abs(fs.test - ref).mean() < 0.1 * np.abs(ref).mean()  # int8 quantization error only
    noisy, _, _ = artifact_features(bundle, watch_data)
    assert noisy.noise == 0.5 and abs((noisy.test - noisy.test_clean).std() - 0.5) < 0.02


@pytest.mark.slow
def test_privacy_command_writes_json_and_curve(defended_bundle, default_bundle, tmp_path):
    out = tmp_path / "privacy.json"
    res = runner.invoke(app, ["privacy", "--bundle", str(defended_bundle[1]), "--baseline", str(default_bundle),
                              "--out", str(out), "--attacks", "knn", "--sweep", "0,1", "--recon-epochs", "1",
                              "--session", "1,20", "--linkage", "session"])
    assert res.exit_code == 0, res.output
    r = json.loads(out.read_text())
    assert set(r["primary_accuracy"]) == {"undefended", "defended"}
    assert r["primary_accuracy"]["undefended"] > 0.9
    assert r["sensitive"]["chance"] == pytest.approx(0.1)
    assert set(r["sensitive"]["attacks"]["knn"]) == {"undefended", "defended"}
    assert r["sensitive"]["attacks"]["knn"]["undefended"] > 0.4  # undefended features leak the subject
    assert "device.tflite" in r["features_from"]["defended"] and "tflite_int8" in r["features_from"]["defended"]
    assert r["rank"]["undefended"]["top1"] > 0.9  # noiseless features identify their source
    assert r["rank"]["defended"]["top1"] < r["rank"]["undefended"]["top1"]
    assert {"nmse", "correlation"} <= set(r["reconstruction"]["defended"])
    assert [p["noise"] for p in r["curve"]] == [0.0, 1.0]
    assert abs(r["primary_balanced_accuracy"]["undefended"] - r["primary_accuracy"]["undefended"]) < 0.05
    assert len(r["primary_recall"]["defended"]) == 7 and r["primary_classes"]
    # pooling 20 windows of one recording identifies the subject at least as well as one window
    s1 = {p["k"]: p for p in r["session"]["undefended"]}
    assert set(s1) == {1, 20} and s1[20]["best_accuracy"] >= s1[1]["best_accuracy"] - 0.02
    assert s1[1]["best_accuracy"] == r["sensitive"]["best"]["undefended"]["accuracy"]
    link = r["linkage"]["undefended"][0]
    assert link["k"] == 0 and link["auc"] > r["linkage"]["defended"][0]["auc"] - 0.05
    assert r["session_of"] == "recording" and "session_met" in r["goal"]
    assert all(p["session_attack_accuracy"] is not None for p in r["curve"])
    assert {"nmse", "correlation"} <= set(r["reconstruction"]["defended"]["baseline"])
    assert (tmp_path / "privacy_curve.png").stat().st_size > 1000
    assert "session attacker" in res.output and "linkage" in res.output
    # the goal recomputed from its definition (chance + 10 points; primary and balanced accuracy at least
    # undefended - 2 points), and the printed row says the same (the label is printed either way)
    bal = r["primary_balanced_accuracy"]
    met = (r["sensitive"]["best"]["defended"]["accuracy"] <= r["sensitive"]["chance"] + 0.10
           and r["primary_accuracy"]["defended"] >= r["primary_accuracy"]["undefended"] - 0.02
           and bal["defended"] >= bal["undefended"] - 0.02)
    assert r["goal"]["met"] == {"defended": met}
    row = next(ln for ln in res.output.splitlines() if "goal met" in ln)
    assert [c.strip() for c in row.replace("│", "|").split("|") if c.strip()] == ["goal met", "-", "yes" if met else "no"]


def test_privacy_command_rejects_missing_bundle(tmp_path):
    res = runner.invoke(app, ["privacy", "--bundle", str(tmp_path / "nope")])
    assert res.exit_code == 2
    assert "is not a bundle" in res.output and len(res.output.strip().splitlines()) == 1


def test_privacy_command_rejects_bad_sweep_and_attack(tmp_path):
    res = runner.invoke(app, ["privacy", "--bundle", str(tmp_path), "--sweep", "0,x"])
    assert res.exit_code == 2 and "--sweep" in res.output
    res = runner.invoke(app, ["privacy", "--bundle", str(tmp_path), "--session", "1,-5"])
    assert res.exit_code == 2 and "--session" in res.output and len(res.output.strip().splitlines()) == 1
    res = runner.invoke(app, ["privacy", "--bundle", str(tmp_path), "--attacks", "svm"])
    assert res.exit_code == 2 and "Unknown attack 'svm'" in res.output


def test_defend_rejects_recipe_without_defence_and_missing_run(tmp_path):
    res = runner.invoke(app, ["defend", "--recipe", str(RECIPES / "watch.toml"), "--run", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "switches nothing on" in res.output
    res = runner.invoke(app, ["defend", "--recipe", str(RECIPES / "watch.toml"), "--run", str(tmp_path / "nope"),
                              "--set", "defence.noise.std=0.5"])
    assert res.exit_code == 2 and "No checkpoint" in res.output
    assert not (tmp_path / "nope").exists()


def test_defend_rejects_an_unknown_projection_in_one_line(tmp_path):
    res = runner.invoke(app, ["defend", "--recipe", str(RECIPES / "watch_defended.toml"), "--run", str(tmp_path / "r"),
                              "--out", str(tmp_path / "o"), "--max-attacker", "0.2", "--projection", "pca,lda"])
    assert res.exit_code == 2 and "--projection 'pca,lda'" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "o").exists()
    res = runner.invoke(app, ["defend", "--recipe", str(RECIPES / "watch_defended.toml"), "--run", str(tmp_path / "r"),
                              "--set", "defence.pca.method=lda"])
    assert res.exit_code == 2 and "method" in res.output and not (tmp_path / "r").exists()


def test_defend_refuses_more_dca_directions_than_exercises_minus_one_before_training(trained_run, tmp_path):
    res = runner.invoke(app, ["defend", "--run", str(trained_run), "--recipe", str(RECIPES / "watch_defended.toml"),
                              "--out", str(tmp_path / "d"), "--set", "defence.pca.method=dca",
                              "--set", "defence.pca.dims=7", "-q"])
    assert res.exit_code == 2, res.output
    assert "7 primary classes give at most 6 discriminant directions" in res.output
    assert not (tmp_path / "d").exists()
