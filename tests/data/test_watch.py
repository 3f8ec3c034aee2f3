import numpy as np
import pytest

from hybridsplit.data import build_data
from hybridsplit.data.watch import default_watch_path, load_watch_file
from hybridsplit.errors import DataError
from hybridsplit.recipe import DataConfig


def test_bundled_file_has_one_recording_per_subject_exercise_side():
    raw = load_watch_file(default_watch_path())
    keys = list(zip(raw["subject"].tolist(), raw["y"].tolist(), raw["side"].tolist()))
    assert len(keys) == 140 and len(set(keys)) == 140
    assert len(set(raw["subject"].tolist())) == 10 and len(raw["y_labels"]) == 7


def test_time_protocol_keeps_a_gap_of_one_window(watch_data):
    win = watch_data.info["window_samples"]
    train, test = watch_data.train, watch_data.test
    assert set(np.unique(train.group)) == set(np.unique(test.group))  # same recordings, later data
    for rid in np.unique(test.group):
        last_train_end = train.start[train.group == rid].max() + win
        first_test_start = test.start[test.group == rid].min()
        assert first_test_start - last_train_end >= win


def test_time_protocol_shapes_and_labels(watch_data):
    assert watch_data.input_shape == (6, 100)
    assert watch_data.input_layout == "NCW"
    assert set(np.unique(watch_data.train.primary)) == set(range(7))
    assert set(np.unique(watch_data.test.sensitive)) == set(range(10))
    assert set(np.unique(watch_data.train.extra["side"])) == {0, 1}


def test_normalisation_fitted_on_train_only(watch_data):
    x = watch_data.train.x
    np.testing.assert_allclose(x.mean(axis=(0, 2)), 0, atol=1e-4)
    np.testing.assert_allclose(x.std(axis=(0, 2)), 1, atol=1e-3)
    assert np.abs(watch_data.test.x.mean(axis=(0, 2))).max() > 1e-3  # test stats differ: not refitted


def test_recording_protocol_puts_each_side_on_one_side_of_the_split():
    d = build_data(DataConfig(protocol="recording"), seed=0)
    assert not set(d.train.group) & set(d.test.group)
    pairs_train = set(zip(d.train.sensitive.tolist(), d.train.primary.tolist()))
    pairs_test = set(zip(d.test.sensitive.tolist(), d.test.primary.tolist()))
    assert pairs_train == pairs_test and len(pairs_train) == 70
    for s, e in pairs_train:
        side_train = set(d.train.extra["side"][(d.train.sensitive == s) & (d.train.primary == e)])
        side_test = set(d.test.extra["side"][(d.test.sensitive == s) & (d.test.primary == e)])
        assert len(side_train) == 1 and len(side_test) == 1 and side_train != side_test


def test_missing_and_malformed_files_give_one_line(tmp_path):
    with pytest.raises(DataError, match="not found"):
        build_data(DataConfig(path=str(tmp_path / "none.npy")))
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"not numpy at all")
    with pytest.raises(DataError, match="not a pickled dict"):
        build_data(DataConfig(path=str(junk)))
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, {"X": []}, allow_pickle=True)
    with pytest.raises(DataError, match="lacks keys"):
        build_data(DataConfig(path=str(wrong)))
