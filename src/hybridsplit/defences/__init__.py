"""Defences that change what the device half sends.

`apply_defences(split, state)` turns a plain SplitModel into the deployed one, from the
defence state a checkpoint carries in `Checkpoint.extra["defence"]` (None: undefended).
The bundle exporter calls it, so a defended checkpoint exports like any other.
"""

from __future__ import annotations

from hybridsplit.models import SplitModel


def apply_defences(split: SplitModel, state: dict | None) -> SplitModel:
    if not state:
        return split
    raise NotImplementedError("defence state present but no defence is implemented yet")


def feature_defence_info(state: dict | None) -> dict:
    """What the manifest's feature spec records: pca_dims and run-time noise std."""
    state = state or {}
    return {"pca_dims": state.get("pca_dims"), "noise": float(state.get("noise", 0.0))}
