"""Fixtures for the exporter tests: tiny image runs, and bundles exported once per session."""

from __future__ import annotations

from pathlib import Path

import pytest


def train_image_run(root: Path, backbone: str, cut: str | None = None, epochs: int = 3, width: int = 32) -> Path:
    """Train a tiny image model on generated images (quadrant of a bright square) and save the run."""
    from hybridsplit.data import build_data
    from hybridsplit.data.synthetic import make_image_folder
    from hybridsplit.recipe import recipe_from_dict
    from hybridsplit.train import train

    images = make_image_folder(root / "images", n=160, size=32)
    model = {"backbone": backbone, "width": width, **({"cut": cut} if cut else {})}
    recipe = recipe_from_dict({
        "name": f"tiny-{backbone}", "seed": 0,
        "data": {"dataset": "image_folder", "path": str(images), "protocol": "random", "image_size": 32,
                 "test_fraction": 0.25},
        "model": model,
        "train": {"epochs": epochs, "batch_size": 32, "lr": 3e-3},
        "export": {"calibration_samples": 64, "max_int8_drop": 10.0},
    })
    data = build_data(recipe.data, recipe.seed)
    _, ckpt = train(recipe, data, show_progress=False)
    run = root / "run"
    ckpt.save(run)
    return run


@pytest.fixture(scope="session")
def onnx2tf_bundle(tmp_path_factory, trained_run) -> Path:
    """The default run exported through the second route: --converter onnx2tf (one onnx2tf run, 5 modes)."""
    from hybridsplit.exporters.bundle import build_bundle
    from hybridsplit.exporters.session import ExportPlan

    out = tmp_path_factory.mktemp("bundles") / "onnx2tf"
    build_bundle(trained_run, out, plan=ExportPlan.from_cli(["tflite"], ["fp16,dynamic_int8,int16x8"], "onnx2tf"))
    return out
