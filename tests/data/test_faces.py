"""The generated face folder: deterministic, one fixed geometry per identity, the primary attribute
drawn independently of the identity, sessions read into Samples.group."""

from __future__ import annotations

import csv

import numpy as np
from scipy.stats import chi2_contingency

from hybridsplit.data import build_data
from hybridsplit.data.faces import COLUMNS, make_faces
from hybridsplit.recipe import DataConfig


def _rows(root):
    with (root / "attributes.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _pixels(root, rows):
    from PIL import Image

    return np.stack([np.asarray(Image.open(root / r["file"]), np.float64) / 255 for r in rows])


def test_faces_are_deterministic_from_the_seed(tmp_path):
    a = make_faces(tmp_path / "a", identities=4, sessions=1, per_session=3, size=24, seed=3)
    b = make_faces(tmp_path / "b", identities=4, sessions=1, per_session=3, size=24, seed=3)
    c = make_faces(tmp_path / "c", identities=4, sessions=1, per_session=3, size=24, seed=4)
    ra, rb = _rows(a), _rows(b)
    assert ra == rb and list(ra[0]) == list(COLUMNS) and len(ra) == 12
    assert np.array_equal(_pixels(a, ra), _pixels(b, rb))
    assert not np.array_equal(_pixels(a, ra), _pixels(c, _rows(c)))


def test_identities_are_consistent_and_smiling_is_independent_of_them(tmp_path):
    root = make_faces(tmp_path / "f", identities=12, sessions=2, per_session=10, size=32, seed=0)
    rows = _rows(root)
    x = _pixels(root, rows)[:, 8:24, 8:24].reshape(len(rows), -1)  # the face's centre, background cut off
    x = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True)  # lighting and tone levelled per image
    person = np.array([r["sensitive"] for r in rows])
    first = np.array([r["session"].endswith("_s0") for r in rows])
    smiling = np.array([r["primary"] == "smiling" for r in rows])
    assert all(r["session"].startswith(r["sensitive"] + "_") for r in rows)
    # identity survives the session (new background, light, pose): each person's mean face of session 0
    # names the person of most session-1 images (12 people: chance 1/12)
    people = np.unique(person)
    means = np.stack([x[first & (person == p)].mean(0) for p in people])
    pred = people[np.argmin(((x[~first][:, None] - means[None]) ** 2).sum(-1), axis=1)]
    assert (pred == person[~first]).mean() > 0.3
    # smiling vs identity: a chi-square test of independence does not reject (drawn per image, p = 0.5)
    table = np.array([[np.sum((person == p) & s) for s in (smiling, ~smiling)] for p in people])
    assert chi2_contingency(table)[1] > 0.01
    assert 0.35 < smiling.mean() < 0.65


def test_face_folder_loads_gray_with_sessions_as_groups(tmp_path):
    root = make_faces(tmp_path / "f", identities=5, sessions=2, per_session=4, size=16, seed=1)
    d = build_data(DataConfig(dataset="image_folder", path=str(root), protocol="random", image_size=16), 0)
    assert d.input_shape == (1, 16, 16) and d.info["channels"] == ["gray"]
    assert d.primary_names == ["neutral", "smiling"] and len(d.sensitive_names) == 5
    groups = np.concatenate([d.train.group, d.test.group])
    people = np.concatenate([d.train.sensitive, d.test.sensitive])
    assert len(np.unique(groups)) == 10 and np.bincount(groups).tolist() == [4] * 10
    for g in np.unique(groups):  # a session belongs to one person
        assert len(np.unique(people[groups == g])) == 1
