"""The paper's rank measure (Osia et al.): how well a noisy feature identifies its source.

The attacker holds N candidate inputs and the device half, so it knows every candidate's clean
feature f_j. For the feature z_i actually sent (f_i plus Gaussian noise of std sigma) it ranks the
candidates by Gaussian likelihood N(z_i; f_j, sigma^2 I), i.e. by distance. Reported: mean rank / N
(1/N = always identified, ~0.5 = no better than guessing) and the share ranked first
(re-identification rate). Ties count half, so identical features do not look identifying.
"""

from __future__ import annotations

import numpy as np


def rank_measure(clean: np.ndarray, noisy: np.ndarray, max_candidates: int = 1000, seed: int = 0) -> dict:
    n_all = len(clean)
    if n_all != len(noisy) or n_all < 2:
        raise ValueError("rank measure: need at least two (clean, noisy) feature pairs of equal count")
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(n_all, size=min(max_candidates, n_all), replace=False))
    f = clean[idx].reshape(len(idx), -1).astype(np.float64)
    z = noisy[idx].reshape(len(idx), -1).astype(np.float64)
    n = len(idx)
    # squared distances ||z_i - f_j||^2 (the negative Gaussian log-likelihood up to constants)
    d = (z**2).sum(1)[:, None] - 2 * z @ f.T + (f**2).sum(1)[None, :]
    own = np.diag(d)[:, None]
    tol = 1e-9 * max(1.0, float(np.abs(d).max()))
    closer = (d < own - tol).sum(1)
    ties = (np.abs(d - own) <= tol).sum(1) - 1  # excluding the true source itself
    ranks = 1 + closer + 0.5 * ties
    first = (closer == 0) & (ties == 0)
    return {"mean_rank_over_n": float(ranks.mean() / n), "top1": float(first.mean()), "candidates": int(n)}
