"""The smartwatch IMU recordings bundled in the seglearn wheel (Burns et al. 2018).

140 recordings = 10 subjects x 7 shoulder exercises x 2 wrist sides, 6 channels at 50 Hz.
Primary label: exercise (7). Sensitive: subject (10); side (2) as a second attribute.
The file is a pickled dict loaded with numpy; seglearn itself is never imported.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from hybridsplit.data.base import DATASETS, Dataset, Samples, apply_normalisation, fit_normalisation
from hybridsplit.errors import DataError
from hybridsplit.recipe import DataConfig

SAMPLE_RATE_HZ = 50
# Apple Watch 2/3 recordings (SPAR dataset README): accelerometer in g, gyroscope in rad/s.
UNITS = ["g", "g", "g", "rad/s", "rad/s", "rad/s"]
# Core Motion reads gravity as -1 g on the axis pointing up at rest; Android's accelerometer reads
# +9.81 m/s^2 there. Both frames are x right, y up the screen, z out of it, and both gyroscopes are
# counter-clockwise positive, so only the accelerometer's sign flips (the app converts m/s^2 to g).
ANDROID_SENSORS = ["-accelerometer.x", "-accelerometer.y", "-accelerometer.z",
                   "+gyroscope.x", "+gyroscope.y", "+gyroscope.z"]
_REQUIRED = ("X", "y", "subject", "side", "y_labels")


def default_watch_path() -> Path:
    spec = importlib.util.find_spec("seglearn")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "The watch data ships in the seglearn wheel, which is not installed; "
            "run `make install` (or `pip install --no-deps seglearn==1.2.5`), or set data.path"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "watch_dataset.npy"


def load_watch_file(path: Path) -> dict:
    if not path.is_file():
        raise DataError(f"Watch data file '{path}' not found; set data.path to watch_dataset.npy")
    try:
        raw = np.load(path, allow_pickle=True).item()
    except Exception as exc:  # noqa: BLE001 - any failure here means the file is not ours
        raise DataError(f"Watch data file '{path}' is not a pickled dict ({type(exc).__name__}); "
                        "re-install seglearn or point data.path at a valid copy") from None
    if not isinstance(raw, dict) or any(k not in raw for k in _REQUIRED):
        raise DataError(f"Watch data file '{path}' lacks keys {list(_REQUIRED)}; it is not the watch dataset")
    n = len(raw["X"])
    if not (len(raw["y"]) == len(raw["subject"]) == len(raw["side"]) == n):
        raise DataError(f"Watch data file '{path}': X, y, subject and side differ in length")
    for i, rec in enumerate(raw["X"]):
        if np.asarray(rec).ndim != 2 or np.asarray(rec).shape[1] != 6:
            raise DataError(f"Watch data file '{path}': recording {i} is not (samples, 6)")
    return raw


def _windows(rec: np.ndarray, start: int, stop: int, win: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, 6, win) windows from rec[start:stop] and their start indices; none spans `stop`."""
    starts = np.arange(start, stop - win + 1, stride)
    if len(starts) == 0:
        return np.zeros((0, rec.shape[1], win), np.float32), starts
    return np.stack([rec[s : s + win].T for s in starts]).astype(np.float32), starts


@DATASETS.register("watch")
def load_watch(cfg: DataConfig, seed: int) -> Dataset:
    path = Path(cfg.path) if cfg.path else default_watch_path()
    raw = load_watch_file(path)
    win = int(round(cfg.window_s * SAMPLE_RATE_HZ))
    stride = max(1, int(round(cfg.stride_s * SAMPLE_RATE_HZ)))
    subjects = sorted(int(s) for s in set(raw["subject"].tolist()))
    subj_index = {s: i for i, s in enumerate(subjects)}

    if cfg.protocol == "random":
        raise DataError("data.protocol 'random' leaks overlapping windows for watch; use 'time' or 'recording'")
    rng = np.random.default_rng(seed)
    # recording protocol: for each (subject, exercise), one side (chosen by seed) trains.
    train_side = {}
    for s in subjects:
        for e in range(len(raw["y_labels"])):
            train_side[(s, e)] = int(rng.integers(0, 2))

    parts: dict[str, list] = {"train": [], "test": []}
    for rid, rec in enumerate(raw["X"]):
        rec = np.asarray(rec, np.float32)
        subj, ex, side = int(raw["subject"][rid]), int(raw["y"][rid]), int(raw["side"][rid])
        if cfg.protocol == "time":
            # chronological: first part trains, a one-window gap, the last part tests
            n = len(rec)
            test_start = int(round(n * (1 - cfg.test_fraction)))
            chunks = {"train": _windows(rec, 0, test_start - win, win, stride),
                      "test": _windows(rec, test_start, n, win, stride)}
        else:
            role = "train" if side == train_side[(subj, ex)] else "test"
            chunks = {role: _windows(rec, 0, len(rec), win, stride)}
        for role, (xs, starts) in chunks.items():
            k = len(xs)
            parts[role].append((xs, np.full(k, ex), np.full(k, subj_index[subj]),
                                np.full(k, side), np.full(k, rid), starts))

    def stack(items: list) -> Samples:
        xs, ex, su, si, g, st = (np.concatenate(c) for c in zip(*items))
        return Samples(xs, ex.astype(np.int64), su.astype(np.int64),
                       {"side": si.astype(np.int64)}, g.astype(np.int64), st.astype(np.int64))

    train, test = stack(parts["train"]), stack(parts["test"])
    if len(train) == 0 or len(test) == 0:
        raise DataError(f"window_s={cfg.window_s} leaves no train or test windows; use a shorter window")
    norm = fit_normalisation(train.x)
    train.x, test.x = apply_normalisation(norm, train.x), apply_normalisation(norm, test.x)
    return Dataset(
        name="watch", train=train, test=test,
        primary_names=[str(s) for s in raw["y_labels"]],
        sensitive_names=[f"subject{s}" for s in subjects],
        input_layout="NCW", norm=norm, protocol=cfg.protocol,
        info={"sample_rate_hz": SAMPLE_RATE_HZ, "window_samples": win, "stride_samples": stride,
              "channels": [str(c) for c in raw.get("X_labels", [])], "recordings": len(raw["X"]),
              "units": UNITS, "android_sensors": ANDROID_SENSORS,
              "source": str(path)},
    )
