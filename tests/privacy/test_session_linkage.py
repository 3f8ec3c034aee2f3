"""The session attacker and open-set linkage on synthetic features with a planted identity signal:
pooling k windows averages the noise (σ/√k), so a signal invisible in one window shows in 20;
linkage of unseen people's sessions finds the signal and reports chance (AUC 0.5) without it."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from hybridsplit.data.base import Samples
from hybridsplit.privacy.features import FeatureSet
from hybridsplit.privacy.linkage import equal_error_rate, linkage_attack
from hybridsplit.privacy.scaling import standardise
from hybridsplit.privacy.session import session_attack, session_chunks

PEOPLE, SESSIONS, WINDOWS, DIMS = 8, 4, 24, 6


def stream(signal: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(features, identity, session, start): each person a fixed direction of length `signal`, every
    window that plus unit Gaussian noise."""
    rng = np.random.default_rng(seed)
    centre = rng.normal(size=(PEOPLE, DIMS))
    centre *= signal / np.linalg.norm(centre, axis=1, keepdims=True)
    ids = np.repeat(np.arange(PEOPLE), SESSIONS * WINDOWS)
    groups = np.repeat(np.arange(PEOPLE * SESSIONS), WINDOWS)
    start = np.tile(np.arange(WINDOWS), PEOPLE * SESSIONS)
    return centre[ids] + rng.normal(size=(len(ids), DIMS)), ids, groups, start


def split(signal: float):
    x, ids, groups, start = stream(signal, 0)
    early = start < WINDOWS * 2 // 3  # time protocol: the early part of each session trains
    samples = [Samples(np.zeros((m.sum(), 1)), np.zeros(m.sum(), int), ids[m], {}, groups[m], start[m])
               for m in (early, ~early)]
    fs = FeatureSet(x[early], x[~early], x[early], x[~early], 1.0, "synthetic", (DIMS,))
    return fs, samples[0], samples[1]


def test_session_chunks_are_consecutive_windows_of_one_session():
    groups, start = np.array([0, 0, 0, 1, 1, 0]), np.array([0, 1, 2, 0, 1, 3])
    chunks = session_chunks(groups, start, 2)
    assert [c.tolist() for c in chunks] == [[0, 1], [1, 2], [2, 5], [3, 4]]
    assert [c.tolist() for c in session_chunks(groups, start, 0)] == [[0, 1, 2, 5], [3, 4]]
    assert session_chunks(groups, start, 5) == []


def test_pooling_reveals_a_signal_one_window_hides():
    fs, train, test = split(signal=0.5)
    pts = {p["k"]: p for p in session_attack(fs, train, test, ks=(1, 8, 0), attacks=("logreg",), threads=1)}
    assert pts[1]["best_accuracy"] < 0.45  # chance 1/8; one window's noise hides most of it
    assert pts[8]["best_accuracy"] > pts[1]["best_accuracy"] + 0.3
    assert pts[0]["windows"] == WINDOWS - WINDOWS * 2 // 3 and pts[0]["sessions"] == PEOPLE * SESSIONS
    assert pts[8]["rank_top1"] <= 1.0 and pts[8]["test_samples"] == PEOPLE * SESSIONS * (8 - 8 + 1)


def test_pooling_invents_nothing_without_signal():
    fs, train, test = split(signal=0.0)
    pts = session_attack(fs, train, test, ks=(8,), attacks=("logreg",), threads=1)
    assert pts[0]["best_accuracy"] < 1 / PEOPLE + 0.2


def test_linkage_finds_planted_identity_and_is_chance_without():
    x, ids, groups, start = stream(0.8, 1)
    strong = linkage_attack(x, ids, groups, start, k=0)
    assert strong["auc"] > 0.9 and strong["eer"] < 0.2, strong
    x, ids, groups, start = stream(0.0, 1)
    none = linkage_attack(x, ids, groups, start, k=0)
    assert abs(none["auc"] - 0.5) < 0.15, none


def test_linkage_needs_enough_identities():
    x, ids, groups, start = stream(0.8, 1)
    few = linkage_attack(x[ids < 4], ids[ids < 4], groups[ids < 4], start[ids < 4])
    assert "at least 6 identities" in few["note"]


def test_equal_error_rate_of_separable_and_random_scores():
    labels = np.array([0] * 50 + [1] * 50)
    assert equal_error_rate(labels, labels + 0.0) == pytest.approx(0.0)
    rng = np.random.default_rng(0)
    s = rng.random(4000)
    lab = rng.integers(0, 2, 4000)
    assert equal_error_rate(lab, s) == pytest.approx(0.5, abs=0.05) and roc_auc_score(lab, s) == pytest.approx(0.5, abs=0.05)


def test_standardise_drops_constant_dims_and_floors_small_ones():
    rng = np.random.default_rng(0)
    tr = np.concatenate([rng.normal(size=(100, 3)), np.full((100, 1), 4.0), 1e-9 * rng.normal(size=(100, 1)),
                         5e-3 * rng.normal(size=(100, 1))], 1)
    a, b = standardise(tr, tr + 1.0)
    assert a.shape[1] == 4  # the constant and the 1e-9 columns are gone
    assert np.allclose(a[:, :3].std(0), 1.0)
    sd = tr.std(0)
    floored = 1e-2 * np.median(sd[sd > 0])  # the 5e-3 column's sd is floored at 1e-2 x the median sd
    assert b[:, 3] == pytest.approx(1.0 / floored + (tr[:, 5] - tr[:, 5].mean()) / floored)


