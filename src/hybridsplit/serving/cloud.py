"""The cloud half as one object: check a feature message against the bundle, run cloud.onnx.

`CloudHalf` is framework-free. The FastAPI app (serving/app.py) and the Ray Serve deployment
(serving/ray_app.py) both wrap the same object, so they validate and answer identically.
Everything it checks — bundle id, feature shape, dtype, int8 scale/zero-point — is read from
the bundle's manifest.json, never hard-coded.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from hybridsplit.bundle.manifest import Manifest, verify_bundle
from hybridsplit.errors import BundleError, HybridsplitError
from hybridsplit.serving import wire
from hybridsplit.serving.contract import CLOUD_FILE, check_cloud_model, check_manifest, feature_range


class RequestError(HybridsplitError):
    """A request the server refuses; `status` is the HTTP status code (4xx) it answers with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


class CloudHalf:
    """cloud.onnx in ONNX Runtime plus the manifest's contract for what a device may send."""

    def __init__(self, bundle_dir: str | Path, num_threads: int = 1, max_items: int = 64):
        from hybridsplit.bundle.runtime import OnnxRunner

        self.bundle_dir = Path(bundle_dir)
        self.manifest: Manifest = verify_bundle(self.bundle_dir)
        self.bundle_id: bytes = wire.bundle_id(self.bundle_dir)
        self.bundle_hex = self.bundle_id.hex()
        check_manifest(self.manifest)  # before cloud.onnx is parsed: its sha256 may have gone unchecked
        try:
            self.runner = OnnxRunner(self.bundle_dir / CLOUD_FILE, num_threads=num_threads)
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime's errors are many and untyped
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise BundleError(f"ONNX Runtime cannot load {self.bundle_dir / CLOUD_FILE} ({first}); re-export the "
                              "bundle") from None
        check_cloud_model(self.manifest, self.runner.session)
        self.max_items = max_items
        f = self.manifest.feature
        self.feature_range = feature_range(self.manifest)
        self.feature_shape: tuple[int, ...] = tuple(f.shape[1:])
        # what the bundle's device halves emit: the manifest's feature dtype plus each device artifact's output
        self.accepted_dtypes: tuple[str, ...] = tuple(dict.fromkeys(
            [f.dtype] + [a.output_dtype for a in self.manifest.artifacts.values() if a.role == "device"]))
        self._accepted_np = tuple(np.dtype(d) for d in self.accepted_dtypes)
        self.labels = list(self.manifest.labels)
        # int8 features -> float32 as one table lookup: entry u is FeatureMessage.dequantized() of the
        # int8 whose bits are u, so the result is bit-identical and costs one numpy op per request
        self._dequant_table = None
        self._scale32 = float(np.float32(f.scale)) if f.scale is not None else None  # as the wire carries it
        if f.scale is not None and f.zero_point is not None:
            codes = np.arange(256, dtype=np.uint8).view(np.int8)
            self._dequant_table = wire.FeatureMessage(self.bundle_id, codes, self._scale32,
                                                      int(f.zero_point)).dequantized()

    # -- validation -------------------------------------------------------------------------
    def parse(self, body: bytes, dequantize: bool = True) -> np.ndarray:
        """Wire bytes -> float32 features (n, *feature_shape), or RequestError with a 4xx status.
        `dequantize=False` leaves checked int8 features int8, for `collate` to dequantize a whole batch."""
        try:
            msg = wire.decode(body)
        except wire.WireError as exc:
            raise RequestError(400, f"malformed feature message: {exc}") from None
        return self.features_of(msg, dequantize)

    def features_of(self, msg: wire.FeatureMessage, dequantize: bool = True) -> np.ndarray:
        if msg.bundle_id != self.bundle_id:
            raise RequestError(409, f"bundle id {msg.bundle_id.hex()[:16]}… does not match this server's bundle "
                                    f"{self.bundle_id.hex()[:16]}…; fetch /v1/info and use the matching device model")
        t = msg.tensor
        if t.dtype not in self._accepted_np:  # np.dtype compare: .name costs more than the check
            raise RequestError(422, f"features are {t.dtype.name}; this bundle's device halves send "
                                    f"{' or '.join(self.accepted_dtypes)}")
        if t.ndim != 1 + len(self.feature_shape) or tuple(t.shape[1:]) != self.feature_shape:
            raise RequestError(422, f"feature shape {list(t.shape)} does not match the bundle's "
                                    f"[n, {', '.join(map(str, self.feature_shape))}]")
        if not 1 <= t.shape[0] <= self.max_items:
            raise RequestError(422, f"batch of {t.shape[0]} feature tensors; send 1..{self.max_items} per request")
        if t.dtype == np.int8:
            if self._dequant_table is None:  # no scale/zero_point in the manifest
                raise RequestError(422, "this bundle's features are not int8-quantized; send float32")
            f = self.manifest.feature
            # the wire carries float32; a client that copies the manifest's scale sends exactly float32(scale)
            if msg.scale != self._scale32 or msg.zero_point != f.zero_point:
                raise RequestError(422, f"int8 scale/zero_point ({msg.scale:g}, {msg.zero_point}) differ from the "
                                        f"bundle's ({f.scale:g}, {f.zero_point}); the device model is not this bundle's")
            return self._dequant_table.take(t.view(np.uint8)) if dequantize else t
        x = t.astype(np.float32)
        if not np.isfinite(x).all():
            raise RequestError(422, "features contain NaN or infinity")
        if self.feature_range is not None:
            lo, hi = self.feature_range
            if x.min() < lo or x.max() > hi:
                raise RequestError(422, f"features span [{x.min():g}, {x.max():g}]; this bundle's device half emits "
                                        f"values in [{lo:g}, {hi:g}] (manifest feature scale/zero_point)")
        return x

    def check_output(self, probs: np.ndarray) -> None:
        """A non-finite probability would answer `null`s: refuse the request instead (its features drove
        the model outside what it can answer)."""
        if not np.isfinite(probs).all():
            raise RequestError(422, "the cloud half gives no finite answer for these features; send features "
                                    "the bundle's device half produced")

    def collate(self, xs: list[np.ndarray]) -> np.ndarray:
        """One float32 batch from requests' features, float32 or int8 as `parse(dequantize=False)` left
        them: int8 is dequantized here, once per batch on the model's thread, instead of once per
        request on the event loop (one table lookup: bit-identical to `FeatureMessage.dequantized`)."""
        if all(x.dtype == np.int8 for x in xs):
            q = xs[0] if len(xs) == 1 else np.concatenate(xs)
            return self._dequant_table.take(q.view(np.uint8))
        parts = [self._dequant_table.take(x.view(np.uint8)) if x.dtype == np.int8 else x for x in xs]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    # -- inference --------------------------------------------------------------------------
    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """float32 features (N, *feature_shape) -> class probabilities (N, classes)."""
        return softmax(self.runner(x))

    def answer(self, probs: np.ndarray, cloud_ms: float) -> dict:
        """The JSON body of a predict answer (schemas.PredictResponse), shared by both engines; RequestError
        (422) where a probability is not finite, as `check_output`. Built from plain lists (`tolist()`),
        checked and arg-maxed in Python: a request has a few rows of a few classes, where each numpy call
        (isfinite, all, argmax) costs microseconds of the one event-loop core."""
        predictions = []
        for row in probs.tolist():
            if not math.isfinite(sum(row)):  # float64 sum of float32s: non-finite only for a NaN or infinity
                self.check_output(probs)  # raises, with its message
            best = max(range(len(row)), key=row.__getitem__)
            predictions.append({"index": best, "label": self.labels[best], "probabilities": row})
        return {"bundle_id": self.bundle_hex, "predictions": predictions, "cloud_ms": cloud_ms}

    def info(self) -> dict:
        """What a client needs from the manifest to produce and send features."""
        m = self.manifest
        return {
            "bundle_id": self.bundle_hex,
            "wire_version": wire.VERSION,
            "content_type": wire.CONTENT_TYPE,
            "backbone": m.backbone,
            "cut": m.cut,
            "input": m.input.model_dump(mode="json"),
            "feature": m.feature.model_dump(mode="json"),
            "accepted_dtypes": list(self.accepted_dtypes),
            "max_items_per_request": self.max_items,
            "labels": self.labels,
            "device_files": {k: a.file for k, a in m.artifacts.items() if a.role == "device"},
            "accuracy": m.accuracy,
        }
