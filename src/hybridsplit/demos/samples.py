"""Sample input windows for the demo apps (Android, web, iOS), in raw sensor units.

The demos do what a real device does: take a raw window, normalise it with the manifest's
(mean, std), quantize it with the manifest's input (scale, zero_point), run device.tflite and
send the features. So the samples are test-split windows *before* normalisation. Python reads
them back with `load_samples` + `preprocess`, which are the reference the demos must match
bit for bit (float32 arithmetic, round half to even, as numpy does).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from hybridsplit.bundle.layout import relayout
from hybridsplit.bundle.manifest import MANIFEST_NAME, Manifest, load_manifest
from hybridsplit.bundle.preprocess import Preprocessor
from hybridsplit.errors import BundleError

SAMPLES_NAME = "samples.json"
FORMAT = "hybridsplit-samples/1"
DECIMALS = 5
"""Raw values are written with 5 decimals; every reader parses the same decimal and rounds it to float32."""


def pick_indices(labels: np.ndarray, n: int) -> np.ndarray:
    """n test indices, round-robin over classes, evenly spaced within each class (deterministic)."""
    classes = np.unique(labels)
    per_class = {c: np.flatnonzero(labels == c) for c in classes}
    k = -(-n // len(classes))
    chosen: list[int] = []
    for rank in range(k):
        for c in classes:
            idx = per_class[c]
            if rank < len(idx):
                chosen.append(int(idx[(rank * len(idx)) // k]))
            if len(chosen) == n:
                return np.array(chosen)
    return np.array(chosen)


def export_samples(bundle_dir: str | Path, n: int = 16) -> dict:
    """Build the samples document for a bundle from its recipe's test split."""
    from hybridsplit.data import build_data
    from hybridsplit.recipe import Recipe

    bundle_dir = Path(bundle_dir)
    manifest = load_manifest(bundle_dir)
    if n < 1:
        raise BundleError(f"--n {n}: ask for at least one sample")
    recipe = Recipe.model_validate(manifest.recipe)
    data = build_data(recipe.data, recipe.seed)
    idx = pick_indices(data.test.primary, n)
    pre = Preprocessor(manifest)
    samples = []
    for i in idx:
        x = relayout(data.test.x[i][None], data.input_layout, manifest.input.layout)  # e.g. NWC for channels-last
        if list(x.shape) != manifest.input.shape:
            raise BundleError(f"test window {list(x.shape)} does not match the bundle's input {manifest.input.shape}; "
                              "re-export the bundle")
        raw = pre.denormalise(x)
        samples.append({
            "index": int(i),
            "label": int(data.test.primary[i]),
            "label_name": manifest.labels[int(data.test.primary[i])],
            "x": [round(float(v), DECIMALS) for v in raw.ravel()],
        })
    return {
        "format": FORMAT,
        "bundle_id": hashlib.sha256((bundle_dir / MANIFEST_NAME).read_bytes()).hexdigest(),
        "shape": manifest.input.shape,
        "layout": manifest.input.layout,
        "units": "raw (before the manifest's normalisation)",
        "channels": manifest.input.channels,
        "labels": manifest.labels,
        "split": f"test ({manifest.protocol} protocol)",
        "samples": samples,
    }


def write_samples(bundle_dir: str | Path, out: str | Path, n: int = 16) -> Path:
    doc = export_samples(bundle_dir, n)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    tmp.replace(out)
    return out


def load_samples(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"Samples file '{path}' not found; write one with `hybridsplit demo samples`")
    doc = json.loads(path.read_text())
    if doc.get("format") != FORMAT:
        raise BundleError(f"'{path}' is not a {FORMAT} file")
    return doc


def sample_array(doc: dict, i: int) -> np.ndarray:
    """Sample i as float32 in the manifest's input shape (batch of 1)."""
    return np.asarray(doc["samples"][i]["x"], np.float64).astype(np.float32).reshape(doc["shape"])


def preprocess(raw: np.ndarray, manifest: Manifest) -> np.ndarray:
    """Raw float32 window -> the int8 tensor device.tflite takes, exactly as the demos compute it:
    n = (x - mean[c]) / std[c] in float32, q = clip(round_half_even(n / scale) + zero_point, -128, 127)."""
    return Preprocessor(manifest).input_tensor(raw)
