"""Console output shared by the CLI commands."""

from __future__ import annotations

import typer
from rich.console import Console

from hybridsplit.errors import HybridsplitError

console = Console()


def fail(exc: HybridsplitError) -> None:
    """Print a user-fixable error as one line and exit 2 (used by every command)."""
    console.print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)
