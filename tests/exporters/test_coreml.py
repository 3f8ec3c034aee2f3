"""Core ML: the saved packages reload, and their spec matches the manifest (prediction is macOS-only)."""

from __future__ import annotations

import pytest

from hybridsplit.bundle.manifest import load_manifest, verify_bundle
from hybridsplit.exporters.coreml import read_spec

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("key", ["coreml_fp16", "coreml_int8_weights"])
def test_coreml_spec_matches_manifest(variants_bundle, key):
    m = load_manifest(variants_bundle)
    art = m.artifacts[key]
    spec = read_spec(variants_bundle / art.file)  # reloads the saved .mlpackage from disk
    assert spec["type"] == "mlProgram"
    assert spec["specification_version"] >= 7  # iOS 16+
    assert list(spec["inputs"]) == [art.input_name] == ["input"]
    assert list(spec["outputs"]) == [art.output_name] == ["features"]
    assert spec["inputs"]["input"]["shape"] == art.input_shape == m.input.shape
    assert spec["outputs"]["features"]["shape"] == art.output_shape == m.feature.shape
    assert spec["inputs"]["input"]["dtype"] == art.input_dtype == "float32"
    assert spec["outputs"]["features"]["dtype"] == art.output_dtype == "float32"
    assert spec["metadata"]["hybridsplit.mode"] == art.mode
    assert "macOS" in art.runs_on and key not in m.accuracy  # no Core ML numbers claimed
    quantized_ops = spec["ops"].count("constexpr_affine_dequantize") + spec["ops"].count("constexpr_blockwise_shift_scale")
    assert (quantized_ops >= 3) == (key == "coreml_int8_weights")  # the three conv weights


def test_coreml_int8_weight_check_on_linux(variants_bundle):
    """The package's stored int8 weights, dequantized into torch: small error, same accuracy."""
    m = load_manifest(variants_bundle)
    p = m.parity["coreml_int8_weights_torch_sim"]
    assert "3 int8 weight tensors" in p.measured_on and "not fp16 compute" in p.measured_on
    assert 0 < p.rel < 0.05
    assert m.accuracy["coreml_int8_weights_torch_sim"] >= m.accuracy["torch_fp32"] - 0.02
    assert m.files["device.mlpackage"].directory and m.files["device_int8w.mlpackage"].directory
    verify_bundle(variants_bundle)  # directories hashed too


def test_modified_package_fails_verify(variants_bundle, tmp_path):
    import shutil

    from hybridsplit.errors import BundleError

    copy = tmp_path / "b"
    shutil.copytree(variants_bundle, copy)
    weights = next((copy / "device.mlpackage").rglob("weight.bin"))
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\1")
    with pytest.raises(BundleError, match="device.mlpackage"):
        verify_bundle(copy)
