"""The .tflite graph reader and its prefix models, checked against LiteRT running the real file."""

from __future__ import annotations

import numpy as np
import pytest

from hybridsplit.bench.tflite_graph import TFLiteGraph
from hybridsplit.bundle.manifest import load_manifest
from hybridsplit.bundle.runtime import TFLiteRunner
from hybridsplit.errors import BundleError

pytestmark = pytest.mark.slow


def test_every_prefix_runs_and_the_last_one_is_the_file(default_bundle, tmp_path):
    path = default_bundle / load_manifest(default_bundle).artifacts["tflite_int8"].file
    graph = TFLiteGraph(path)
    ops = graph.ops
    whole = TFLiteRunner(path)
    x = np.random.default_rng(0).integers(-128, 128, whole.input_shape).astype(np.int8)
    for op in ops:
        prefix = TFLiteRunner(graph.write_prefix(op.index, tmp_path / f"p{op.index}.tflite"))
        assert prefix.input_shape == whole.input_shape
        assert prefix.output_shape == list(op.outputs[0].shape), op.name  # ends exactly at op k
        if op.index == len(ops) - 1:
            np.testing.assert_array_equal(prefix.raw(x), whole.raw(x))  # all ops: the same function


def test_a_prefix_past_the_last_op_and_a_broken_file_are_one_line(default_bundle, tmp_path):
    graph = TFLiteGraph(default_bundle / "device.tflite")
    with pytest.raises(BundleError, match=r"has ops 0\.\.15; there is no prefix ending at op 16"):
        graph.write_prefix(16, tmp_path / "x.tflite")
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(BundleError, match="is not a readable .tflite model"):
        TFLiteGraph(bad).ops  # noqa: B018


def test_prefixes_of_an_fp16_model_carry_its_offset_buffers(tmp_path):
    """ai-edge-quantizer stores fp16 weights after the flatbuffer (buffer offset / size): a prefix
    must carry the bytes, not offsets into a file it is not (was: 'Constant buffer specified an out
    of range offset' when profiling an fp16 .tflite)."""
    import torch
    from torch import nn

    from hybridsplit.exporters.config import TFLiteConfig, TFLiteMode
    from hybridsplit.exporters.tflite import export

    torch.manual_seed(0)
    # ~1.2 MB of weights: the quantizer then writes them after the flatbuffer (80 kB stayed inline)
    net = nn.Sequential(nn.Conv2d(3, 256, 3, padding=1), nn.ReLU(), nn.Conv2d(256, 256, 3, padding=1)).eval()
    path = export(net, torch.rand(1, 3, 8, 8), TFLiteConfig(TFLiteMode.fp16), tmp_path / "fp16.tflite").path
    g = TFLiteGraph(path)
    assert any((b.offset or 0) > 1 for b in g.model.buffers)  # the layout this test is about
    x = np.random.default_rng(0).random(g.input_shape, dtype=np.float32)
    outs = []
    for p in (path, g.write_prefix(len(g.ops) - 1, tmp_path / "last.tflite")):
        r = TFLiteRunner(p)
        r.interpreter.set_tensor(r.input["index"], x)
        r.interpreter.invoke()
        outs.append(r.interpreter.get_tensor(r.output["index"]))
    np.testing.assert_array_equal(outs[1], outs[0])
