"""export_report.json: the typed document lives in hybridsplit.results.export (readers need no exporters)."""

from __future__ import annotations

from pathlib import Path

from hybridsplit.results.export import ExportReport, ExportRow

REPORT_NAME = ExportReport.FILE

__all__ = ["REPORT_NAME", "ExportReport", "ExportRow", "load_report"]


def load_report(directory: str | Path) -> ExportReport:
    return ExportReport.load(Path(directory) / REPORT_NAME)
