"""Turn converter exceptions into one clear line: which op, which layer of the user's model, what to try.

Converters report failures deep in their own graphs ("Lowering not found: aten.cumprod.default",
"Exporting the operator 'aten::cumprod' to ONNX opset 17 is not supported", onnx2tf's node
dumps). `explain` pulls the op (or node) out of the message, then finds the user's layer that
calls it by running the model once under a dispatch mode that records, for every aten op,
the module path active at that moment. Works whether or not torch.export succeeds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import nn

from hybridsplit.errors import ExportError

_OP_PATTERNS = (
    re.compile(r"Lowering not found: (aten\.[\w.]+)"),
    re.compile(r"operator '(aten::\w+)'"),
    re.compile(r"target=torch\.ops\.(aten\.[\w.]+)"),
    re.compile(r"No decomposition for (aten\.[\w.]+)"),
    re.compile(r"(aten[.:]{1,2}\w+)"),
)
_ONNX_NODE = re.compile(r"onnx_op_type:\s*(\w+).*?onnx_op_name:\s*([\w/.:\-]+)", re.S)
_DYNAMIC = ("data-dependent", "GuardOnDataDependentSymNode", "Could not guard on data-dependent",
            "dynamic shape", "Dynamic shapes", "ConstraintViolation", "unbacked")


@dataclass(frozen=True)
class OpSite:
    op: str
    layer: str
    layer_type: str


def _base(op: str) -> str:
    """'aten.cumprod.default' / 'aten::cumprod' -> 'cumprod'."""
    op = op.replace("::", ".")
    parts = op.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "aten" else parts[0]


def find_op(op: str, module: nn.Module, sample: torch.Tensor) -> OpSite | None:
    """The first layer (module path) of `module` whose forward calls aten op `op`."""
    from torch.utils._python_dispatch import TorchDispatchMode

    want = _base(op).lower().lstrip("_")
    stack: list[tuple[str, str]] = []
    found: list[OpSite] = []

    class Spy(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            name = func.overloadpacket.__name__.lower().lstrip("_")
            if not found and stack and (name == want or name.startswith(want) or want.startswith(name)):
                found.append(OpSite(f"aten.{func.overloadpacket.__name__}", *stack[-1]))
            return func(*args, **(kwargs or {}))

    def enter(path: str):
        def hook(mod: nn.Module, args) -> None:
            stack.append((path, type(mod).__name__))
        return hook

    def leave(mod: nn.Module, args, out) -> None:  # returns None: a hook's return value replaces the output
        stack.pop()

    handles = []
    for path, sub in module.named_modules():
        if path == "":
            continue
        handles.append(sub.register_forward_pre_hook(enter(path)))
        handles.append(sub.register_forward_hook(leave))
    graphs = [m for m in module.modules() if isinstance(m, torch.fx.GraphModule)]
    for gm in graphs:  # a graph split's half: its functions ran inside layers it no longer holds
        gm.forward = _NodeSites(gm, stack).run
    try:
        with torch.no_grad(), Spy():
            module(sample)
    except Exception:  # noqa: BLE001 - a model that cannot even run says nothing more
        return None
    finally:
        for h in handles:
            h.remove()
        for gm in graphs:
            del gm.forward
    return found[0] if found else None


class _NodeSites(torch.fx.Interpreter):
    """Runs a GraphModule node by node, with each node's layer (recorded when the graph splitter
    traced the model: path and type) on `stack` while the node runs."""

    def __init__(self, gm: torch.fx.GraphModule, stack: list[tuple[str, str]]):
        super().__init__(gm)
        self.stack = stack

    def run_node(self, n: torch.fx.Node):
        from hybridsplit.models.graph_split import MODULE_META

        site = n.meta.get(MODULE_META)
        if site is None:
            return super().run_node(n)
        self.stack.append(tuple(site))
        try:
            return super().run_node(n)
        finally:
            self.stack.pop()


def _first_line(exc: BaseException) -> str:
    for line in str(exc).strip().splitlines():
        if line.strip():
            return line.strip()[:200]
    return type(exc).__name__


def explain(exc: BaseException, module: nn.Module, sample: torch.Tensor, converter: str,
            hint: str = "try --converter onnx2tf, an earlier cut (--cut), or replace the layer with supported ops") -> ExportError:
    """One ExportError naming the failing op or node, the user's layer, and what to try."""
    if isinstance(exc, ExportError):
        return exc
    text = str(exc)
    if any(k in text for k in _DYNAMIC):
        op = next((m.group(1) for p in _OP_PATTERNS if (m := p.search(text))), None)
        site = find_op(op, module, sample) if op else None
        where = f" in layer '{site.layer}' ({site.layer_type})" if site else ""
        return ExportError(
            f"{converter} cannot convert a data-dependent (dynamic) shape{where}"
            f"{f' at op {op}' if op else ''}: {_first_line(exc)}; use fixed shapes in that layer "
            "(no nonzero/boolean masks/.item()), or cut before it"
        )
    node = _ONNX_NODE.search(text)
    if node:
        op_type, op_name = node.groups()
        return ExportError(f"{converter} cannot convert ONNX node '{op_name}' ({op_type}); {hint}")
    op = next((m.group(1) for p in _OP_PATTERNS if (m := p.search(text))), None)
    if op:
        site = find_op(op, module, sample)
        where = f" used by layer '{site.layer}' ({site.layer_type})" if site else ""
        return ExportError(f"{converter} cannot lower op {op.replace('::', '.')}{where}; {hint}")
    return ExportError(f"{converter} failed ({type(exc).__name__}: {_first_line(exc)}); {hint}")
