"""Balanced accuracy and per-class recall (checked against sklearn.metrics), the recall-collapse
warning, and chance printed with enough digits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, recall_score

from hybridsplit.cli.privacy import chance_text
from hybridsplit.privacy.metrics import class_scores, collapsed_classes, recall_warnings


def test_class_scores_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 300)
    pred = np.where(rng.random(300) < 0.7, y, rng.integers(0, 4, 300))
    s = class_scores(pred, y, 4)
    assert s["accuracy"] == pytest.approx((pred == y).mean())
    assert s["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred))
    assert s["recall"] == pytest.approx(list(recall_score(y, pred, average=None)))


def test_majority_collapse_is_visible_and_warned():
    """90% of one class: predicting it always scores 0.90 accuracy but 0.5 balanced, and is flagged."""
    y = np.array([0] * 90 + [1] * 10)
    s = class_scores(np.zeros(100, int), y, 2)
    assert s["accuracy"] == pytest.approx(0.9) and s["balanced_accuracy"] == pytest.approx(0.5)
    assert collapsed_classes(s["recall"]) == [1]
    lines = recall_warnings({"defended": s["recall"]}, ["rest", "rare"])
    assert len(lines) == 1 and "rare 0.000" in lines[0]


def test_drop_against_undefended_is_warned():
    """2 of 12 minority examples lost (recall 1.0 -> 0.833): a 17-point drop is a collapse."""
    base, defended = [1.0, 1.0], [1.0, 10 / 12]
    assert collapsed_classes(defended, base) == [1]
    assert collapsed_classes([1.0, 0.95], base) == []
    assert recall_warnings({"undefended": base, "defended": [1.0, 0.95]}, ["a", "b"]) == []
    assert "undefended 1.000" in recall_warnings({"undefended": base, "defended": defended}, ["a", "b"])[0]


def test_absent_class_is_none_not_zero():
    s = class_scores(np.array([0, 0, 1]), np.array([0, 0, 1]), 3)
    assert s["recall"] == [1.0, 1.0, None] and s["balanced_accuracy"] == 1.0
    assert collapsed_classes(s["recall"]) == []


@pytest.mark.parametrize("p, text", [(0.1, "0.10"), (0.025, "0.025"), (1 / 7, "0.1429"), (0.2, "0.20"),
                                     (0.0125, "0.0125")])
def test_chance_keeps_its_digits(p, text):
    assert chance_text(p) == text


def test_bundles_differing_only_by_a_defaulted_data_field_compare():
    """A bundle exported before data.color existed holds the same data as one exported after."""
    from types import SimpleNamespace

    from hybridsplit.errors import BundleError
    from hybridsplit.privacy.evaluate import _check_same_data
    from hybridsplit.recipe import load_recipe

    here = Path(__file__).resolve().parents[2] / "recipes" / "watch.toml"
    new = load_recipe(here).model_dump(mode="json")
    old = {**new, "data": {k: v for k, v in new["data"].items() if k != "color"}}
    _check_same_data(SimpleNamespace(recipe=new), SimpleNamespace(recipe=old), "old")
    other = {**new, "data": {**new["data"], "window_s": 3.0}}
    with pytest.raises(BundleError, match="different data settings"):
        _check_same_data(SimpleNamespace(recipe=new), SimpleNamespace(recipe=other), "other")
