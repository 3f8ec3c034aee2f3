"""The two MAC counts of the toolkit agree on the same device half: the torch graph splitter's
(fx trace of the PyTorch module) and the torch-free one read from the exported device.tflite
(bench/tflite_graph.py). Each is the other's independent answer key."""

from __future__ import annotations

import torch

from hybridsplit.bench.tflite_graph import TFLiteGraph
from hybridsplit.bundle.manifest import load_manifest
from hybridsplit.checkpoint import Checkpoint
from hybridsplit.models import split_model
from hybridsplit.models.graph_split import trace
from hybridsplit.train import load_model


def test_torch_and_tflite_mac_counts_agree(trained_run, default_bundle):
    manifest = load_manifest(default_bundle)
    model = load_model(Checkpoint.load(trained_run)).eval()
    device = split_model(model, manifest.cut).device.eval()
    x = torch.zeros(1, *manifest.input.shape[1:])
    torch_macs = sum(trace(device, x).macs.values())
    tflite_macs = sum(op.macs for op in TFLiteGraph(default_bundle / "device.tflite").ops)
    assert torch_macs > 100_000                      # the default cut holds three conv blocks
    assert tflite_macs == torch_macs
