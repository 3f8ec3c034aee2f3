"""Faces end to end: generated faces -> recipes/faces.toml trained briefly -> exported bundle ->
`hybridsplit privacy` on its int8 device.tflite writes the identity attackers and the conv decoder's
SSIM / PSNR beside the mean-image baseline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hybridsplit.cli import app

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "faces.toml"


@pytest.mark.slow
def test_faces_recipe_train_export_privacy(tmp_path):
    from hybridsplit.data import build_data
    from hybridsplit.data.faces import make_faces
    from hybridsplit.exporters.bundle import build_bundle
    from hybridsplit.recipe import load_recipe, recipe_from_dict
    from hybridsplit.train import train

    root = make_faces(tmp_path / "faces", identities=20, sessions=2, per_session=8, size=32, seed=0)
    raw = load_recipe(RECIPE).model_dump(mode="json")
    raw["data"]["path"] = str(root)
    raw["train"]["epochs"] = 4
    recipe = recipe_from_dict(raw)
    data = build_data(recipe.data, recipe.seed)
    assert data.input_shape == (1, 32, 32)  # grayscale kept one channel through the recipe's backbone
    _, ckpt = train(recipe, data, show_progress=False)
    ckpt.save(tmp_path / "run")
    bundle = tmp_path / "bundle"
    build_bundle(tmp_path / "run", bundle)
    out = tmp_path / "privacy.json"
    res = CliRunner().invoke(app, ["privacy", "--bundle", str(bundle), "--out", str(out), "--attacks", "logreg,knn",
                                   "--sweep", "", "--recon-epochs", "8", "--session", "1,session",
                                   "--linkage", "session"])
    assert res.exit_code == 0, res.output
    assert "reconstruction SSIM" in res.output and "reconstruction decoder" in res.output
    r = json.loads(out.read_text())
    assert r["input_kind"] == "image" and r["primary_accuracy"]["defended"] > 0.7  # smiling: chance 0.5
    assert r["sensitive"]["chance"] == pytest.approx(1 / 20)
    assert r["sensitive"]["best"]["defended"]["accuracy"] > 0.35  # undefended features name the person
    rec = r["reconstruction"]["defended"]
    assert rec["decoder"] == "conv" and rec["split"] == "disjoint identities"
    assert rec["attacker_identities"] + rec["victim_identities"] == 20
    assert rec["attacker_images"] + rec["victim_images"] == 320
    assert {"ssim", "psnr"} <= set(rec) and {"ssim", "psnr"} <= set(rec["baseline"])
    assert 0 < rec["baseline"]["ssim"] < 1 and rec["psnr"] > rec["baseline"]["psnr"]
    assert r["session_of"] == "session" and [p["k"] for p in r["session"]["defended"]] == [1, 0]
    assert r["linkage"]["defended"][0]["auc"] is not None
