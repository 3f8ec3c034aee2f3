"""Bring your own model: `torchvision:<name>`, `timm:<name>`, `python:<module>:<factory>`.

A spec is parsed like timm's `parse_model_name`: an optional `source:` prefix, then the name,
then optional constructor arguments after `?` (`timm:efficientformerv2_s0?img_size=64`, several
joined by `&`; values are read as Python literals: ints, floats, True/False, None, else text),
then an optional local weights file after `@` (`timm:resnet18?drop_rate=0.1@weights/r18.pth`).
Nothing is downloaded: models are built with random weights unless a local weights file is given.
Every built model is run once on a zero input of the asked shape, so a shape it cannot take is
refused in one line (naming `?img_size=` when the constructor has it).

torchvision and timm are optional. The only torchvision wheels reachable here are CUDA builds,
whose `_C` extension cannot load beside the CPU torch; `import_torchvision()` then defines the
two op schemas torchvision's import needs (`torchvision::nms`, `torchvision::qnms`) and imports
again, so models and transforms work (the detection ops' kernels do not).
"""

from __future__ import annotations

import ast
import difflib
import importlib
import inspect
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hybridsplit.errors import SpecError
from hybridsplit.models.info import BackboneInfo

SOURCES = ("torchvision", "timm", "python")
INSTALL_HINT = "pip install -r requirements/extra-byom.txt"
_TV_SHIM: list[torch.library.Library] = []  # kept alive: the schema library must outlive the import


@dataclass(frozen=True)
class ModelSpec:
    source: str
    """'torchvision', 'timm' or 'python'."""
    name: str
    """Model name, or for `python:` the factory's name."""
    module: str | None = None
    """For `python:` only: the importable module holding the factory."""
    weights: str | None = None
    """Optional local weights file (state dict, .pt/.pth/.safetensors)."""
    kwargs: tuple[tuple[str, Any], ...] = ()
    """Constructor arguments from `?k=v&k2=v2`, in the order given."""

    def __str__(self) -> str:
        base = f"{self.source}:{self.module}:{self.name}" if self.module else f"{self.source}:{self.name}"
        if self.kwargs:
            base += "?" + "&".join(f"{k}={v}" for k, v in self.kwargs)
        return f"{base}@{self.weights}" if self.weights else base


def is_model_spec(name: str) -> bool:
    """True for `source:...` specs; plain names are hybridsplit's own registry backbones."""
    return ":" in name


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_kwargs(spec: str, text: str) -> tuple[tuple[str, Any], ...]:
    """`k=v&k2=v2` -> ((k, literal(v)), ...); a part without `=` or a bad name is refused."""
    out = []
    for part in (p for p in text.split("&") if p.strip()):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise SpecError(f"Model spec '{spec}': constructor argument '{part}' is not name=value "
                            "(e.g. timm:efficientformerv2_s0?img_size=64)")
        out.append((key, _literal(value.strip())))
    return tuple(out)


def parse_model_spec(spec: str) -> ModelSpec:
    text, _, weights = spec.strip().partition("@")
    text, qmark, args = text.partition("?")
    kwargs = parse_kwargs(spec, args) if qmark else ()
    source, sep, rest = text.partition(":")
    if not sep or source not in SOURCES:
        close = difflib.get_close_matches(source, SOURCES, n=1, cutoff=0.5)
        hint = f" Did you mean '{close[0]}:{rest}'?" if close and sep else ""
        raise SpecError(
            f"Model spec '{spec}' has an unknown source '{source}'.{hint} Write torchvision:<name>, "
            "timm:<name> or python:<module>:<factory>, optionally followed by @<local weights file>"
        )
    if weights == "" and spec.strip().endswith("@"):
        raise SpecError(f"Model spec '{spec}' ends in '@' without a weights file; drop the '@' or name the file")
    if source == "python":
        module, sep, factory = rest.rpartition(":")
        if not sep or not module or not factory:
            raise SpecError(f"Model spec '{spec}': write python:<module>:<factory>, e.g. python:my_models:tiny_resnet")
        return ModelSpec("python", factory, module, weights or None, kwargs)
    if not rest:
        raise SpecError(f"Model spec '{spec}' names no model; e.g. {source}:resnet18")
    return ModelSpec(source, rest, None, weights or None, kwargs)


# ---------------------------------------------------------------------------------------------
# optional dependencies


