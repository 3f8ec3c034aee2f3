"""The device side in Python: run device.tflite, add the manifest's noise, send, read the answer.

    device = DeviceRunner("bundles/default")
    with CloudClient("http://127.0.0.1:8000", token) as cloud:
        answer = cloud.predict(device.message(window))

`run_client` does this for every test window of the bundle's recipe and reports accuracy and
per-stage latency: device (LiteRT), network (round trip minus the server's own time) and cloud
(the server's `cloud_ms`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from hybridsplit.bundle.manifest import load_manifest
from hybridsplit.bundle.preprocess import Preprocessor
from hybridsplit.bundle.runtime import DeviceArtifact
from hybridsplit.errors import BundleError, TargetError
from hybridsplit.serving import wire


class DeviceRunner:
    """device.tflite through ai_edge_litert, producing what a phone sends (int8 features + noise)."""

    def __init__(self, bundle_dir: str | Path, artifact: str = "tflite_int8", seed: int = 0, num_threads: int = 1):
        self.bundle_dir = Path(bundle_dir)
        self.manifest = load_manifest(self.bundle_dir)
        if artifact not in self.manifest.artifacts or self.manifest.artifacts[artifact].role != "device":
            names = [k for k, a in self.manifest.artifacts.items() if a.role == "device"]
            raise BundleError(f"Bundle has no device artifact '{artifact}'; it has {', '.join(names)}")
        self.artifact = self.manifest.artifacts[artifact]
        self.device = DeviceArtifact(self.bundle_dir, self.manifest, artifact, num_threads=num_threads)
        self.runner = self.device.runner
        self.bundle_id = wire.bundle_id(self.bundle_dir)
        self.pre = Preprocessor(self.manifest)
        self.rng = np.random.default_rng(seed)
        # this artifact's int8 features carry the manifest's qparams; a float artifact's carry none
        self.quant = self.pre.feature_quant if self.runner.output["dtype"] == np.int8 else None

    def normalise(self, raw: np.ndarray) -> np.ndarray:
        """Raw sensor window(s) in the manifest's input layout (as samples.json holds them) -> normalised
        with the manifest's normalisation, same layout."""
        return self.pre.normalise(raw)

    def features(self, x: np.ndarray) -> np.ndarray:
        """One normalised window (C, T) or (1, C, T) -> features in the device half's own dtype, noise added.
        The window is in the data's layout (NCW); a channels-last artifact (e.g. from onnx2tf) gets it
        reordered to its recorded layout, and its output is reordered to the layout the cloud half takes
        (manifest.feature.layout) where the two differ."""
        y = self.device.raw_output(self.pre.batched(x).astype(np.float32))
        return self.pre.noisy(y, self.rng)

    def encode(self, features: np.ndarray) -> bytes:
        if self.quant:
            return wire.encode(features, self.bundle_id, *self.quant)
        return wire.encode(features, self.bundle_id)

    def message(self, x: np.ndarray) -> bytes:
        return self.encode(self.features(x))


@dataclass
class Answer:
    index: list[int]
    labels: list[str]
    probabilities: list[list[float]]
    cloud_ms: float
    round_trip_ms: float

    @property
    def network_ms(self) -> float:
        return max(self.round_trip_ms - self.cloud_ms, 0.0)


