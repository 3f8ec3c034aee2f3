"""Typed result documents: round trip, growth tolerated, wrong documents refused with one line.

The documents are the ones the report tests use (tests/demos/test_report.py), written in the
schema each stage writes; these tests need no torch and no bundle.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from hybridsplit.results import BenchResult, ExportReport, PrivacyResult, ResultError, SweepResult

from result_docs import bench_doc, export_doc, privacy_doc, sweep_doc

DOCS = [(BenchResult, bench_doc), (PrivacyResult, privacy_doc), (SweepResult, sweep_doc), (ExportReport, export_doc)]


def _holds(big: object, small: object) -> bool:
    """Every key and value of `small` is in `big` (defaults the model adds are allowed)."""
    if isinstance(small, dict):
        return isinstance(big, dict) and all(k in big and _holds(big[k], v) for k, v in small.items())
    if isinstance(small, list):
        return isinstance(big, list) and len(big) == len(small) and all(map(_holds, big, small))
    return big == small


def test_holds_sees_a_changed_value():
    assert _holds({"a": [{"b": 1, "c": 2}]}, {"a": [{"b": 1}]})
    assert not _holds({"a": [{"b": 1}]}, {"a": [{"b": 2}]}) and not _holds({}, {"a": None})


@pytest.mark.parametrize(("cls", "make"), DOCS)
def test_round_trip_keeps_every_field(tmp_path, cls, make):
    doc = make()
    res = cls.from_dict(doc)
    path = res.save(tmp_path)                       # a directory: the kind's own file name
    assert path == tmp_path / cls.FILE
    back = json.loads(path.read_text())
    assert back["kind"] == cls.KIND and back["schema"] == cls.SCHEMA
    assert cls.load(path).to_dict() == back
    assert _holds(back, doc)                         # nothing the writer put in is lost or altered
    assert not list(tmp_path.glob(".*.tmp"))        # the temp file of the atomic write is gone


def test_fields_are_typed_not_dicts():
    b = BenchResult.from_dict(bench_doc())
    assert b.layers[1].name == "block2" and b.layers[1].latency_us_median == 48.5
    assert b.check.within_15pct is True and b.device_half.latency_us.median == pytest.approx(99.7 * 1.05)
    p = PrivacyResult.from_dict(privacy_doc())
    assert p.sensitive.best["defended"].accuracy == 0.19 and p.goal.met == {"defended": False}
    assert [c.noise for c in p.curve] == [0.0, 0.5, 1.0, 2.0]
    s = SweepResult.from_dict(sweep_doc())
    assert [r.cut for r in s.front()] == ["block1", "block2"]
    e = ExportReport.from_dict(export_doc())
    assert e.row("coreml_fp16").status == "failed" and e.size_ratios["tflite_fp32_over_int8"].ratio == 2.829


def test_a_newer_writer_may_add_fields():
    doc = bench_doc()
    doc["layers"][0]["dtype"] = "int8"
    doc["per_op_profile"] = {"method": "LiteRT profiler"}
    b = BenchResult.from_dict(doc)
    assert b.to_dict()["layers"][0]["dtype"] == "int8" and b.to_dict()["per_op_profile"]["method"] == "LiteRT profiler"


def test_numpy_values_and_nan_are_written_as_plain_json(tmp_path):
    doc = sweep_doc()
    doc["cuts"][0]["device_p90_ms"] = float("nan")
    res = SweepResult.from_dict(doc)
    res.config = {"threads": np.int64(2), "scale": np.float32(0.5)}
    text = res.save(tmp_path / "s.json").read_text()
    assert "NaN" not in text
    back = SweepResult.load(tmp_path / "s.json")
    assert back.config == {"threads": 2, "scale": 0.5} and back.cuts[0].device_p90_ms is None
    assert not math.isnan(back.cuts[1].end_to_end_ms)


@pytest.mark.parametrize(("text", "why"), [
    ("{not json", "is not valid JSON (Expecting property name enclosed in double quotes, line 1)"),
    ('{"kind": "bench", "schema": 2}', "has schema 2; this hybridsplit reads bench schema <= 1"),
    ('{"kind": "privacy"}', "is a 'privacy' result, not 'bench'"),
    ('{"kind": "bench", "schema": 1, "layers": "x"}', "field 'created': Field required (and "),
    ("[]", "expected a JSON object, got list"),
])
def test_unreadable_documents_are_one_line(tmp_path, text, why):
    path = tmp_path / "bench.json"
    path.write_text(text)
    with pytest.raises(ResultError) as exc:
        BenchResult.load(path)
    assert why in str(exc.value) and "\n" not in str(exc.value)


def test_missing_file_names_where_it_looked(tmp_path):
    with pytest.raises(ResultError, match=f"no bench.json at {tmp_path}"):
        BenchResult.load(tmp_path)


def test_legacy_privacy_schema_version_key_is_read():
    doc = privacy_doc()
    doc.pop("schema")
    doc.pop("kind")
    doc["schema_version"] = 1                     # what privacy.json held before the typed results
    assert PrivacyResult.from_dict(doc).schema_version == 1
