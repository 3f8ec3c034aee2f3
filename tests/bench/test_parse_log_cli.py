"""`hybridsplit bench parse-log FILE [--json]` on every real fixture: timings, memory when present,
op rows when present; failed and truncated logs are one `error:` line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from hybridsplit.cli import app

from .test_parse_real import PARSED, REAL, REFUSED


def _run(*args: str):
    return CliRunner().invoke(app, ["bench", "parse-log", *args], catch_exceptions=False, terminal_width=200)


@pytest.mark.parametrize("name", sorted(PARSED))
def test_parse_log_prints_timings_memory_and_ops(name):
    want, missing = PARSED[name]
    res = _run(str(REAL / name))
    assert res.exit_code == 0, res.output
    assert "inference avg µs" in res.output and f"{want['inference_avg_us']:g}" in res.output
    for key, value in want.get("memory_mb", {}).items():
        assert f"memory {key.replace('_', ' ')} MB" in res.output and f"{value:g}" in res.output
    assert ("per-op times, regular runs" in res.output) == (want.get("n_ops", 0) > 0)
    assert f"missing: {', '.join(missing) or 'nothing'}" in res.output
    doc = json.loads(_run(str(REAL / name), "--json").output)
    assert doc["inference_avg_us"] == pytest.approx(want["inference_avg_us"]) and doc["missing"] == missing
    assert doc["memory_mb"] == pytest.approx(want.get("memory_mb", {})) and len(doc["ops"]) == want.get("n_ops", 0)
    assert set(doc) >= {"inference_avg_us", "init_ms", "memory_mb", "ops", "missing"}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_parse_log_refuses_failed_and_truncated_logs(name):
    res = _run(str(REAL / name), "--json")
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert res.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: ")


def test_parse_log_as_a_process_and_a_missing_file(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "hybridsplit.cli", "bench", "parse-log",
                           str(REAL / "gh_tf56301_logcat_nnapi.log"), "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and json.loads(proc.stdout)["source"] == "logcat"
    res = _run(str(tmp_path / "nope.log"))
    assert res.exit_code == 2 and "cannot read log" in res.output
