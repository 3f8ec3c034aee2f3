"""Open-set linkage: do two sessions come from the same person? The attacker learns from other
people (identities disjoint from the ones it is tested on), as a cloud would from a public or
earlier-labelled population, then scores every pair of the unseen people's sessions.

Two scorers, the better one reported: distance in an LDA space fitted on the attacker's people
(a learned metric), and a logistic regression on pair features |a - b| and a * b. Identities are
split in two halves by the seed and the halves swap roles (two folds). Reported: ROC AUC
(0.5 = chance) and the equal error rate.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve

from hybridsplit.privacy.scaling import standardise
from hybridsplit.privacy.session import pool, session_chunks

LINKAGE_KS = (1, 20, 0)
MAX_TRAIN_PAIRS = 5000
WHOLE_SESSION_TRAIN_K = 20
"""k = 0: the attacker trains on chunks of this many windows (of the median session length when shorter,
e.g. 16 images of one sitting of a face)."""


def equal_error_rate(labels: np.ndarray, scores: np.ndarray) -> float:
    fpr, tpr, _ = roc_curve(labels, scores)
    fnr = 1 - tpr
    i = int(np.argmin(np.abs(fnr - fpr)))
    return float((fpr[i] + fnr[i]) / 2)


def _pairs(ids: np.ndarray, rng: np.random.Generator, limit: int) -> tuple[np.ndarray, np.ndarray]:
    i, j = np.triu_indices(len(ids), 1)
    if len(i) > limit:
        pick = rng.choice(len(i), limit, replace=False)
        i, j = i[pick], j[pick]
    return i, j


def _pair(x: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    return np.concatenate([np.abs(x[i] - x[j]), x[i] * x[j]], axis=1)


def _scores(xa: np.ndarray, ya: np.ndarray, sa: np.ndarray, xb: np.ndarray, i: np.ndarray, j: np.ndarray,
            seed: int) -> dict:
    """Pair scores (higher = same person) of B's pairs (i, j), learnt from A's samples (person ya, session sa)."""
    xa, xb = standardise(xa, xb)
    out = {}
    if len(np.unique(ya)) > 2:
        try:
            lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto").fit(xa, ya)
            zb = lda.transform(xb)
            out["lda_distance"] = -np.linalg.norm(zb[i] - zb[j], axis=1)
        except np.linalg.LinAlgError:  # a singular within-class scatter (few samples, many dims): no LDA scorer
            pass
    rng = np.random.default_rng(seed)
    ti, tj = _pairs(ya, rng, 4 * MAX_TRAIN_PAIRS)
    other = sa[ti] != sa[tj]  # pairs of two sessions: chunks of one session would teach "same session"
    ti, tj = ti[other][:MAX_TRAIN_PAIRS], tj[other][:MAX_TRAIN_PAIRS]
    same = ya[ti] == ya[tj]
    if same.any() and (~same).any():
        with warnings.catch_warnings():  # an unconverged fit is still a scorer; its AUC says how good
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = LogisticRegression(max_iter=200, C=0.1, class_weight="balanced").fit(_pair(xa, ti, tj), same)
        out["pair_logreg"] = clf.decision_function(_pair(xb, i, j))
    return out


def _sub(arr: np.ndarray | None, idx: np.ndarray) -> np.ndarray | None:
    return None if arr is None else arr[idx]


def _remove_context(x: np.ndarray, context: np.ndarray | None, fit: np.ndarray) -> np.ndarray | None:
    """x minus the mean feature of its context class over the windows `fit` (every window the cloud saw:
    it needs no identity label, only the context it predicts)."""
    if context is None:
        return None
    means = np.zeros((int(context.max()) + 1, *x.shape[1:]), np.float64)
    for c in np.unique(context[fit]):
        means[c] = x[fit][context[fit] == c].mean(0)
    return (x - means[context]).astype(np.float32)


def linkage_attack(x: np.ndarray, ids: np.ndarray, groups: np.ndarray, start: np.ndarray | None, k: int = 0,
                   seed: int = 0, context: np.ndarray | None = None) -> dict:
    """ROC AUC / EER of linking sessions of unseen people; one sample per session (its first k windows,
    or the whole session for k = 0), the attacker trained on k-window chunks of the other half's sessions
    (k = 0: chunks of WHOLE_SESSION_TRAIN_K, or of the median session length when shorter).
    `context`: a label the cloud knows for every window (the primary class it predicts); the attacker
    also scores on features with each context class's mean removed, so the exercise does not drown the person."""
    people = np.unique(ids)
    if len(people) < 6:
        return {"k": k, "note": f"open-set linkage needs at least 6 identities, the data has {len(people)}"}
    rng = np.random.default_rng(seed)
    train_k = min(WHOLE_SESSION_TRAIN_K, int(np.median(np.unique(groups, return_counts=True)[1])))
    halves = np.array_split(rng.permutation(people), 2)
    by: dict[str, list] = {}
    views = {"": x, " (primary class mean removed)": _remove_context(x, context, np.arange(len(x)))}
    for fold in range(2):
        a_ids, b_ids = halves[fold], halves[1 - fold]
        a_mask, b_mask = np.isin(ids, a_ids), np.isin(ids, b_ids)
        a_idx, b_idx = np.flatnonzero(a_mask), np.flatnonzero(b_mask)
        a_chunks = [a_idx[c] for c in session_chunks(groups[a_idx], _sub(start, a_idx), k or train_k)]
        b_chunks = session_chunks(groups[b_idx], _sub(start, b_idx), k)
        first: dict[int, np.ndarray] = {}
        for c in b_chunks:  # one sample per session: its first chunk
            first.setdefault(int(groups[b_idx][c[0]]), b_idx[c])
        b_chunks = list(first.values())
        if len(a_chunks) < 4 or len(b_chunks) < 4:
            return {"k": k, "note": f"too few sessions hold {k} windows"}
        ya = ids[[c[0] for c in a_chunks]]
        yb = ids[[c[0] for c in b_chunks]]
        sa = groups[[c[0] for c in a_chunks]]
        i, j = np.triu_indices(len(b_chunks), 1)
        same = yb[i] == yb[j]
        for suffix, xv in views.items():
            if xv is None:
                continue
            for name, s in _scores(pool(xv, a_chunks), ya, sa, pool(xv, b_chunks), i, j, seed + fold).items():
                by.setdefault(name + suffix, []).append((roc_auc_score(same, s), equal_error_rate(same, s)))
    res = {name: {"auc": float(np.mean([v[0] for v in vals])), "eer": float(np.mean([v[1] for v in vals]))}
           for name, vals in by.items()}
    best = max(res, key=lambda n: res[n]["auc"])
    return {"k": k, "scorers": res, "best": best, "auc": res[best]["auc"], "eer": res[best]["eer"],
            "identities": int(len(people)), "sessions": int(len(np.unique(groups)))}
