"""`hybridsplit profile FILE.tflite`: per-op latency, shapes, dtypes and delegation of any .tflite on a target."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hybridsplit.cli.bench import KeyOpt, MaskOpt, PyOpt, RunsOpt, ThreadsOpt, TimeoutOpt, _us
from hybridsplit.cli.common import console, user_errors
from hybridsplit.errors import HybridsplitError


def _shapes(tensors: list[dict]) -> str:
    return " ".join(f"{t['dtype']}{t['shape']}" for t in tensors)


def _latency_cells(o: dict) -> tuple[str, str]:
    where = o.get("timed_with") or ""  # bench/profile.StageStats.timed_with
    if where == "load":
        return "at load", ""
    if where:
        return f"in {where}", ""
    return _us(o["latency_us_median"]), _us(o["latency_us_p90"])


def print_ops(doc: dict, limit: int | None = None) -> None:
    """The per-op table of one file, the time per op kind, and the sum-vs-whole check."""
    t = Table(title=f"per-op profile of {doc['file']} on {doc.get('target', '?')} "
                    f"[{(doc.get('host') or {}).get('cpu', '?')}], {(doc.get('config') or {}).get('threads')} thread(s)")
    for col in ("op", "kind", "inputs", "output", "weights", "MACs", "XNNPACK", "median µs", "p90 µs"):
        t.add_column(col, justify="right" if col in ("MACs", "median µs", "p90 µs") else "left", overflow="fold")
    for o in doc["ops"][:limit]:
        deleg = {True: f"yes ({o['partition']})", False: "[red]no[/red]", None: "?"}[o["delegated"]]
        t.add_row(o["name"], o["kind"], _shapes(o["inputs"]), _shapes(o["outputs"]),
                  o["weight_dtype"] or "-", f"{o['macs']:,}", deleg, *_latency_cells(o))
    console.print(t)
    if any(o.get("timed_with") not in (None, "", "load") for o in doc["ops"][:limit]):
        console.print("a PAD read by a conv is timed on the conv's row (XNNPACK folds the pad into the conv; "
                      "a prefix ending at the pad would time a copy the model never makes)")
    k = Table(title="time per op kind")
    for col in ("kind", "count", "not delegated", "µs", "share"):
        k.add_column(col, justify="left" if col == "kind" else "right")
    total = sum(r["latency_us"] for r in doc["by_kind"]) or 1.0
    for r in doc["by_kind"]:
        k.add_row(r["kind"], str(r["count"]), str(r["not_delegated"]), f"{r['latency_us']:.1f}", f"{r['latency_us'] / total:.0%}")
    console.print(k)
    c, d = doc["check"], doc["delegation"]
    console.print(f"sum of per-op medians {c['sum_of_layer_medians_us']:.1f} µs vs whole invoke {c['whole_median_us']:.1f} µs "
                  f"(ratio {c['ratio']:.3f}, {'within' if c['within_15pct'] else 'OUTSIDE'} 15%); "
                  f"{d['delegated']}/{d['ops']} ops in {d['partitions']} delegate partition(s)")


@user_errors
def profile(
    model: Annotated[Path, typer.Argument(help="A .tflite file (any model; only the file is needed).")],
    target: Annotated[str, typer.Option("--target", "-t", help="local | ssh://user@host[:port]")] = "local",
    runs: RunsOpt = 200,
    warmup: Annotated[int, typer.Option(min=0, help="Untimed calls before timing starts.")] = 20,
    threads: ThreadsOpt = 1,
    cpu_mask: MaskOpt = None,
    ssh_key: KeyOpt = None,
    remote_python: PyOpt = None,
    timeout: TimeoutOpt = 600.0,
    out: Annotated[Path | None, typer.Option(help="Write the profile JSON here.")] = None,
) -> None:
    """Per-op profile of any .tflite: op, tensor shapes and dtypes, delegated or not, median latency."""
    from hybridsplit.bench.opprofile import profile_tflite
    from hybridsplit.bench.targets import BenchConfig, make_target
    from hybridsplit.results.profile import ProfileResult

    tgt = make_target(target, ssh_key=ssh_key, remote_python=remote_python)
    if tgt.kind == "adb":
        raise HybridsplitError("profile runs on local and ssh targets; on a phone use `hybridsplit bench --target adb`")
    cfg = BenchConfig(runs=runs, warmup=warmup, threads=threads, cpu_mask=cpu_mask, timeout_s=timeout)
    with console.status(f"profiling {model.name} op by op"):
        tgt.check(cfg)
        doc = profile_tflite(model, tgt, cfg)
    print_ops(doc)
    if out:
        console.print(f"wrote {ProfileResult.from_dict(doc, 'profile').save(out)}")
