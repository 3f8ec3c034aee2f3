"""Where an attacker's features come from: the torch device half, or an exported artifact.

From a bundle, the device artifact (default: the int8 `device.tflite`) runs in LiteRT; its
int8 output is dequantized with the manifest's `feature.scale` / `feature.zero_point`, and the
manifest's run-time noise (`feature.noise`) is added, exactly as the cloud would receive it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hybridsplit.bundle.layout import layout_permutation
from hybridsplit.bundle.manifest import Manifest, load_manifest
from hybridsplit.bundle.preprocess import add_noise
from hybridsplit.data import Dataset, build_data
from hybridsplit.errors import BundleError
from hybridsplit.recipe import recipe_from_dict


@dataclass
class FeatureSet:
    """Flattened features of the train and test windows, clean and as sent (with noise)."""

    train: np.ndarray
    test: np.ndarray
    train_clean: np.ndarray
    test_clean: np.ndarray
    noise: float
    source: str
    """e.g. 'bundles/defended/device.tflite (tflite_int8, dequantized)' or 'torch device half'."""
    shape: tuple[int, ...]
    info: dict = field(default_factory=dict)

    @classmethod
    def from_clean(cls, train: np.ndarray, test: np.ndarray, noise: float, seed: int, source: str) -> FeatureSet:
        rng = np.random.default_rng(seed)
        shape = tuple(train.shape[1:])
        tr, te = train.reshape(len(train), -1), test.reshape(len(test), -1)
        return cls(add_noise(tr, noise, rng), add_noise(te, noise, rng), tr, te, float(noise), source, shape)


def torch_features(device, data: Dataset, noise: float = 0.0, seed: int = 0) -> FeatureSet:
    """Features of a torch device half (nn.Module) on the dataset's windows."""
    from hybridsplit.train import predict

    return FeatureSet.from_clean(predict(device, data.train.x), predict(device, data.test.x), noise, seed,
                                 "torch device half (fp32)")


def bundle_data(manifest: Manifest) -> Dataset:
    recipe = recipe_from_dict(manifest.recipe, source="manifest.json recipe")
    data = build_data(recipe.data, recipe.seed)
    takes = [1, *data.input_shape]
    if len(takes) == len(manifest.input.shape):  # manifest.input is the int8 artifact's layout (NWC after onnx2tf)
        takes = [takes[i] for i in layout_permutation(data.input_layout, manifest.input.layout)]
    if takes != list(manifest.input.shape):
        raise BundleError(f"The bundle's recipe now gives inputs {list(data.input_shape)}, its device half takes "
                          f"{manifest.input.shape[1:]}; re-export the bundle")
    return data


def artifact_features(bundle_dir: str | Path, data: Dataset | None = None, artifact: str = "tflite_int8",
                      noise: float | None = None, seed: int = 0) -> tuple[FeatureSet, Manifest, Dataset]:
    """Features from a bundle's device artifact through LiteRT (int8 dequantized with the manifest's qparams)."""
    from hybridsplit.bundle.preprocess import dequantize
    from hybridsplit.bundle.runtime import DeviceArtifact

    bundle_dir = Path(bundle_dir)
    manifest = load_manifest(bundle_dir)
    if artifact not in manifest.artifacts or manifest.artifacts[artifact].role != "device":
        devices = [k for k, a in manifest.artifacts.items() if a.role == "device" and a.format == "tflite"]
        raise BundleError(f"Bundle '{bundle_dir}' has no device artifact '{artifact}'; it has {', '.join(devices)}")
    art = manifest.artifacts[artifact]
    if art.format != "tflite":
        raise BundleError(f"Artifact '{artifact}' is {art.format}; privacy runs .tflite device halves only")
    data = data if data is not None else bundle_data(manifest)
    device = DeviceArtifact(bundle_dir, manifest, artifact)
    spec = manifest.feature

    def run(x: np.ndarray) -> np.ndarray:
        y = np.concatenate([device.raw_output(x[i : i + 1]) for i in range(len(x))])
        if art.output_dtype == "int8":
            if spec.scale is None or spec.zero_point is None:
                raise BundleError(f"'{bundle_dir}/manifest.json' gives no feature scale/zero_point for int8 features")
            return dequantize(y, spec.scale, spec.zero_point)
        return device.runner.to_float(y)  # e.g. int16 outputs: the tensor's own params

    noise = spec.noise if noise is None else noise
    fs = FeatureSet.from_clean(run(data.train.x), run(data.test.x), noise, seed,
                               f"{bundle_dir / art.file} ({artifact}{', dequantized' if art.output_dtype == 'int8' else ''})")
    fs.info = {"artifact": artifact, "file": art.file, "dtype": art.output_dtype, "shape": spec.shape,
               "bytes_per_inference": spec.bytes_per_inference, "pca_dims": spec.pca_dims, "noise": noise}
    return fs, manifest, data
