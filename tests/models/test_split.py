import pytest
import torch

from hybridsplit.errors import SpecError
from hybridsplit.models import BACKBONES, create_backbone, list_split_points, split_model

SHAPES = {"imu": (6, 100), "image": (3, 32, 32)}


def _model(name):
    torch.manual_seed(0)
    model = create_backbone(name, 5, SHAPES[BACKBONES.get(name).info.modality], width=8)
    model.train()
    with torch.no_grad():  # move BatchNorm statistics away from the identity
        model(torch.randn(8, *model.input_shape))
    return model.eval()


CASES = [(name, p.name) for name in BACKBONES.names() for p in list_split_points(_model(name))]


@pytest.mark.parametrize("backbone, cut", CASES)
def test_device_then_cloud_reproduces_the_whole_model(backbone, cut):
    model = _model(backbone)
    split = split_model(model, cut)
    x = torch.randn(4, *model.input_shape)
    with torch.no_grad():
        features = split.device(x)
        assert tuple(features.shape[1:]) == split.feature_shape
        torch.testing.assert_close(split.cloud(features), model(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("backbone", BACKBONES.names())
def test_every_backbone_lists_cut_points_and_its_default(backbone):
    model = _model(backbone)
    names = [p.name for p in list_split_points(model)]
    assert BACKBONES.get(backbone).info.default_cut in names
    assert names == model.stage_names()[:-1]  # after the last stage the cloud would be empty


def test_halves_share_weights_with_the_whole_model():
    model = _model("imu_cnn")
    split = split_model(model, "block2")  # graph halves hold the model's own modules, by path
    assert split.device.get_submodule("block1.0").weight is model.block1[0].weight
    assert split.cloud.get_submodule("head").weight is model.head.weight


def test_unknown_cut_suggests_the_closest():
    with pytest.raises(SpecError, match=r"Did you mean 'block3'.*list split-points"):
        split_model(_model("imu_cnn"), "blok3")
    with pytest.raises(SpecError, match="Valid cuts"):
        split_model(_model("imu_cnn"), "head")


def test_unknown_backbone_lists_known_ones():
    with pytest.raises(SpecError, match="Did you mean 'imu_cnn'"):
        create_backbone("imu_cn", 3, (6, 100))
