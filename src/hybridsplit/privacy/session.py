"""The session attacker: a cloud serving one user sees a stream of windows from the same session
and can pool them. Pooling k features by their mean averages the device's Gaussian noise down
(σ/√k) while the user's signature stays, so attribute inference and the rank measure are
measured on k pooled windows as well as on one.

A session is what `Samples.group` names: for the watch data one recording (one subject, one
exercise, one wrist); under the time protocol its early windows train the attacker and its late
windows are the test stream. Samples are k consecutive windows (a sliding chunk, step 1); k = 0
stands for the whole test session (the attacker trains on chunks of the median session length).
"""

from __future__ import annotations

import numpy as np

from hybridsplit.privacy.attacks import attribute_inference, chance
from hybridsplit.privacy.rank import rank_measure

SESSION_KS = (1, 5, 20, 0)
"""k = 0: the whole session."""


def session_chunks(groups: np.ndarray, start: np.ndarray | None, k: int) -> list[np.ndarray]:
    """Index arrays of k consecutive windows of one session (k = 0: the whole session), in time order.
    Sessions shorter than k give no chunk."""
    out = []
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        if start is not None:
            idx = idx[np.argsort(start[idx], kind="stable")]
        if k == 0:
            out.append(idx)
        else:
            out.extend(idx[s : s + k] for s in range(len(idx) - k + 1))
    return out


def pool(x: np.ndarray, chunks: list[np.ndarray]) -> np.ndarray:
    return np.stack([x[c].mean(0) for c in chunks]).astype(np.float32)


def has_sessions(groups: np.ndarray | None) -> bool:
    """Sessions exist when some group holds more than one sample (an image folder's files do not)."""
    return groups is not None and len(groups) > 0 and np.bincount(np.unique(groups, return_inverse=True)[1]).max() > 1


def session_point(fs, train, test, k: int, attacks: tuple[str, ...], seed: int, threads: int,
                  rank_candidates: int = 1000) -> dict:
    """Attribute inference and the rank measure on k pooled windows of one session (noisy features as sent)."""
    test_chunks = session_chunks(test.group, test.start, k)
    if k == 0:
        k_train = max(1, int(np.median([len(c) for c in test_chunks])))
    else:
        k_train = k
    train_chunks = session_chunks(train.group, train.start, k_train)
    if not test_chunks or not train_chunks:
        return {"k": k, "test_samples": 0, "note": f"no session holds {k} windows"}
    label = np.array([train.sensitive[c[0]] for c in train_chunks])
    test_label = np.array([test.sensitive[c[0]] for c in test_chunks])
    res = attribute_inference(pool(fs.train, train_chunks), label, pool(fs.test, test_chunks), test_label,
                              attacks, seed, threads)
    rank = rank_measure(pool(fs.test_clean, test_chunks), pool(fs.test, test_chunks), rank_candidates, seed)
    # chance of *these* samples: sessions of unequal length give some subjects many more k-window chunks
    # (watch, k = 20: one subject held 22.8 % of the test chunks), which a constant guess scores
    base = chance(label, test_label, int(max(train.sensitive.max(), test.sensitive.max()) + 1))
    return {"k": k, "windows": float(np.mean([len(c) for c in test_chunks])), "train_k": k_train,
            "train_samples": len(train_chunks), "test_samples": len(test_chunks),
            "sessions": int(len({int(test.group[c[0]]) for c in test_chunks})),
            "attacks": res["attacks"], "best_attack": res["best"], "best_accuracy": res["best_accuracy"],
            "balanced": res["balanced"], "best_balanced_accuracy": max(res["balanced"].values()),
            "chance_uniform": base["uniform"], "chance_majority": base["majority"],
            "rank_mean_over_n": rank["mean_rank_over_n"], "rank_top1": rank["top1"]}


def session_attack(fs, train, test, ks: tuple[int, ...] = SESSION_KS, attacks: tuple[str, ...] = ("logreg",),
                   seed: int = 0, threads: int = 2, rank_candidates: int = 1000, log=lambda m: None) -> list[dict]:
    points = []
    for k in ks:
        log(f"session attacker: k = {k or 'whole session'}")
        points.append(session_point(fs, train, test, k, attacks, seed, threads, rank_candidates))
    return points
