"""Typed result documents (torch-free): each stage's output as a pydantic model with a kind, a
schema version, atomic `save` and checked `load`. Producers build them, the CLI printers and the
report read them."""

from hybridsplit.results.base import Result, ResultError, Row
from hybridsplit.results.bench import BenchResult, LayerRow
from hybridsplit.results.defence_search import DefenceSearchResult
from hybridsplit.results.export import ExportReport, ExportRow
from hybridsplit.results.privacy import PrivacyResult
from hybridsplit.results.profile import ProfileResult
from hybridsplit.results.sweep import CutRow, SweepResult

__all__ = ["BenchResult", "CutRow", "DefenceSearchResult", "ExportReport", "ExportRow", "LayerRow", "PrivacyResult", "ProfileResult", "Result",
           "ResultError", "Row", "SweepResult"]
