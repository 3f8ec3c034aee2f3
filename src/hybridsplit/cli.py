"""The `hybridsplit` command: one thin sub-command per stage (parse, call, print)."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hybridsplit.commands import register_all
from hybridsplit.errors import HybridsplitError
from hybridsplit.ui import console, fail

app = typer.Typer(
    help="Privacy-preserving split inference: cut a network in two, train, export the device half "
    "to TFLite, check parity, benchmark and serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # help texts are plain: `[defence]` is a word, not Rich markup
)

RecipeOpt = Annotated[Path, typer.Option("--recipe", "-r", help="Recipe TOML file (e.g. recipes/watch.toml).")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override a recipe field, e.g. --set train.epochs=3 (repeatable).")]


@app.command()
def train(
    recipe: RecipeOpt = Path("recipes/watch.toml"),
    out: Annotated[Path, typer.Option(help="Run directory to write checkpoint.pt and metrics.json into.")] = Path("runs/default"),
    set_: SetOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Train the undefended split model of a recipe and write a checkpoint."""
    from hybridsplit.data import build_data
    from hybridsplit.recipe import load_recipe
    from hybridsplit.train import train as run_training

    try:
        r = load_recipe(recipe, set_)
        data = build_data(r.data, r.seed)
        console.print(f"data: {len(data.train)} train / {len(data.test)} test windows, protocol={data.protocol}")
        _, ckpt = run_training(r, data, show_progress=not quiet)
        path = ckpt.save(out)
    except HybridsplitError as exc:
        fail(exc)
    console.print(f"test accuracy {ckpt.metrics['test_accuracy']:.4f}; checkpoint written to {path}")


@app.command()
def export(
    run: Annotated[Path, typer.Option(help="Run directory written by `hybridsplit train`.")] = Path("runs/default"),
    out: Annotated[Path, typer.Option(help="Bundle directory to write (replaced atomically on success).")] = Path("bundles/default"),
    cut: Annotated[str | None, typer.Option(help="Cut point to export at, overriding the recipe's model.cut.")] = None,
    format_: Annotated[list[str] | None, typer.Option("--format", "-f", help="tflite (default), coreml, onnx, pte, or all (every format x mode x converter, writes export_report.json). Repeatable or comma-separated.")] = None,
    mode: Annotated[list[str] | None, typer.Option("--mode", "-m", help="Extra TFLite modes: fp16, dynamic_int8, int8_per_tensor, int16x8 (int8 and fp32 are always written).")] = None,
    converter: Annotated[str, typer.Option(help="TFLite route: auto (litert-torch, onnx2tf fallback), litert-torch, onnx2tf.")] = "auto",
) -> None:
    """Export the device half (TFLite int8 + fp32, and any asked format) and cloud half (ONNX) as a parity-checked bundle."""
    from hybridsplit.exporters.bundle import build_bundle
    from hybridsplit.exporters.report import load_report
    from hybridsplit.exporters.session import ExportPlan

    try:
        plan = ExportPlan.from_cli(format_, mode, converter)
        manifest = build_bundle(run, out, cut, plan, log=lambda msg: console.print(f"[yellow]{msg}[/yellow]", highlight=False))
    except HybridsplitError as exc:
        fail(exc)
    print_bundle_summary(manifest, out)
    print_export_report(load_report(out), out)


def print_bundle_summary(manifest, out: Path) -> None:
    table = Table(title=f"bundle {out}  (cut {manifest.cut}, protocol {manifest.protocol})")
    for col in ("artifact", "file", "bytes", "test accuracy", "max |Δ| vs torch"):
        table.add_column(col, justify="right" if col != "artifact" else "left")
    table.add_row("torch_fp32", "-", "-", f"{manifest.accuracy['torch_fp32']:.4f}", "-")
    for key, art in manifest.artifacts.items():
        acc = manifest.accuracy.get(key)
        par = manifest.parity.get(key)
        table.add_row(key, art.file, f"{manifest.files[art.file].bytes:,}",
                      f"{acc:.4f}" if acc is not None else "-", f"{par.max_abs:.2e}" if par else "-")
    console.print(table)
    f = manifest.feature
    console.print(f"features sent per inference: {f.bytes_per_inference} bytes ({f.dtype} {f.shape}) "
                  f"vs raw input {f.raw_input_bytes} bytes (float32 {manifest.input.shape}) "
                  f"= {f.raw_input_bytes / f.bytes_per_inference:.2f}x smaller")


