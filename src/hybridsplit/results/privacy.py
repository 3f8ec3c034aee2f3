"""privacy.json: what an honest-but-curious cloud can learn from the features a bundle sends —
attribute inference (several attackers), re-identification rank, input reconstruction — beside
the primary accuracy, per evaluated model, and the goal they are judged against."""

from __future__ import annotations

from hybridsplit.results.base import Result, Row


class ModelInfo(Row):
    bundle: str
    defences: list[str] = []
    noise: float = 0.0
    pca_dims: int | None = None
    feature_shape: list[int] = []
    bytes_per_inference: int | None = None
    raw_input_bytes: int | None = None


class BestAttack(Row):
    attack: str
    accuracy: float


class Sensitive(Row):
    chance: float
    """1 / number of classes"""
    majority: float | None = None
    """share of the most frequent class in the test split"""
    attacks: dict[str, dict[str, float]] = {}
    """attack -> model -> accuracy"""
    best: dict[str, BestAttack] = {}
    raw_input_reference: dict | None = None


class Goal(Row):
    sensitive_max: float
    primary_min: float | None = None
    primary_balanced_min: float | None = None
    met: dict[str, bool] = {}
    session_k: int | None = None
    session_met: dict[str, bool] = {}
    """per-window goal met, and the session attacker at k = session_k <= that k's chance + 10 points (chance: the
    larger of 1/K and the constant guess on those samples) with its balanced accuracy <= 1/K + 10 points"""
    session_max: dict[str, float] = {}
    linkage_auc_max: float | None = None
    linkage_met: dict[str, bool] = {}
    reconstruction_ssim_margin: float | None = None
    reconstruction_met: dict[str, bool] = {}
    """images: the decoder's SSIM at most the mean image's + reconstruction_ssim_margin"""


class SessionPoint(Row):
    """Attribute inference and rank on k pooled windows (k = 0: the whole session) of one session."""

    k: int
    windows: float | None = None
    """mean windows pooled per test sample"""
    train_samples: int | None = None
    test_samples: int = 0
    sessions: int | None = None
    attacks: dict[str, float] = {}
    best_attack: str | None = None
    best_accuracy: float | None = None
    balanced: dict[str, float] = {}
    """attack -> balanced accuracy (mean recall over the subjects in these samples)"""
    best_balanced_accuracy: float | None = None
    chance_uniform: float | None = None
    chance_majority: float | None = None
    """what the training samples' most frequent subject, guessed for every test sample, scores on them"""
    rank_mean_over_n: float | None = None
    rank_top1: float | None = None
    note: str | None = None


class LinkagePoint(Row):
    """Open-set linkage (attacker trained on disjoint identities) of two k-window samples of sessions."""

    k: int
    auc: float | None = None
    eer: float | None = None
    best: str | None = None
    scorers: dict[str, dict[str, float]] = {}
    identities: int | None = None
    sessions: int | None = None
    note: str | None = None


class CurvePoint(Row):
    model: str
    noise: float
    pca_dims: int | None = None
    primary_accuracy: float
    primary_balanced_accuracy: float | None = None
    best_attack: str
    best_attack_accuracy: float
    session_k: int | None = None
    session_attack_accuracy: float | None = None


class PrivacyResult(Result):
    KIND = "privacy"
    FILE = "privacy.json"

    sensitive_attribute: str = "sensitive"
    input_kind: str = "window"
    """'window' (sensor windows) or 'image': the unit the tables name"""
    artifact: str | None = None
    protocol: str | None = None
    models: dict[str, ModelInfo] = {}
    primary_accuracy: dict[str, float]
    primary_balanced_accuracy: dict[str, float] = {}
    """model -> mean of the per-class recalls (chance is 1 / classes whatever the class balance)"""
    primary_recall: dict[str, list[float | None]] = {}
    """model -> recall of each primary class (None: class absent from the test split)"""
    primary_classes: list[str] = []
    warnings: list[str] = []
    """e.g. a primary class whose recall collapsed (below 0.5, or 10 points under undefended)"""
    sensitive: Sensitive
    rank: dict[str, dict] = {}
    reconstruction: dict[str, dict] = {}
    """model -> nmse, correlation (+ ssim, psnr for images), decoder, epochs and `baseline` (the same scores of
    the mean input). Images (decoder 'conv'): split 'disjoint identities', attacker_identities,
    victim_identities, attacker_images, victim_images, best_epoch; SSIM / PSNR on pixels in [0, 1]."""
    session_of: str | None = None
    """what one session is (watch: a recording), when the data has sessions"""
    session: dict[str, list[SessionPoint]] = {}
    linkage: dict[str, list[LinkagePoint]] = {}
    goal: Goal
    curve: list[CurvePoint] | None = None
    curve_attacks: list[str] = []
