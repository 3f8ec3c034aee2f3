"""profile.json: the per-op profile of one .tflite (`hybridsplit profile FILE --out`): every op with its
shapes, dtypes, delegation and median latency, time per op kind, and the sum-vs-whole check."""

from __future__ import annotations

from hybridsplit.results.base import Result
from hybridsplit.results.bench import LayerCheck


class ProfileResult(Result):
    KIND = "profile"
    FILE = "profile.json"

    file: str
    file_bytes: int | None = None
    ops: list[dict]
    by_kind: list[dict] = []
    check: LayerCheck
    delegation: dict = {}
    method: str = ""
