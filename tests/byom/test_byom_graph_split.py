import pytest
import torch
from torch import fx, nn

from hybridsplit.errors import SpecError
from hybridsplit.models import create_backbone, list_split_points, split_model
from hybridsplit.models.graph_split import list_cuts

from .conftest import needs_timm, needs_torchvision, settled


def _compose_error(model, cut, shape, n=3):
    split = split_model(model, cut)
    x = torch.randn(n, *shape)
    with torch.no_grad():
        feats = split.device(x)
        assert tuple(feats.shape[1:]) == split.feature_shape
        return float((split.cloud(feats) - model(x)).abs().max()), split


def test_skip_connection_model_lists_only_single_tensor_cuts(tiny):
    cuts = list_cuts(tiny)
    names = [c.name for c in cuts]
    assert names == ["stem.0", "stem.1", "stem.2", "block1.add", "block1.relu_1", "block2.add", "block2.relu_1",
                     "block3.add", "block3.relu_1", "adaptive_avg_pool2d", "flatten"]
    by = {c.name: c for c in cuts}
    assert by["block2.relu_1"].output_shape == (16, 16, 16) and by["block2.relu_1"].bytes_fp32 == 4 * 16 * 16 * 16
    assert "block2" in by["block2.relu_1"].ends and "stem" in by["stem.2"].ends
    # MACs: stem conv 3->8, 3x3, 32x32 outputs; cumulative and never decreasing; the head is counted last
    assert by["stem.0"].macs == 8 * 32 * 32 * 3 * 9
    assert [c.macs for c in cuts] == sorted(c.macs for c in cuts)
    assert cuts[-1].total_macs == cuts[-1].macs + 32 * 5  # the Linear head after 'flatten'
    assert [p.name for p in list_split_points(tiny)] == names  # the generic entry point dispatches


def test_every_valid_cut_of_the_skip_model_reproduces_the_model(tiny):
    for c in list_cuts(tiny):
        err, _ = _compose_error(tiny, c.name, (3, 32, 32))
        assert err <= 1e-5, c.name


def test_a_module_name_means_its_last_node_and_halves_share_weights(tiny):
    err, split = _compose_error(tiny, "block2", (3, 32, 32))
    assert err <= 1e-5 and split.cut == "block2" and split.feature_shape == (16, 16, 16)
    assert split.device.block1.conv1.weight is tiny.block1.conv1.weight
    assert split.cloud.block3.conv1.weight is tiny.block3.conv1.weight
    assert not hasattr(split.device, "block3") and not hasattr(split.cloud, "stem")  # unused modules dropped


def test_cut_inside_a_residual_block_names_the_crossing_tensors_and_nearest_cuts(tiny):
    with pytest.raises(SpecError) as info:
        split_model(tiny, "block2.conv2")
    msg = str(info.value)
    assert "\n" not in msg
    assert "2 tensors cross it (block1.relu_1, block2.conv2)" in msg
    assert "'block1.relu_1' before and 'block2.add' after" in msg


@pytest.mark.parametrize("cut, message", [
    ("blok2", r"Unknown cut 'blok2'\. Did you mean 'block2'"),
    ("x", "model input"),
    ("head", "model output"),
])
def test_other_bad_cuts(tiny, cut, message):
    with pytest.raises(SpecError, match=message):
        split_model(tiny, cut)


class InputReused(nn.Module):
    """The input crosses every node: no cut exists (e.g. a global skip from the input)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 3, 3, padding=1)
        self.b = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        return self.b(self.a(x)) + x


def test_a_global_skip_leaves_no_valid_cut():
    m = InputReused().eval()
    m.input_shape = (3, 8, 8)
    assert list_cuts(m) == []
    with pytest.raises(SpecError, match=r"2 tensors cross it \(x, a\).*Nearest valid cuts: none"):
        split_model(m, "a")


def test_staged_backbones_are_graph_split_at_their_named_cuts():
    model = create_backbone("imu_cnn", 5, (6, 100), width=8).eval()
    split = split_model(model, "block2")  # a stage name: the last node of the stage
    assert isinstance(split.device, fx.GraphModule) and split.cut == "block2"  # the name given, for the manifest
    same = split_model(model, "block2.3")
    x = torch.randn(2, 6, 100)
    with torch.no_grad():
        torch.testing.assert_close(split.device(x), same.device(x), rtol=0, atol=0)
    assert split_model(model, "block2.0").feature_shape == (16, 50)  # a graph cut inside a stage is a cut too
    with pytest.raises(SpecError, match="Valid cuts: block1, block2, block3, pool, embed"):
        split_model(model, "head")


TV_MODELS = ["mobilenet_v3_small", "resnet18", "efficientnet_b0"]


def _three_cuts(cuts):
    named = [c for c in cuts if c.ends and len(c.output_shape) > 1]
    return [named[len(named) // 4].name, named[len(named) // 2].name, named[3 * len(named) // 4].name]


@needs_torchvision
@pytest.mark.parametrize("name", TV_MODELS)
def test_torchvision_models_split_at_three_cuts(name):
    shape = (3, 64, 64)
    model = settled(create_backbone(f"torchvision:{name}", 10, shape), shape)
    cuts = list_cuts(model)
    assert len(cuts) >= 10
    for cut in _three_cuts(cuts):
        err, _ = _compose_error(model, cut, shape)
        assert err <= 1e-5, (name, cut, err)


@needs_torchvision
def test_resnet_refuses_a_cut_inside_a_basic_block():
    model = create_backbone("torchvision:resnet18", 10, (3, 64, 64))
    with pytest.raises(SpecError, match=r"tensors cross it \(layer1\.1\.relu_1, layer2\.0\.conv1\).*"
                                        r"'layer1\.1\.relu_1' before and 'layer2\.0\.add' after"):
        split_model(model, "layer2.0.conv1")


@needs_timm
def test_timm_model_splits_with_its_notrace_leaves():
    shape = (3, 64, 64)
    model = settled(create_backbone("timm:mobilenetv3_small_100", 10, shape), shape)
    for cut in _three_cuts(list_cuts(model)):
        err, _ = _compose_error(model, cut, shape)
        assert err <= 1e-5, (cut, err)
