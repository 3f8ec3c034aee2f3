"""`hybridsplit train` (the undefended split model) and `hybridsplit defend` (fine-tune a defended run)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hybridsplit.cli.common import RecipeOpt, SetOpt, console, user_errors

QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


@user_errors
def train(
    recipe: RecipeOpt = Path("recipes/watch.toml"),
    out: Annotated[Path, typer.Option(help="Run directory to write checkpoint.pt and metrics.json into.")] = Path("runs/default"),
    set_: SetOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Train the undefended split model of a recipe and write a checkpoint."""
    from hybridsplit.data import build_data
    from hybridsplit.recipe import load_recipe
    from hybridsplit.train import train as run_training

    r = load_recipe(recipe, set_)
    data = build_data(r.data, r.seed)
    console.print(f"data: {len(data.train)} train / {len(data.test)} test {data.unit}s, protocol={data.protocol}")
    _, ckpt = run_training(r, data, show_progress=not quiet)
    path = ckpt.save(out)
    console.print(f"test accuracy {ckpt.metrics['test_accuracy']:.4f}; checkpoint written to {path}")


@user_errors
def defend(
    run: Annotated[Path, typer.Option(help="Undefended run directory (from `hybridsplit train`).")] = Path("runs/default"),
    recipe: Annotated[Path, typer.Option("--recipe", "-r", help="Recipe with a [defence] section.")] = Path("recipes/watch_defended.toml"),
    out: Annotated[Path, typer.Option(help="Run directory for the defended checkpoint.")] = Path("runs/defended"),
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a recipe field, e.g. --set defence.noise.std=1.0.")] = None,
    quiet: QuietOpt = False,
) -> None:
    """Fine-tune a defended checkpoint from an undefended run (siamese / adversarial / nopeek, PCA, noise)."""
    from hybridsplit.checkpoint import Checkpoint
    from hybridsplit.data import build_data
    from hybridsplit.defences.finetune import defend as run_defend
    from hybridsplit.defences.finetune import require_active
    from hybridsplit.recipe import load_recipe

    r = load_recipe(recipe, set_)
    require_active(r)
    base = Checkpoint.load(run)
    data = build_data(r.data, r.seed)
    console.print(f"defences: {', '.join(r.defence.active()) or 'none'}; base run {run}")
    ckpt = run_defend(base, r, data, show_progress=not quiet)
    path = ckpt.save(out)
    mt = ckpt.metrics
    u = mt.get("units", {})
    if u.get("units") == "spread":
        console.print(f"units: feature spread {u['spread']['sample']:.4g} per sample, {u['spread']['value']:.4g} per value; "
                      f"siamese margin {u['siamese_margin']:.4g}, noise σ {u['noise_std']:.4g} in feature units")
    console.print(f"test accuracy {mt['test_accuracy']:.4f} (with run-time noise {mt['test_accuracy_noisy']:.4f}; "
                  f"undefended {mt['base_test_accuracy']:.4f}); checkpoint written to {path}")
