"""Cut any `nn.Module` at a named node (torchvision's feature-extraction manner): the one
splitter of the toolkit, for registry backbones and spec models alike.

The model is traced with `torch.fx` by a tracer that names every node by its module path
(`layer4.1.relu`, repeats get `_1`, `_2`), so names match `named_modules()`. A node is a valid
cut when exactly one value flows from the nodes up to it to the nodes after it: itself.
Inside a residual block the block's input also crosses, so such a node is refused, naming the
crossing tensors and the nearest valid cuts before and after.

The device half is the graph up to the cut; the cloud half is the rest, with the cut tensor as
its input. Both are `fx.GraphModule`s rooted on the model, so they share its parameters.
A module path (`layer2`, `features.6`) is accepted too and means the last node inside it; so is
a model's named cut (`named_cuts`: a `StagedNet`'s stage names, `block2`), which is such a path.
"""

from __future__ import annotations

import inspect
import operator
import re
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from hybridsplit.errors import SpecError, did_you_mean
from hybridsplit.models.halves import Cut, SplitModel

_SUFFIX = re.compile(r"^(.+)_[0-9]+$")
MODULE_META = "hybridsplit_module"
"""node.meta key: (module path, module type name) of the innermost module the node ran in."""


class NodePathTracer(fx.Tracer):
    """fx tracer naming nodes by module path (torchvision's NodePathTracer)."""

    def __init__(self, leaf_modules: tuple[type, ...] = (), autowrap_functions: tuple = ()):
        super().__init__(autowrap_functions=autowrap_functions)
        self.leaf_modules = leaf_modules
        self.current = ""
        self.current_type = ""
        self.qualnames: dict[fx.Node, str] = OrderedDict()

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, self.leaf_modules) or super().is_leaf_module(m, qualname)

    def call_module(self, m, forward, args, kwargs):
        old = self.current, self.current_type
        try:
            self.current, self.current_type = self.path_of_module(m), type(m).__name__
            if not self.is_leaf_module(m, self.current):
                return forward(*args, **kwargs)
            return self.create_proxy("call_module", self.current, args, kwargs)
        finally:
            self.current, self.current_type = old

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None, *rest):
        proxy = super().create_proxy(kind, target, args, kwargs, name, type_expr, *rest)
        node = proxy.node
        qual = self.current
        if qual:  # the user's layer a node runs in, kept by node_copy: exporters/diagnose.py names it
            node.meta[MODULE_META] = (qual, self.current_type)
        if node.op != "call_module":
            base = str(node)
            m = _SUFFIX.match(base)
            base = m.group(1) if m else base
            qual = f"{qual}.{base}" if qual else base
        taken = set(self.qualnames.values())
        if qual in taken:
            i = 1
            while f"{qual}_{i}" in taken:
                i += 1
            qual = f"{qual}_{i}"
        self.qualnames[node] = qual
        return proxy


def _concrete_defaults(model: nn.Module) -> dict | None:
    """Forward arguments after the input that have defaults (timm ViT's attn_mask=None, is_causal=False):
    traced as those constants, so they never cross a cut as if they were activations."""
    try:
        params = list(inspect.signature(model.forward).parameters.values())[1:]
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    out = {p.name: p.default for p in params if p.kind in kinds and p.default is not inspect.Parameter.empty}
    return out or None


def _tracer_for(model: nn.Module) -> NodePathTracer:
    """timm registers modules and functions that fx must not trace into; honour them."""
    leaves, funcs = (), ()
    if type(model).__module__.startswith("timm."):
        try:
            from timm.layers import _fx as timm_fx

            leaves = tuple(timm_fx.get_notrace_modules())
            funcs = tuple(timm_fx.get_notrace_functions())
        except (ImportError, AttributeError):
            pass
    return NodePathTracer(leaves, funcs)


@dataclass
class TracedModel:
    model: nn.Module
    graph_module: fx.GraphModule
    names: dict[fx.Node, str]
    order: list[fx.Node]
    """Compute nodes (no placeholder/get_attr/output), in execution order."""
    crossing: dict[fx.Node, list[fx.Node]]
    """For each compute node: the values that flow from it and before to the nodes after it."""
    macs: dict[fx.Node, int]
    aliases: dict[str, fx.Node] = field(default_factory=dict)
    """Module path -> last node inside that module."""

    def node(self, name: str) -> fx.Node | None:
        for n, q in self.names.items():
            if q == name:
                return n
        return self.aliases.get(name)

    def is_valid(self, node: fx.Node) -> bool:
        meta = node.meta.get("tensor_meta")
        return (self.crossing[node] == [node] and isinstance(meta, torch.fx.passes.shape_prop.TensorMetadata)
                and node is not self.order[-1])


