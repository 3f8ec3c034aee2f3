"""Export settings are frozen and checked when built (no conversion runs here)."""

import dataclasses

import pytest

from hybridsplit.errors import ExportError
from hybridsplit.exporters.config import (
    TFLITE_TOLERANCE,
    Converter,
    CoreMLConfig,
    Format,
    OnnxConfig,
    TFLiteConfig,
    TFLiteMode,
)
from hybridsplit.exporters.session import BASE_MODES, ExportPlan


def test_unknown_mode_names_the_valid_ones():
    with pytest.raises(ExportError, match=r"Unknown TFLite mode 'int4'.*Valid: fp32, fp16, dynamic_int8, int8"):
        TFLiteConfig("int4")
    with pytest.raises(ExportError, match="Did you mean 'int16x8'"):
        TFLiteConfig("int16x7")


def test_configs_are_frozen_and_coerce_strings():
    cfg = TFLiteConfig("fp16", "onnx2tf")
    assert cfg.mode is TFLiteMode.fp16 and cfg.converter is Converter.onnx2tf
    assert cfg.tolerance == TFLITE_TOLERANCE[TFLiteMode.fp16]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.mode = TFLiteMode.fp32  # type: ignore[misc]


@pytest.mark.parametrize("bad", [
    lambda: TFLiteConfig("int8", calibration_samples=0),
    lambda: TFLiteConfig("int8", tolerance=-1.0),
    lambda: TFLiteConfig("int8", converter="tf-onnx"),
    lambda: CoreMLConfig("int4_weights"),
    lambda: CoreMLConfig(minimum_ios=15),
    lambda: OnnxConfig(opset=9),
])
def test_bad_settings_fail_at_construction(bad):
    with pytest.raises(ExportError):
        bad()


def test_plan_from_cli():
    default = ExportPlan.from_cli(None)
    assert default.formats == {Format.tflite} and default.modes == BASE_MODES and default.strict
    every = ExportPlan.from_cli(["all"])
    assert every.formats == set(Format) and set(every.modes) == set(TFLiteMode) and every.both_routes
    assert not every.strict
    some = ExportPlan.from_cli(["coreml,onnx"], ["fp16", "int16x8,int8"], "litert-torch")
    assert some.formats == {Format.tflite, Format.coreml, Format.onnx}
    assert some.modes == (TFLiteMode.int8, TFLiteMode.fp32, TFLiteMode.fp16, TFLiteMode.int16x8)
    with pytest.raises(ExportError, match="Unknown format 'tflit'"):
        ExportPlan.from_cli(["tflit"])
