"""`make_report(bundle_dir) -> Report`: one self-contained report.html from a bundle and the results beside it.

Sections, each present when its results exist: manifest summary and exports (always, from
manifest.json; plus export_report.json), per-layer latency (bench.json), privacy–utility
(privacy.json), sweep Pareto front (sweep.json), defence search (defence_search.json), the runtime
comparison of real-size device halves (benchmarks/int8_mobile.py's JSON, given or beside the bundle), and
any PNG plots other stages wrote beside the bundle. Plots are rendered with matplotlib and inlined as
base64, so the file works offline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from hybridsplit.bundle.manifest import load_manifest
from hybridsplit.report import sections as S
from hybridsplit.report.defence import defence_search_section
from hybridsplit.report.html import render
from hybridsplit.report.runtimes import runtimes_section

REPORT_NAME = "report.html"


@dataclass
class Report:
    bundle_dir: Path
    title: str
    sections: list = field(repr=False)
    missing: list[str] = field(default_factory=list)

    @property
    def section_ids(self) -> list[str]:
        return [s.id for s in self.sections]

    @property
    def plot_count(self) -> int:
        return sum(len(s.images) for s in self.sections)

    def html(self) -> str:
        subtitle = f"{self.bundle_dir} — generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        return render(self.title, subtitle, self.sections, self.missing)

    def save(self, path: str | Path | None = None) -> Path:
        path = Path(path) if path else self.bundle_dir / REPORT_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(self.html(), encoding="utf-8")
        tmp.replace(path)
        return path


def make_report(bundle_dir: str | Path, sweep: str | Path | None = None, runtimes: str | Path | None = None,
                defence_search: str | Path | None = None) -> Report:
    bundle_dir = Path(bundle_dir)
    manifest = load_manifest(bundle_dir)
    sections = [S.manifest_section(manifest, bundle_dir), S.export_section(manifest, bundle_dir)]
    missing = []
    optional = [
        ("bench", lambda: S.bench_section(bundle_dir), "per-layer latency: no bench.json (run `hybridsplit bench`)"),
        ("privacy", lambda: S.privacy_section(bundle_dir), "privacy–utility: no privacy.json (run `hybridsplit privacy`)"),
        ("sweep", lambda: S.sweep_section(bundle_dir, Path(sweep) if sweep else None),
         "Pareto front: no sweep.json (run `hybridsplit sweep`)"),
    ]
    for _, build, why in optional:
        sec = build()
        if sec is None:
            missing.append(why)
        else:
            sections.append(sec)
    # a search and a benchmark are not stages every bundle goes through: present when given, never "missing"
    for extra in (defence_search_section(bundle_dir, Path(defence_search) if defence_search else None),
                  runtimes_section(bundle_dir, Path(runtimes) if runtimes else None)):
        if extra:
            sections.append(extra)
    used = {cap.split(" ")[0] for s in sections for cap, _ in s.images}
    other = S.other_images_section(bundle_dir, used)
    if other:
        sections.append(other)
    title = f"hybridsplit report — {manifest.backbone} cut at {manifest.cut}"
    return Report(bundle_dir, title, sections, missing)
