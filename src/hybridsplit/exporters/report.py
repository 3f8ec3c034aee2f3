"""export_report.json: one row per artifact tried (format, mode, converter, size, max-abs, accuracy)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPORT_NAME = "export_report.json"


@dataclass
class ReportRow:
    artifact: str
    format: str
    mode: str
    converter: str
    status: str = "ok"
    """ok | failed | skipped"""
    file: str | None = None
    bytes: int | None = None
    layout: str | None = None
    """input layout -> output layout"""
    max_abs: float | None = None
    rel: float | None = None
    tolerance: float | None = None
    accuracy: float | None = None
    message: str = ""


@dataclass
class ExportReport:
    backbone: str
    cut: str
    torch_accuracy: float
    rows: list[ReportRow] = field(default_factory=list)
    size_ratios: dict[str, dict] = field(default_factory=dict)
    speed_quant: dict = field(default_factory=dict)
    """exporters/speedcheck.speed_quant_report: float islands, ops not delegated, int8 vs fp32 per .tflite."""

    def add(self, row: ReportRow) -> ReportRow:
        self.rows.append(row)
        return row

    def row(self, artifact: str) -> ReportRow | None:
        return next((r for r in self.rows if r.artifact == artifact), None)

    def ratio(self, name: str, big: str, small: str) -> None:
        b, s = self.row(big), self.row(small)
        if b and s and b.bytes and s.bytes:
            self.size_ratios[name] = {"larger": big, "smaller": small, "larger_bytes": b.bytes,
                                      "smaller_bytes": s.bytes, "ratio": round(b.bytes / s.bytes, 3)}

    def to_dict(self) -> dict:
        return {"backbone": self.backbone, "cut": self.cut, "torch_fp32_accuracy": self.torch_accuracy,
                "rows": [asdict(r) for r in self.rows], "size_ratios": self.size_ratios,
                **({"speed_quant": self.speed_quant} if self.speed_quant else {})}

    def save(self, directory: Path) -> Path:
        path = directory / REPORT_NAME
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path


def load_report(directory: str | Path) -> dict:
    return json.loads((Path(directory) / REPORT_NAME).read_text())
