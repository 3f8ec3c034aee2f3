"""sweep.json: every candidate cut measured (latency, bytes, energy, accuracy, attacker), the
Pareto front over all objectives, and the recommended cut under the user's constraints."""

from __future__ import annotations

from hybridsplit.results.base import Result, Row
from hybridsplit.results.bench import TargetInfo


class CutRow(Row):
    cut: str
    bytes: int
    feature_shape: list[int]
    device_ms: float
    device_p90_ms: float | None = None
    device_file_bytes: int | None = None
    device_params: int = 0
    device_macs: int = 0
    peak_rss_delta_mb: float | None = None
    cloud_ms: float
    uplink_ms: float
    end_to_end_ms: float
    compute_energy_mj: float
    radio_energy_mj: float
    energy_mj: float
    accuracy: float
    """int8 device.tflite + cloud.onnx on the test split"""
    accuracy_torch_fp32: float | None = None
    attacker_acc: float | None = None
    bundle: str = ""
    pareto: bool = False
    feasible: bool = True


class SkippedCut(Row):
    cut: str
    reason: str


class Recommendation(Row):
    cut: str | None
    reason: str


class Constraints(Row):
    max_latency_ms: float | None = None
    max_bytes: int | None = None
    max_attacker_acc: float | None = None


class SweepResult(Result):
    KIND = "sweep"
    FILE = "sweep.json"

    created: str
    recipe: str
    recipe_sha256: str = ""
    run: str
    target: TargetInfo
    config: dict = {}
    network: dict = {}
    cloud_only: dict = {}
    constraints: Constraints = Constraints()
    objectives: str = ""
    cuts: list[CutRow]
    skipped: list[SkippedCut] = []
    privacy_note: str | None = None
    recommendation: Recommendation
    paths: dict[str, str] = {}

    def front(self) -> list[CutRow]:
        return [r for r in self.cuts if r.pareto]
