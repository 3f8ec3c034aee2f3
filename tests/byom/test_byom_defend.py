"""`defend` on a graph-split torchvision model: impossible combinations are refused before any
training, PCA folds into a GraphModule split, and margin / σ can be given in feature-spread units."""

from __future__ import annotations

import time

import numpy as np
import pytest

from hybridsplit.errors import RecipeError

from .conftest import needs_torchvision

pytestmark = [pytest.mark.slow, needs_torchvision]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from hybridsplit.data import build_data
    from hybridsplit.data.synthetic import make_image_folder
    from hybridsplit.recipe import recipe_from_dict
    from hybridsplit.train import train

    root = tmp_path_factory.mktemp("defend")
    images = make_image_folder(root / "images", n=64, size=32)
    recipe = {
        "name": "byom-defend", "seed": 0,
        "data": {"dataset": "image_folder", "path": str(images), "protocol": "random", "image_size": 32},
        "model": {"backbone": "torchvision:resnet18", "cut": "layer3", "width": 8},
        "train": {"epochs": 1, "batch_size": 16, "threads": 1},
    }
    r = recipe_from_dict(recipe)
    data = build_data(r.data, r.seed)
    _, ckpt = train(r, data, show_progress=False)
    return ckpt, data, recipe


def _defended(recipe: dict, **defence):
    from hybridsplit.recipe import recipe_from_dict

    return recipe_from_dict({**recipe, "defence": {"epochs": 1, "cloud_epochs": 1, **defence}})


@pytest.mark.parametrize("defence, message", [
    ({"pool": True, "pca": {"dims": 4}}, "does not begin with a global average pool"),
    ({"pca": {"dims": 5000}}, "exceeds the 1024 feature values"),
])
def test_impossible_combinations_are_refused_before_training(base, defence, message):
    from hybridsplit.defences.finetune import defend

    ckpt, data, recipe = base
    start = time.process_time()
    with pytest.raises(RecipeError, match=message):
        defend(ckpt, _defended(recipe, **defence), data, show_progress=False)
    assert time.process_time() - start < 30  # refused before fine-tuning (an epoch is far more)


def test_pca_siamese_and_noise_in_spread_units_on_a_graph_split(base):
    from hybridsplit.defences import apply_defences
    from hybridsplit.defences.finetune import defend
    from hybridsplit.models import split_model
    from hybridsplit.train import load_model, predict

    ckpt, data, recipe = base
    d = defend(ckpt, _defended(recipe, units="spread", siamese={"weight": 0.01, "margin": 1.0},
                               pca={"dims": 8}, noise={"std": 0.5}), data, show_progress=False)
    u = d.metrics["units"]
    assert u["units"] == "spread" and u["siamese_margin"] == pytest.approx(u["spread"]["sample"])
    assert u["noise_std"] == 0.5  # after PCA the features are whitened: σ is already per component std
    assert d.extra["defence"]["pca_dims"] == 8 and d.extra["defence"]["noise"] == 0.5
    deployed = apply_defences(split_model(load_model(d), d.recipe.model.cut), d.extra["defence"])
    z = predict(deployed.device, data.train.x)
    assert z.shape == (len(data.train.x), 8)
    assert np.allclose(z.std(0), 1.0, atol=0.35)  # whitened components, as the unit claims
    assert 0.0 <= d.metrics["test_accuracy"] <= 1.0
