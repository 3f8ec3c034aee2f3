"""Dataset registry. `build_data(cfg, seed)` returns normalised train/test splits."""

from hybridsplit.data import images, watch  # noqa: F401  (registration)
from hybridsplit.data.base import DATASETS, Dataset, Samples
from hybridsplit.recipe import DataConfig


def build_data(cfg: DataConfig, seed: int = 0) -> Dataset:
    return DATASETS.get(cfg.dataset)(cfg, seed)


__all__ = ["DATASETS", "Dataset", "Samples", "build_data"]
