"""Defences that change what the device half sends.

Training-time defences (losses during fine-tuning): `siamese` (contrastive, Osia et al.),
`adversarial` (gradient reversal against a sensitive head), `nopeek` (distance correlation),
`session` (per-subject mean features matched within each primary class, against a pooling cloud).
Deployment-time defences: `pca` or `dca` (a projection folded into the graphs) and `noise` (added at run time).

`apply_defences(split, state)` turns a plain SplitModel into the deployed one, from the
defence state a checkpoint carries in `Checkpoint.extra["defence"]` (None: undefended).
The bundle exporter calls it, so a defended checkpoint exports like any other.
"""

from __future__ import annotations

from hybridsplit.models import SplitModel

DEFENCE_NAMES = ("siamese", "adversarial", "nopeek", "session", "pca", "dca", "noise")


def apply_defences(split: SplitModel, state: dict | None) -> SplitModel:
    if not state:
        return split
    if state.get("pca"):
        from hybridsplit.defences.pca import PCAState, fold_pca

        split = fold_pca(split, PCAState.from_dict(state["pca"]))
    return split


def feature_defence_info(state: dict | None) -> dict:
    """What the manifest's feature spec records: the defences the run was trained with (none for an
    undefended run, whatever its recipe's [defence] section says), pca_dims and run-time noise std."""
    state = state or {}
    return {"defences": list(state.get("methods", [])), "pca_dims": state.get("pca_dims"),
            "noise": float(state.get("noise", 0.0))}
