"""Sub-commands beyond the core ones in cli.py: each module here defines `register(app)`.

Every area (privacy, bench, serve, ...) adds its commands in its own module, so cli.py stays
a thin list. Modules must import heavy libraries inside their command functions.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer


def register_all(app: typer.Typer) -> None:
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{mod.name}")
        module.register(app)
