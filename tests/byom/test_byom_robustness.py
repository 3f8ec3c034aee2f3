"""What a new user runs into first with a torchvision / timm model: constructor arguments in the
spec, a shape the model cannot take, auxiliary outputs in train mode, an invalid cut before
training, and a `cuts` table with whole names and no no-op nodes."""

import json

import pytest
from typer.testing import CliRunner

from hybridsplit.cli import app
from hybridsplit.errors import SpecError
from hybridsplit.models.specs import ModelSpec, parse_model_spec

from .conftest import needs_timm, needs_torchvision

runner = CliRunner()


def _error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [ln.strip() for ln in result.output.strip().splitlines() if ln.strip()]
    starts = [i for i, ln in enumerate(lines) if ln.startswith("error:")]
    assert len(starts) == 1, result.output
    return " ".join(lines[starts[0]:])  # rich wraps the one line at the terminal width


@pytest.mark.parametrize("spec, want", [
    ("timm:efficientformerv2_s0?img_size=64",
     ModelSpec("timm", "efficientformerv2_s0", kwargs=(("img_size", 64),))),
    ("timm:resnet18?drop_rate=0.1&global_pool=avg@w.pth",
     ModelSpec("timm", "resnet18", None, "w.pth", (("drop_rate", 0.1), ("global_pool", "avg")))),
    ("torchvision:googlenet?aux_logits=False", ModelSpec("torchvision", "googlenet", kwargs=(("aux_logits", False),))),
])
def test_constructor_arguments_parse_as_literals(spec, want):
    got = parse_model_spec(spec)
    assert got == want and str(got) == spec


def test_a_constructor_argument_without_a_value_is_refused():
    with pytest.raises(SpecError, match="'img_size' is not name=value"):
        parse_model_spec("timm:efficientformerv2_s0?img_size")


@needs_timm
def test_a_shape_the_model_cannot_take_is_one_line_and_img_size_fixes_it():
    bad = _error_line(runner.invoke(app, ["cuts", "--model", "timm:efficientformerv2_s0", "--input-shape", "3,64,64"]))
    assert "cannot run on input [3, 64, 64]" in bad and "?img_size=64" in bad
    ok = runner.invoke(app, ["cuts", "--model", "timm:efficientformerv2_s0?img_size=64", "--input-shape", "3,64,64",
                             "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["cuts"][0]["output_shape"][1:] == [32, 32]  # the stem halves 64


@needs_torchvision
def test_a_wrong_constructor_argument_is_one_line():
    msg = _error_line(runner.invoke(app, ["cuts", "--model", "torchvision:resnet18?no_such_arg=1",
                                          "--input-shape", "3,32,32"]))
    assert "cannot be built with {'no_such_arg': 1}" in msg


@needs_torchvision
def test_cuts_hides_no_op_nodes_unless_all_and_never_truncates_names():
    args = ["cuts", "--model", "torchvision:mobilenet_v3_small", "--input-shape", "3,32,32"]
    shown = json.loads(runner.invoke(app, [*args, "--json"]).output)["cuts"]
    every = json.loads(runner.invoke(app, [*args, "--json", "--all"]).output)["cuts"]
    hidden = [r["cut"] for r in every if r["noop"]]
    assert "classifier.2" in hidden  # nn.Dropout in the classifier
    assert not [r for r in shown if r["noop"]] and len(shown) == len(every) - len(hidden)
    table = runner.invoke(app, args, terminal_width=60)
    assert table.exit_code == 0 and "…" not in table.output  # long names wrap whole


def _images(tmp_path, n=48, size=32):
    from hybridsplit.data.synthetic import make_image_folder

    return make_image_folder(tmp_path / "images", n=n, size=size)


def _recipe(images, backbone, cut, size=32):
    from hybridsplit.recipe import recipe_from_dict

    return recipe_from_dict({
        "name": "robust", "seed": 0,
        "data": {"dataset": "image_folder", "path": str(images), "protocol": "random", "image_size": size},
        "model": {"backbone": backbone, "cut": cut, "width": 8},
        "train": {"epochs": 1, "batch_size": 16, "threads": 1},
    })


@needs_torchvision
def test_train_uses_the_main_logits_of_a_model_with_auxiliary_outputs(tmp_path):
    import torch

    from hybridsplit.data import build_data
    from hybridsplit.train import main_logits, train

    recipe = _recipe(_images(tmp_path), "torchvision:googlenet", "inception3a")
    data = build_data(recipe.data, recipe.seed)
    model, ckpt = train(recipe, data, show_progress=False)
    model.train()
    out = model(torch.from_numpy(data.test.x[:2]))
    assert type(out).__name__ == "GoogLeNetOutputs"  # the aux heads are there in train mode
    assert main_logits(out) is out.logits
    assert 0.0 <= ckpt.metrics["test_accuracy"] <= 1.0 and len(ckpt.metrics["epochs"]) == 1


def test_train_refuses_an_invalid_cut_before_training(tmp_path):
    result = runner.invoke(app, ["train", "--recipe", "recipes/byom_tiny_resnet.toml", "--out", str(tmp_path / "run"),
                                 "--set", f"data.path={_images(tmp_path, n=24)}", "--set", "model.cut=block1.bn2",
                                 "--set", "model.width=8", "--quiet"])
    msg = _error_line(result)
    assert "Cannot cut at 'block1.bn2'" in msg and "'block1.add' after" in msg
    assert "loss" not in result.output and not (tmp_path / "run").exists()
