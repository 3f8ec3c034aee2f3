"""Generated grayscale faces: identities with fixed geometry, photographed in sessions.

No face data set can be downloaded here (and the AT&T/ORL/Olivetti faces are kept aside for an
independent check), so faces are drawn procedurally with numpy. Each identity has its own face
oval, skin and hair tone, hair style and hairline, eye spacing / height / size, brows, nose
length and mouth width and height. Each identity sits for `sessions` sessions (a session: one
background and one lighting direction); each image of a session varies pose (shift, rotation,
scale), lighting strength, expression strength and pixel noise. The primary attribute
(smiling: mouth corners raised; neutral: a flat mouth) is drawn for every image independently of
the identity; sensitive = the identity; the `session` column names the session, so the session
and linkage attackers see sessions as they see the watch recordings.

Written as an image folder (`data.image_folder`): grayscale PNGs + attributes.csv with columns
file, primary, sensitive, session. Deterministic from the seed.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

COLUMNS = ("file", "primary", "sensitive", "session")
PRIMARY = ("neutral", "smiling")


def identity_params(rng: np.random.Generator) -> dict:
    """One person's fixed geometry and tones (coordinates in face units: the image spans [-1, 1])."""
    u = rng.uniform
    return {
        "face_a": u(0.42, 0.58), "face_b": u(0.58, 0.74), "skin": u(0.45, 0.85),
        "hair": u(0.03, 0.35), "hair_style": int(rng.integers(3)), "hairline": u(-0.55, -0.25),
        "eye_dx": u(0.16, 0.28), "eye_y": u(-0.18, -0.02), "eye_r": u(0.05, 0.09), "eye_flat": u(0.45, 0.9),
        "brow_dy": u(0.08, 0.16), "brow_w": u(0.07, 0.13), "brow_t": u(0.015, 0.04), "brow_tilt": u(-0.3, 0.3),
        "nose_len": u(0.12, 0.28), "nose_w": u(0.03, 0.07),
        "mouth_y": u(0.3, 0.45), "mouth_w": u(0.12, 0.24), "mouth_t": u(0.025, 0.045),
    }


def session_params(rng: np.random.Generator) -> dict:
    return {"background": rng.uniform(0.1, 0.9), "light_angle": rng.uniform(0, 2 * np.pi),
            "light": rng.uniform(0.05, 0.3)}


def _soft(d: np.ndarray, edge: float) -> np.ndarray:
    """Soft inside-mask of a signed distance-like value d (> 0 inside), anti-aliased over `edge`."""
    return 1.0 / (1.0 + np.exp(-np.clip(d / edge, -30, 30)))


def _ellipse(x: np.ndarray, y: np.ndarray, cx: float, cy: float, a: float, b: float, edge: float) -> np.ndarray:
    r = np.sqrt(((x - cx) / a) ** 2 + ((y - cy) / b) ** 2)
    return _soft((1 - r) * min(a, b), edge)


def _paint(img: np.ndarray, mask: np.ndarray, tone: float) -> np.ndarray:
    return img * (1 - mask) + tone * mask


def render_face(p: dict, s: dict, smile: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """One (size, size) image in [0, 1]: person p, session s, mouth curvature `smile` (0 = neutral)."""
    t = np.linspace(-1, 1, size)
    gx, gy = np.meshgrid(t, t)
    ang, scale = rng.normal(0, 0.08), rng.uniform(0.92, 1.08)
    dx, dy = rng.normal(0, 0.05, 2)
    c, si = np.cos(ang), np.sin(ang)
    x = (c * (gx - dx) + si * (gy - dy)) / scale  # the inverse pose: image grid -> face coordinates
    y = (-si * (gx - dx) + c * (gy - dy)) / scale
    edge = 1.2 / size
    img = np.full((size, size), s["background"])
    a, b = p["face_a"], p["face_b"]
    if p["hair_style"] == 1:  # long hair: a wider oval behind the face, down to the jaw
        img = _paint(img, _ellipse(x, y, 0, 0.05, a + 0.12, b + 0.05, edge) * _soft(0.55 - y, edge), p["hair"])
    img = _paint(img, _ellipse(x, y, 0, 0, a, b, edge), p["skin"])
    if p["hair_style"] != 2:  # 2: bald
        top = _ellipse(x, y, 0, -0.04, a + 0.05, b + 0.06, edge) * _soft(p["hairline"] - y, edge)
        img = _paint(img, top, p["hair"])
    for side in (-1, 1):
        ex = side * p["eye_dx"]
        img = _paint(img, _ellipse(x, y, ex, p["eye_y"], p["eye_r"], p["eye_r"] * p["eye_flat"], edge), 0.05)
        by = p["eye_y"] - p["brow_dy"] + side * p["brow_tilt"] * (x - ex)
        brow = _soft(p["brow_t"] - np.abs(y - by), edge) * _soft(p["brow_w"] - np.abs(x - ex), edge)
        img = _paint(img, brow, p["hair"] * 0.8)
    ny0 = p["eye_y"] + 0.02
    nose = _soft(p["nose_w"] / 2 - np.abs(x), edge) * _soft(y - ny0, edge) * _soft(ny0 + p["nose_len"] - y, edge)
    img = _paint(img, nose, p["skin"] * 0.72)
    mw = p["mouth_w"] * (1 + 0.3 * smile / 0.1)
    curve = p["mouth_y"] + smile * (1 - 2 * (x / mw) ** 2)  # corners raised by `smile` (y points down)
    mouth = _soft(p["mouth_t"] - np.abs(y - curve), edge) * _soft(mw - np.abs(x), edge)
    img = _paint(img, mouth, 0.15)
    la = s["light_angle"] + rng.normal(0, 0.3)
    light = 1 + s["light"] * rng.uniform(0.6, 1.4) * (np.cos(la) * gx + np.sin(la) * gy)
    return np.clip(img * light + rng.normal(0, 0.03, img.shape), 0, 1)


def make_faces(root: str | Path, identities: int = 30, sessions: int = 2, per_session: int = 8, size: int = 32,
               seed: int = 0) -> Path:
    """Write identities x sessions x per_session grayscale faces + attributes.csv under root."""
    from PIL import Image

    if identities < 2 or sessions < 1 or per_session < 1 or size < 8:
        raise ValueError("make_faces: needs identities >= 2, sessions >= 1, per_session >= 1, size >= 8")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    people = [identity_params(rng) for _ in range(identities)]
    rows = []
    for i, p in enumerate(people):
        for j in range(sessions):
            s = session_params(rng)
            for k in range(per_session):
                smiling = bool(rng.integers(2))
                smile = rng.uniform(0.06, 0.12) if smiling else rng.uniform(-0.015, 0.015)
                img = render_face(p, s, smile, size, rng)
                name = f"p{i:02d}_s{j}_{k:02d}.png"
                Image.fromarray(np.round(img * 255).astype(np.uint8), mode="L").save(root / name)
                rows.append({"file": name, "primary": PRIMARY[smiling], "sensitive": f"person{i:02d}",
                             "session": f"person{i:02d}_s{j}"})
    with (root / "attributes.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(COLUMNS))
        w.writeheader()
        w.writerows(rows)
    return root
