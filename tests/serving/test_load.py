"""A short run of benchmarks/serving_load.py (the full one is `make bench-serving`): no errors, none lost."""

from __future__ import annotations

import json

import benchmark_scripts
import pytest


@pytest.mark.slow
def test_short_load_run_batched_and_unbatched(bundle, tmp_path):
    mod = benchmark_scripts.load("serving_load")
    out = tmp_path / "load.json"
    result = mod.main(["--bundle", str(bundle), "--clients", "16", "--duration", "2", "--payloads", "64", "--rounds", "2",
                       "--out", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    for mode in ("batched", "unbatched"):
        r = result["modes"][mode]
        assert r["sent"] > 0 and r["errors"] == 0 and r["lost"] == 0 and r["transport_errors"] == 0
        assert r["ok"] == r["sent"]
    assert result["modes"]["unbatched"]["server"]["mean_batch_size"] == 1.0
    assert result["modes"]["batched"]["server"]["mean_batch_size"] > 1.0
