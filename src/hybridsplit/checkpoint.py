"""A training run on disk: runs/<name>/checkpoint.pt (+ metrics.json for people).

Loaded with `weights_only=True`: a checkpoint holds tensors and plain values only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from hybridsplit.errors import CheckpointError
from hybridsplit.recipe import Recipe, recipe_from_dict

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    recipe: Recipe
    state_dict: dict[str, torch.Tensor]
    input_shape: tuple[int, ...]
    labels: list[str]
    sensitive_labels: list[str]
    metrics: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    """Defence state (e.g. PCA basis) that later stages need; plain values and tensors only."""

    def save(self, run_dir: str | Path) -> Path:
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        blob = {
            "format_version": FORMAT_VERSION,
            "recipe": self.recipe.model_dump(mode="json"),
            "state_dict": self.state_dict,
            "input_shape": list(self.input_shape),
            "labels": self.labels,
            "sensitive_labels": self.sensitive_labels,
            "metrics": self.metrics,
            "extra": self.extra,
        }
        tmp = run_dir / (CHECKPOINT_NAME + ".tmp")
        torch.save(blob, tmp)
        tmp.replace(run_dir / CHECKPOINT_NAME)  # never leave a half-written checkpoint
        (run_dir / "metrics.json").write_text(json.dumps(self.metrics, indent=2) + "\n")
        return run_dir / CHECKPOINT_NAME

    @classmethod
    def load(cls, run_dir: str | Path) -> Checkpoint:
        run_dir = Path(run_dir)
        path = run_dir / CHECKPOINT_NAME if run_dir.is_dir() else run_dir
        if not path.is_file():
            raise CheckpointError(
                f"No checkpoint at '{path}'; train one with `hybridsplit train --recipe recipes/watch.toml --out {run_dir}`"
            )
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(blob, dict) or blob.get("format_version") != FORMAT_VERSION:
                raise ValueError("unknown format")
            return cls(
                recipe=recipe_from_dict(blob["recipe"], source=str(path)),
                state_dict=blob["state_dict"],
                input_shape=tuple(blob["input_shape"]),
                labels=list(blob["labels"]),
                sensitive_labels=list(blob["sensitive_labels"]),
                metrics=dict(blob.get("metrics", {})),
                extra=dict(blob.get("extra", {})),
            )
        except CheckpointError:
            raise
        except Exception as exc:  # noqa: BLE001 - any decode failure means a corrupt file
            raise CheckpointError(
                f"Checkpoint '{path}' is corrupt or not a hybridsplit checkpoint ({type(exc).__name__}); "
                "re-run `hybridsplit train`"
            ) from None
