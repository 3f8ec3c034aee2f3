"""Tensor layouts of a bundle's artifacts: torch's channels-first (NC, NCW, NCHW) and channels-last
(NWC, NHWC, which the onnx2tf route writes), and the reordering between them. The manifest records
each artifact's input and output layout; data and cloud.onnx use torch's."""

from __future__ import annotations

import numpy as np

from hybridsplit.errors import BundleError

TORCH_LAYOUTS = {2: "NC", 3: "NCW", 4: "NCHW", 5: "NCDHW"}
CHANNELS_LAST = {"NC": "NC", "NCW": "NWC", "NCHW": "NHWC", "NCDHW": "NDHWC"}


def torch_layout(ndim: int) -> str:
    return TORCH_LAYOUTS.get(ndim, "NC" + "." * (ndim - 2))


def is_channels_last(layout: str) -> bool:
    return layout in CHANNELS_LAST.values() and layout != "NC"


def to_channels_last(x: np.ndarray) -> np.ndarray:
    return x if x.ndim <= 2 else np.ascontiguousarray(np.moveaxis(x, 1, -1))


def from_channels_last(x: np.ndarray) -> np.ndarray:
    return x if x.ndim <= 2 else np.ascontiguousarray(np.moveaxis(x, -1, 1))


def channels_last_shape(shape: list[int]) -> list[int]:
    return list(shape) if len(shape) <= 2 else [shape[0], *shape[2:], shape[1]]



def layout_permutation(src: str, dst: str) -> list[int]:
    """Axes permutation taking a batched array from layout `src` (e.g. NCW) to `dst` (e.g. NWC)."""
    if sorted(src) != sorted(dst) or len(set(src)) != len(src):
        raise BundleError(f"Layout {dst} is not a reordering of {src}; the bundle's recorded layouts do not fit "
                          "this data — re-export the bundle")
    return [src.index(c) for c in dst]


def relayout(x: np.ndarray, src: str, dst: str) -> np.ndarray:
    """x from layout `src` to `dst`, e.g. a batch of NCW windows for an NWC (channels-last) artifact.
    A bundle records each artifact's input and output layout; data and cloud.onnx use torch's NC...."""
    if src == dst:
        return x
    if len(src) != x.ndim:
        raise BundleError(f"Cannot reorder a {x.ndim}-d array from layout {src} to {dst}; the bundle's recorded "
                          "layouts do not fit this data — re-export the bundle")
    return np.ascontiguousarray(np.transpose(x, layout_permutation(src, dst)))
