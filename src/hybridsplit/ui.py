"""Console output shared by the CLI commands."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from hybridsplit.errors import HybridsplitError

# Pipes and CI logs get a fixed, wide layout instead of rich's 80-column default.
console = Console() if sys.stdout.isatty() else Console(width=120)


def fail(exc: HybridsplitError) -> None:
    """Print a user-fixable error as one line and exit 2 (used by every command)."""
    console.print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)
