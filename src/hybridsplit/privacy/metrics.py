"""Primary utility beyond plain accuracy: balanced accuracy, per-class recall, and the check that
flags a class whose recall collapsed (a model that drops a minority class can keep a high accuracy)."""

from __future__ import annotations

import numpy as np

COLLAPSE_RECALL = 0.5
"""A class recalled below this (half its examples wrong) has collapsed."""
COLLAPSE_DROP = 0.10
"""... or one recalled this far (10 points) below the undefended model."""


def class_scores(pred: np.ndarray, labels: np.ndarray, num_classes: int) -> dict:
    """{'accuracy', 'balanced_accuracy', 'recall': [per class, None for a class absent from labels]}."""
    pred, labels = np.asarray(pred), np.asarray(labels)
    recall: list[float | None] = []
    for c in range(num_classes):
        mask = labels == c
        recall.append(float((pred[mask] == c).mean()) if mask.any() else None)
    present = [r for r in recall if r is not None]
    return {"accuracy": float((pred == labels).mean()),
            "balanced_accuracy": float(np.mean(present)) if present else 0.0, "recall": recall}


def collapsed_classes(recall: list[float | None], baseline: list[float | None] | None = None) -> list[int]:
    """Indices of classes recalled below COLLAPSE_RECALL, or COLLAPSE_DROP below the baseline's recall."""
    out = []
    for c, r in enumerate(recall):
        if r is None:
            continue
        ref = baseline[c] if baseline is not None and c < len(baseline) else None
        if r < COLLAPSE_RECALL or (ref is not None and r < ref - COLLAPSE_DROP - 1e-12):
            out.append(c)
    return out


def recall_warnings(recalls: dict[str, list[float | None]], names: list[str], baseline: str = "undefended") -> list[str]:
    """One line per model whose recall collapsed on some class, naming the classes and their recall."""
    ref = recalls.get(baseline)
    lines = []
    for model, recall in recalls.items():
        bad = collapsed_classes(recall, None if model == baseline else ref)
        if bad:
            parts = ", ".join(f"{names[c] if c < len(names) else c} {recall[c]:.3f}"
                              + (f" ({baseline} {ref[c]:.3f})" if ref and model != baseline and ref[c] is not None else "")
                              for c in bad)
            lines.append(f"{model}: primary recall collapsed on {parts}")
    return lines
