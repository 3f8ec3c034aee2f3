"""Per-block latency (bench/blocks.py): TFLite op rows grouped under the model's module names.

The expected block names come from the models themselves (a registry backbone's stages up to the
cut, torchvision's `features.<i>` children), not from the grouping code.
"""

from __future__ import annotations

import pytest
import torch

from hybridsplit.bench.blocks import align, block_names, blocks_of, group


def _row(name, kind, macs=0, us=1.0):
    return {"name": name, "kind": kind, "macs": macs, "params": 0, "latency_us_median": us}


def test_pad_joins_the_next_conv_and_other_ops_the_conv_before():
    rows = [_row("op00", "TRANSPOSE"), _row("op01", "PAD"), _row("op02", "CONV_2D", 10),
            _row("op03", "HARD_SWISH"), _row("op04", "PAD"), _row("op05", "CONV_2D", 20), _row("op06", "ADD")]
    owners = align(rows, [("a.0.conv", 10), ("b.1.conv", 20)])
    assert owners == ["a.0.conv", "a.0.conv", "a.0.conv", "a.0.conv", "b.1.conv", "b.1.conv", "b.1.conv"]
    blocks = group(rows, owners)
    assert [(b["name"], b["ops"]) for b in blocks] == [("a", ["op00", "op01", "op02", "op03"]),
                                                       ("b", ["op04", "op05", "op06"])]
    assert [b["macs"] for b in blocks] == [10, 20] and [b["latency_us_median"] for b in blocks] == [4.0, 3.0]


def test_unequal_mac_sequences_are_not_guessed():
    rows = [_row("op00", "CONV_2D", 10), _row("op01", "CONV_2D", 20)]
    assert align(rows, [("a", 10), ("b", 21)]) is None          # a converter changed one op
    assert align(rows, [("a", 10)]) is None                      # or fused two
    assert blocks_of(rows, torch.nn.Conv2d(1, 1, 1), torch.zeros(1, 1, 1, 1))[0] == []


def test_blocks_open_the_module_that_holds_most_of_the_ops():
    assert block_names(["features.0.0", "features.1.block.0", "features.3.x"]) == ["features.0", "features.1",
                                                                                  "features.3"]
    assert block_names(["conv1", "layer1.0.conv1", "layer2.1.conv2"]) == ["conv1", "layer1", "layer2"]
    # a defended half: the device graph wrapped beside the folded PCA
    defended = ["device.features.0.0", "device.features.1.block.0.0", "device.features.1.block.1.fc1",
                "device.features.2.block.0.0", "pca"]
    assert block_names(defended) == ["device.features.0", "device.features.1", "device.features.1",
                                     "device.features.2", "pca"]
    assert block_names(["only.one.path", "only.one.path"]) == ["only", "only"]


def test_default_bundle_blocks_are_the_backbone_stages(trained_run, default_bundle):
    from hybridsplit.bench.tflite_graph import TFLiteGraph
    from hybridsplit.exporters.bundle import prepare

    graph = TFLiteGraph(default_bundle / "device.tflite")
    rows = [_row(o.name, o.op, o.macs, 2.0) for o in graph.ops]
    prep = prepare(trained_run)
    blocks, why = blocks_of(rows, prep.split.device.eval(), torch.from_numpy(prep.data.test.x[:1]))
    assert why is None
    stages = [name for name, _ in prep.split.full.named_children()]
    cut = prep.ckpt.recipe.model.cut
    assert [b["name"] for b in blocks] == stages[: stages.index(cut) + 1]
    assert [op for b in blocks for op in b["ops"]] == [o.name for o in graph.ops]  # every op once, in order
    assert sum(b["macs"] for b in blocks) == sum(o.macs for o in graph.ops)


@pytest.mark.slow
def test_torchvision_mobilenet_v3_blocks_are_its_feature_children(tmp_path):
    from hybridsplit.bench.tflite_graph import TFLiteGraph
    from hybridsplit.exporters.tflite import export_fp32
    from hybridsplit.models import create_backbone, split_model

    model = create_backbone("torchvision:mobilenet_v3_small", 4, (3, 32, 32)).eval()
    split = split_model(model, "features.3")
    sample = torch.randn(1, 3, 32, 32)
    path = export_fp32(split.device, sample, tmp_path / "device_fp32.tflite").path
    rows = [_row(o.name, o.op, o.macs) for o in TFLiteGraph(path).ops]
    blocks, why = blocks_of(rows, split.device, sample)
    assert why is None
    assert [b["name"] for b in blocks] == [f"features.{i}" for i in range(4)]
    children = dict(model.features.named_children())
    for b in blocks:  # each block's parameters: its torch module's conv/linear weights, as TFLite counts them
        assert b["macs"] > 0 and b["name"].split(".")[1] in children


def test_printout_per_block_and_per_op(capsys):
    from hybridsplit.cli.bench import print_bench
    from hybridsplit.results.bench import BenchResult

    from result_docs import bench_doc

    doc = BenchResult.from_dict({**bench_doc(), "networks": {}, "blocks": [
        {"name": "stem", "ops": ["block1", "block2"], "macs": 652800, "latency_us_median": 69.5},
        {"name": "head", "ops": ["block3"], "macs": 393216, "latency_us_median": 30.2}]})
    print_bench(doc, "block")
    out = capsys.readouterr().out
    assert "per-block cost" in out and "stem" in out and "block1–block2 (2)" in out and "70%" in out
    print_bench(doc, "op")
    out = capsys.readouterr().out
    assert "per-layer cost" in out and "stem" not in out
