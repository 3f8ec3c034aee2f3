"""Six model families through cuts -> int8 export (int8 input and output) -> parity, random weights,
small inputs: residual, depthwise + squeeze-excite, dense concatenation, inception (auxiliary heads),
ConvNeXt (layer norm, layer scale), attention (a ViT built for 32x32 through `?img_size=`).

Each device half goes through the bundle's TFLite composite (`auto`: litert-torch, onnx2tf when
litert-torch's file is refused), so what the test checks is what `hybridsplit export` ships.
The reference is the torch fp32 device half on the same images."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from .conftest import settled

pytestmark = pytest.mark.slow

MATRIX = [  # (family, spec, cut, input shape)
    ("residual", "torchvision:resnet18", "layer1", (3, 32, 32)),
    ("depthwise+SE", "torchvision:mobilenet_v3_small", "features.1", (3, 32, 32)),
    ("dense concat", "torchvision:densenet121", "features.denseblock1", (3, 32, 32)),
    ("inception+aux", "torchvision:googlenet", "inception3a", (3, 32, 32)),
    ("convnext", "torchvision:convnext_tiny", "features.1", (3, 32, 32)),
    ("attention", "timm:vit_tiny_patch16_224?img_size=32&patch_size=8", "blocks.0", (3, 32, 32)),
]


@pytest.mark.parametrize("family, spec, cut, shape", MATRIX, ids=[m[0] for m in MATRIX])
def test_family_cuts_exports_int8_with_int8_io_and_keeps_parity(tmp_path, request, family, spec, cut, shape):
    request.getfixturevalue("timm_installed" if spec.startswith("timm:") else "torchvision_installed")
    from hybridsplit.exporters.config import Converter, TFLiteConfig, TFLiteMode
    from hybridsplit.exporters.prepared import TFLiteExporter
    from hybridsplit.models import create_backbone, split_model
    from hybridsplit.models.graph_split import list_cuts
    from hybridsplit.train import predict

    torch.manual_seed(0)
    model = settled(create_backbone(spec, 5, shape), shape)
    names = {n for c in list_cuts(model, torch.zeros((1, *shape))) for n in (c.name, *c.ends)}
    assert cut in names  # `hybridsplit cuts` lists it
    split = split_model(model, cut)
    x = np.random.default_rng(0).standard_normal((24, *shape)).astype(np.float32)
    p = SimpleNamespace(device=split.device.eval(), sample=torch.from_numpy(x[:1]), calibration=x[:16],
                        layout="NCHW", x_check=x[16:])
    with TFLiteExporter(p, lambda _m: None) as ex:
        art = ex.export(TFLiteConfig(TFLiteMode.int8, Converter.auto, 16), tmp_path / "device.tflite")
    assert art.input_dtype == art.output_dtype == "int8", (family, art.converter)
    ref = predict(split.device, x[16:])
    got = art(x[16:])
    assert got.shape == ref.shape
    corr = np.corrcoef(ref.ravel(), got.ravel())[0, 1]
    rel = np.abs(got - ref).max() / np.abs(ref).max()
    assert corr > 0.95 and rel < 0.5, (family, art.converter, corr, rel)
    # device then cloud is the whole model (fp32, torch)
    full = predict(model, x[16:])
    assert np.allclose(predict(split.cloud, ref), full, atol=1e-4 * max(1.0, np.abs(full).max()))