class CloudClient:
    """HTTP client for the cloud half (keep-alive, bearer token)."""

    def __init__(self, server: str, token: str, timeout: float = 30.0):
        import httpx

        self.server = server.rstrip("/")
        self.http = httpx.Client(base_url=self.server, timeout=timeout,
                                 headers={"Authorization": f"Bearer {token}"})

    def __enter__(self) -> CloudClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def _get(self, path: str) -> dict:
        import httpx

        try:
            r = self.http.get(path)
        except httpx.HTTPError as exc:
            raise TargetError(f"Cannot reach the server at {self.server} ({exc}); is `hybridsplit serve` running?") from None
        _raise_for(r)
        return r.json()

    def health(self) -> dict:
        return self._get("/v1/health")

    def info(self) -> dict:
        return self._get("/v1/info")

    def predict(self, body: bytes) -> Answer:
        import httpx

        t0 = time.perf_counter()
        try:
            r = self.http.post("/v1/predict", content=body, headers={"Content-Type": wire.CONTENT_TYPE})
        except httpx.HTTPError as exc:
            raise TargetError(f"Cannot reach the server at {self.server} ({exc}); is `hybridsplit serve` running?") from None
        rtt = (time.perf_counter() - t0) * 1000.0
        _raise_for(r)
        data = r.json()
        preds = data["predictions"]
        return Answer([p["index"] for p in preds], [p["label"] for p in preds], [p["probabilities"] for p in preds],
                      float(data["cloud_ms"]), rtt)


def _raise_for(r) -> None:
    if r.status_code >= 400:
        try:
            detail = r.json().get("detail", r.text)
        except ValueError:
            detail = r.text
        hint = " (check the token: $HYBRIDSPLIT_TOKEN or --token-file)" if r.status_code == 401 else ""
        raise TargetError(f"server answered {r.status_code}: {detail}{hint}")


@dataclass
class StageStats:
    mean_ms: float
    p50_ms: float
    p99_ms: float

    @classmethod
    def of(cls, values: list[float]) -> StageStats:
        a = np.asarray(values, np.float64)
        return cls(float(a.mean()), float(np.percentile(a, 50)), float(np.percentile(a, 99)))


@dataclass
class ClientReport:
    samples: int
    correct: int
    accuracy: float
    manifest_accuracy: float | None
    bytes_per_request: int
    device: StageStats
    network: StageStats
    cloud: StageStats
    predictions: list[int] = field(repr=False, default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("predictions")
        return d


def eval_windows(bundle_dir: str | Path):
    """The test split of the bundle's own recipe (normalised windows and primary labels)."""
    from hybridsplit.data import build_data
    from hybridsplit.recipe import recipe_from_dict

    manifest = load_manifest(bundle_dir)
    recipe = recipe_from_dict(manifest.recipe, f"{bundle_dir}/manifest.json recipe")
    data = build_data(recipe.data, recipe.seed)
    if not np.allclose(data.norm.mean, manifest.input.normalisation.mean, rtol=1e-5, atol=1e-7):
        raise BundleError("The data rebuilt from the bundle's recipe is normalised differently from the manifest; "
                          "the dataset changed since export — re-export the bundle")
    return data.test


def run_client(bundle_dir: str | Path, server: str, token: str, limit: int | None = None, seed: int = 0,
               progress=None) -> ClientReport:
    """Split inference end to end over HTTP on the bundle's test windows."""
    device = DeviceRunner(bundle_dir, seed=seed)
    test = eval_windows(bundle_dir)
    n = len(test) if limit is None else min(limit, len(test))
    dev_ms, net_ms, cloud_ms, preds = [], [], [], []
    size = 0
    with CloudClient(server, token) as cloud:
        info = cloud.info()
        if info["bundle_id"] != device.bundle_id.hex():
            raise TargetError(f"The server at {server} serves bundle {info['bundle_id'][:16]}…, not "
                              f"{bundle_dir} ({device.bundle_id.hex()[:16]}…); start it with --bundle {bundle_dir}")
        for i in range(n):
            t0 = time.perf_counter()
            body = device.message(test.x[i])
            dev_ms.append((time.perf_counter() - t0) * 1000.0)
            size = len(body)
            ans = cloud.predict(body)
            preds.append(ans.index[0])
            cloud_ms.append(ans.cloud_ms)
            net_ms.append(ans.network_ms)
            if progress is not None:
                progress(i + 1, n)
    correct = int((np.asarray(preds) == test.primary[:n]).sum())
    return ClientReport(n, correct, correct / n if n else 0.0, device.manifest.accuracy.get("tflite_int8"), size,
                        StageStats.of(dev_ms), StageStats.of(net_ms), StageStats.of(cloud_ms), preds)
