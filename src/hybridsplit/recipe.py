"""The experiment description: one TOML file per experiment, typed by pydantic.

A recipe names registry entries and numbers; it holds no import paths and no control flow.
`--set section.key=value` overrides any field from the command line.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hybridsplit.errors import RecipeError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Section):
    dataset: str = "watch"
    """Registry name of the dataset (`hybridsplit list datasets`)."""
    path: str | None = None
    """Data location; for `watch`, defaults to the file bundled in the seglearn wheel."""
    protocol: Literal["time", "recording", "random"] = "time"
    """time: each recording split chronologically (gap of one window); recording: one wrist
    side trains, the other tests; random: stratified random split (image folders only)."""
    window_s: float = Field(2.0, gt=0)
    stride_s: float = Field(0.5, gt=0)
    test_fraction: float = Field(0.3, gt=0, lt=1)
    image_size: int = Field(32, ge=8)
    """Image datasets: images are resized to image_size x image_size."""
    color: Literal["auto", "rgb", "gray"] = "auto"
    """Image datasets: 'auto' keeps a folder of grayscale images one-channel (RGB when any image is colour);
    'rgb' for a backbone that takes 3 channels (torchvision), 'gray' to convert colour images."""


class ModelConfig(_Section):
    backbone: str = "imu_cnn"
    """Registry name of the backbone (`hybridsplit list backbones`)."""
    cut: str = "block3"
    """Split point: a named cut (a registry backbone's stage, the device half ends after it; `hybridsplit
    list split-points`) or any graph cut (`hybridsplit cuts`)."""
    width: int = Field(32, ge=4)
    """Base channel count of the backbone."""


class TrainConfig(_Section):
    epochs: int = Field(12, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(2e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    threads: int = Field(2, ge=1)


class ExportConfig(_Section):
    calibration_samples: int = Field(512, ge=1)
    """Training windows used to calibrate full-int8 quantization."""
    parity_rtol: float = Field(1e-4, gt=0)
    """fp32 TFLite vs torch: max_abs / max(|torch|) must not exceed this."""
    max_int8_drop: float = Field(2.0, ge=0)
    """int8 TFLite accuracy may fall at most this many points below torch fp32."""
    int8_rtol: float = Field(0.15, gt=0)
    """int8 device.tflite vs torch fp32 features: max_abs / max(|torch|) must not exceed this (a gate,
    like parity_rtol; a barely trained model may need more, e.g. 0.3)."""


class SiameseConfig(_Section):
    """Osia et al.: contrastive loss on device-half features of pairs (same / different primary class)."""

    weight: float = Field(0.0, ge=0)
    """Loss weight beside the classification loss (0 = off; the paper used 0.01-0.001)."""
    margin: float = Field(10.0, gt=0)
    """Different-class pairs are pushed at least this far apart (Caffe's contrastive margin)."""


class AdversarialConfig(_Section):
    """Gradient reversal against a sensitive-attribute head on the device-half features."""

    weight: float = Field(0.0, ge=0)
    """Strength of the reversed gradient into the device half (0 = off)."""
    hidden: int = Field(128, ge=1)
    """Width of the adversary head's hidden layer."""


class NoPeekConfig(_Section):
    """NoPeek: distance correlation between the raw input and the device-half features."""

    weight: float = Field(0.0, ge=0)
    """Weight of the distance-correlation term (0 = off)."""


class SessionConfig(_Section):
    """Against a cloud that pools k windows of one session (issue 14): a pooled-window adversary, or the
    cells' mean features matched within each primary class."""

    kind: Literal["adversary", "means"] = "adversary"
    """"adversary": gradient reversal against a subject head fed means of k windows of one session
    (defences/pooled_adversary.py; what lowered the pooled attacker, recipes/watch_session_defended.toml).
    "means": each session's (or subject's) running mean feature pulled to its class mean
    (defences/session_means.py; measured, it did not lower the pooled attacker)."""
    weight: float = Field(0.0, ge=0)
    """Weight (0 = off). "adversary": the reversed gradient's scale (each window is 1/k of what the head
    sees); "means": of the between-cell / class-mean scatter ratio."""
    k: int = Field(20, ge=1)
    """"adversary": windows of one session pooled per head input (the attacker's k)."""
    hidden: int = Field(128, ge=1)
    """"adversary": width of the head's hidden layer."""
    momentum: float = Field(0.05, gt=0, le=1)
    """"means": rate at which each cell's running mean follows one new window."""
    by: Literal["session", "subject"] = "session"
    """"means": cells whose mean features are matched within each primary class: each session (the data's
    groups, a watch recording: what a pooling cloud's attacker fingerprints) or each subject."""
    space: Literal["raw", "pca"] = "raw"
    """Where the term looks. "raw": the (pooled) device features as they are ("means": over the spread of the
    class means). "pca": the running whitened top-`defence.pca.dims` principal components, what the device
    sends ("adversary": plus the run-time noise averaged over the pooled windows; "means": over the total
    scatter there); needs defence.pca.dims. Measured on the watch data, "pca" lowered the pooled attacker
    less than "raw"."""


class PCAConfig(_Section):
    dims: int | None = Field(None, ge=1)
    """Project the device-half features to this many whitened components (None = off)."""
    method: Literal["pca", "dca"] = "pca"
    """"pca": the directions of most variance (Osia et al.). "dca": discriminant component analysis (Kung 2017),
    the directions that separate the primary classes relative to all the variance, at most (primary classes - 1)
    of them; what else the features vary with (who the person is) is left out. Measured on the generated faces:
    identity 0.90 -> 0.08 at one DCA direction, where PCA to 6 dims kept 0.67."""
    ridge: float = Field(10.0, gt=0)
    """DCA only: ridge added to the total scatter, in units of its mean eigenvalue. With more feature values
    than training samples a weak ridge over-fits: on the faces (2,048 values, 336 images) ridge 1 kept the
    training projections within ±1.4 while test ones reached ±2.0, past the int8 range calibrated on training
    data; at 10 both span ±2.0 (smiling 0.993, identity 0.083 in float)."""


class NoiseConfig(_Section):
    std: float = Field(0.0, ge=0)
    """Std of the Gaussian noise the device adds to the (projected) features at run time (0 = off)."""


class DefenceConfig(_Section):
    """How `hybridsplit defend` turns an undefended run into a defended one (defaults: all off)."""

    epochs: int = Field(8, ge=0)
    """Fine-tuning epochs of the whole network with the defence losses."""
    lr: float = Field(1e-3, gt=0)
    cloud_epochs: int = Field(6, ge=0)
    """Epochs re-training the cloud half on projected, noisy features (device frozen)."""
    pool: bool = False
    """Losses and PCA act on the device features averaged over time / space (what a cloud half
    that starts with global average pooling consumes); the cloud receives them broadcast back."""
    units: Literal["raw", "spread"] = "raw"
    """Unit of siamese.margin and noise.std. "raw": feature values as they are (scale depends on the
    model and cut). "spread": the features' own spread, measured on the undefended device half before
    fine-tuning: the margin in RMS distances of a sample from the feature mean, σ in per-value RMS
    std (after PCA the features are whitened, so σ is per component std either way). The raw values
    used are recorded in the checkpoint's metrics (`units`)."""
    siamese: SiameseConfig = SiameseConfig()
    adversarial: AdversarialConfig = AdversarialConfig()
    nopeek: NoPeekConfig = NoPeekConfig()
    session: SessionConfig = SessionConfig()
    pca: PCAConfig = PCAConfig()
    noise: NoiseConfig = NoiseConfig()

    def active(self) -> list[str]:
        """Names of the defences switched on, in the order they act."""
        names = [n for n in ("siamese", "adversarial", "nopeek", "session") if getattr(self, n).weight > 0]
        if self.pca.dims:
            names.append(self.pca.method)
        if self.noise.std > 0:
            names.append("noise")
        return names


class Recipe(_Section):
    name: str = "default"
    seed: int = 0
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    export: ExportConfig = ExportConfig()
    defence: DefenceConfig = DefenceConfig()

    @model_validator(mode="after")
    def _check(self) -> Recipe:
        if self.data.stride_s > self.data.window_s:
            raise ValueError("data.stride_s must not exceed data.window_s")
        return self

    def digest(self) -> str:
        """sha256 of the canonical JSON form: identifies the experiment."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()


def _parse_value(text: str) -> Any:
    """`--set` values are TOML scalars; bare words are strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise RecipeError(f"--set '{item}' is not KEY=VALUE; write e.g. --set train.epochs=3")
        node = raw
        *parents, leaf = key.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise RecipeError(f"--set '{item}': '{part}' is not a section")
        node[leaf] = _parse_value(value.strip())
    return raw


def recipe_from_dict(raw: dict[str, Any], source: str = "recipe") -> Recipe:
    try:
        return Recipe.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise RecipeError(f"{source}: {where}: {err['msg']}") from None


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"Recipe '{path}' not found; the default one is recipes/watch.toml")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"Recipe '{path}' is not valid TOML: {exc}") from None
    return recipe_from_dict(apply_overrides(raw, overrides or []), source=str(path))
