"""Device half -> .tflite through litert-torch (fp32, or PT2E static full-int8).

Full int8 follows TOOLCHAIN.md: torch.export -> torchao prepare_pt2e -> calibrate ->
convert_pt2e(fold_quantize=False) -> litert_torch.convert(quant_config=...). The result has
int8 input and output tensors; their (scale, zero_point) go into the manifest.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hybridsplit.errors import ExportError


@contextlib.contextmanager
def _quiet_litert() -> Iterator[None]:
    """litert-torch prints a progress line per stage; keep the toolkit's own output readable."""
    old = os.environ.get("LITERT_TORCH_SHOW_PROGRESS")
    os.environ["LITERT_TORCH_SHOW_PROGRESS"] = "n"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("LITERT_TORCH_SHOW_PROGRESS", None)
        else:
            os.environ["LITERT_TORCH_SHOW_PROGRESS"] = old


@dataclass(frozen=True)
class TFLiteExport:
    path: Path
    mode: str
    converter: str = "litert-torch"


def _convert(module: nn.Module, sample: torch.Tensor, path: Path, quant_config=None) -> None:
    import litert_torch

    with _quiet_litert():
        try:
            model = litert_torch.convert(module, (sample,), quant_config=quant_config)
        except Exception as exc:  # noqa: BLE001 - surface converter failures as one line
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            raise ExportError(
                f"litert-torch could not convert the device half ({type(exc).__name__}: {first}); "
                "try an earlier cut or a fixed input shape"
            ) from exc
        path.parent.mkdir(parents=True, exist_ok=True)
        model.export(str(path))


def export_fp32(device: nn.Module, sample: torch.Tensor, path: Path) -> TFLiteExport:
    _convert(device.eval(), sample, path)
    return TFLiteExport(path, "fp32")


def export_int8(device: nn.Module, sample: torch.Tensor, calibration: np.ndarray, path: Path,
                per_channel: bool = True) -> TFLiteExport:
    """Static full-int8 (int8 weights and activations, int8 I/O), calibrated on `calibration`."""
    from litert_torch.quantize import pt2e_quantizer
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e import move_exported_model_to_eval, quantize_pt2e

    quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
        pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=per_channel)
    )
    try:
        prepared = torch.export.export(device.eval(), (sample,)).module()
        prepared = quantize_pt2e.prepare_pt2e(prepared, quantizer)
    except Exception as exc:  # noqa: BLE001
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise ExportError(f"torch.export of the device half failed ({first}); try an earlier cut") from exc
    with torch.no_grad():
        for i in range(len(calibration)):  # the exported graph has a fixed batch of 1
            prepared(torch.from_numpy(calibration[i : i + 1]))
    quantized = quantize_pt2e.convert_pt2e(prepared, fold_quantize=False)
    move_exported_model_to_eval(quantized)
    for m in quantized.modules():  # exported modules refuse .eval(); clear the flag litert-torch checks
        m.training = False
    _convert(quantized, sample, path, QuantConfig(pt2e_quantizer=quantizer))
    return TFLiteExport(path, "int8" if per_channel else "int8_per_tensor")
