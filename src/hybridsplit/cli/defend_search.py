"""`hybridsplit defend --max-attacker X`: the defence search, its frontier table and the chosen setting."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from hybridsplit.cli.common import console
from hybridsplit.errors import RecipeError


def _floats(text: str | None, what: str, cast=float) -> tuple | None:
    if not text:
        return None
    try:
        values = tuple(cast(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise RecipeError(f"--{what} '{text}' is not a comma-separated list of numbers") from None
    if not values or any(v < 0 for v in values):
        raise RecipeError(f"--{what} '{text}': give one or more values >= 0")
    return values


def run_search(run: Path, recipe_path: Path | None, out: Path, set_: list[str] | None, max_attacker: float,
               budget: int, seeds: int, siamese: str | None, pca: str | None, noise: str | None, quiet: bool,
               adversarial: str | None = None, projection: str | None = None) -> None:
    from hybridsplit.checkpoint import Checkpoint
    from hybridsplit.defences.search import NOISE_GRID, SearchConfig, search
    from hybridsplit.recipe import apply_overrides, load_recipe, recipe_from_dict

    if recipe_path is not None:
        recipe = load_recipe(recipe_path, set_)
    else:  # the run's own recipe; its [defence] section is optional
        raw = Checkpoint.load(run).recipe.model_dump(mode="json")
        recipe = recipe_from_dict(apply_overrides(raw, set_ or []), source=f"{run} recipe")
    pcas = _floats(pca, "pca", int)
    if pcas and min(pcas) < 1:
        raise RecipeError(f"--pca '{pca}': PCA dims are at least 1")
    projections = tuple(v.strip() for v in projection.split(",") if v.strip()) if projection else None
    if projections is not None and (not projections or set(projections) - {"pca", "dca"}):
        raise RecipeError(f"--projection '{projection}': give pca, dca or pca,dca")
    cfg = SearchConfig(max_attacker=max_attacker, siamese=_floats(siamese, "siamese"), pca=pcas, projection=projections,
                       adversarial=_floats(adversarial, "adversarial"),
                       noise=_floats(noise, "noise") or NOISE_GRID, budget=budget, seeds=seeds,
                       threads=recipe.train.threads, show_progress=not quiet,
                       log=(lambda m: None) if quiet else (lambda m: console.print(m, highlight=False)))
    result = search(run, recipe, out, cfg)
    print_result(result)
    if not result.met:
        console.print(f"[bold red]error:[/bold red] {result.message}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def print_result(result) -> None:
    front = {id(p) for p in result.frontier()}
    table = Table(title=f"defence search: best attacker <= {result.max_attacker:g} (chance {result.chance:.3f}), "
                  "int8 device.tflite", title_justify="left")
    for col in ("siamese", "adversarial", "projection", "σ", "primary", "balanced", "best attacker", "meets X", "frontier"):
        table.add_column(col, justify="left" if col in ("best attacker",) else "right")
    for p in sorted(result.points, key=lambda p: (p.best_attack_accuracy, -p.primary_accuracy)):
        s = p.settings
        mark = " (chosen)" if result.chosen is not None and p == result.chosen else ""
        table.add_row(f"{s.siamese:g}", f"{s.adversarial:g}", s.projection_text, f"{s.noise:g}", f"{p.primary_accuracy:.4f}",
                      f"{p.primary_balanced_accuracy:.4f}", f"{p.best_attack_accuracy:.3f} {p.best_attack}",
                      "yes" if p.met else "no", ("*" if id(p) in front else "") + mark)
    console.print(table)
    console.print(f"undefended test accuracy {result.undefended_accuracy:.4f} (torch, metrics.json); "
                  f"{len(result.finetunes)} fine-tunes; {result.seconds:.0f} s", highlight=False)
    if result.spread is not None:
        s, sp = result.chosen.settings, result.spread
        console.print(f"chosen: siamese {s.siamese:g}, adversarial {s.adversarial:g}, {s.projection_text}, "
                      f"σ {s.noise:g}; re-trained at σ {s.noise:g} "
                      f"over seeds {sp.seeds} on each run's own int8 artifact: primary "
                      f"{sp.primary_accuracy.mean:.4f} [{sp.primary_accuracy.min:.4f}, {sp.primary_accuracy.max:.4f}], "
                      f"best attacker {sp.best_attack_accuracy.mean:.3f} [{sp.best_attack_accuracy.min:.3f}, "
                      f"{sp.best_attack_accuracy.max:.3f}]", highlight=False)
        first = result.verified[0]
        console.print(f"defended run written to {result.out} (seed {first.seed}: primary {first.primary_accuracy:.4f}, "
                      f"best attacker {first.best_attack_accuracy:.3f} {first.best_attack}); "
                      f"frontier in {Path(result.out) / 'defence_search.json'}", highlight=False)
