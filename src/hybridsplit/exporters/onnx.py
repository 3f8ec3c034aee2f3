"""Either half -> .onnx (TorchScript exporter: fast and dependable for these graphs)."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from hybridsplit.errors import ExportError

OPSET = 17


def export_onnx(module: nn.Module, sample: torch.Tensor, path: Path, input_name: str,
                output_name: str, dynamic_batch: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    axes = {input_name: {0: "batch"}, output_name: {0: "batch"}} if dynamic_batch else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module.eval(), (sample,), str(path), input_names=[input_name],
                              output_names=[output_name], dynamic_axes=axes, opset_version=OPSET,
                              dynamo=False)
    except Exception as exc:  # noqa: BLE001
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise ExportError(f"ONNX export failed ({type(exc).__name__}: {first})") from exc
    return path
