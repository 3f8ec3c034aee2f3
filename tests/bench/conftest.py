"""One local `hybridsplit bench` run of the default bundle, shared by the bench tests.

It exports the prefix models once (into a kept directory) so the ssh test can time the very
same files on the loopback "board".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def local_bench(tmp_path_factory, trained_run, default_bundle) -> tuple[dict, Path, str]:
    from typer.testing import CliRunner

    from hybridsplit.cli import app

    work = tmp_path_factory.mktemp("bench")
    models = work / "models"
    out = work / "bench.json"
    res = CliRunner().invoke(app, ["bench", "--bundle", str(default_bundle), "--run", str(trained_run),
                                   "--target", "local", "--runs", "600", "--warmup", "30", "--no-device-only",
                                   "--keep-models", str(models), "--out", str(out)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads(out.read_text()), models, res.output
