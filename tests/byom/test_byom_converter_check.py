"""The TFLite composite loads and runs every converter's output before accepting it.

The litert-torch failure is a stand-in: a converter that writes a file LiteRT cannot load (what
litert-torch did for a mobilevitv2 attention cut, BROADCAST_TO failing to prepare, which needs a
large model to reproduce). onnx2tf and LiteRT are real."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from hybridsplit.errors import ExportError
from hybridsplit.exporters import prepared as prepared_mod
from hybridsplit.exporters.config import Converter, TFLiteConfig, TFLiteMode

pytestmark = pytest.mark.slow


def _device_half():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU()).eval()


@pytest.fixture
def exporter(monkeypatch):
    x = np.random.default_rng(0).standard_normal((16, 3, 8, 8)).astype(np.float32)
    p = SimpleNamespace(device=_device_half(), sample=torch.from_numpy(x[:1]), calibration=x, layout="NCHW",
                        x_check=x[:4])
    logs: list[str] = []

    def unloadable(device, sample, cfg, path, calibration, layout):  # stand-in for a converter bug
        path.write_bytes(b"TFL3 not a flatbuffer LiteRT can prepare")
        from hybridsplit.exporters.artifact import tflite_artifact

        return tflite_artifact(path, cfg.mode.value, "litert-torch", list(sample.shape), layout)

    monkeypatch.setattr(prepared_mod.tflite_export, "export", unloadable)
    with prepared_mod.TFLiteExporter(p, logs.append) as ex:
        yield ex, logs


def test_a_file_litert_cannot_load_is_one_line_when_the_converter_was_asked_for(exporter, tmp_path):
    ex, _ = exporter
    with pytest.raises(ExportError, match="litert-torch wrote a int8 model LiteRT cannot run") as err:
        ex.export(TFLiteConfig(TFLiteMode.int8, Converter.litert_torch), tmp_path / "d.tflite")
    assert "\n" not in str(err.value) and not (tmp_path / "d.tflite").exists()


def test_auto_falls_back_to_onnx2tf_and_stays_there_for_every_mode(exporter, tmp_path):
    ex, logs = exporter
    art = ex.export(TFLiteConfig(TFLiteMode.int8, Converter.auto, 16), tmp_path / "d.tflite")
    assert art.converter.startswith("onnx2tf (fallback")
    assert "LiteRT cannot run" in art.notes[0]  # the true cause, not a guess
    assert art.input_dtype == art.output_dtype == "int8"
    fp32 = ex.export(TFLiteConfig(TFLiteMode.fp32, Converter.auto), tmp_path / "d32.tflite")
    assert fp32.converter.startswith("onnx2tf") and fp32.output_layout == art.output_layout  # one layout
    assert any("falling back to onnx2tf" in m for m in logs)


def test_when_both_converters_fail_neither_is_advised(exporter, tmp_path, monkeypatch):
    ex, _ = exporter
    monkeypatch.setattr(ex, "_route", lambda: SimpleNamespace(export=lambda cfg, path: (_ for _ in ()).throw(
        ExportError("onnx2tf failed on the device half (boom); try --converter litert-torch or an earlier cut"))))
    with pytest.raises(ExportError) as err:
        ex.export(TFLiteConfig(TFLiteMode.int8, Converter.auto), tmp_path / "d.tflite")
    msg = str(err.value)
    assert msg.startswith("both converters failed") and "boom" in msg and "--converter" not in msg
