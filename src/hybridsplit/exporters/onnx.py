"""Either half -> .onnx (TorchScript exporter: fast and dependable for these graphs)."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from hybridsplit.bundle.layout import torch_layout
from hybridsplit.exporters.artifact import ExportedArtifact
from hybridsplit.exporters.config import OnnxConfig
from hybridsplit.exporters.diagnose import explain

OPSET = OnnxConfig().opset


def export_onnx(module: nn.Module, sample: torch.Tensor, path: Path, input_name: str,
                output_name: str, dynamic_batch: bool = True, opset: int = OPSET) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    axes = {input_name: {0: "batch"}, output_name: {0: "batch"}} if dynamic_batch else None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module.eval(), (sample,), str(path), input_names=[input_name],
                              output_names=[output_name], dynamic_axes=axes, opset_version=opset,
                              dynamo=False)
    except Exception as exc:  # noqa: BLE001
        raise explain(exc, module, sample, f"torch.onnx (opset {opset})",
                      hint="try an earlier cut (--cut) or replace the layer with ops ONNX supports") from exc
    return path


def export(module: nn.Module, sample: torch.Tensor, cfg: OnnxConfig, path: Path, role: str = "device",
           input_name: str = "input", output_name: str = "features", layout: str | None = None) -> ExportedArtifact:
    """Either half -> ONNX (float32, NC... layout as in torch, batch dimension dynamic if cfg says so)."""
    export_onnx(module, sample, path, input_name, output_name, cfg.dynamic_batch, cfg.opset)
    with torch.no_grad():
        out_shape = list(module.eval()(sample).shape)
    batch = "N" if cfg.dynamic_batch else None
    return ExportedArtifact(
        path=path, format="onnx", mode="fp32", converter=f"torch.onnx (opset {cfg.opset})", role=role,
        input_shape=list(sample.shape), output_shape=out_shape, input_dtype="float32", output_dtype="float32",
        input_layout=layout or torch_layout(sample.ndim), output_layout=torch_layout(len(out_shape)),
        input_name=input_name, output_name=output_name, opset=cfg.opset,
        notes=[f"batch dimension dynamic ({batch})"] if batch else [],
    )
