"""defence_search.json: the defence settings `hybridsplit defend --max-attacker X` explored, each point's
primary accuracy and best attacker on the exported int8 artifact, the point chosen (least primary-accuracy
loss with best attacker <= X), and the spread of the chosen setting over several fine-tuning seeds."""

from __future__ import annotations

from hybridsplit.results.base import Result, Row


class Settings(Row):
    """One defence setting: the fine-tune's knobs and the run-time noise σ (whitened-PCA units)."""

    siamese: float
    adversarial: float = 0.0
    pca_dims: int
    projection: str = "pca"
    """"pca" or "dca" (`defence.pca.method`); pca_dims is that projection's dims"""
    noise: float

    @property
    def projection_text(self) -> str:
        """e.g. "PCA 8", "DCA 1": how tables and messages name the projection."""
        return f"{self.projection.upper()} {self.pca_dims}"


class Scores(Row):
    """What one int8 artifact measured: primary utility and the attackers (shared by points and seed runs)."""

    primary_accuracy: float
    primary_balanced_accuracy: float
    best_attack: str
    best_attack_accuracy: float
    attacks: dict[str, float] = {}
    met: bool
    """best attacker <= max_attacker"""


class SearchPoint(Scores):
    settings: Settings
    finetune: int
    """index of the fine-tune (the explored run) this point's features come from"""
    trained_noise: float
    """σ the cloud half was re-trained with; the point's σ is added to that run's int8 features"""


class SeedRun(Scores):
    """The chosen setting fine-tuned again from the undefended run with one seed, exported, attacked."""

    seed: int
    bundle: str = ""


class Stat(Row):
    mean: float
    min: float
    max: float


class Spread(Row):
    seeds: list[int]
    primary_accuracy: Stat
    primary_balanced_accuracy: Stat
    best_attack_accuracy: Stat
    met_all: bool


class DefenceSearchResult(Result):
    KIND = "defence_search"
    FILE = "defence_search.json"

    created: str
    run: str
    """the undefended run searched from"""
    out: str
    max_attacker: float
    chance: float
    artifact: str = "tflite_int8"
    attacks: list[str] = []
    undefended_accuracy: float | None = None
    """the undefended run's test accuracy (its metrics.json; torch fp32)"""
    method: str = ""
    """how the points were measured (which are sweeps over σ, which are verified runs)"""
    finetunes: list[dict] = []
    """each explored fine-tune: settings, run and bundle directories, seconds"""
    points: list[SearchPoint] = []
    chosen: SearchPoint | None = None
    verified: list[SeedRun] = []
    """the chosen setting re-trained at its own σ, one run per seed; the first is the run in `out`"""
    spread: Spread | None = None
    met: bool = False
    """a point met X in the search and the chosen setting's run in `out` met it on its own int8 artifact"""
    message: str = ""
    seconds: float | None = None

    def frontier(self) -> list[SearchPoint]:
        """The points no other point beats on both primary accuracy (higher) and attacker (lower)."""
        pts = self.points
        return [p for p in pts if not any(
            q.primary_accuracy >= p.primary_accuracy and q.best_attack_accuracy <= p.best_attack_accuracy
            and (q.primary_accuracy > p.primary_accuracy or q.best_attack_accuracy < p.best_attack_accuracy)
            for q in pts)]
