"""export_report.json: one row per artifact tried (format, mode, converter, size, parity, accuracy)."""

from __future__ import annotations

from typing import Literal

from hybridsplit.results.base import Result, Row


class ExportRow(Row):
    artifact: str
    format: str
    mode: str
    converter: str
    status: Literal["ok", "failed", "skipped"] = "ok"
    file: str | None = None
    bytes: int | None = None
    layout: str | None = None
    """input layout -> output layout"""
    max_abs: float | None = None
    rel: float | None = None
    tolerance: float | None = None
    accuracy: float | None = None
    balanced_accuracy: float | None = None
    """mean of the per-class recalls: a model that drops a minority class keeps a high accuracy, not this"""
    message: str = ""


class SizeRatio(Row):
    larger: str
    smaller: str
    larger_bytes: int
    smaller_bytes: int
    ratio: float


class ExportReport(Result):
    KIND = "export"
    FILE = "export_report.json"

    backbone: str
    cut: str
    torch_fp32_accuracy: float
    torch_fp32_balanced_accuracy: float | None = None
    rows: list[ExportRow] = []
    size_ratios: dict[str, SizeRatio] = {}
    speed_quant: dict = {}
    """exporters/speedcheck: float islands, ops not delegated, int8 vs fp32 per .tflite (empty: not run)"""

    def add(self, row: ExportRow) -> ExportRow:
        self.rows.append(row)
        return row

    def row(self, artifact: str) -> ExportRow | None:
        return next((r for r in self.rows if r.artifact == artifact), None)

    def ratio(self, name: str, big: str, small: str) -> None:
        b, s = self.row(big), self.row(small)
        if b and s and b.bytes and s.bytes:
            self.size_ratios[name] = SizeRatio(larger=big, smaller=small, larger_bytes=b.bytes,
                                               smaller_bytes=s.bytes, ratio=round(b.bytes / s.bytes, 3))
