"""`hybridsplit bench` (per-layer latency, memory, energy on a target) and `hybridsplit sweep` (cuts, Pareto)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from hybridsplit.cli.common import bundle_opt, console, user_errors
from hybridsplit.errors import HybridsplitError
from hybridsplit.results import BenchResult, SweepResult

TargetOpt = Annotated[str, typer.Option("--target", "-t", help="local | adb | adb:SERIAL | ssh://user@host[:port]")]
RunsOpt = Annotated[int, typer.Option(min=1, help="Timed runs per model.")]
ThreadsOpt = Annotated[int, typer.Option(min=1, help="Inference threads on the target.")]
MaskOpt = Annotated[str | None, typer.Option(help="CPU affinity mask, hex as taskset takes it (e.g. f0: CPUs 4-7).")]
BinaryOpt = Annotated[str | None, typer.Option(help="adb: benchmark_model binary for the phone (else $HYBRIDSPLIT_BENCHMARK_MODEL).")]
KeyOpt = Annotated[str | None, typer.Option(help="ssh: private key file (else $HYBRIDSPLIT_SSH_KEY / ssh defaults).")]
PyOpt = Annotated[str | None, typer.Option(help="ssh: Python on the board with ai-edge-litert (else $HYBRIDSPLIT_SSH_PYTHON or python3).")]
TimeoutOpt = Annotated[float, typer.Option(min=1, help="Limit in seconds for each remote call.")]
EnergyOpt = Annotated[Path | None, typer.Option(help="JSON overriding the energy tables ({'compute': {...}, 'radio': {...}}).")]
RouteOpt = Annotated[str, typer.Option(help="adb: binary (benchmark_model via adb shell) | app (the Android benchmark app, read from logcat) | litert (benchmark_litert_model).")]
DelegateOpt = Annotated[str, typer.Option(help="adb: default | cpu | xnnpack | gpu | nnapi (binary, app) | npu (litert); recorded in the result.")]
ApkOpt = Annotated[str | None, typer.Option(help="adb --adb-route app: benchmark app APK to install (else $HYBRIDSPLIT_BENCHMARK_APK, or already installed).")]

bench_app = typer.Typer(help="Per-layer latency, memory and energy of a bundle's device half on a target (bench.json); "
                        "`bench parse-log FILE` reads a benchmark log you already have.",
                        rich_markup_mode=None)


def _us(v: float | None, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def print_blocks(doc: BenchResult) -> bool:
    """The per-block table (the per-op rows grouped by module); False when there are no blocks."""
    if not doc.blocks:
        return False
    t = Table(title=f"per-block cost of the device half (cut {doc.cut}, {len(doc.layers)} ops of "
                    f"{doc.device_half.file} in {len(doc.blocks)} blocks; --per op for every op) on {doc.target.spec} "
                    f"[{doc.target.host.get('cpu', '?')}], {doc.config.get('threads')} thread(s)")
    for col in ("block", "ops", "MACs", "params", "median µs", "share"):
        t.add_column(col, justify="left" if col in ("block", "ops") else "right", overflow="fold")
    total = sum(b.latency_us_median or 0.0 for b in doc.blocks) or 1.0
    for b in doc.blocks:
        ops = f"{b.ops[0]}–{b.ops[-1]}" if len(b.ops) > 1 else b.ops[0]
        t.add_row(b.name, f"{ops} ({len(b.ops)})", f"{b.macs:,}", f"{b.params:,}", _us(b.latency_us_median),
                  f"{(b.latency_us_median or 0.0) / total:.0%}")
    console.print(t)
    return True


def print_bench(doc: BenchResult, per: str = "block") -> None:
    if per == "block" and print_blocks(doc):
        _print_summary(doc)
        return
    if per == "block" and doc.blocks_note:
        console.print(escape(doc.blocks_note))
    t = Table(title=f"per-layer cost of the device half (cut {doc.cut}, one row per op of "
                    f"{doc.device_half.file}) on {doc.target.spec} "
                    f"[{doc.target.host.get('cpu', '?')}], {doc.config.get('threads')} thread(s)")
    for col in ("layer", "kind", "output", "fp32 B", "int8 B", "MACs", "params", "median µs", "p90 µs",
                "cumul. µs", "energy µJ"):
        t.add_column(col, justify="left" if col in ("layer", "kind", "output") else "right",
                     overflow="fold", min_width=12 if col == "kind" else None)
    for r in doc.layers:
        t.add_row(r.name, r.kind.replace("BatchNorm", "BN"), str(r.output_shape), f"{r.output_bytes_fp32:,}",
                  f"{r.output_bytes_int8:,}", f"{r.macs:,}", f"{r.params:,}", _us(r.latency_us_median),
                  _us(r.latency_us_p90), _us(r.cumulative_us_median), _us(r.energy_uj, 3))
    console.print(t)
    _print_summary(doc)


def _print_summary(doc: BenchResult) -> None:
    c, dh = doc.check, doc.device_half
    rss = (dh.memory or {}).get("peak_rss_delta_mb")
    console.print(f"sum of layers {c.sum_of_layer_medians_us:.2f} µs vs whole device half {c.whole_median_us:.2f} µs "
                  f"(ratio {c.ratio:.3f}); {dh.file} {dh.file_bytes:,} B, {dh.params:,} params, "
                  f"peak RSS +{'-' if rss is None else f'{rss:.2f}'} MB")
    if dh.ops:
        console.print(escape(f"per-op times (on the phone): {len(dh.ops)} ops, "
                             + ", ".join(f"{o['node_type']} {o['avg_ms']:.3f} ms" for o in dh.ops[:6])))
    if dh.ops_note:
        console.print(escape(dh.ops_note))
    for name, a in doc.artifact_profiles.items():
        c, d = a["check"], a["delegation"]
        console.print(f"per-op profile of {a['file']} ({name}): sum {c['sum_of_layer_medians_us']:.1f} µs vs whole "
                      f"{c['whole_median_us']:.1f} µs (ratio {c['ratio']:.3f}); not delegated: "
                      f"{', '.join(d['not_delegated']) or 'none'}")
    _print_networks(doc)
    if doc.energy.measured:
        _print_measured_energy(doc.energy.measured)


def _print_measured_energy(m: dict) -> None:
    power = "" if m.get("busy_w") is None else f" (busy {m['busy_w']:.3f} W, idle {m['idle_w']:.3f} W)"
    console.print(f"measured by {m['method']}{' (model-based, not a meter)' if m.get('model_based') else ''}: "
                  f"{m['energy_per_inference_j']} J/inference{power}")
    for w in m.get("warnings", []):
        console.print(f"[red]warning:[/red] {w}")
    for c in m.get("caveats", []):
        console.print(f"[yellow]caveat:[/yellow] {c}")


def _print_networks(doc: BenchResult) -> None:
    n = Table(title=f"end-to-end per inference: split vs cloud-only vs device-only "
                    f"(cloud on this host: half {doc.cloud.half.median_ms:.3f} ms)")
    for col in ("network", "up Mbps", "RTT ms", "split ms", "cloud-only ms", "device-only ms", "radio mJ split", "radio mJ cloud-only"):
        n.add_column(col, justify="right")
    for name, e in doc.networks.items():
        n.add_row(name, f"{e['network']['uplink_mbps']:g}", f"{e['network']['rtt_ms']:g}", f"{e['split']['total_ms']:.2f}",
                  f"{e['cloud_only']['total_ms']:.2f}", f"{e['device_only']['total_ms']:.3f}" if "device_only" in e else "-",
                  f"{e['radio_energy']['split']['total_mj']:.3f}", f"{e['radio_energy']['cloud_only']['total_mj']:.3f}")
    console.print(n)


@bench_app.callback(invoke_without_command=True)
@user_errors
def bench(
    ctx: typer.Context,
    bundle: Annotated[Path, bundle_opt("Bundle directory.")] = Path("bundles/default"),
    run: Annotated[Path | None, typer.Option(help="Optional: the run the bundle was exported from; adds the whole model (cloud-only in ONNX Runtime, device-only on the target). The per-layer table needs only the bundle.")] = None,
    target: TargetOpt = "local",
    runs: RunsOpt = 1000,
    warmup: Annotated[int, typer.Option(min=0, help="Untimed calls before timing starts.")] = 50,
    threads: ThreadsOpt = 1,
    cpu_mask: MaskOpt = None,
    benchmark_binary: BinaryOpt = None,
    ssh_key: KeyOpt = None,
    remote_python: PyOpt = None,
    timeout: TimeoutOpt = 300.0,
    energy_table: EnergyOpt = None,
    adb_route: RouteOpt = "binary",
    delegate: DelegateOpt = "default",
    benchmark_apk: ApkOpt = None,
    measure_energy: Annotated[bool, typer.Option(help="adb only: energy per inference (ODPM rails, else battery gauge, else batterystats model), idle baseline subtracted.")] = False,
    energy_method: Annotated[str, typer.Option(help="auto | odpm | battery | batterystats (model-based).")] = "auto",
    energy_seconds: Annotated[float, typer.Option(min=1, help="Length of the idle and of the busy window.")] = 30.0,
    keep_models: Annotated[Path | None, typer.Option(help="Keep the exported prefix models in this directory.")] = None,
    out: Annotated[Path | None, typer.Option(help="Where to write the JSON (default: <bundle>/bench.json).")] = None,
    per: Annotated[str, typer.Option(help="block: one row per module of the model (needs --run to name them); "
                                          "op: one row per TFLite op. bench.json holds both.")] = "block",
) -> None:
    """Per-layer latency, memory and energy proxies of a bundle's device half on a target; writes bench.json."""
    if ctx.invoked_subcommand is not None:
        return
    if per not in ("block", "op"):
        raise HybridsplitError(f"--per {per!r}: use block (one row per module) or op (one row per TFLite op)")
    from hybridsplit.bench.harness import bench as run_bench
    from hybridsplit.bench.targets import BenchConfig, make_target

    cfg = BenchConfig(runs=runs, warmup=warmup, threads=threads, cpu_mask=cpu_mask, timeout_s=timeout)
    tgt = make_target(target, benchmark_binary=benchmark_binary, ssh_key=ssh_key, remote_python=remote_python,
                      adb_route=adb_route, delegate=delegate, benchmark_apk=benchmark_apk)
    with console.status("benchmarking") as status:
        doc = run_bench(bundle, tgt, cfg, run_dir=run, energy_table=energy_table, workdir=keep_models,
                        progress=lambda m: status.update(m))
        if measure_energy:
            if tgt.kind != "adb":
                raise HybridsplitError("--measure-energy needs an adb target (a phone's battery readings)")
            status.update("measuring energy on the phone (idle window, then the busy loop)")
            doc.energy.measured = tgt.measure_energy(bundle / "device.tflite", cfg,  # type: ignore[attr-defined]
                                                     seconds=energy_seconds, method=energy_method)
    path = doc.save(out or bundle / "bench.json")
    print_bench(doc, per)
    console.print(f"wrote {path}")


