"""What every command shares: the console, the one error path, and option types used by several modules."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from hybridsplit.errors import HybridsplitError

# Pipes and CI logs get a fixed, wide layout instead of rich's 80-column default.
console = Console() if sys.stdout.isatty() else Console(width=120)

F = TypeVar("F", bound=Callable[..., Any])


def fail(exc: HybridsplitError) -> NoReturn:
    """Print a user-fixable error as one line and exit 2."""
    console.print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def user_errors(func: F) -> F:
    """Wrap a command so a `HybridsplitError` becomes one `error: ...` line and exit 2 (see `fail`).

    functools.wraps keeps the signature and annotations, which is what typer reads the options from.
    """

    @functools.wraps(func)
    def command(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except HybridsplitError as exc:
            fail(exc)

    return command  # type: ignore[return-value]


def bundle_opt(help_text: str) -> Any:
    """`--bundle/-b`: each command says in its help what it needs from the bundle."""
    return typer.Option("--bundle", "-b", help=help_text)


RecipeOpt = Annotated[Path, typer.Option("--recipe", "-r", help="Recipe TOML file (e.g. recipes/watch.toml).")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override a recipe field, e.g. --set train.epochs=3 (repeatable).")]