class _MacCounter(ShapeProp):
    """ShapeProp that also counts MACs of convolutions, linear layers and matmuls per node
    (the usual convention: normalisation, activations, pooling and adds count 0)."""

    def __init__(self, gm: fx.GraphModule):
        super().__init__(gm)
        self.macs: dict[fx.Node, int] = {}

    def run_node(self, n: fx.Node):
        out = super().run_node(n)
        macs = 0
        if isinstance(out, torch.Tensor):
            if n.op == "call_module":
                mod = self.fetch_attr(n.target)
                if isinstance(mod, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d)):
                    if isinstance(mod, (nn.ConvTranspose1d, nn.ConvTranspose2d)):
                        x = self.env[n.args[0]] if isinstance(n.args[0], fx.Node) else None
                        macs = int(x.numel() * mod.weight[0].numel()) if x is not None else 0
                    else:  # weight (Cout, Cin/groups, *k): each output costs Cin/groups * prod(k)
                        macs = int(out.numel() * mod.weight[0].numel())
                elif isinstance(mod, nn.Linear):
                    macs = int(out.numel() * mod.in_features)
            elif n.op == "call_function":
                f = n.target
                args = [self.env[a] if isinstance(a, fx.Node) else a for a in n.args]
                if f in (torch.nn.functional.conv1d, torch.nn.functional.conv2d, torch.nn.functional.conv3d):
                    w = args[1] if len(args) > 1 else self.env[n.kwargs["weight"]]
                    macs = int(out.numel() * w[0].numel())
                elif f is torch.nn.functional.linear:
                    w = args[1] if len(args) > 1 else self.env[n.kwargs["weight"]]
                    macs = int(out.numel() * w.shape[-1])
                elif f in (torch.matmul, torch.bmm, torch.mm, operator.matmul):
                    a = args[0]
                    macs = int(out.numel() * a.shape[-1]) if isinstance(a, torch.Tensor) else 0
        self.macs[n] = macs
        return out


def trace(model: nn.Module, example: torch.Tensor) -> TracedModel:
    """Trace in eval mode, name nodes, propagate shapes and MACs, find what crosses each node."""
    was_training = model.training
    model.eval()
    try:
        tracer = _tracer_for(model)
        try:
            graph = tracer.trace(model, concrete_args=_concrete_defaults(model))
        except Exception as exc:  # noqa: BLE001 - untraceable Python control flow
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise SpecError(
                f"{type(model).__name__} cannot be traced by torch.fx ({type(exc).__name__}: {first}); "
                "make data-dependent control flow a leaf module, or split it by hand"
            ) from None
        gm = fx.GraphModule(tracer.root, graph, type(model).__name__)
        names = {n: tracer.qualnames.get(n, n.name) for n in graph.nodes}
        # placeholders are named by their argument (usually 'x'); keep fx's own name for them
        for n in graph.nodes:
            if n.op == "placeholder":
                names[n] = n.name
        counter = _MacCounter(gm)
        with torch.no_grad():
            counter.propagate(example)
    finally:
        model.train(was_training)
    order = [n for n in graph.nodes if n.op not in ("placeholder", "get_attr", "output")]
    position = {n: i for i, n in enumerate(graph.nodes)}
    last_use = {n: max((position[u] for u in n.users), default=-1) for n in graph.nodes}
    crossing: dict[fx.Node, list[fx.Node]] = {}
    live: list[fx.Node] = []
    for n in graph.nodes:
        if n.op in ("get_attr", "output"):
            continue  # parameters/buffers are re-fetched by the cloud half; they never cross
        live.append(n)
        if n.op == "placeholder":
            continue
        live = [v for v in live if last_use[v] > position[n]]
        crossing[n] = list(live)
    aliases: dict[str, fx.Node] = {}
    modules = {name for name, _ in model.named_modules() if name}
    for n in order:  # later nodes overwrite: an alias names the last node inside the module
        q = names[n]
        parts = q.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix in modules:
                aliases[prefix] = n
    return TracedModel(model, gm, names, order, crossing, dict(counter.macs), aliases)


