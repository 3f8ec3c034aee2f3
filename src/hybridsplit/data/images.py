"""Image folders: root/<image files> + root/attributes.csv with columns file, primary, sensitive.

Label values are strings (class names); an optional `split` column (train/test) fixes the
split, otherwise protocol 'random' draws a stratified split from the recipe's seed. An optional
`session` column (e.g. one sitting of one person, `data.faces`) becomes `Samples.group`, so the
session and linkage attackers pool images of one session; without it each file is its own group.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from hybridsplit.data.base import DATASETS, Dataset, Samples, apply_normalisation, fit_normalisation
from hybridsplit.errors import DataError
from hybridsplit.recipe import DataConfig

REQUIRED_COLUMNS = ("file", "primary", "sensitive")


def read_attributes(root: Path) -> list[dict[str, str]]:
    path = root / "attributes.csv"
    if not path.is_file():
        raise DataError(f"'{path}' not found; an image folder needs attributes.csv with columns file,primary,sensitive")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"'{path}' lacks column(s) {', '.join(missing)}; expected file,primary,sensitive")
        rows = list(reader)
    if not rows:
        raise DataError(f"'{path}' has no rows")
    for i, row in enumerate(rows, start=2):
        if not row["file"] or not row["primary"] or not row["sensitive"]:
            raise DataError(f"'{path}' line {i}: empty file, primary or sensitive value")
    return rows


GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")


def _open(path: Path):
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise DataError(f"Image '{path}' listed in attributes.csv does not exist")
    try:
        im = Image.open(path)
        im.load()
        return im
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"Image '{path}' cannot be read ({exc.__class__.__name__}); fix or remove its row") from None


def _load_image(path: Path, size: int, gray: bool) -> np.ndarray:
    """(C, size, size) in [0, 1]: one channel when the folder is grayscale (kept, not tripled to RGB)."""
    from PIL import Image

    with _open(path) as im:
        im = im.convert("L" if gray else "RGB").resize((size, size), Image.BILINEAR)
        a = np.asarray(im, np.float32) / 255.0
    return a[None] if gray else a.transpose(2, 0, 1)


def _is_gray_folder(root: Path, rows: list[dict], color: str) -> bool:
    """color 'auto': grayscale when every image is (a 3-channel model then needs data.color = 'rgb')."""
    if color != "auto":
        return color == "gray"
    for r in rows:
        with _open(root / r["file"]) as im:
            if im.mode not in GRAY_MODES:
                return False
    return True


def _stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    is_test = np.zeros(len(labels), bool)
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = max(1, int(round(len(idx) * test_fraction))) if len(idx) > 1 else 0
        is_test[idx[:k]] = True
    return is_test


def _groups(rows: list[dict[str, str]]) -> np.ndarray:
    """Session index of each row (the `session` column), or the row index when there is none."""
    if "session" not in rows[0]:
        return np.arange(len(rows))
    keys = [r["session"] or f"file:{r['file']}" for r in rows]
    index = {k: i for i, k in enumerate(sorted(set(keys)))}
    return np.array([index[k] for k in keys], np.int64)


@DATASETS.register("image_folder")
def load_image_folder(cfg: DataConfig, seed: int) -> Dataset:
    if not cfg.path:
        raise DataError("data.path is not set; point it at a folder with images and attributes.csv")
    root = Path(cfg.path)
    if not root.is_dir():
        raise DataError(f"Image folder '{root}' does not exist")
    rows = read_attributes(root)
    gray = _is_gray_folder(root, rows, cfg.color)
    x = np.stack([_load_image(root / r["file"], cfg.image_size, gray) for r in rows])
    primary_names = sorted({r["primary"] for r in rows})
    sensitive_names = sorted({r["sensitive"] for r in rows})
    primary = np.array([primary_names.index(r["primary"]) for r in rows], np.int64)
    sensitive = np.array([sensitive_names.index(r["sensitive"]) for r in rows], np.int64)
    if "split" in rows[0]:
        is_test = np.array([r.get("split", "").strip().lower() == "test" for r in rows])
        protocol = "csv"
    elif cfg.protocol == "random":
        is_test = _stratified_split(primary, cfg.test_fraction, seed)
        protocol = "random"
    else:
        raise DataError(
            f"data.protocol '{cfg.protocol}' is for recordings; image folders use 'random' "
            "(or a split column in attributes.csv)"
        )
    everything = Samples(x, primary, sensitive, {}, _groups(rows))
    train, test = everything.subset(np.flatnonzero(~is_test)), everything.subset(np.flatnonzero(is_test))
    if len(train) == 0 or len(test) == 0:
        raise DataError(f"Image folder '{root}' gives an empty train or test split; add images or change test_fraction")
    norm = fit_normalisation(train.x)
    train.x, test.x = apply_normalisation(norm, train.x), apply_normalisation(norm, test.x)
    return Dataset("image_folder", train, test, primary_names, sensitive_names, "NCHW", norm, protocol,
                   info={"source": str(root), "image_size": cfg.image_size,
                         "channels": ["gray"] if gray else ["red", "green", "blue"]})
