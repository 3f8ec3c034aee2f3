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


FloatsOpt = Annotated[str | None, typer.Option(help="Comma-separated values to search (with --max-attacker).")]


@user_errors
def defend(
    run: Annotated[Path, typer.Option(help="Undefended run directory (from `hybridsplit train`).")] = Path("runs/default"),
    recipe: Annotated[Path | None, typer.Option(
        "--recipe", "-r", help="Recipe with a [defence] section. Default: recipes/watch_defended.toml; with "
        "--max-attacker: the run's own recipe, its [defence] optional.")] = None,
    out: Annotated[Path, typer.Option(help="Run directory for the defended checkpoint.")] = Path("runs/defended"),
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a recipe field, e.g. --set defence.noise.std=1.0.")] = None,
    max_attacker: Annotated[float | None, typer.Option(
        help="Search the defence settings for the least primary-accuracy loss with the best attacker <= this on "
        "the exported int8 artifact; writes OUT/defence_search.json.")] = None,
    budget: Annotated[int, typer.Option(min=1, help="Search: fine-tunes to explore (each one exported).")] = 3,
    seeds: Annotated[int, typer.Option(min=1, help="Search: fine-tuning seeds for the chosen setting (spread).")] = 3,
    siamese: FloatsOpt = None,
    adversarial: Annotated[str | None, typer.Option(
        help="Search: comma-separated adversary weights (gradient reversal against the sensitive label).")] = None,
    pca: Annotated[str | None, typer.Option(help="Search: comma-separated PCA dims to fine-tune with.")] = None,
    projection: Annotated[str | None, typer.Option(
        help="Search: pca, dca or pca,dca (DCA: the primary classes - 1 discriminant directions; default: the "
        "recipe's, then DCA, then fewer PCA dims).")] = None,
    noise: Annotated[str | None, typer.Option(help="Search: comma-separated noise σ swept on each artifact.")] = None,
    quiet: QuietOpt = False,
) -> None:
    """Fine-tune a defended checkpoint from an undefended run (siamese / adversarial / nopeek, PCA, noise),
    or with --max-attacker search the defence settings for the least accuracy loss that meets it."""
    if max_attacker is not None:
        from hybridsplit.cli.defend_search import run_search

        run_search(run, recipe, out, set_, max_attacker, budget, seeds, siamese, pca, noise, quiet, adversarial,
                   projection)
        return
    from hybridsplit.checkpoint import Checkpoint
    from hybridsplit.data import build_data
    from hybridsplit.defences.finetune import defend as run_defend
    from hybridsplit.defences.finetune import require_active
    from hybridsplit.recipe import load_recipe

    r = load_recipe(recipe or Path("recipes/watch_defended.toml"), set_)
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