# Modules / functions that return their input unchanged in eval mode (by class name, so timm's
# DropPath and torchvision's StochasticDepth need no import).
NOOP_MODULES = {"Identity", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
                "DropPath", "StochasticDepth", "DropBlock2d"}
NOOP_FUNCTIONS = {"dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "drop_path", "stochastic_depth"}


def is_noop(gm: fx.GraphModule, n: fx.Node) -> bool:
    if n.op == "call_module":
        return type(gm.get_submodule(n.target)).__name__ in NOOP_MODULES
    if n.op == "call_function":
        return getattr(n.target, "__name__", "") in NOOP_FUNCTIONS
    return False


def cuts_of(traced: TracedModel) -> list[Cut]:
    total = sum(traced.macs.values())
    ends: dict[fx.Node, list[str]] = {}
    for alias, n in traced.aliases.items():
        ends.setdefault(n, []).append(alias)
    gm = traced.graph_module
    seen: set[int] = set()
    out, macs, params = [], 0, 0
    for n in gm.graph.nodes:
        if n.op == "call_module":
            tensors = list(gm.get_submodule(n.target).parameters())
        elif n.op == "get_attr":
            obj = gm
            for part in n.target.split("."):
                obj = getattr(obj, part)
            tensors = [obj] if isinstance(obj, nn.Parameter) else []
        else:
            tensors = []
        for p in tensors:
            if id(p) not in seen:
                seen.add(id(p))
                params += p.numel()
        macs += traced.macs.get(n, 0)
        if n.op not in ("placeholder", "get_attr", "output") and traced.is_valid(n):
            shape = tuple(n.meta["tensor_meta"].shape[1:])
            out.append(Cut(traced.names[n], shape, macs, total, params,
                           tuple(sorted((a for a in ends.get(n, []) if a != traced.names[n]), key=len)),
                           is_noop(gm, n)))
    return out


def example_input(model: nn.Module, input_shape: tuple[int, ...] | None = None, batch: int = 1) -> torch.Tensor:
    shape = input_shape or getattr(model, "input_shape", None)
    if shape is None:
        raise SpecError(f"{type(model).__name__} has no input_shape; give one (e.g. --input-shape 3,224,224)")
    return torch.zeros((batch, *shape))


def list_cuts(model: nn.Module, example: torch.Tensor | None = None) -> list[Cut]:
    """Every valid cut of `model` for `example` (batch 1), with shape, bytes and cumulative MACs."""
    return cuts_of(trace(model, example if example is not None else example_input(model)))


def named_cuts(model: nn.Module) -> list[str]:
    """The cuts a model names itself (its `named_cuts()`: a `StagedNet`'s stage ends), else none.
    Each is a module path, so it resolves like any alias: to the last node inside that module."""
    names = getattr(model, "named_cuts", None)
    return list(names()) if callable(names) else []


def resolve_cut(traced: TracedModel, cut: str) -> fx.Node:
    """The node a cut name means, or a SpecError naming the crossing tensors / close names."""
    named = named_cuts(traced.model)
    listing = f"Valid cuts: {', '.join(named)}. See `hybridsplit list split-points <backbone>`." if named else ""
    node = traced.node(cut)
    if node is None or node.op in ("output", "get_attr"):
        names = [traced.names[n] for n in traced.order] + list(traced.aliases)
        if named:
            raise SpecError(f"Unknown cut '{cut}'.{did_you_mean(cut, named) or did_you_mean(cut, names)} {listing}")
        spec = getattr(traced.model, "backbone_spec", "<spec>")
        raise SpecError(f"Unknown cut '{cut}'.{did_you_mean(cut, names)} "
                        f"See `hybridsplit cuts --model {spec}` for the valid cuts")
    if node.op == "placeholder":
        raise SpecError(f"Cut '{cut}' is the model input: the device half would be empty; pick a later cut. "
                        f"{listing}".strip())
    if node is traced.order[-1]:
        raise SpecError(f"Cut '{cut}' is the model output: the cloud half would be empty; pick an earlier cut. "
                        f"{listing}".strip())
    if traced.is_valid(node):
        return node
    i = traced.order.index(node)
    before = next((traced.names[n] for n in reversed(traced.order[:i]) if traced.is_valid(n)), None)
    after = next((traced.names[n] for n in traced.order[i + 1:] if traced.is_valid(n)), None)
    tensors = [traced.names[n] for n in traced.crossing[node]]
    if len(tensors) > 1:
        why = f"{len(tensors)} tensors cross it ({', '.join(tensors)}), e.g. inside a residual block"
    elif tensors and tensors[0] != traced.names[node]:
        why = f"its output is not used later; '{tensors[0]}' crosses instead"
    else:
        why = "its output is not a single tensor"
    near = " and ".join(s for s in (f"'{before}' before" if before else "", f"'{after}' after" if after else "") if s)
    raise SpecError(f"Cannot cut at '{cut}': {why}. Nearest valid cuts: {near or 'none'}")


def _copy_nodes(src: list[fx.Node], graph: fx.Graph, env: dict[fx.Node, fx.Node]) -> None:
    for n in src:
        env[n] = graph.node_copy(n, lambda a: env[a])


def _gm(root: nn.Module, graph: fx.Graph, name: str) -> fx.GraphModule:
    gm = fx.GraphModule(root, graph, name)
    gm.graph.eliminate_dead_code()
    gm.graph.lint()
    gm.delete_all_unused_submodules()
    gm.recompile()
    return gm


def split_at(traced: TracedModel, node: fx.Node) -> tuple[fx.GraphModule, fx.GraphModule]:
    """(device, cloud) GraphModules around a valid cut node; both share the model's parameters."""
    nodes = list(traced.graph_module.graph.nodes)
    k = nodes.index(node)
    output = nodes[-1]
    root = traced.model

    dev = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    _copy_nodes(nodes[: k + 1], dev, env)
    dev.output(env[node])

    cloud = fx.Graph()
    env = {}
    for n in nodes[: k + 1]:  # parameters read after the cut are fetched again by the cloud half
        if n.op == "get_attr" and any(nodes.index(u) > k for u in n.users):
            env[n] = cloud.node_copy(n, lambda a: env[a])
    feat = cloud.placeholder("features")
    feat.meta = dict(node.meta)
    env[node] = feat
    _copy_nodes([n for n in nodes[k + 1 :] if n is not output], cloud, env)
    cloud.output(fx.map_arg(output.args[0], lambda a: env[a]))
    name = type(root).__name__
    return _gm(root, dev, f"{name}Device"), _gm(root, cloud, f"{name}Cloud")


def warn_if_train_graph_differs(model: nn.Module, traced: TracedModel, node: fx.Node) -> None:
    """torchvision's `_warn_graph_differences`, limited to the device half (eval-mode graph)."""
    was = model.training
    model.train()
    try:
        tracer = _tracer_for(model)
        graph = tracer.trace(model, concrete_args=_concrete_defaults(model))
        train_names = [tracer.qualnames.get(n) for n in graph.nodes
                       if n.op not in ("placeholder", "get_attr", "output")]
    except Exception:  # noqa: BLE001 - a train-only trace failure is a warning, not an error
        train_names = None
    finally:
        model.train(was)
    eval_names = [traced.names[n] for n in traced.order]
    k = eval_names.index(traced.names[node]) + 1
    if train_names is None or train_names[:k] != eval_names[:k]:
        warnings.warn(f"{type(model).__name__}: the train-mode graph differs from the eval-mode graph before "
                      f"'{traced.names[node]}'; the device half follows the eval-mode graph", stacklevel=3)


def graph_split(model: nn.Module, cut: str, example: torch.Tensor | None = None) -> SplitModel:
    """Cut any traceable model at `cut` (a node name, a module path or a named cut); the split keeps
    `cut` as given, the name a bundle's manifest records."""
    example = example if example is not None else example_input(model)
    traced = trace(model, example)
    node = resolve_cut(traced, cut)
    device, cloud = split_at(traced, node)
    warn_if_train_graph_differs(model, traced, node)
    shape = tuple(node.meta["tensor_meta"].shape[1:])
    device.train(model.training)
    cloud.train(model.training)
    return SplitModel(model, device, cloud, cut, tuple(example.shape[1:]), shape)
