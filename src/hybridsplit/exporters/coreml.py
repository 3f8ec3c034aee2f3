"""Device half -> Core ML .mlpackage (mlprogram, iOS 16+, fp16 compute), and an int8-weight variant.

Core ML prediction runs on macOS/iOS only. On Linux a package converts, saves, reloads and its
spec can be read, so that is what is checked here; numeric parity of the package itself is NOT
measured. What can be checked on Linux is the int8 weight quantization: `int8_weights_in_torch`
reads the int8 weights and scales stored in the package, dequantizes them and loads them into
the (BatchNorm-folded) torch device half. Running that gives the error the stored weights
cause. It does not cover fp16 activations or Core ML's own kernels.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hybridsplit.bundle.layout import torch_layout
from hybridsplit.errors import ExportError
from hybridsplit.exporters.artifact import ExportedArtifact
from hybridsplit.exporters.config import CoreMLConfig, CoreMLMode
from hybridsplit.exporters.diagnose import explain

RUNS_ON = "macOS/iOS only: Core ML prediction cannot run on Linux, so no numeric parity of the package is measured"


def _ct():
    try:
        with _quiet():
            import coremltools as ct
    except ImportError:
        raise ExportError("coremltools is not installed; pip install 'hybridsplit[coreml]' (coremltools==9.0)") from None
    return ct


@contextlib.contextmanager
def _quiet():
    """coremltools logs version warnings at import and progress bars while converting."""
    log = logging.getLogger("coremltools")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        log.setLevel(level)


def export(device: nn.Module, sample: torch.Tensor, cfg: CoreMLConfig, path: Path,
           input_name: str = "input", output_name: str = "features", layout: str | None = None) -> ExportedArtifact:
    """Device half -> `path` (.mlpackage), input/output names, shapes and dtypes set explicitly."""
    ct = _ct()
    if path.suffix != ".mlpackage":
        raise ExportError(f"Core ML package path must end in .mlpackage, got '{path.name}'")
    device = device.eval()
    with torch.no_grad():
        out_shape = list(device(sample).shape)
    target = {16: ct.target.iOS16, 17: ct.target.iOS17, 18: ct.target.iOS18}[cfg.minimum_ios]
    try:
        with _quiet():
            traced = torch.jit.trace(device, sample)
            model = ct.convert(
                traced,
                inputs=[ct.TensorType(name=input_name, shape=tuple(sample.shape), dtype=np.float32)],
                outputs=[ct.TensorType(name=output_name, dtype=np.float32)],
                convert_to="mlprogram", minimum_deployment_target=target,
                compute_precision=ct.precision.FLOAT16,
            )
            if cfg.mode is CoreMLMode.int8_weights:
                import coremltools.optimize.coreml as cto

                op_cfg = cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8", granularity="per_channel",
                                                     weight_threshold=cfg.weight_threshold)
                model = cto.linear_quantize_weights(model, cto.OptimizationConfig(global_config=op_cfg))
            model.short_description = f"hybridsplit device half ({cfg.mode.value})"
            model.user_defined_metadata["hybridsplit.mode"] = cfg.mode.value
            path.parent.mkdir(parents=True, exist_ok=True)
            model.save(str(path))
    except ExportError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise explain(exc, device, sample, "coremltools",
                      hint="try an earlier cut (--cut) or replace the layer with ops Core ML supports") from exc
    spec = read_spec(path)
    if spec["inputs"][input_name]["shape"] != list(sample.shape):
        raise ExportError(f"Layout mismatch: {path.name} input shape {spec['inputs'][input_name]['shape']} "
                          f"!= torch {list(sample.shape)}; use a fixed input shape")
    return ExportedArtifact(
        path=path, format="coreml", mode=cfg.mode.value, converter=f"coremltools {ct.__version__} (mlprogram, iOS{cfg.minimum_ios}+)",
        input_shape=list(sample.shape), output_shape=spec["outputs"][output_name]["shape"] or out_shape,
        input_dtype="float32", output_dtype="float32",
        input_layout=layout or torch_layout(sample.ndim), output_layout=torch_layout(len(out_shape)),
        input_name=input_name, output_name=output_name, runs_on=RUNS_ON,
        notes=["compute precision fp16"] + (["weights int8 per-channel symmetric (linear_quantize_weights), "
                                             f"tensors under {cfg.weight_threshold} elements stay fp16"]
                                            if cfg.mode is CoreMLMode.int8_weights else []),
    )


_DTYPES = {65552: "float16", 65568: "float32", 131104: "int32", 131080: "int8"}


def read_spec(path: Path) -> dict:
    """Reload a saved package (no prediction) and summarise its spec: I/O, model type, ops."""
    ct = _ct()
    with _quiet():
        model = ct.models.MLModel(str(path), skip_model_load=True)
    spec = model.get_spec()

    def feats(items) -> dict:
        return {f.name: {"shape": [int(d) for d in f.type.multiArrayType.shape],
                         "dtype": _DTYPES.get(f.type.multiArrayType.dataType, str(f.type.multiArrayType.dataType))}
                for f in items}

    ops: list[str] = []
    if spec.WhichOneof("Type") == "mlProgram":
        for fn in spec.mlProgram.functions.values():
            for block in fn.block_specializations.values():
                ops.extend(op.type for op in block.operations)
    return {"type": spec.WhichOneof("Type"), "specification_version": spec.specificationVersion,
            "inputs": feats(spec.description.input), "outputs": feats(spec.description.output),
            "ops": ops, "metadata": dict(spec.description.metadata.userDefined)}


def int8_weights_in_torch(device: nn.Module, package: Path) -> tuple[nn.Module, int]:
    """The torch device half (BatchNorm folded) carrying the package's dequantized int8 weights.

    Returns the module and how many weight tensors were replaced. Stored tensors are matched to
    the torch conv/linear weights by shape, in program order.
    """
    import coremltools.optimize.coreml as cto

    from hybridsplit.exporters.tflite import fold_batchnorm

    ct = _ct()
    with _quiet():
        meta = cto.get_weights_metadata(ct.models.MLModel(str(package), skip_model_load=True), weight_threshold=0)
    stored: list[np.ndarray] = []
    for name, entry in meta.items():
        if not name.endswith("_quantized_data_0"):
            continue
        prefix = name[: -len("quantized_data_0")]
        q = entry.val.astype(np.float32)
        scale = meta[prefix + "scale_0"].val.astype(np.float32)
        zp = meta[prefix + "zero_point_0"].val.astype(np.float32) if prefix + "zero_point_0" in meta else 0.0
        bshape = (-1,) + (1,) * (q.ndim - 1)
        stored.append((q - np.reshape(zp, bshape)) * np.reshape(scale, bshape))
    if not stored:
        raise ExportError(f"'{package.name}' holds no int8 weights; was it exported in int8_weights mode?")
    model = fold_batchnorm(device)
    used = [False] * len(stored)
    replaced = 0
    for m in model.modules():
        if isinstance(m, nn.Conv1d | nn.Conv2d | nn.Linear):
            for i, w in enumerate(stored):
                if not used[i] and tuple(w.shape) == tuple(m.weight.shape):
                    m.weight.data = torch.from_numpy(w.astype(np.float32))
                    used[i] = True
                    replaced += 1
                    break
    return model, replaced
