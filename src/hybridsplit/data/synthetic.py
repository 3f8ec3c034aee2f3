"""Small generated image folders, for tests and demos (no data can be downloaded here).

Primary class = which quadrant holds a bright square; sensitive attribute = background tint.
Both are learnable, so attacks and defences have something real to find.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def make_image_folder(root: str | Path, n: int = 200, size: int = 32, seed: int = 0,
                      primaries: int = 4, sensitives: int = 3) -> Path:
    from PIL import Image

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tints = rng.uniform(0.1, 0.6, size=(sensitives, 3))
    rows = []
    half = size // 2
    for i in range(n):
        p, s = int(rng.integers(primaries)), int(rng.integers(sensitives))
        img = np.ones((size, size, 3)) * tints[s] + rng.normal(0, 0.05, (size, size, 3))
        r0, c0 = (p // 2) * half, (p % 2) * half
        side = size // 4
        r, c = r0 + int(rng.integers(0, half - side)), c0 + int(rng.integers(0, half - side))
        img[r : r + side, c : c + side] = 0.95
        name = f"img{i:04d}.png"
        Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(root / name)
        rows.append({"file": name, "primary": f"quadrant{p}", "sensitive": f"tint{s}"})
    with (root / "attributes.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["file", "primary", "sensitive"])
        w.writeheader()
        w.writerows(rows)
    return root