def import_torchvision():
    """Import torchvision; on the CPU torch, define the op schemas its import registers fakes for."""
    if "torchvision" in sys.modules and hasattr(sys.modules["torchvision"], "models"):
        return sys.modules["torchvision"]
    try:
        import torchvision

        return torchvision
    except ImportError:
        raise SpecError(f"torchvision is not installed; {INSTALL_HINT}") from None
    except RuntimeError as exc:
        if "torchvision::" not in str(exc):
            raise
    # The CUDA-built _C failed to load (it links libtorch_cuda); give torchvision the schemas
    # its _meta_registrations expect, then import again from scratch.
    for key in [k for k in sys.modules if k == "torchvision" or k.startswith("torchvision.")]:
        del sys.modules[key]
    if not _TV_SHIM:
        lib = torch.library.Library("torchvision", "FRAGMENT")
        for op in ("nms", "qnms"):
            try:
                lib.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
            except RuntimeError:  # already defined by someone else
                pass
        _TV_SHIM.append(lib)
    import torchvision

    return torchvision


def import_timm():
    import_torchvision()  # timm imports torchvision (transforms)
    try:
        import timm
    except ImportError:
        raise SpecError(f"timm is not installed; {INSTALL_HINT}") from None
    return timm


def _close(name: str, choices: list[str], n: int = 3) -> str:
    close = difflib.get_close_matches(name, choices, n=n, cutoff=0.5)
    if not close:  # substring hits help for family names (e.g. 'mobilenet')
        close = [c for c in choices if name.lower() in c.lower()][:n]
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def torchvision_names() -> list[str]:
    tv = import_torchvision()
    return sorted(tv.models.list_models(module=tv.models))


def timm_names() -> list[str]:
    return sorted(import_timm().list_models())


# ---------------------------------------------------------------------------------------------
# building


