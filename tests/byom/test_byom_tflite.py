"""The device half of a graph-split model converts to TFLite fp32 (parity gate) and int8.

One cut per model here; benchmarks/byom_matrix.py runs the full 4 models x 3 cuts matrix.
Random weights with BatchNorm statistics settled on random images (no pretrained weights here).
"""

import numpy as np
import pytest
import torch

from hybridsplit.models import create_backbone, split_model

from .conftest import HAVE_TORCHVISION, TINY, settled

CASES = [(TINY, "block2", 32)]
if HAVE_TORCHVISION:
    CASES.append(("torchvision:mobilenet_v3_small", "features.3", 64))


@pytest.mark.slow
@pytest.mark.parametrize("spec, cut, size", CASES)
def test_device_half_exports_to_tflite_fp32_within_the_gate_and_int8(tmp_path, spec, cut, size):
    from hybridsplit.bundle.runtime import TFLiteRunner
    from hybridsplit.exporters.parity import measure_parity
    from hybridsplit.exporters.tflite import export_fp32, export_int8

    shape = (3, size, size)
    model = settled(create_backbone(spec, 10, shape), shape)
    split = split_model(model, cut)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, *shape)).astype(np.float32)
    with torch.no_grad():
        ref = split.device(torch.from_numpy(x)).numpy()
    sample = torch.from_numpy(x[:1])
    export_fp32(split.device, sample, tmp_path / "fp32.tflite")
    fp32 = measure_parity(ref, TFLiteRunner(tmp_path / "fp32.tflite")(x))
    assert fp32.rel <= 1e-4, fp32
    calib = rng.standard_normal((32, *shape)).astype(np.float32)
    export_int8(split.device, sample, calib, tmp_path / "int8.tflite")
    int8 = measure_parity(ref, TFLiteRunner(tmp_path / "int8.tflite")(x))
    # int8 of a random-weight net: only a sanity bound (a broken graph gives mean error ~ mean |ref|)
    assert int8.mean_abs < 0.2 * float(np.abs(ref).mean()), int8
