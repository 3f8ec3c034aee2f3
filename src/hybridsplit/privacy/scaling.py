"""Feature standardisation every attacker shares: training mean and sd, (nearly) constant dims
dropped and small sds floored, so a dim that is constant on the training set cannot blow a test
value up by 1/1e-6 (it once sent a reconstruction NMSE to 1,232)."""

from __future__ import annotations

import numpy as np

DROP_BELOW = 1e-3
"""A dim whose training sd is under this fraction of the median sd is constant: dropped."""
SD_FLOOR = 1e-2
"""Smallest sd kept, as a fraction of the median sd."""


def standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """[train, *others] flattened, standardised by train's mean and floored sd, constant dims of train dropped."""
    train = train.reshape(len(train), -1).astype(np.float64)
    mu, sd = train.mean(0), train.std(0)
    med = float(np.median(sd[sd > 0])) if (sd > 0).any() else 0.0
    keep = sd > DROP_BELOW * med
    if med == 0.0 or not keep.any():  # every dim constant: nothing to learn, keep them all at sd 1
        keep, sd, med = np.ones_like(sd, bool), np.ones_like(sd), 1.0
    sd = np.maximum(sd, SD_FLOOR * med)
    return [((a.reshape(len(a), -1) - mu) / sd)[:, keep] for a in (train, *others)]