def _drop_unaccepted(fn, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Keep only the kwargs `fn` accepts (timm drops None kwargs for the same reason)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return kwargs
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return kwargs
    return {k: v for k, v in kwargs.items() if k in params}


def _check_image_shape(spec: ModelSpec, input_shape: tuple[int, ...]) -> None:
    if len(input_shape) != 3:
        raise SpecError(
            f"'{spec}' takes images (C,H,W) but the data gives per-sample shape {tuple(input_shape)}; "
            "use an image dataset or a python: model built for this input"
        )


def _construct(spec: ModelSpec, fn, *args, **kwargs) -> nn.Module:
    """Call a model constructor with the spec's `?k=v` arguments; a rejected argument is one line."""
    try:
        return fn(*args, **{**kwargs, **dict(spec.kwargs)})
    except TypeError as exc:
        if not spec.kwargs:
            raise
        raise SpecError(f"'{spec}' cannot be built with {dict(spec.kwargs)}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def check_runs(model: nn.Module, spec: ModelSpec, input_shape: tuple[int, ...]) -> None:
    """Run the model once (eval, batch 1, zeros) so a shape it cannot take is one clear line."""
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros((1, *input_shape)))
    except Exception as exc:  # noqa: BLE001 - any failure here means this shape does not fit
        hint = " or pass the size the model is built for, e.g. ?img_size=" + str(input_shape[-1]) \
            if spec.source == "timm" and "img_size" not in dict(spec.kwargs) else ""
        raise SpecError(f"'{spec}' cannot run on input {list(input_shape)} ({type(exc).__name__}: "
                        f"{_first_line(exc)}); use another --input-shape / data.image_size{hint}") from None
    finally:
        model.train(was)


def _build_torchvision(spec: ModelSpec, num_classes: int, input_shape: tuple[int, ...]) -> nn.Module:
    _check_image_shape(spec, input_shape)
    names = torchvision_names()
    if spec.name not in names:
        raise SpecError(f"Unknown torchvision model '{spec.name}'.{_close(spec.name, names)} "
                        "See torchvision.models.list_models()")
    if input_shape[0] != 3:
        raise SpecError(f"torchvision:{spec.name} takes 3-channel images; the data gives {input_shape[0]} channels")
    tv = import_torchvision()
    return _construct(spec, tv.models.get_model, spec.name, weights=None, num_classes=num_classes)


def _build_timm(spec: ModelSpec, num_classes: int, input_shape: tuple[int, ...]) -> nn.Module:
    _check_image_shape(spec, input_shape)
    timm = import_timm()
    arch = spec.name.split(".")[0]  # 'arch.tag': the tag names pretrained weights, which we never fetch
    if not timm.is_model(arch):
        raise SpecError(f"Unknown timm model '{spec.name}'.{_close(arch, timm_names())} See timm.list_models()")
    return _construct(spec, timm.create_model, arch, pretrained=False, num_classes=num_classes,
                      in_chans=input_shape[0])


def _build_python(spec: ModelSpec, num_classes: int, input_shape: tuple[int, ...], width: int) -> nn.Module:
    try:
        mod = importlib.import_module(spec.module)
    except ModuleNotFoundError as exc:
        if exc.name and spec.module.startswith(exc.name):
            raise SpecError(f"Cannot import module '{spec.module}' for '{spec}'; put it on PYTHONPATH "
                            "or install its package") from None
        raise
    fn = getattr(mod, spec.name, None)
    if fn is None or not callable(fn):
        public = [n for n, v in vars(mod).items() if callable(v) and not n.startswith("_")]
        raise SpecError(f"Module '{spec.module}' has no factory '{spec.name}'.{_close(spec.name, public)}")
    kwargs = _drop_unaccepted(fn, {"num_classes": num_classes, "input_shape": tuple(input_shape), "width": width})
    model = _construct(spec, fn, **kwargs)
    if not isinstance(model, nn.Module):
        raise SpecError(f"'{spec}' returned {type(model).__name__}, not a torch.nn.Module")
    return model


def _load_weights(model: nn.Module, spec: ModelSpec) -> None:
    path = Path(spec.weights)
    if not path.is_file():
        raise SpecError(f"Weights file '{path}' for '{spec}' does not exist (weights are never downloaded)")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any decode failure is a bad file
        raise SpecError(f"Weights file '{path}' cannot be read ({type(exc).__name__}); "
                        "give a state dict saved with torch.save or safetensors") from None
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise SpecError(f"Weights file '{path}' holds {type(state).__name__}, not a state dict")
    own = model.state_dict()
    # A classifier sized for another label set (e.g. ImageNet's 1000) is skipped, as timm does.
    skipped = [k for k, v in state.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    state = {k: v for k, v in state.items() if k not in skipped}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if k not in skipped]
    if missing or unexpected:
        what = (f"missing {missing[:3]}" if missing else "") + (f" unexpected {unexpected[:3]}" if unexpected else "")
        raise SpecError(f"Weights file '{path}' does not fit '{spec}': {what.strip()}")
    if skipped:
        warnings.warn(f"{spec}: kept random init for {len(skipped)} tensor(s) of another shape "
                      f"({', '.join(skipped[:4])})", stacklevel=3)


def build_from_spec(spec: str | ModelSpec, num_classes: int, input_shape: tuple[int, ...],
                    width: int = 32) -> nn.Module:
    """Build the model a spec names, with random weights (or its local weights file).

    The model gets an `input_shape` attribute (per-sample), which the splitter uses to trace it.
    `width` is passed only to `python:` factories that accept it.
    """
    spec = parse_model_spec(spec) if isinstance(spec, str) else spec
    if spec.source == "torchvision":
        model = _build_torchvision(spec, num_classes, input_shape)
    elif spec.source == "timm":
        model = _build_timm(spec, num_classes, input_shape)
    else:
        model = _build_python(spec, num_classes, input_shape, width)
    if spec.weights:
        _load_weights(model, spec)
    check_runs(model, spec, tuple(input_shape))
    model.input_shape = tuple(input_shape)
    model.backbone_spec = str(spec)
    return model


class SpecFactory:
    """Registry-compatible factory for a spec, so `BACKBONES.get('timm:resnet18')` works."""

    def __init__(self, spec: str):
        self.spec = parse_model_spec(spec)
        self.__name__ = str(self.spec)

    @property
    def info(self):
        modality = "image"
        if self.spec.source == "python":  # a factory may carry its own BackboneInfo
            try:
                fn = getattr(importlib.import_module(self.spec.module), self.spec.name, None)
                modality = getattr(getattr(fn, "info", None), "modality", "image")
            except ImportError:
                pass
        return BackboneInfo(modality, "", f"{self.spec} (see `hybridsplit cuts --model {self.spec}`)")

    def __call__(self, num_classes: int, input_shape: tuple[int, ...], width: int = 32) -> nn.Module:
        return build_from_spec(self.spec, num_classes, input_shape, width)
