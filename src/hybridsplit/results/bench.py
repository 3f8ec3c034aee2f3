"""bench.json: per-layer latency, memory and energy proxies of a bundle's device half on one
target, the cloud half on the server, and end-to-end estimates per network."""

from __future__ import annotations

from hybridsplit.results.base import Result, Row


class LatencyStats(Row):
    """Summary of timed runs, in the unit the enclosing field names (µs for `latency_us`)."""

    count: int | None = None
    mean: float | None = None
    median: float
    p90: float | None = None
    min: float | None = None
    max: float | None = None
    std: float | None = None


class LayerRow(Row):
    """One op (or stage) of the device half: its output, its cost, its measured time."""

    name: str
    kind: str
    output_shape: list[int] = []
    output_bytes_fp32: int = 0
    output_bytes_int8: int = 0
    macs: int = 0
    params: int = 0
    weight_bytes_int8: int = 0
    weight_bytes_fp32: int = 0
    latency_us_median: float | None = None
    latency_us_p90: float | None = None
    latency_method: str | None = None
    cumulative_us_median: float | None = None
    cumulative_us_p90: float | None = None
    energy_uj: float | None = None


class LayerCheck(Row):
    """The per-layer times against the whole device half timed alone."""

    sum_of_layer_medians_us: float
    whole_median_us: float
    ratio: float
    within_15pct: bool


class TargetInfo(Row):
    spec: str
    kind: str
    host: dict = {}
    runner: str = ""


class DeviceHalf(Row):
    file: str
    file_bytes: int
    latency_us: LatencyStats
    init_ms: float | None = None
    memory: dict | None = None
    ops: list[dict] = []
    """per-op rows a phone's benchmark tool printed, when it printed them"""
    ops_note: str | None = None
    """why per-op rows are absent (a delegate that runs its ops as one kernel)"""
    delegate: str | None = None
    params: int = 0
    macs: int = 0


class HostTiming(Row):
    """A model timed on this host (the server), in ms."""

    median_ms: float
    p90_ms: float | None = None
    runs: int | None = None
    method: str | None = None
    runtime: str | None = None


class BlockRow(Row):
    """Consecutive ops of the device half under one module of the model (bench/blocks.py)."""

    name: str
    ops: list[str]
    macs: int = 0
    params: int = 0
    latency_us_median: float | None = None


class CloudTimes(Row):
    half: HostTiming
    whole_model: HostTiming
    host: str = "this host (the server)"


class EnergyBlock(Row):
    compute_uj: dict
    compute_source: str = ""
    compute_model: str = ""
    note: str = ""
    measured: dict | None = None
    """energy sampled on a phone (adb --measure-energy), with its method and caveats"""


class FeatureInfo(Row):
    bytes: int
    raw_input_bytes: int
    dtype: str
    shape: list[int]


class BenchResult(Result):
    KIND = "bench"
    FILE = "bench.json"

    created: str
    bundle: str
    run: str | None = None
    cut: str
    backbone: str
    target: TargetInfo
    config: dict = {}
    prefix_models: dict = {}
    method: str = ""
    layers: list[LayerRow]
    blocks: list[BlockRow] = []
    """`layers` grouped by the model's modules, when a run names them (`--run`)"""
    blocks_note: str | None = None
    """why `blocks` is empty"""
    check: LayerCheck
    device_half: DeviceHalf
    whole_model_on_target: dict | None = None
    cloud: CloudTimes
    energy: EnergyBlock
    feature: FeatureInfo
    artifact_profiles: dict[str, dict] = {}
    """per .tflite of the bundle: per-op profile, delegation, sum-vs-whole check (bench/opprofile.py)"""
    networks: dict[str, dict] = {}
    """per network: split / cloud_only / device_only end-to-end estimates and radio energy"""
