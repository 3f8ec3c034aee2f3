"""Two families of errors, as in ExecuTorch's exir/error.py.

`HybridsplitError` and its subclasses are mistakes the user can fix: the CLI prints the
message as one line and exits with 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class HybridsplitError(Exception):
    """A user-fixable problem. The message is one actionable line."""


class RecipeError(HybridsplitError):
    """The recipe (or a --set override) is invalid."""


class SpecError(HybridsplitError):
    """An unknown registry name, cut point or similar spec."""


class DataError(HybridsplitError):
    """A data file is missing or malformed."""


class CheckpointError(HybridsplitError):
    """A run directory or checkpoint is missing or corrupt."""


class ExportError(HybridsplitError):
    """Conversion failed or an exported artifact failed its parity gate."""


class BundleError(HybridsplitError):
    """A bundle is missing, incomplete or does not match its manifest."""


class TargetError(HybridsplitError):
    """A benchmark or serving target cannot be reached or used."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' Did you mean 'x'?' for the closest choice, or '' when none is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return f" Did you mean '{close[0]}'?" if close else ""
