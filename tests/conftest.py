"""Shared, session-scoped fixtures: one trained default run and one exported bundle.

Training the default recipe takes seconds and exporting it ~15 s, so every test that needs a
real model or bundle shares these instead of building its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RECIPE = ROOT / "recipes" / "watch.toml"


@pytest.fixture(scope="session")
def default_recipe():
    from hybridsplit.recipe import load_recipe

    return load_recipe(DEFAULT_RECIPE)


@pytest.fixture(scope="session")
def watch_data(default_recipe):
    from hybridsplit.data import build_data

    return build_data(default_recipe.data, default_recipe.seed)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, default_recipe, watch_data) -> Path:
    """runs/<tmp>: the default recipe trained once for the whole session, or $HYBRIDSPLIT_TEST_RUN
    (a run of recipes/watch.toml, e.g. runs/default; benchmarks/mutation.py passes a copy)."""
    from hybridsplit.train import train

    if os.environ.get("HYBRIDSPLIT_TEST_RUN"):
        return Path(os.environ["HYBRIDSPLIT_TEST_RUN"])

    _, ckpt = train(default_recipe, watch_data, show_progress=False)
    run_dir = tmp_path_factory.mktemp("runs") / "default"
    ckpt.save(run_dir)
    return run_dir


@pytest.fixture(scope="session")
def default_bundle(tmp_path_factory, trained_run) -> Path:
    """bundles/<tmp>: the trained default run exported once for the whole session, or
    $HYBRIDSPLIT_TEST_BUNDLE (that run's bundle; the serving fixtures honour it too)."""
    from hybridsplit.exporters.bundle import build_bundle

    if os.environ.get("HYBRIDSPLIT_TEST_BUNDLE"):
        return Path(os.environ["HYBRIDSPLIT_TEST_BUNDLE"])

    out = tmp_path_factory.mktemp("bundles") / "default"
    build_bundle(trained_run, out)
    return out


@pytest.fixture(scope="session")
def variants_bundle(tmp_path_factory, trained_run) -> Path:
    """The default run with every TFLite mode through litert-torch (strict: a mode off tolerance fails)
    and both Core ML packages (--format coreml)."""
    from hybridsplit.exporters.bundle import build_bundle
    from hybridsplit.exporters.session import ExportPlan

    out = tmp_path_factory.mktemp("bundles") / "variants"
    build_bundle(trained_run, out, plan=ExportPlan.from_cli(["coreml"], ["fp16,dynamic_int8,int8_per_tensor,int16x8"],
                                                            "litert-torch"))
    return out


def pytest_sessionfinish(session, exitstatus):
    """A skipped test is not a passed one: `make test` installs everything, so any skip fails the run."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and exitstatus == 0:
        reporter.write_line(f"error: {skipped} test(s) skipped; `make test` installs what every test needs, "
                            "so a skip is a set-up failure (see the skip reasons above)", red=True)
        session.exitstatus = 1
