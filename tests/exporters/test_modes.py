"""Every TFLite mode: exported, parity-checked against torch with its own tolerance, in the manifest with its size."""

from __future__ import annotations

import numpy as np
import pytest

from hybridsplit.bundle.manifest import load_manifest, verify_bundle
from hybridsplit.bundle.runtime import TFLiteRunner
from hybridsplit.exporters.config import TFLITE_TOLERANCE, TFLiteMode
from hybridsplit.exporters.report import load_report

pytestmark = pytest.mark.slow

IO_DTYPE = {"fp32": "float32", "fp16": "float32", "dynamic_int8": "float32", "int8": "int8",
            "int8_per_tensor": "int8", "int16x8": "int16"}


@pytest.mark.parametrize("mode", [m.value for m in TFLiteMode])
def test_each_mode_meets_its_tolerance_through_litert(variants_bundle, mode, watch_data):
    m = load_manifest(variants_bundle)
    key = f"tflite_{mode}"
    art = m.artifacts[key]
    assert art.format == "tflite" and art.mode == mode and art.converter.startswith("litert-torch")
    assert art.input_dtype == art.output_dtype == IO_DTYPE[mode]
    # the file really has those dtypes, and the qparams in the manifest are the file's own
    r = TFLiteRunner(variants_bundle / art.file)
    assert np.dtype(r.input["dtype"]).name == IO_DTYPE[mode]
    if IO_DTYPE[mode] != "float32":
        assert (art.input_quantization.scale, art.input_quantization.zero_point) == pytest.approx(r.input_quant)
    tol = m.recipe["export"]["parity_rtol"] if mode == "fp32" else TFLITE_TOLERANCE[TFLiteMode(mode)]
    p = m.parity[key]
    assert p.tolerance == pytest.approx(tol) and p.rel <= tol
    assert m.accuracy[key] >= m.accuracy["torch_fp32"] - 0.03
    assert art.bytes == m.files[art.file].bytes == (variants_bundle / art.file).stat().st_size


def test_sizes_order_and_report(variants_bundle):
    verify_bundle(variants_bundle)
    m = load_manifest(variants_bundle)
    size = {k: a.bytes for k, a in m.artifacts.items()}
    assert size["tflite_fp32"] > size["tflite_fp16"] > size["tflite_int8"]
    assert size["tflite_fp32"] > size["tflite_dynamic_int8"]
    report = load_report(variants_bundle)
    rows = {r.artifact: r for r in report.rows}
    assert {f"tflite_{m.value}" for m in TFLiteMode} <= set(rows)
    assert all(r.status == "ok" for r in rows.values())
    ratio = report.size_ratios["tflite_fp32_over_int8"]
    assert ratio.ratio == pytest.approx(size["tflite_fp32"] / size["tflite_int8"], rel=1e-3)
