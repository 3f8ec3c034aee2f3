"""A .tflite's graph read from the file alone, torch-free: its ops in execution order with shapes,
dtypes, weights and MACs, and the prefix model that ends after any op.

This is what lets `hybridsplit bench` profile a bundle copied anywhere (no run, no torch) and any
model, staged or graph-cut: prefix k keeps ops 0..k of the main subgraph and makes op k's output
the model's output; layer k's latency is the difference of successive prefixes (Neurosurgeon's
prefix method at op granularity). Reading and writing use the flatbuffer schema `ai-edge-litert`
ships (`schema_py_generated`), a public part of the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hybridsplit.errors import BundleError

# TensorType enum of the TFLite schema -> numpy dtype (the ones device halves use)
_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 6: np.bool_, 7: np.int16,
           9: np.int8, 10: np.float64}


@dataclass(frozen=True)
class TensorInfo:
    index: int
    shape: tuple[int, ...]
    dtype: str
    constant: bool
    """Backed by a buffer in the file (weights, biases, shape operands)."""

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.numel * np.dtype(self.dtype).itemsize


@dataclass(frozen=True)
class OpInfo:
    index: int
    op: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]

    @property
    def name(self) -> str:
        """The op's position in the file's execution order (its kind is `op`)."""
        return f"op{self.index:02d}"

    @property
    def constant_only(self) -> bool:
        """Every input is in the file (a DEQUANTIZE of fp16 weights): the runtime computes it once at load,
        and XNNPACK refuses a model whose output is such a tensor, so no prefix ends here."""
        return bool(self.inputs) and all(t.constant for t in self.inputs)

    @property
    def weights(self) -> tuple[TensorInfo, ...]:
        """Constant inputs that are parameters: all of a conv / linear op's (int32 biases included);
        elsewhere the non-integer ones (a RESHAPE's shape or a TRANSPOSE's permutation is no weight)."""
        if self.op in _WEIGHTED:
            return tuple(t for t in self.inputs if t.constant)
        return tuple(t for t in self.inputs if t.constant and t.dtype not in ("int32", "int64"))

    @property
    def params(self) -> int:
        return sum(t.numel for t in self.weights)

    @property
    def macs(self) -> int:
        """Multiply-accumulates for one sample, from the op's own tensor shapes."""
        out = self.outputs[0]
        per_sample = out.numel // max(out.shape[0], 1) if out.shape else out.numel
        if self.op in ("CONV_2D", "CONV_3D"):  # filter [O, (D,) KH, KW, I/groups]
            return per_sample * int(np.prod(self.inputs[1].shape[1:]))
        if self.op == "DEPTHWISE_CONV_2D":  # filter [1, KH, KW, O]
            return per_sample * int(np.prod(self.inputs[1].shape[1:3]))
        if self.op == "TRANSPOSE_CONV":  # inputs: output shape, filter [O, KH, KW, I], input [N, H, W, I]
            x = self.inputs[2]
            return x.numel // max(x.shape[0], 1) * int(np.prod(self.inputs[1].shape[:3]))
        if self.op == "FULLY_CONNECTED":  # weights [O, I]
            return per_sample * int(self.inputs[1].shape[-1])
        if self.op == "BATCH_MATMUL":
            return per_sample * int(self.inputs[0].shape[-1])
        return 0


_WEIGHTED = ("CONV_2D", "CONV_3D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")


def _schema():
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


class TFLiteGraph:
    """The main subgraph of one .tflite file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise BundleError(f"TFLite model '{self.path}' not found")
        S = _schema()
        buf = self.path.read_bytes()
        try:
            if buf[4:8] != b"TFL3":  # the schema's file identifier
                raise ValueError("no TFL3 identifier")
            self.model = S.ModelT.InitFromObj(S.Model.GetRootAs(buf, 0))
            if not self.model.subgraphs or not self.model.subgraphs[0].operators:
                raise ValueError("no operators")
        except Exception as exc:  # noqa: BLE001 - a truncated or foreign file
            raise BundleError(f"'{self.path}' is not a readable .tflite model ({exc}); re-export the bundle") from None
        self.graph = self.model.subgraphs[0]
        names = {v: k for k, v in vars(S.BuiltinOperator).items() if not k.startswith("_")}
        self._op_names = [names.get(max(c.builtinCode, c.deprecatedBuiltinCode), f"CUSTOM:{c.customCode}")
                          for c in self.model.operatorCodes]

    def _tensor(self, i: int) -> TensorInfo:
        t = self.graph.tensors[i]
        buf = self.model.buffers[t.buffer] if t.buffer < len(self.model.buffers) else None
        constant = buf is not None and (buf.data is not None and len(buf.data) > 0 or (buf.size or 0) > 0)
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
        return TensorInfo(i, shape, np.dtype(_DTYPES.get(t.type, np.uint8)).name, constant)

    @property
    def input_shape(self) -> list[int]:
        return list(self._tensor(self.graph.inputs[0]).shape)

    @property
    def ops(self) -> list[OpInfo]:
        return [OpInfo(k, self._op_names[op.opcodeIndex],
                       tuple(self._tensor(i) for i in op.inputs if i >= 0),
                       tuple(self._tensor(i) for i in op.outputs))
                for k, op in enumerate(self.graph.operators)]

    def write_prefix(self, k: int, path: str | Path) -> Path:
        """A .tflite running ops 0..k whose output is op k's output (same weights, same input)."""
        import copy

        import flatbuffers

        n = len(self.graph.operators)
        if not 0 <= k < n:
            raise BundleError(f"'{self.path.name}' has ops 0..{n - 1}; there is no prefix ending at op {k}")
        model = copy.copy(self.model)
        model.buffers = self._inlined_buffers()
        graph = copy.copy(self.graph)
        graph.operators = self.graph.operators[: k + 1]
        graph.outputs = list(self.graph.operators[k].outputs)
        model.subgraphs = [graph, *self.model.subgraphs[1:]]
        model.signatureDefs = []  # the signature names the full model's output; the prefix uses the graph's own
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(builder.Output())
        return path

    def _inlined_buffers(self) -> list:
        """The buffers with data stored after the flatbuffer (offset / size, as ai-edge-quantizer writes
        fp16 weights) copied into the buffers themselves: a re-packed model's offsets would point nowhere."""
        import copy

        raw, out = None, []
        for b in self.model.buffers:
            if (b.offset or 0) > 1:
                raw = raw if raw is not None else self.path.read_bytes()
                b = copy.copy(b)
                b.data, b.offset, b.size = np.frombuffer(raw, np.uint8, b.size, b.offset), 0, 0
            out.append(b)
        return out
