"""Device half -> ExecuTorch .pte with the XNNPACK backend (optional: needs `executorch`).

Staged as ExecuTorch does it: torch.export -> to_edge_transform_and_lower(XnnpackPartitioner)
-> to_executorch -> buffer. Parity runs the .pte in ExecuTorch's own runtime when its Python
bindings are importable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from hybridsplit.bundle.layout import torch_layout
from hybridsplit.errors import ExportError
from hybridsplit.exporters.artifact import ExportedArtifact
from hybridsplit.exporters.config import PteConfig
from hybridsplit.exporters.diagnose import explain
from hybridsplit.quiet import native_stderr_held, torch_converters_quiet

NOT_INSTALLED = ("executorch is not installed (optional); pip install -r requirements/extra-exporters.txt "
                 "to export .pte")


def available() -> bool:
    try:
        with torch_converters_quiet():
            import executorch.exir  # noqa: F401
    except ImportError:
        return False
    return True


def export(device: nn.Module, sample: torch.Tensor, cfg: PteConfig, path: Path) -> ExportedArtifact:
    if not available():
        raise ExportError(NOT_INSTALLED)
    with torch_converters_quiet():
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.exir import to_edge_transform_and_lower

    if path.suffix != ".pte":
        raise ExportError(f"ExecuTorch program path must end in .pte, got '{path.name}'")
    device = device.eval()
    try:
        with torch_converters_quiet():
            exported = torch.export.export(device, (sample,))
            program = to_edge_transform_and_lower(exported, partitioner=[XnnpackPartitioner()]).to_executorch()
    except Exception as exc:  # noqa: BLE001
        raise explain(exc, device, sample, "ExecuTorch (XNNPACK)",
                      hint="try an earlier cut (--cut) or the TFLite format") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(program.buffer)
    with torch.no_grad():
        out_shape = list(device(sample).shape)
    return ExportedArtifact(
        path=path, format="pte", mode=cfg.mode.value, converter="executorch (XNNPACK)",
        input_shape=list(sample.shape), output_shape=out_shape, input_dtype="float32", output_dtype="float32",
        input_layout=torch_layout(sample.ndim), output_layout=torch_layout(len(out_shape)),
        runs_on="android, ios, linux (ExecuTorch runtime)",
    )


def load(path: Path):
    """The .pte's `forward` method in ExecuTorch's Python runtime (call `.execute([tensor])`)."""
    from executorch.runtime import Runtime

    with native_stderr_held():  # ExecuTorch's cpuinfo probing of /sys files this host lacks
        return Runtime.get().load_program(str(path)).load_method("forward")


def run(path: Path, x: np.ndarray) -> np.ndarray:
    """Run a .pte one sample at a time in ExecuTorch's Python runtime."""
    method = load(path)
    return np.concatenate([method.execute([torch.from_numpy(x[i : i + 1])])[0].numpy() for i in range(len(x))])
