"""`hybridsplit report`: one self-contained report.html for a bundle and the results beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hybridsplit.cli.common import bundle_opt, console, user_errors


@user_errors
def report(
    bundle: Annotated[Path, bundle_opt("Bundle directory (results beside it are included).")] = Path("bundles/default"),
    out: Annotated[Path | None, typer.Option(help="HTML file to write (default: <bundle>/report.html).")] = None,
    sweep: Annotated[Path | None, typer.Option(help="sweep.json to use if it is not beside the bundle.")] = None,
    runtimes: Annotated[Path | None, typer.Option(
        help="Runtime comparison JSON (make bench-int8-mobile: benchmarks/results/int8_mobile.json); "
             "default: int8_mobile.json beside the bundle, if any.")] = None,
    defence_search: Annotated[Path | None, typer.Option(
        help="defence_search.json (from `hybridsplit defend --max-attacker`) if it is not beside the bundle.")] = None,
) -> None:
    """Write report.html: manifest, exports, per-layer latency, privacy–utility, Pareto front, runtimes (whichever exist)."""
    from hybridsplit.report import make_report

    rep = make_report(bundle, sweep, runtimes, defence_search)
    path = rep.save(out)
    console.print(f"report written to {path} ({path.stat().st_size:,} bytes): sections "
                  f"{', '.join(rep.section_ids)}; {rep.plot_count} plot(s)", highlight=False)
    for m in rep.missing:
        console.print(f"  not included — {m}", highlight=False)
