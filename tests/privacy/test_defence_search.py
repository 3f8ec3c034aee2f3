"""`hybridsplit defend --max-attacker X`: the search's choice, its frontier document, its report section,
and — on the watch data with one-epoch fine-tunes — that the chosen run really keeps the best attacker
<= X on its exported int8 artifact, recomputed through LiteRT + scikit-learn called directly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from oracle import litert_features, manifest_json, onnx_logits
from typer.testing import CliRunner

from hybridsplit.cli import app
from hybridsplit.results import DefenceSearchResult
from hybridsplit.results.defence_search import SearchPoint, Settings

runner = CliRunner()
X = 0.30
TINY = ["--set", "defence.epochs=1", "--set", "defence.cloud_epochs=1", "--budget", "1", "--seeds", "1",
        "--noise", "0.4,1.5"]


def _point(prim: float, att: float, x: float = X, noise: float = 0.4) -> SearchPoint:
    return SearchPoint(settings=Settings(siamese=0.3, pca_dims=6, noise=noise), finetune=0, trained_noise=0.4,
                       primary_accuracy=prim, primary_balanced_accuracy=prim, best_attack="knn",
                       best_attack_accuracy=att, met=att <= x)


def test_choice_is_the_least_accuracy_loss_within_x_and_frontier_is_undominated():
    from hybridsplit.defences.search import closest, order

    pts = [_point(0.99, 0.50), _point(0.97, 0.28), _point(0.98, 0.30), _point(0.95, 0.15), _point(0.96, 0.29)]
    assert order(pts)[0] is pts[2]  # 0.98 at exactly X beats 0.97 and 0.95 under it; 0.99 misses X
    assert [p.primary_accuracy for p in order(pts)] == [0.98, 0.97, 0.96, 0.95]
    doc = DefenceSearchResult(created="t", run="r", out="o", max_attacker=X, chance=0.1, points=pts)
    # by hand: 0.96/0.29 is beaten by 0.97/0.28; every other point trades accuracy against the attacker
    assert sorted(p.primary_accuracy for p in doc.frontier()) == [0.95, 0.97, 0.98, 0.99]
    assert order([_point(0.99, 0.5)]) == [] and closest([_point(0.9, 0.4), _point(0.99, 0.35)]).primary_accuracy == 0.99


def test_candidates_start_at_the_recipe_setting_and_respect_the_budget(tmp_path):
    from hybridsplit.defences.search import SearchConfig, candidates
    from hybridsplit.recipe import load_recipe

    r = load_recipe(Path(__file__).resolve().parents[2] / "recipes" / "watch_defended.toml")
    # the recipe's Siamese 0.3 / adversarial 0.3 / PCA 6, DCA with 7 exercises - 1 directions, fewer PCA dims,
    # then a 3x stronger adversary
    assert candidates(r, SearchConfig(max_attacker=X, budget=4), num_primary=7) == [
        (0.3, 0.3, 6, "pca"), (0.3, 0.3, 6, "dca"), (0.3, 0.3, 4, "pca"), (0.3, 0.9, 4, "pca")]
    grid = candidates(r, SearchConfig(max_attacker=X, siamese=(0.1, 1.0), pca=(8, 4), budget=10))
    assert grid == [(0.1, 0.3, 8, "pca"), (1.0, 0.3, 8, "pca"), (0.1, 0.3, 4, "pca"), (1.0, 0.3, 4, "pca")]
    grid = candidates(r, SearchConfig(max_attacker=X, adversarial=(0.0, 1.0), budget=10))
    assert grid == [(0.3, 0.0, 6, "pca"), (0.3, 1.0, 6, "pca")]
    # DCA's dims are always primary classes - 1, whatever --pca says
    grid = candidates(r, SearchConfig(max_attacker=X, projection=("dca",), pca=(8, 4), budget=10), num_primary=2)
    assert grid == [(0.3, 0.3, 1, "dca")]
    plain = load_recipe(Path(__file__).resolve().parents[2] / "recipes" / "faces.toml")  # no [defence]
    # DCA with the recipe's own loss weights: none here, so the projection of the undefended features
    assert candidates(plain, SearchConfig(max_attacker=X, budget=3), num_primary=2) == [
        (0.3, 0.0, 8, "pca"), (0.0, 0.0, 1, "dca"), (0.3, 0.0, 6, "pca")]


def test_without_a_defence_section_pca_pools_only_where_the_cloud_half_starts_with_a_pool():
    """A faces run cut at vgg_small's block2 (the cloud half flattens): pooled PCA would be refused before
    training, so the search must choose flattened PCA by itself."""
    from hybridsplit.defences.search import base_defence
    from hybridsplit.recipe import load_recipe

    plain = load_recipe(Path(__file__).resolve().parents[2] / "recipes" / "faces.toml")
    assert not plain.defence.active()
    assert base_defence(plain, lambda: False).defence.pool is False
    assert base_defence(plain, lambda: True).defence.pool is True
    own = load_recipe(Path(__file__).resolve().parents[2] / "recipes" / "watch_defended.toml")
    assert base_defence(own, lambda: not own.defence.pool) is own  # a recipe's own [defence] is kept


def test_result_round_trip_and_report_section(tmp_path):
    from hybridsplit.report.defence import defence_search_section

    doc = DefenceSearchResult(created="t", run="r", out="o", max_attacker=X, chance=0.1,
                              points=[_point(0.98, 0.25), _point(0.99, 0.45)])
    doc.chosen = doc.points[0]
    path = doc.save(tmp_path)
    raw = json.loads(path.read_text())
    assert (raw["kind"], raw["schema"], path.name) == ("defence_search", 1, "defence_search.json")
    back = DefenceSearchResult.load(tmp_path)
    assert back.chosen.best_attack_accuracy == 0.25 and len(back.points) == 2
    sec = defence_search_section(tmp_path)
    assert sec.id == "defence_search" and len(sec.images) == 1 and sec.images[0][1].startswith("data:image/png")
    assert "0.25" in sec.body and "0.45" in sec.body


def _recomputed_attacker(bundle: Path, data, noise: float) -> dict:
    """The bundle's int8 device.tflite through LiteRT directly, the manifest's noise drawn as the cloud would
    see it, and scikit-learn attackers fitted here (not through hybridsplit.privacy)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    tr = litert_features(bundle / "device.tflite", data.train.x).reshape(len(data.train.x), -1)
    te = litert_features(bundle / "device.tflite", data.test.x).reshape(len(data.test.x), -1)
    rng = np.random.default_rng(123)  # a draw of its own: the bound must hold for any draw, not one seed
    tr, te = tr + rng.normal(0, noise, tr.shape), te + rng.normal(0, noise, te.shape)
    out = {}
    for name, clf in {"knn": make_pipeline(StandardScaler(), KNeighborsClassifier(5)),
                      "random_forest": RandomForestClassifier(150, min_samples_leaf=2, random_state=1)}.items():
        out[name] = float((clf.fit(tr, data.train.sensitive).predict(te) == data.test.sensitive).mean())
    logits = onnx_logits(bundle / "cloud.onnx", te.reshape(len(te), *manifest_json(bundle)["feature"]["shape"][1:]))
    out["primary"] = float((logits.argmax(1) == data.test.primary).mean())
    return out


