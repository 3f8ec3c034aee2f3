"""Attribute inference: classifiers trained on features of training windows with their sensitive
labels, tested on the test windows (time split: the attacker enrolled each user earlier and
re-identifies them later). Each attack is reported, with the best one and chance.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hybridsplit.errors import HybridsplitError
from hybridsplit.privacy.metrics import class_scores
from hybridsplit.registry import Registry

ATTACKS: Registry[Callable[[int, int], object]] = Registry("attack", "hybridsplit privacy --help")


@ATTACKS.register("logreg")
def _logreg(seed: int, threads: int):
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=200, tol=1e-3, C=1.0))


@ATTACKS.register("mlp")
def _mlp(seed: int, threads: int):
    return make_pipeline(StandardScaler(), MLPClassifier((256,), alpha=1e-3, max_iter=60, early_stopping=True,
                                                         n_iter_no_change=8, random_state=seed))


@ATTACKS.register("knn")
def _knn(seed: int, threads: int):
    return make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=5, n_jobs=threads))


@ATTACKS.register("random_forest")
def _random_forest(seed: int, threads: int):
    return RandomForestClassifier(n_estimators=150, min_samples_leaf=2, n_jobs=threads, random_state=seed)


DEFAULT_ATTACKS = ("logreg", "mlp", "knn", "random_forest")


def chance(train_labels: np.ndarray, test_labels: np.ndarray, num_classes: int | None = None) -> dict:
    """Uniform guessing (1/K) and the best constant guess (the train majority class on test)."""
    k = num_classes or int(max(train_labels.max(), test_labels.max()) + 1)
    majority = np.bincount(train_labels, minlength=k).argmax()
    return {"uniform": 1.0 / k, "majority": float((test_labels == majority).mean())}


def attribute_inference(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                        attacks: tuple[str, ...] = DEFAULT_ATTACKS, seed: int = 0, threads: int = 2) -> dict:
    """Accuracy of each attack; {'attacks': {name: acc}, 'best': name, 'best_accuracy': acc}."""
    if len(train_x) != len(train_y) or len(test_x) != len(test_y):
        raise HybridsplitError("attribute inference: features and labels differ in length")
    if len(np.unique(train_y)) < 2:
        raise HybridsplitError("attribute inference: the training labels hold a single class")
    train_x = train_x.reshape(len(train_x), -1).astype(np.float32)
    test_x = test_x.reshape(len(test_x), -1).astype(np.float32)
    out, balanced = {}, {}
    for name in attacks:
        clf = ATTACKS.get(name)(seed, threads)
        clf.fit(train_x, train_y)
        pred = clf.predict(test_x)
        out[name] = float((pred == test_y).mean())
        # mean recall over the subjects present: a constant answer scores 1/K whatever that subject's share
        balanced[name] = class_scores(pred, test_y, int(max(test_y.max(), pred.max())) + 1)["balanced_accuracy"]
    best = max(out, key=out.get)
    return {"attacks": out, "best": best, "best_accuracy": out[best], "balanced": balanced}


def window_statistics(x: np.ndarray) -> np.ndarray:
    """Simple per-channel statistics of raw windows (mean, std, min, max, quartiles): the raw-input reference attack."""
    q = np.percentile(x, [25, 50, 75], axis=-1)
    return np.concatenate([x.mean(-1), x.std(-1), x.min(-1), x.max(-1), *q], axis=1).astype(np.float32)
