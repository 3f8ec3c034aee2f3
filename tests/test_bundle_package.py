"""`hybridsplit.bundle` is the contract readers share: torch-free, and its device-side arithmetic
checked against values worked out by hand (not against another copy of the same code)."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from hybridsplit.bundle.preprocess import Preprocessor, dequantize, normalise, quantize
from hybridsplit.errors import BundleError

READERS = [
    "hybridsplit.bundle", "hybridsplit.bundle.manifest", "hybridsplit.bundle.layout", "hybridsplit.bundle.runtime",
    "hybridsplit.bundle.preprocess", "hybridsplit.serving.server", "hybridsplit.serving.client",
    "hybridsplit.serving.cloud", "hybridsplit.serving.gate", "hybridsplit.serving.app", "hybridsplit.serving.ray_app",
    "hybridsplit.report", "hybridsplit.bench.parse", "hybridsplit.bench.targets", "hybridsplit.bench.harness",
    "hybridsplit.bench.profile", "hybridsplit.bench.tflite_graph",
    "hybridsplit.demos.samples", "hybridsplit.demos.android", "hybridsplit.demos.web", "hybridsplit.privacy.features",
    "hybridsplit.privacy.evaluate", "hybridsplit.results", "hybridsplit.cli.bench", "hybridsplit.cli.privacy",
    "hybridsplit.cli.export",
]
WRITERS = ("torch", "hybridsplit.exporters", "hybridsplit.models", "hybridsplit.defences", "hybridsplit.train")


@pytest.mark.parametrize("module", READERS)
def test_a_bundle_reader_loads_neither_torch_nor_the_writing_side(module):
    code = (f"import sys, {module}\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch' or m.startswith({WRITERS[1:]!r})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", f"importing {module} loaded: {proc.stdout.strip()}"


def _manifest(mean, std, axis=1, in_q=None, feat=("int8", 0.5, 3), noise=0.0, shape=(1, 2, 3)):
    """The few manifest fields the preprocessor reads (the real Manifest has many more)."""
    q = None if in_q is None else SimpleNamespace(scale=in_q[0], zero_point=in_q[1])
    return SimpleNamespace(
        input=SimpleNamespace(shape=list(shape), normalisation=SimpleNamespace(mean=mean, std=std, axis=axis),
                              quantization=q),
        feature=SimpleNamespace(dtype=feat[0], scale=feat[1], zero_point=feat[2], noise=noise),
    )


def test_normalise_and_quantize_by_hand():
    raw = np.array([[[3.0, 1.0, -1.0], [2.0, 10.0, 6.0]]], np.float32)  # (1, C=2, T=3)
    pre = Preprocessor(_manifest(mean=[1.0, 2.0], std=[2.0, 4.0], in_q=(0.5, -1)))
    np.testing.assert_array_equal(pre.normalise(raw), [[[1.0, 0.0, -1.0], [0.0, 2.0, 1.0]]])
    # n / 0.5 - 1: 1 -> 1, 0 -> -1, -1 -> -3, 2 -> 3, 1 -> 1
    np.testing.assert_array_equal(pre.input_tensor(raw), np.array([[[1, -1, -3], [-1, 3, 1]]], np.int8))
    np.testing.assert_array_equal(pre.denormalise(pre.normalise(raw)), raw)
    assert pre.input_tensor(raw[0]).shape == (1, 2, 3)  # one window is batched


def test_quantize_rounds_half_to_even_and_clips():
    x = np.array([0.25, 0.75, -0.25, 1000.0, -1000.0], np.float32)
    np.testing.assert_array_equal(quantize(x, 0.5, 0), np.array([0, 2, 0, 127, -128], np.int8))
    np.testing.assert_array_equal(dequantize(np.array([3, -1], np.int8), 0.5, 3), np.array([0.0, -2.0], np.float32))


def test_channels_last_normalisation_uses_the_recorded_axis():
    raw = np.array([[[3.0, 2.0], [1.0, 10.0]]], np.float32)  # (1, T=2, C=2), axis 2
    out = normalise(raw, [1.0, 2.0], [2.0, 4.0], axis=2)
    np.testing.assert_array_equal(out, [[[1.0, 0.0], [0.0, 2.0]]])


def test_a_normalisation_for_other_channels_is_one_clear_error():
    with pytest.raises(BundleError, match="2 means and 2 stds for 3 channels"):
        normalise(np.zeros((1, 3, 4), np.float32), [0.0, 0.0], [1.0, 1.0])


def test_int8_features_are_noised_in_feature_space_and_requantized():
    pre = Preprocessor(_manifest(mean=[0.0], std=[1.0], feat=("int8", 0.5, 3), noise=0.7))
    q = np.array([[3, 5, -128, 127]], np.int8)
    draws = np.random.default_rng(7).normal(0.0, 0.7, size=q.shape)
    expected = np.clip(np.round((((q.astype(np.float32) - 3) * 0.5) + draws).astype(np.float32) / 0.5) + 3, -128, 127).astype(np.int8)
    out = pre.noisy(q, np.random.default_rng(7))
    assert out.dtype == np.int8
    np.testing.assert_array_equal(out, expected)
    assert not np.array_equal(out, q)  # the noise did something


def test_float_features_get_float_noise_and_no_noise_means_untouched():
    y = np.array([[1.0, -2.0]], np.float32)
    noisy = Preprocessor(_manifest([0.0], [1.0], noise=0.5)).noisy(y, np.random.default_rng(1))
    np.testing.assert_allclose(noisy, y + np.random.default_rng(1).normal(0.0, 0.5, y.shape), rtol=1e-6)
    assert Preprocessor(_manifest([0.0], [1.0], noise=0.0)).noisy(y, np.random.default_rng(1)) is y
