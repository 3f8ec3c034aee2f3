import pytest
import torch

from hybridsplit.errors import SpecError
from hybridsplit.models import BACKBONES, create_backbone
from hybridsplit.models.specs import ModelSpec, parse_model_spec

from .conftest import TINY, needs_timm, needs_torchvision


@pytest.mark.parametrize("spec, want", [
    ("torchvision:resnet18", ModelSpec("torchvision", "resnet18")),
    ("timm:mobilenetv3_small_100", ModelSpec("timm", "mobilenetv3_small_100")),
    ("timm:resnet18.a1_in1k@w/r18.pth", ModelSpec("timm", "resnet18.a1_in1k", None, "w/r18.pth")),
    ("python:my.models:make_net", ModelSpec("python", "make_net", "my.models")),
    ("python:my.models:make_net@net.safetensors", ModelSpec("python", "make_net", "my.models", "net.safetensors")),
])
def test_specs_parse_like_timm(spec, want):
    got = parse_model_spec(spec)
    assert got == want
    assert str(got) == spec


@pytest.mark.parametrize("spec, message", [
    ("torchvison:resnet18", r"unknown source 'torchvison'\. Did you mean 'torchvision:resnet18'"),
    ("python:make_net", r"python:<module>:<factory>"),
    ("timm:", r"names no model"),
    ("timm:resnet18@", r"without a weights file"),
])
def test_bad_specs_say_how_to_write_them(spec, message):
    with pytest.raises(SpecError, match=message):
        parse_model_spec(spec)


def test_python_spec_goes_through_the_backbone_registry():
    assert TINY in BACKBONES
    model = create_backbone(TINY, 7, (3, 32, 32), width=8)
    assert model.input_shape == (3, 32, 32) and model.backbone_spec == TINY
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 7)
    assert BACKBONES.get(TINY).info.modality == "image"


def test_python_spec_unknown_factory_lists_close_matches():
    with pytest.raises(SpecError, match=r"no factory 'tiny_resnt'\. Did you mean 'tiny_resnet'"):
        create_backbone("python:hybridsplit.models.byom_examples:tiny_resnt", 3, (3, 32, 32))
    with pytest.raises(SpecError, match=r"Cannot import module 'no_such_pkg\.models'"):
        create_backbone("python:no_such_pkg.models:net", 3, (3, 32, 32))


def test_registry_names_still_list_close_matches():
    with pytest.raises(SpecError, match="Did you mean 'imu_cnn'"):
        create_backbone("imu_cn", 3, (6, 100))


def test_local_weights_file_is_loaded_and_a_foreign_classifier_skipped(tmp_path):
    torch.manual_seed(1)
    src = create_backbone(TINY, 5, (3, 32, 32), width=8)
    torch.save(src.state_dict(), tmp_path / "w.pt")
    same = create_backbone(f"{TINY}@{tmp_path / 'w.pt'}", 5, (3, 32, 32), width=8)
    for k, v in src.state_dict().items():
        assert torch.equal(v, same.state_dict()[k]), k
    with pytest.warns(UserWarning, match="kept random init for 2 tensor"):  # head.weight, head.bias: 5 -> 3 classes
        other = create_backbone(f"{TINY}@{tmp_path / 'w.pt'}", 3, (3, 32, 32), width=8)
    assert torch.equal(other.stem[0].weight, src.stem[0].weight)
    with pytest.raises(SpecError, match="does not exist"):
        create_backbone(f"{TINY}@{tmp_path / 'missing.pt'}", 5, (3, 32, 32))
    torch.save({"something": torch.zeros(3)}, tmp_path / "bad.pt")
    with pytest.raises(SpecError, match="does not fit"):
        create_backbone(f"{TINY}@{tmp_path / 'bad.pt'}", 5, (3, 32, 32), width=8)


@needs_torchvision
def test_torchvision_spec_builds_random_weights_and_suggests_names():
    model = create_backbone("torchvision:mobilenet_v3_small", 4, (3, 64, 64))
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 4)
    with pytest.raises(SpecError, match=r"Unknown torchvision model 'resnt18'\. Did you mean 'resnet18'"):
        create_backbone("torchvision:resnt18", 4, (3, 64, 64))
    with pytest.raises(SpecError, match="takes images"):
        create_backbone("torchvision:resnet18", 4, (6, 100))


@needs_timm
def test_timm_spec_drops_the_pretrained_tag_and_suggests_names():
    model = create_backbone("timm:resnet18.a1_in1k", 4, (3, 64, 64))
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 4)
    with pytest.raises(SpecError, match=r"Did you mean 'mobilenetv3_small_100'"):
        create_backbone("timm:mobilenetv3_small_10", 4, (3, 64, 64))


@pytest.mark.parametrize("path", ["recipes/byom_tiny_resnet.toml", "recipes/byom_mobilenet_v3.toml",
                                  "recipes/byom_pipeline.toml"])
def test_byom_recipes_name_a_spec_and_a_valid_cut(path):
    from hybridsplit.models import split_model
    from hybridsplit.models.specs import import_torchvision
    from hybridsplit.recipe import load_recipe

    r = load_recipe(path)
    if r.model.backbone.startswith("torchvision:"):
        import_torchvision()  # a SpecError here fails the test: `make install` installs torchvision
    size = r.data.image_size
    model = create_backbone(r.model.backbone, 4, (3, size, size), r.model.width).eval()
    split = split_model(model, r.model.cut)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        assert torch.allclose(split.cloud(split.device(x)), model(x), atol=1e-5)
