"""Device half -> .tflite through litert-torch, in every TFLite mode (the default route).

- fp32: `litert_torch.convert` of the device half (BatchNorm folded into the convs first).
- int8 / int8_per_tensor / dynamic_int8: PT2E, as TOOLCHAIN.md verified: torch.export ->
  torchao prepare_pt2e -> calibrate -> convert_pt2e(fold_quantize=False) ->
  litert_torch.convert(quant_config=...). Static modes have int8 input and output tensors.
- fp16 and int16x8: litert-torch has no quantizer for these, so ai-edge-quantizer rewrites
  the fp32 .tflite (float16 weight casting; static int16 activations with int8 weights).

Conversion failures are turned into one-line `ExportError`s by `diagnose.explain`.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hybridsplit.errors import ExportError
from hybridsplit.exporters.artifact import ExportedArtifact, tflite_artifact
from hybridsplit.exporters.config import TFLiteConfig, TFLiteMode
from hybridsplit.exporters.diagnose import explain
from hybridsplit.quiet import torch_converters_quiet

CONVERTER = "litert-torch"


@contextlib.contextmanager
def _quiet_litert() -> Iterator[None]:
    """litert-torch prints a progress line per stage, and importing it imports torchao, which logs its
    missing CUDA kernels and a torch pytree deprecation: keep the toolkit's own output readable."""
    old = os.environ.get("LITERT_TORCH_SHOW_PROGRESS")
    os.environ["LITERT_TORCH_SHOW_PROGRESS"] = "n"
    try:
        with torch_converters_quiet():
            yield
    finally:
        if old is None:
            os.environ.pop("LITERT_TORCH_SHOW_PROGRESS", None)
        else:
            os.environ["LITERT_TORCH_SHOW_PROGRESS"] = old


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """ai-edge-quantizer prints sizes and a tqdm bar on every call."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def _fusable(conv: nn.Module, bn: nn.Module) -> bool:
    return isinstance(conv, nn.Conv1d | nn.Conv2d) and isinstance(bn, nn.BatchNorm1d | nn.BatchNorm2d) \
        and bn.track_running_stats and conv.out_channels == bn.num_features


def _fold_graph_batchnorm(gm: torch.fx.GraphModule) -> None:
    """The same fusion in an fx GraphModule (a graph split's half, whose submodule containers are
    plain modules): a conv node feeding only a BatchNorm node, each module called once."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    calls: dict[str, int] = {}
    for n in gm.graph.nodes:
        if n.op == "call_module":
            calls[n.target] = calls.get(n.target, 0) + 1
    changed = False
    for node in list(gm.graph.nodes):
        prev = node.args[0] if node.op == "call_module" and node.args else None
        if not (isinstance(prev, torch.fx.Node) and prev.op == "call_module" and len(prev.users) == 1
                and calls[prev.target] == 1 and calls[node.target] == 1):
            continue
        conv, bn = gm.get_submodule(prev.target), gm.get_submodule(node.target)
        if _fusable(conv, bn):
            parent, _, name = prev.target.rpartition(".")
            setattr(gm.get_submodule(parent), name, fuse_conv_bn_eval(conv, bn))
            node.replace_all_uses_with(prev)
            gm.graph.erase_node(node)
            changed = True
    if changed:
        gm.graph.lint()
        gm.delete_all_unused_submodules()
        gm.recompile()


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """A copy in eval mode with each Conv -> BatchNorm pair fused into the conv: pairs in an
    nn.Sequential, and pairs of nodes in an fx GraphModule (a graph split's halves).

    Post-training quantizers that work on the .tflite (ai-edge-quantizer) would otherwise
    quantize BatchNorm's scale and shift as separate int8 constants.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    module = copy.deepcopy(module).eval()
    for seq in [m for m in module.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for a, b in zip(names, names[1:]):
            conv, bn = seq._modules[a], seq._modules[b]
            if _fusable(conv, bn):
                seq._modules[a] = fuse_conv_bn_eval(conv, bn)
                seq._modules[b] = nn.Identity()
    for gm in [m for m in module.modules() if isinstance(m, torch.fx.GraphModule)]:
        _fold_graph_batchnorm(gm)
    return module


def _convert(module: nn.Module, sample: torch.Tensor, path: Path, quant_config=None, original: nn.Module | None = None) -> None:
    with _quiet_litert():
        import litert_torch

        try:
            model = litert_torch.convert(module, (sample,), quant_config=quant_config)
        except Exception as exc:  # noqa: BLE001 - surfaced as one line naming op and layer
            raise explain(exc, original if original is not None else module, sample, CONVERTER) from exc
        path.parent.mkdir(parents=True, exist_ok=True)
        model.export(str(path))


def _pt2e(device: nn.Module, sample: torch.Tensor, calibration: np.ndarray | None, per_channel: bool,
          dynamic: bool, path: Path) -> None:
    with _quiet_litert():
        from litert_torch.quantize import pt2e_quantizer
        from litert_torch.quantize.quant_config import QuantConfig
        from torchao.quantization.pt2e import move_exported_model_to_eval, quantize_pt2e

    from hybridsplit.exporters.mobile_rewrites import rewrite_for_int8

    original, (device, _) = device, rewrite_for_int8(device)  # same function, ops XNNPACK runs in int8
    quantizer = pt2e_quantizer.PT2EQuantizer().set_global(
        pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=per_channel, is_dynamic=dynamic)
    )
    try:
        # strict export keeps the source metadata litert-torch's add/add_relu annotators match on:
        # without it a residual add at the cut stays float and the int8 model gets a float output.
        try:
            exported = torch.export.export(device.eval(), (sample,), strict=True)
        except Exception:  # noqa: BLE001 - some graphs only trace non-strict
            exported = torch.export.export(device.eval(), (sample,))
        prepared = quantize_pt2e.prepare_pt2e(exported.module(), quantizer)
    except Exception as exc:  # noqa: BLE001
        raise explain(exc, original, sample, "torch.export (PT2E quantization)") from exc
    with torch.no_grad():
        batches = calibration if calibration is not None else sample.numpy()
        for i in range(len(batches)):  # the exported graph has a fixed batch of 1
            prepared(torch.from_numpy(batches[i : i + 1]))
    quantized = quantize_pt2e.convert_pt2e(prepared, fold_quantize=False)
    move_exported_model_to_eval(quantized)
    for m in quantized.modules():  # exported modules refuse .eval(); clear the flag litert-torch checks
        m.training = False
    _convert(quantized, sample, path, QuantConfig(pt2e_quantizer=quantizer), original=original)


def _global_min_max(q, signature: str, input_name: str, calibration: np.ndarray) -> dict:
    """Calibrate one sample at a time and keep each tensor's overall min and max.

    ai-edge-quantizer's own calibration keeps a moving average of per-step min/max, which on
    sensor data clips the rare large values (measured here: int16x8 relative error 0.43 with
    it, 0.009 with the overall range, the range PT2E's observers use too).
    """
    merged: dict = {}
    for i in range(len(calibration)):
        step = q.calibrate({signature: [{input_name: calibration[i : i + 1]}]})
        for tensor, qsv in step.items():
            old = merged.get(tensor)
            if not old or "min" not in old or not qsv or "min" not in qsv:
                merged[tensor] = dict(qsv) if qsv else (old or qsv)
            else:
                merged[tensor] = {**old, "min": np.minimum(old["min"], qsv["min"]), "max": np.maximum(old["max"], qsv["max"])}
    return merged


def _ai_edge_quantize(fp32_path: Path, mode: TFLiteMode, calibration: np.ndarray | None, path: Path) -> None:
    from ai_edge_quantizer import qtyping, quantizer

    from hybridsplit.bundle.runtime import TFLiteRunner

    q = quantizer.Quantizer(str(fp32_path))
    ops = qtyping.TFLOperationName.ALL_SUPPORTED
    if mode is TFLiteMode.fp16:
        q.add_weight_only_config(".*", ops, 16, algorithm_key="float_casting")
    elif mode is TFLiteMode.int16x8:
        q.add_static_config(".*", ops, activation_num_bits=16, weight_num_bits=8)
    else:
        raise RuntimeError(f"ai-edge-quantizer route has no mode {mode}")
    try:
        with _quiet():
            result = None
            if q.need_calibration:
                interp = TFLiteRunner(fp32_path).interpreter
                (sig, spec), = interp.get_signature_list().items()
                name = spec["inputs"][0]
                result = _global_min_max(q, sig, name, calibration)
            q.quantize(result).export_model(str(path), overwrite=True)
    except Exception as exc:  # noqa: BLE001
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ExportError(f"ai-edge-quantizer could not make the {mode.value} model ({type(exc).__name__}: {first}); "
                          "try --converter onnx2tf or another mode") from exc


def export(device: nn.Module, sample: torch.Tensor, cfg: TFLiteConfig, path: Path,
           calibration: np.ndarray | None = None, layout: str = "NC", require_integer_io: bool = True) -> ExportedArtifact:
    """Device half -> `path` in `cfg.mode` through litert-torch (no fallback here; see bundle).

    Full-integer modes must come out with integer input and output tensors (the manifest's
    qparams describe them); `require_integer_io=False` accepts a float I/O tensor instead.
    """
    if device.training:
        raise RuntimeError("export the device half in eval mode")
    if cfg.calibrated and calibration is None:
        raise ExportError(f"TFLite mode {cfg.mode.value} needs calibration data")
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = cfg.mode
    converter = CONVERTER
    if mode is TFLiteMode.fp32:
        _convert(fold_batchnorm(device), sample, path, original=device)
    elif mode in (TFLiteMode.int8, TFLiteMode.int8_per_tensor, TFLiteMode.dynamic_int8):
        _pt2e(device, sample, calibration if cfg.calibrated else None, per_channel=mode is not TFLiteMode.int8_per_tensor,
              dynamic=mode is TFLiteMode.dynamic_int8, path=path)
    else:  # fp16, int16x8: litert-torch fp32, then ai-edge-quantizer
        fp32 = path.with_name(f".{path.stem}.fp32-tmp.tflite")
        try:
            _convert(fold_batchnorm(device), sample, fp32, original=device)
            _ai_edge_quantize(fp32, mode, calibration, path)
        finally:
            fp32.unlink(missing_ok=True)
        converter = f"{CONVERTER} + ai-edge-quantizer"
    art = tflite_artifact(path, mode.value, converter, torch_input_shape=list(sample.shape), layout=layout)
    want = _INTEGER_IO.get(mode) if require_integer_io else None
    bad = [f"{side} is {dtype}" for side, dtype in (("input", art.input_dtype), ("output", art.output_dtype)) if want and dtype != want]
    if bad:
        cause = _float_io_cause(art)
        path.unlink(missing_ok=True)
        raise ExportError(
            f"litert-torch made a {mode.value} model whose {' and '.join(bad)}, not {want} ({cause}); "
            "try --converter onnx2tf or another cut (--cut)"
        )
    return art


def _float_io_cause(art: ExportedArtifact) -> str:
    """The true cause of a float I/O tensor: the op that reads the input / writes the output as float."""
    interp = art._run().interpreter
    ops = interp._get_ops_details()  # noqa: SLF001 - the only LiteRT API naming an op's tensors
    causes = []
    for side, detail in (("input", art._run().input), ("output", art._run().output)):
        if np.dtype(detail["dtype"]).kind != "f":
            continue
        idx = detail["index"]
        hits = [o["op_name"] for o in ops if idx in (o["outputs"] if side == "output" else o["inputs"])]
        if hits:
            verb = "written by" if side == "output" else "read by"
            causes.append(f"the {side} is {verb} a float {hits[0]} op the quantizer left unquantized")
    return "; ".join(causes) or "the quantizer left an I/O tensor float"


_INTEGER_IO = {TFLiteMode.int8: "int8", TFLiteMode.int8_per_tensor: "int8", TFLiteMode.int16x8: "int16"}


# The spine's two entry points, kept for callers that import them directly.
def export_fp32(device: nn.Module, sample: torch.Tensor, path: Path) -> ExportedArtifact:
    return export(device.eval(), sample, TFLiteConfig(TFLiteMode.fp32), path)


def export_int8(device: nn.Module, sample: torch.Tensor, calibration: np.ndarray, path: Path,
                per_channel: bool = True) -> ExportedArtifact:
    mode = TFLiteMode.int8 if per_channel else TFLiteMode.int8_per_tensor
    return export(device.eval(), sample, TFLiteConfig(mode), path, calibration, require_integer_io=False)