@user_errors
def sweep(
    recipe: Annotated[Path, typer.Option("--recipe", "-r", help="Recipe TOML file.")] = Path("recipes/watch.toml"),
    run: Annotated[Path | None, typer.Option(help="Trained run to cut (default: train the recipe into <out>/run).")] = None,
    out: Annotated[Path, typer.Option(help="Output directory: sweep.json, pareto.png, one bundle per cut.")] = Path("runs/sweep"),
    target: TargetOpt = "local",
    cuts: Annotated[list[str] | None, typer.Option("--cut", help="Only these cuts (repeatable or comma-separated; default: every stage of a registry backbone, 4 cuts spread by MACs for any other model).")] = None,
    cuts_n: Annotated[int | None, typer.Option("--cuts-n", help="Sweep N cuts spread evenly over cumulative device MACs.")] = None,
    network: Annotated[str, typer.Option(help="Network profile for the end-to-end estimate (3g, lte, wifi, 5g).")] = "wifi",
    runs: RunsOpt = 500,
    threads: ThreadsOpt = 1,
    cpu_mask: MaskOpt = None,
    benchmark_binary: BinaryOpt = None,
    adb_route: RouteOpt = "binary",
    delegate: DelegateOpt = "default",
    benchmark_apk: ApkOpt = None,
    ssh_key: KeyOpt = None,
    remote_python: PyOpt = None,
    timeout: TimeoutOpt = 300.0,
    max_latency_ms: Annotated[float | None, typer.Option(help="Constraint: end-to-end latency (ms).")] = None,
    max_bytes: Annotated[int | None, typer.Option(help="Constraint: bytes sent per inference.")] = None,
    max_attacker_acc: Annotated[float | None, typer.Option(help="Constraint: attacker accuracy on the sensitive attribute (needs hybridsplit.privacy).")] = None,
    attack: Annotated[list[str] | None, typer.Option("--attack", help="Attacker(s) for attacker accuracy (repeatable: knn, logreg, mlp, random_forest; default knn, the fastest).")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a recipe field (repeatable).")] = None,
) -> None:
    """Export every candidate cut, measure latency, bytes, energy, accuracy (and attacker accuracy), plot the Pareto front, recommend a cut."""
    from hybridsplit.bench.sweep import Constraints, run_sweep
    from hybridsplit.bench.targets import BenchConfig, make_target

    cfg = BenchConfig(runs=runs, warmup=20, threads=threads, cpu_mask=cpu_mask, timeout_s=timeout)
    tgt = make_target(target, benchmark_binary=benchmark_binary, ssh_key=ssh_key, remote_python=remote_python,
                      adb_route=adb_route, delegate=delegate, benchmark_apk=benchmark_apk)
    cons = Constraints(max_latency_ms, max_bytes, max_attacker_acc)
    with console.status("sweeping cuts") as status:
        names = [c.strip() for item in (cuts or []) for c in item.split(",") if c.strip()] or None
        doc = run_sweep(recipe, out, tgt, cfg, cons, run_dir=run, cuts=names, network=network, overrides=set_,
                        attacks=tuple(attack or ("knn",)), progress=lambda m: status.update(m), cuts_n=cuts_n)
    print_sweep(doc)


def print_sweep(doc: SweepResult) -> None:
    t = Table(title=f"sweep over cuts on {doc.target.spec}, network {doc.network.get('name')}")
    cols = ("cut", "bytes", "device ms", "cloud ms", "end-to-end ms", "energy mJ", "int8 acc", "attacker acc", "pareto", "feasible")
    for col in cols:
        t.add_column(col, justify="left" if col == "cut" else "right", overflow="fold" if col == "cut" else "ellipsis")
    for c in doc.cuts:
        att = c.attacker_acc
        t.add_row(c.cut, f"{c.bytes:,}", f"{c.device_ms:.4f}", f"{c.cloud_ms:.4f}", f"{c.end_to_end_ms:.2f}",
                  f"{c.energy_mj:.4f}", f"{c.accuracy:.4f}", "-" if att is None else f"{att:.3f}",
                  "yes" if c.pareto else "", "yes" if c.feasible else "no")
    console.print(t)
    for s in doc.skipped:
        console.print(f"[yellow]skipped cut {s.cut}[/yellow]: {s.reason}")
    rec = doc.recommendation
    if rec.cut:
        console.print(f"[bold]recommended cut: {rec.cut}[/bold] — {rec.reason}")
    else:
        console.print(f"[bold red]no cut meets the constraints[/bold red] — {rec.reason}")
    if doc.privacy_note:
        console.print(doc.privacy_note)
    console.print(f"wrote {doc.paths.get('json')} and {doc.paths.get('plot')}")


@bench_app.command("parse-log")
@user_errors
def parse_log(
    file: Annotated[Path, typer.Argument(help="A benchmark log: benchmark_model output, an `adb logcat` dump of the benchmark app, or benchmark_litert_model output.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Parse a benchmark log you already have: timings, memory, op rows, and what the log lacks."""
    import json

    from hybridsplit.bench.parse import parse_benchmark_output
    from hybridsplit.errors import DataError

    try:
        text = file.read_text(errors="replace")
    except OSError as exc:
        raise DataError(f"cannot read log '{file}': {exc.strerror or exc}") from None
    p = parse_benchmark_output(text)
    if json_out:
        keep = ("tool", "format", "source", "runs_in_log", "model_size_mb", "num_threads", "init_ms", "first_inference_us",
                "warmup_avg_us", "inference_avg_us", "warmup_us", "inference_us", "memory_mb", "memory_line", "delegates",
                "delegated_nodes", "ops", "ops_hidden_by", "missing")
        print(json.dumps({k: p.get(k) for k in keep}, indent=1))
        return
    print_parsed_log(file.name, p)


def print_parsed_log(name: str, p: dict) -> None:
    runs = f", last of {p['runs_in_log']} runs" if p["runs_in_log"] > 1 else ""
    t = Table(title=f"{name}: {p['tool']} ({p.get('format')} layout, {p['source']}{runs})")
    t.add_column("field")
    t.add_column("value", justify="right")
    inf = p.get("inference_us") or {}
    for label, value in (("inference avg µs", p.get("inference_avg_us")), ("inference median µs", inf.get("median")),
                         ("inference p95 µs", inf.get("p95")), ("runs", inf.get("count")), ("init ms", p.get("init_ms")),
                         ("first inference µs", p.get("first_inference_us")), ("warmup avg µs", p.get("warmup_avg_us")),
                         ("model size MB", p.get("model_size_mb")), ("threads", p.get("num_threads")),
                         ("delegates", ", ".join(p.get("delegates") or []) or None)):
        if value is not None:
            t.add_row(label, f"{value:g}" if isinstance(value, float) else str(value))
    for key, value in (p.get("memory_mb") or {}).items():
        t.add_row(f"memory {key.replace('_', ' ')} MB", f"{value:g}")
    console.print(t)
    if p["ops"]:
        ops = Table(title=f"per-op times, regular runs ({len(p['ops'])} ops)")
        for col in ("node type", "name", "avg ms", "%", "times called"):
            ops.add_column(col, justify="left" if col in ("node type", "name") else "right", overflow="fold")
        for o in p["ops"]:
            ops.add_row(escape(str(o["node_type"])), escape(str(o["name"])), _us(o["avg_ms"]) if o["avg_ms"] is None else f"{o['avg_ms']:.3f}",
                        "-" if o["pct"] is None else f"{o['pct']:.2f}", str(o["times_called"]))
        console.print(ops)
    if p.get("ops_hidden_by"):
        console.print(f"per-op times hidden: {escape(p['ops_hidden_by'])} runs the delegated ops as one kernel")
    console.print(f"missing: {', '.join(p['missing']) or 'nothing'}")
