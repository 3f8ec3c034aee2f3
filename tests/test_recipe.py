import pytest

from hybridsplit.errors import RecipeError
from hybridsplit.recipe import load_recipe


def test_default_recipe_loads(default_recipe):
    assert default_recipe.model.backbone == "imu_cnn"
    assert default_recipe.data.protocol == "time"
    assert len(default_recipe.digest()) == 64


def test_overrides_apply_typed_values():
    r = load_recipe("recipes/watch.toml", ["train.epochs=3", "data.protocol=recording", "model.cut=block2"])
    assert r.train.epochs == 3 and r.data.protocol == "recording" and r.model.cut == "block2"


@pytest.mark.parametrize(
    "override, words",
    [("train.epochs=0", "train.epochs"), ("train.nope=1", "nope"), ("data.protocol=weekly", "protocol"),
     ("train.epochs", "KEY=VALUE")],
)
def test_bad_overrides_name_the_field(override, words):
    with pytest.raises(RecipeError, match=words):
        load_recipe("recipes/watch.toml", [override])


def test_missing_and_invalid_recipe_files(tmp_path):
    with pytest.raises(RecipeError, match="not found"):
        load_recipe(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[data\n")
    with pytest.raises(RecipeError, match="not valid TOML"):
        load_recipe(bad)
