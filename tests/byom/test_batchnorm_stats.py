"""BatchNorm running statistics after a short run (src/hybridsplit/batchnorm.py).

torchvision's MobileNetV3 uses BatchNorm momentum 0.01: after the pipeline recipe's few steps the
running statistics were still ~90% their initial values, so the trained model (training loss 0.004)
answered one class in eval mode (test accuracy 0.301 = the majority class).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from hybridsplit.batchnorm import STALE_SHARE, initial_share, recompute_batchnorm, stale_notice


def _net(momentum: float) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, momentum=momentum), nn.ReLU())


def test_share_left_follows_the_smallest_momentum():
    net = nn.Sequential(_net(0.1), nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4, momentum=0.01))
    assert math.isclose(initial_share(net, 60), 0.99 ** 60)
    assert stale_notice(net, 60) is not None and "0.01" in stale_notice(net, 60)
    assert stale_notice(_net(0.1), 60) is None  # 0.9^60 ≈ 0.002: the moving average has converged
    assert initial_share(nn.Linear(2, 2), 5) == 0.0 and STALE_SHARE < 0.99 ** 60


def test_recomputed_statistics_are_the_average_over_the_data():
    torch.manual_seed(0)
    net = _net(0.01).eval()
    x = torch.randn(12, 3, 8, 8) * 3 + 2
    recompute_batchnorm(net, x.numpy(), batch_size=4)
    with torch.no_grad():
        conv = net[0](x).numpy()
    # update_bn's cumulative average over three equal batches: mean of the batch means and of the
    # batch (unbiased) variances, per channel
    batches = conv.reshape(3, 4, 4, 6, 6).transpose(0, 2, 1, 3, 4).reshape(3, 4, -1)
    mean = batches.mean(axis=2).mean(axis=0)
    var = batches.var(axis=2, ddof=1).mean(axis=0)
    bn = net[1]
    np.testing.assert_allclose(bn.running_mean.numpy(), mean, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(), var, rtol=1e-4)
    assert bn.momentum == 0.01 and not net.training  # momentum and eval mode restored


def test_a_one_row_tail_joins_the_last_batch():
    net = _net(0.01)
    recompute_batchnorm(net, torch.randn(9, 3, 8, 8), batch_size=4)  # 4 + 5, not 4 + 4 + 1 (which raises)
    assert int(net[1].num_batches_tracked) == 2


def test_mobilenet_v3_trains_to_a_working_eval_model_in_four_epochs(tmp_path):
    """The pipeline recipe's model and data: eval-mode accuracy far above the majority class."""
    from hybridsplit.data import build_data
    from hybridsplit.data.synthetic import make_image_folder
    from hybridsplit.recipe import load_recipe
    from hybridsplit.train import train

    make_image_folder(tmp_path / "images", n=240, size=64)
    recipe = load_recipe("recipes/byom_pipeline.toml")
    recipe = recipe.model_copy(update={"data": recipe.data.model_copy(update={"path": str(tmp_path / "images")})})
    data = build_data(recipe.data, recipe.seed)
    model, ckpt = train(recipe, data, show_progress=False)
    majority = np.bincount(data.test.primary).max() / len(data.test.primary)
    assert majority < 0.4
    assert ckpt.metrics["test_accuracy"] >= 0.8, ckpt.metrics["epochs"]
    assert all(e.get("batchnorm_recomputed") for e in ckpt.metrics["epochs"])
