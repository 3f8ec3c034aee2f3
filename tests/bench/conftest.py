"""One local `hybridsplit bench` run of the default bundle, shared by the bench tests.

The bundle is copied to a directory of its own and benchmarked with no run directory anywhere:
the per-layer table comes from the bundle alone. The prefix models are kept so the ssh test can
time the very same files on the loopback "board".
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def local_bench(tmp_path_factory, default_bundle) -> tuple[dict, Path, str]:
    from typer.testing import CliRunner

    from hybridsplit.cli import app

    work = tmp_path_factory.mktemp("bench")
    copy = work / "copied_bundle"
    shutil.copytree(default_bundle, copy)  # nothing beside it: no runs/, no checkpoint
    models = work / "models"
    out = work / "bench.json"
    res = CliRunner().invoke(app, ["bench", "--bundle", str(copy), "--target", "local", "--runs", "600",
                                   "--warmup", "30", "--keep-models", str(models), "--out", str(out)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads(out.read_text()), models, res.output
