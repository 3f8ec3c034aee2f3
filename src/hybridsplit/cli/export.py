"""`hybridsplit export` (the parity-checked bundle, and its summary tables) and `hybridsplit verify` (sha256)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hybridsplit.cli.common import console, user_errors
from hybridsplit.results.export import ExportReport


@user_errors
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
    from hybridsplit.exporters.session import ExportPlan

    plan = ExportPlan.from_cli(format_, mode, converter)
    manifest = build_bundle(run, out, cut, plan, log=lambda msg: console.print(f"[yellow]{msg}[/yellow]", highlight=False))
    print_bundle_summary(manifest, out)
    print_export_report(ExportReport.load(out), out)


def print_bundle_summary(manifest, out: Path) -> None:
    table = Table(title=f"bundle {out}  (cut {manifest.cut}, protocol {manifest.protocol})")
    for col in ("artifact", "file", "bytes", "test accuracy", "balanced", "max |Δ| vs torch"):
        table.add_column(col, justify="right" if col != "artifact" else "left")
    bal = manifest.balanced_accuracy
    table.add_row("torch_fp32", "-", "-", f"{manifest.accuracy['torch_fp32']:.4f}", _num(bal.get("torch_fp32")), "-")
    for key, art in manifest.artifacts.items():
        acc = manifest.accuracy.get(key)
        par = manifest.parity.get(key)
        table.add_row(key, art.file, f"{manifest.files[art.file].bytes:,}", _num(acc), _num(bal.get(key)),
                      f"{par.max_abs:.2e}" if par else "-")
    console.print(table)
    from hybridsplit.privacy.metrics import recall_warnings

    for line in recall_warnings(manifest.class_recall, manifest.labels, baseline="torch_fp32"):
        console.print(f"[yellow]warning: {line}: accuracy hides it; see the balanced column[/yellow]", highlight=False)
    f = manifest.feature
    console.print(f"features sent per inference: {f.bytes_per_inference} bytes ({f.dtype} {f.shape}) "
                  f"vs raw input {f.raw_input_bytes} bytes (float32 {manifest.input.shape}) "
                  f"= {f.raw_input_bytes / f.bytes_per_inference:.2f}x smaller")


def _num(v: float | None) -> str:
    return f"{v:.4f}" if v is not None else "-"


def print_export_report(report: ExportReport, out: Path) -> None:
    table = Table(title=f"export report ({report.backbone}, cut {report.cut}; torch fp32 accuracy {report.torch_fp32_accuracy:.4f})")
    for col in ("artifact", "format", "mode", "converter", "layout", "bytes", "max |Δ|", "test acc", "balanced", "status"):
        table.add_column(col)
    for r in report.rows:
        table.add_row(r.artifact, r.format, r.mode, r.converter, r.layout or "-", f"{r.bytes:,}" if r.bytes else "-",
                      f"{r.max_abs:.2e}" if r.max_abs is not None else "-", _num(r.accuracy), _num(r.balanced_accuracy),
                      r.status)
    console.print(table)
    for r in report.rows:
        if r.status != "ok" or r.format in ("coreml", "torch"):
            console.print(f"{r.artifact}: {r.status}: {r.message}", highlight=False, soft_wrap=True)
    for name, ratio in report.size_ratios.items():
        console.print(f"{name}: {ratio.larger_bytes:,} / {ratio.smaller_bytes:,} B = {ratio.ratio:.2f}x")
    if report.speed_quant:
        from hybridsplit.exporters.speedcheck import summary_lines

        console.print("[bold]speed / quantisation check[/bold] (this host):")
        for line in summary_lines(report.speed_quant):
            console.print(f"  {line}", highlight=False, soft_wrap=True)
    console.print(f"report written to {out / report.FILE}")


@user_errors
def verify(bundle: Annotated[Path, typer.Option(help="Bundle directory.")] = Path("bundles/default")) -> None:
    """Check every file of a bundle against the sha256 in its manifest."""
    from hybridsplit.bundle.manifest import verify_bundle

    manifest = verify_bundle(bundle)
    console.print(f"{bundle}: {len(manifest.files)} files match their sha256")