def test_linkage_removes_the_primary_class_the_cloud_knows():
    """Each session is one of 4 exercises with a large offset; removing each exercise's mean (the cloud
    predicts the exercise) lets the attacker see the person through it."""
    x, ids, groups, start = stream(0.8, 2)
    rng = np.random.default_rng(3)
    exercise = rng.integers(0, 4, PEOPLE * SESSIONS)[groups]
    x = x + 6.0 * rng.normal(size=(4, DIMS))[exercise]
    r = linkage_attack(x, ids, groups, start, k=0, context=exercise)
    removed = {n: v["auc"] for n, v in r["scorers"].items() if "removed" in n}
    assert removed and max(removed.values()) > 0.85, r["scorers"]
    assert r["auc"] == max(v["auc"] for v in r["scorers"].values())


def test_whole_session_linkage_works_on_short_sessions_in_many_dims():
    """Face sessions hold 8 images (fewer than the 20 windows k = 0 trains on for the watch data), and few
    whole-session samples in 2,048 dims leave LDA's scatter singular: the attacker trains on chunks of the
    median session length and scores with the pair classifier alone. Persons differ by a mean offset."""
    rng = np.random.default_rng(0)
    ids, groups = np.repeat(np.arange(20), 16), np.repeat(np.arange(40), 8)
    x = (rng.normal(size=(320, 2048)) + rng.normal(0, 0.5, (20, 2048))[ids]).astype(np.float32)
    r = linkage_attack(x, ids, groups, None, k=0, seed=0)
    assert "note" not in r and r["identities"] == 20 and r["sessions"] == 40
    assert r["auc"] > 0.7


def test_unequal_sessions_raise_the_constant_guess_and_the_goal_judges_against_it():
    """Watch at k = 20: one subject's long recordings held 22.8 % of the test chunks, so an attacker answering
    that subject scored 0.224 on features with no subject in them. Each point carries its own chance (the
    training chunks' most frequent subject guessed for every test chunk) and the balanced accuracy."""
    from sklearn.metrics import balanced_accuracy_score

    from hybridsplit.privacy.attacks import attribute_inference
    from hybridsplit.privacy.evaluate import session_bar

    rng = np.random.default_rng(3)
    lengths = [60] + [12] * 7  # person 0 sits 5x longer in every session
    ids = np.concatenate([np.full(n * SESSIONS, p) for p, n in enumerate(lengths)])
    groups = np.concatenate([np.repeat(np.arange(p * SESSIONS, (p + 1) * SESSIONS), n) for p, n in enumerate(lengths)])
    start = np.concatenate([np.tile(np.arange(n), SESSIONS) for n in lengths])
    x = rng.normal(size=(len(ids), DIMS))  # no identity signal at all
    early = np.concatenate([np.tile(np.arange(n) < n // 2, SESSIONS) for n in lengths])
    tr, te = [Samples(np.zeros((m.sum(), 1)), np.zeros(m.sum(), int), ids[m], {}, groups[m], start[m])
              for m in (early, ~early)]
    fs = FeatureSet(x[early], x[~early], x[early], x[~early], 1.0, "synthetic", (DIMS,))
    (p,) = session_attack(fs, tr, te, ks=(5,), attacks=("logreg", "knn"), threads=1)
    # by hand: test chunks per person = sessions x (half length - 5 + 1); person 0 is the training majority
    chunks = [SESSIONS * (n - n // 2 - 4) for n in lengths]
    assert p["test_samples"] == sum(chunks) and p["chance_majority"] == pytest.approx(chunks[0] / sum(chunks))
    assert p["chance_uniform"] == pytest.approx(1 / PEOPLE) and p["chance_majority"] > 0.5
    assert p["best_balanced_accuracy"] == max(p["balanced"].values()) < 1 / PEOPLE + 0.15
    bar, met = session_bar(p, 1 / PEOPLE)
    assert bar == pytest.approx(p["chance_majority"] + 0.10) and met  # at the constant guess: met
    # the attacks' balanced accuracy is sklearn's on the same predictions (a kNN on 3 unbalanced classes)
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    xa, ya = rng.normal(size=(300, 4)), rng.choice(3, 300, p=[0.6, 0.3, 0.1])
    xa[:, 0] += ya
    got = attribute_inference(xa[:200], ya[:200], xa[200:], ya[200:], ("knn",), threads=1)["balanced"]["knn"]
    pred = make_pipeline(StandardScaler(), KNeighborsClassifier()).fit(xa[:200], ya[:200]).predict(xa[200:])
    assert got == pytest.approx(balanced_accuracy_score(ya[200:], pred))
    # an attacker above the constant guess, or one that finds the small subjects, fails
    assert session_bar({"best_accuracy": 0.40, "chance_majority": 0.228, "best_balanced_accuracy": 0.15}, 0.1)[1] is False
    assert session_bar({"best_accuracy": 0.25, "chance_majority": 0.228, "best_balanced_accuracy": 0.35}, 0.1)[1] is False
    assert session_bar({"best_accuracy": 0.19, "chance_majority": 0.05}, 0.1) == (pytest.approx(0.2), True)
