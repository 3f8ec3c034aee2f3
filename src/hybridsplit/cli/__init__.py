"""The `hybridsplit` command line: `app` (the Typer app) and `main` (the console script).

common.py holds what the commands share (console, the `user_errors` decorator, option types);
one module per stage holds its commands; main.py registers them all.
"""

from hybridsplit.cli.main import app, main

__all__ = ["app", "main"]