@pytest.fixture(scope="module")
def searched(trained_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("search") / "searched"
    result = runner.invoke(app, ["defend", "--run", str(trained_run), "--recipe", "recipes/watch_defended.toml",
                                 "--out", str(out), "--max-attacker", str(X), "-q", *TINY], terminal_width=200)
    return out, result


@pytest.mark.slow
def test_search_chooses_a_point_that_meets_x_on_the_int8_artifact(searched, watch_data):
    from hybridsplit.checkpoint import Checkpoint

    out, result = searched
    assert result.exit_code == 0, result.output
    doc = DefenceSearchResult.load(out)
    assert doc.met and doc.chosen is not None and doc.chosen.best_attack_accuracy <= X
    assert len(doc.points) == 2 and {p.settings.noise for p in doc.points} == {0.4, 1.5}
    assert "siamese" in result.output and "chosen" in result.output
    run = doc.verified[0]
    ckpt = Checkpoint.load(out)  # the chosen run, a normal defended checkpoint in OUT
    assert ckpt.extra["defence"]["noise"] == pytest.approx(doc.chosen.settings.noise)
    assert ckpt.extra["defence"]["pca_dims"] == doc.chosen.settings.pca_dims
    bundle = Path(run.bundle)
    assert manifest_json(bundle)["feature"]["noise"] == pytest.approx(doc.chosen.settings.noise)
    mine = _recomputed_attacker(bundle, watch_data, doc.chosen.settings.noise)
    assert max(mine["knn"], mine["random_forest"]) <= X, mine
    assert max(mine["knn"], mine["random_forest"]) <= run.best_attack_accuracy + 0.03, (mine, run)
    assert mine["primary"] == pytest.approx(run.primary_accuracy, abs=0.02)
    assert doc.spread.seeds == [0] and doc.spread.best_attack_accuracy.max == run.best_attack_accuracy


@pytest.mark.slow
def test_unreachable_x_exits_non_zero_with_one_line_and_keeps_the_frontier(searched, trained_run, tmp_path):
    out, _ = searched
    again = tmp_path / "again"
    shutil.copytree(out / "search", again / "search")  # the explored fine-tunes are reused, not re-trained
    result = runner.invoke(app, ["defend", "--run", str(trained_run), "--recipe", "recipes/watch_defended.toml",
                                 "--out", str(again), "--max-attacker", "0.01", "-q", *TINY], terminal_width=400)
    assert result.exit_code == 1, result.output
    errors = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "closest" in errors[0] and "below chance" in errors[0], result.output
    assert result.output.rstrip().splitlines()[-1] == errors[0]
    doc = DefenceSearchResult.load(again)
    assert not doc.met and doc.chosen is None and doc.verified == [] and len(doc.points) == 2
    assert doc.finetunes[0]["seconds"] == 0.0  # reused
    assert not (again / "checkpoint.pt").exists()


def test_a_fine_tune_whose_export_fails_a_gate_is_skipped_not_fatal(monkeypatch, tmp_path):
    """Faces, adversarial 3 for 32 epochs: int8 lost 11 points, the export's parity gate refused the bundle,
    and the ExportError ended the whole search; it is one explored point that failed."""
    from hybridsplit.defences import search as S
    from hybridsplit.errors import ExportError
    from hybridsplit.recipe import load_recipe

    r = load_recipe(Path(__file__).resolve().parents[2] / "recipes" / "watch_defended.toml")

    def failing(base, recipe, data, where, seed, cfg):
        raise ExportError("Parity gate: int8 accuracy 0.8056 is 11.11 points below torch fp32 0.9167")

    monkeypatch.setattr(S, "defended_bundle", failing)
    logs = []
    cfg = S.SearchConfig(max_attacker=X, budget=2, log=logs.append)
    seven = SimpleNamespace(primary_names=[f"exercise{i}" for i in range(7)])
    finetunes, points = S.explore(None, r, seven, tmp_path, cfg)
    assert points == [] and [f["index"] for f in finetunes] == [0, 1]
    assert all("Parity gate" in f["skipped"] for f in finetunes) and sum("skipped" in m for m in logs) == 2


def test_a_seed_of_the_chosen_setting_whose_export_fails_is_left_out_of_the_spread(monkeypatch, tmp_path):
    """The same faces search: the point met X at σ 1.5 with the cloud trained at 0.4; re-trained at 1.5 its
    int8 export failed the parity gate, and that ended the search after every fine-tune had run."""
    from hybridsplit.defences import search as S
    from hybridsplit.errors import ExportError
    from hybridsplit.recipe import load_recipe

    r = load_recipe(Path(__file__).resolve().parents[2] / "recipes" / "watch_defended.toml")
    saved = []

    def bundle(base, recipe, data, where, seed, cfg):
        if seed == r.seed:
            raise ExportError("Parity gate: int8 accuracy 0.8056 is 11.11 points below torch fp32 0.9167")
        return where, 1.0

    class FakeCheckpoint:
        @staticmethod
        def load(path):
            return type("C", (), {"save": lambda self, out: saved.append((Path(path), out))})()

    scores = {"primary_accuracy": 0.9, "primary_balanced_accuracy": 0.9, "best_attack": "knn",
              "best_attack_accuracy": 0.2, "attacks": {"knn": 0.2}, "met": True}
    monkeypatch.setattr(S, "defended_bundle", bundle)
    monkeypatch.setattr(S, "measure", lambda *a, **k: scores)
    monkeypatch.setattr(S, "Checkpoint", FakeCheckpoint)
    failed = []
    runs = S.verify(None, r, None, _point(0.9, 0.2, noise=1.5), [], tmp_path, S.SearchConfig(max_attacker=X, seeds=3),
                    failed)
    assert [x.seed for x in runs] == [r.seed + 1, r.seed + 2] and len(failed) == 1 and "Parity gate" in failed[0]
    assert saved == [(tmp_path / S.SEARCH_DIR / f"seed{r.seed + 1}" / "run", tmp_path)]  # the first seed that worked
    assert S.spread(runs).seeds == [r.seed + 1, r.seed + 2]
