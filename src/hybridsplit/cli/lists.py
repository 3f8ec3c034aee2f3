"""`hybridsplit list` (backbones, datasets, a backbone's named cuts) and `hybridsplit cuts` (where any model can be cut)."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hybridsplit.cli.common import RecipeOpt, console, user_errors
from hybridsplit.errors import SpecError


class ListWhat(str, Enum):
    backbones = "backbones"
    datasets = "datasets"
    split_points = "split-points"


@user_errors
def list_(
    what: Annotated[ListWhat, typer.Argument(help="What to list.")],
    name: Annotated[str | None, typer.Argument(help="For split-points: the backbone (default: the recipe's).")] = None,
    recipe: RecipeOpt = Path("recipes/watch.toml"),
) -> None:
    """List registered backbones, datasets, or a backbone's cut points (as `hybridsplit cuts` lists them)."""
    from hybridsplit.data import DATASETS
    from hybridsplit.models import BACKBONES

    if what is ListWhat.backbones:
        for n in BACKBONES.names():
            info = BACKBONES.get(n).info
            console.print(f"{n:18} {info.modality:6} default cut {info.default_cut:8} {info.description}")
    elif what is ListWhat.datasets:
        for n in DATASETS.names():
            console.print(n)
    else:
        print_split_points(name, recipe)


def print_split_points(name: str | None, recipe: Path) -> None:
    """A registry backbone's cuts for the recipe's input: the same listing as `hybridsplit cuts`."""
    from hybridsplit.models import BACKBONES
    from hybridsplit.recipe import load_recipe

    r = load_recipe(recipe)
    backbone = name or r.model.backbone
    info = BACKBONES.get(backbone).info
    shape = (6, int(round(r.data.window_s * 50))) if info.modality == "imu" else (3, r.data.image_size, r.data.image_size)
    found, _ = model_cuts(backbone, shape, 10, r.model.width)
    print_cuts(backbone, shape, found, None)


def parse_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(p) for p in text.replace("x", ",").split(",") if p.strip())
    except ValueError:
        shape = ()
    if not shape or any(d <= 0 for d in shape):
        raise SpecError(f"--input-shape '{text}' is not a per-sample shape like 3,224,224")
    return shape


def default_shape(model_name: str) -> tuple[int, ...]:
    from hybridsplit.models import BACKBONES

    if ":" in model_name:
        return (3, 224, 224)
    return (6, 100) if BACKBONES.get(model_name).info.modality == "imu" else (3, 32, 32)


def model_cuts(model_name: str, input_shape: tuple[int, ...], num_classes: int = 10, width: int = 32,
               all_: bool = False):
    """(cuts, model): the model's named cuts if it has any (a registry backbone's stage ends), else
    (or with `all_`) every valid graph cut."""
    from hybridsplit.models import create_backbone, list_split_points

    model = create_backbone(model_name, num_classes, input_shape, width).eval()
    return list_split_points(model, all_=all_), model


def check_cut(found: list, net, cut: str) -> list:
    """The one cut asked for (refused with the reason if it is not a valid cut)."""
    from hybridsplit.models import split_model

    split = split_model(net, cut)  # refuses an invalid cut with the reason
    return [c for c in found if cut in (c.name, *c.ends)] or [
        c for c in found if tuple(c.output_shape) == split.feature_shape][:1]


@user_errors
def cuts(
    model: Annotated[str, typer.Option("--model", "-m", help="torchvision:<name>, timm:<name>, "
                                       "python:<module>:<factory>[@weights] or a registry backbone.")],
    input_shape: Annotated[str | None, typer.Option(help="Per-sample input shape, e.g. 3,224,224 "
                                                    "(default 3,224,224 for specs).")] = None,
    num_classes: Annotated[int, typer.Option(help="Classifier size to build the model with.")] = 10,
    width: Annotated[int, typer.Option(help="Base width (registry backbones, python: factories).")] = 32,
    cut: Annotated[str | None, typer.Option(help="Check one cut: print it, or why it is refused.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the cuts as JSON (for sweeps).")] = False,
    all_: Annotated[bool, typer.Option("--all", help="Also list no-op nodes (nn.Identity, dropout, drop-path), "
                                       "which send the same tensor as the node before them, and, for a "
                                       "registry backbone, every graph cut inside its stages.")] = False,
) -> None:
    """List the valid cut points of a model: output shape, bytes sent, cumulative device MACs.

    Names are printed whole (long ones wrap); no-op nodes are hidden unless --all."""
    shape = parse_shape(input_shape) if input_shape else default_shape(model)
    found, net = model_cuts(model, shape, num_classes, width, all_=all_ or cut is not None)
    if cut is not None:
        found = check_cut(found, net, cut)
    elif not all_:
        found = [c for c in found if not c.noop]
    if as_json:
        print_cuts_json(model, shape, found)
    else:
        print_cuts(model, shape, found, cut)


def print_cuts_json(model: str, shape: tuple[int, ...], found: list) -> None:
    rows = [{"cut": c.name, "aliases": list(c.ends), "noop": c.noop, "output_shape": list(c.output_shape),
             "bytes_fp32": c.bytes_fp32, "bytes_int8": c.numel, "device_macs": c.macs,
             "total_macs": c.total_macs, "device_params": c.device_params} for c in found]
    print(json.dumps({"model": model, "input_shape": list(shape), "cuts": rows}, indent=1))


def print_cuts(model: str, shape: tuple[int, ...], found: list, cut: str | None) -> None:
    total = found[0].total_macs if found else 0
    table = Table(title=f"valid cuts of {model} for input {list(shape)}  (total {total / 1e6:.1f} M MACs; "
                  "random weights)")
    for col in ("#", "cut", "also", "output shape", "fp32 bytes", "int8 bytes", "device MACs", "% MACs",
                "device params"):
        left = col in ("cut", "also", "output shape")  # names wrap whole, never cut to '…'
        table.add_column(col, justify="left" if left else "right", overflow="fold" if left else "ellipsis",
                         min_width=len(col))
    for i, c in enumerate(found):
        table.add_row(str(i), c.name, ", ".join(c.ends[:2]), str(list(c.output_shape)), f"{c.bytes_fp32:,}",
                      f"{c.numel:,}", f"{c.macs:,}", f"{100 * c.macs / max(total, 1):.1f}",
                      f"{c.device_params:,}")
    console.print(table)
    if cut is None:
        console.print("cut inside a residual block or any point where several tensors cross is refused; "
                      "use a name above (or a module it ends) as model.cut / --cut")