def print_export_report(report: dict, out: Path) -> None:
    table = Table(title=f"export report ({report['backbone']}, cut {report['cut']}; torch fp32 accuracy {report['torch_fp32_accuracy']:.4f})")
    for col in ("artifact", "format", "mode", "converter", "layout", "bytes", "max |Δ|", "test acc", "status"):
        table.add_column(col)
    for r in report["rows"]:
        table.add_row(r["artifact"], r["format"], r["mode"], r["converter"], r["layout"] or "-",
                      f"{r['bytes']:,}" if r["bytes"] else "-", f"{r['max_abs']:.2e}" if r["max_abs"] is not None else "-",
                      f"{r['accuracy']:.4f}" if r["accuracy"] is not None else "-", r["status"])
    console.print(table)
    for r in report["rows"]:
        if r["status"] != "ok" or r["format"] in ("coreml", "torch"):
            console.print(f"{r['artifact']}: {r['status']}: {r['message']}", highlight=False, soft_wrap=True)
    for name, ratio in report["size_ratios"].items():
        console.print(f"{name}: {ratio['larger_bytes']:,} / {ratio['smaller_bytes']:,} B = {ratio['ratio']:.2f}x")
    console.print(f"report written to {out / 'export_report.json'}")


@app.command()
def verify(bundle: Annotated[Path, typer.Option(help="Bundle directory.")] = Path("bundles/default")) -> None:
    """Check every file of a bundle against the sha256 in its manifest."""
    from hybridsplit.bundle.manifest import verify_bundle

    try:
        manifest = verify_bundle(bundle)
    except HybridsplitError as exc:
        fail(exc)
    console.print(f"{bundle}: {len(manifest.files)} files match their sha256")


class ListWhat(str, Enum):
    backbones = "backbones"
    datasets = "datasets"
    split_points = "split-points"


@app.command("list")
def list_(
    what: Annotated[ListWhat, typer.Argument(help="What to list.")],
    name: Annotated[str | None, typer.Argument(help="For split-points: the backbone (default: the recipe's).")] = None,
    recipe: RecipeOpt = Path("recipes/watch.toml"),
) -> None:
    """List registered backbones, datasets, or a backbone's cut points."""
    from hybridsplit.data import DATASETS
    from hybridsplit.models import BACKBONES, create_backbone, list_split_points

    try:
        if what is ListWhat.backbones:
            for n in BACKBONES.names():
                info = BACKBONES.get(n).info
                console.print(f"{n:18} {info.modality:6} default cut {info.default_cut:8} {info.description}")
        elif what is ListWhat.datasets:
            for n in DATASETS.names():
                console.print(n)
        else:
            from hybridsplit.recipe import load_recipe

            r = load_recipe(recipe)
            backbone = name or r.model.backbone
            info = BACKBONES.get(backbone).info
            shape = (6, int(round(r.data.window_s * 50))) if info.modality == "imu" else (3, r.data.image_size, r.data.image_size)
            model = create_backbone(backbone, 10, shape, r.model.width)
            table = Table(title=f"cut points of {backbone} for input {list(shape)}")
            for col in ("cut", "output shape", "fp32 bytes", "int8 bytes", "device params"):
                table.add_column(col)
            for p in list_split_points(model):
                table.add_row(p.name, str(list(p.output_shape)), str(4 * p.numel), str(p.numel), f"{p.device_params:,}")
            console.print(table)
    except HybridsplitError as exc:
        fail(exc)


register_all(app)


def main() -> None:
    try:
        app()
    except HybridsplitError as exc:  # safety net: library errors are one line, exit 2
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
