"""`hybridsplit privacy`: attribute-inference, ranking and reconstruction attacks on bundles' device features."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hybridsplit.cli.common import console, user_errors
from hybridsplit.errors import HybridsplitError
from hybridsplit.results.privacy import PrivacyResult


@user_errors
def privacy(
    bundle: Annotated[Path, typer.Option(help="The (defended) bundle to attack.")] = Path("bundles/defended"),
    baseline: Annotated[Path | None, typer.Option(help="An undefended bundle measured beside it.")] = None,
    compare: Annotated[list[str] | None, typer.Option(help="Further bundles as NAME=DIR (repeatable).")] = None,
    out: Annotated[Path | None, typer.Option(help="Output JSON (default: privacy.json beside --bundle).")] = None,
    artifact: Annotated[str, typer.Option(help="Device artifact the features come from.")] = "tflite_int8",
    sweep: Annotated[str, typer.Option(help="Noise stds for the privacy-utility curve; '' = no curve.")] = "0,0.25,0.4,0.5,0.6,0.75,1,1.5,2",
    attacks: Annotated[str, typer.Option(help="Attribute-inference attacks, comma-separated.")] = "logreg,mlp,knn,random_forest",
    recon_epochs: Annotated[int, typer.Option(help="Epochs of the reconstruction decoder.")] = 15,
    session: Annotated[str, typer.Option(help="Session attacker: k windows pooled per sample, comma-separated "
                                              "('session' = the whole session); '' = off.")] = "1,5,20,session",
    linkage: Annotated[str, typer.Option(help="Open-set linkage on k-window session samples; '' = off.")] = "1,20,session",
    seed: Annotated[int, typer.Option(help="Seed of the noise draws and attackers.")] = 0,
) -> None:
    """Attack bundles on their exported device artifact; write privacy.json and privacy_curve.png."""
    from hybridsplit.privacy.evaluate import PRIVACY_NAME, EvalConfig, evaluate_bundles, write_result

    cfg = EvalConfig(artifact=artifact, attacks=_parse_attacks(attacks), sweep=_parse_floats(sweep, "--sweep"),
                     recon_epochs=recon_epochs, seed=seed, session_ks=_parse_ks(session, "--session"),
                     linkage_ks=_parse_ks(linkage, "--linkage"),
                     log=lambda msg: console.print(f"[dim]{msg}[/dim]", highlight=False))
    result = evaluate_bundles(_bundles(bundle, baseline, compare or []), cfg)
    json_path, png = write_result(result, out or bundle / PRIVACY_NAME)
    print_privacy_table(result)
    console.print(f"wrote {json_path}" + (f" and {png}" if png else ""))


def _parse_attacks(text: str) -> tuple[str, ...]:
    from hybridsplit.privacy.attacks import ATTACKS

    names = tuple(a.strip() for a in text.split(",") if a.strip())
    if not names:
        raise HybridsplitError("--attacks is empty; name at least one of " + ", ".join(ATTACKS.names()))
    for a in names:
        ATTACKS.get(a)
    return names


def _bundles(bundle: Path, baseline: Path | None, compare: list[str]) -> dict[str, Path]:
    """name -> bundle dir: undefended (if any), defended, then the --compare ones; each must hold a manifest."""
    bundles = {}
    if baseline is not None:
        bundles["undefended"] = baseline
    bundles["defended"] = bundle
    bundles.update(_parse_compare(compare))
    for name, path in bundles.items():
        if not (path / "manifest.json").is_file():
            raise HybridsplitError(f"'{path}' ({name}) is not a bundle (no manifest.json); "
                                   "export one with `hybridsplit export`")
    return bundles


def _parse_ks(text: str, what: str) -> tuple[int, ...]:
    """'1,5,20,session' -> (1, 5, 20, 0); 0 stands for the whole session."""
    out = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        if item == "session":
            out.append(0)
        elif item.isdigit() and int(item) > 0:
            out.append(int(item))
        else:
            raise HybridsplitError(f"{what} '{text}': each item is a window count >= 1 or 'session', e.g. 1,5,20,session")
    return tuple(out)


def _parse_floats(text: str, what: str) -> tuple[float, ...]:
    if not text.strip():
        return ()
    try:
        vals = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise HybridsplitError(f"{what} '{text}' is not a comma-separated list of numbers, e.g. 0,0.5,1") from None
    if any(v < 0 for v in vals):
        raise HybridsplitError(f"{what} '{text}': noise stds must be >= 0")
    return vals


def _parse_compare(items: list[str]) -> dict[str, Path]:
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise HybridsplitError(f"--compare '{item}' is not NAME=BUNDLE_DIR; write e.g. --compare siamese=bundles/siamese")
        if name in ("undefended", "defended"):
            raise HybridsplitError(f"--compare name '{name}' is reserved; pick another name")
        out[name] = Path(path)
    return out


def print_privacy_table(result: PrivacyResult) -> None:
    names = list(result.primary_accuracy)
    s, m, g = result.sensitive, result.models, result.goal
    attr = result.sensitive_attribute
    table = Table(title=f"privacy on the exported artifact ({result.artifact}), protocol {result.protocol}, "
                        + ("sensitive attribute" if attr in ("", "sensitive") else f"sensitive = {attr}"))
    table.add_column("measure")
    for n in names:
        table.add_column(n, justify="right")
    table.add_row("defences", *[", ".join(m[n].defences) or "-" for n in names])
    table.add_row("bytes sent / inference", *[f"{m[n].bytes_per_inference}" for n in names])
    table.add_row("primary accuracy", *[f"{result.primary_accuracy[n]:.4f}" for n in names])
    bal = result.primary_balanced_accuracy
    if bal:
        table.add_row("primary balanced accuracy", *[_num(bal.get(n), 4) for n in names])
        table.add_row("primary recall: lowest class", *[_lowest_recall(result, n) for n in names])
    for attack, vals in s.attacks.items():
        table.add_row(f"attack: {attack}", *[f"{vals[n]:.4f}" for n in names])
    table.add_row(f"best attack (chance {chance_text(s.chance)})",
                  *[f"{s.best[n].accuracy:.4f} ({s.best[n].attack})" for n in names])
    table.add_row("rank: mean rank / N", *[f"{result.rank[n]['mean_rank_over_n']:.4f}" for n in names])
    table.add_row("rank: share ranked first", *[f"{result.rank[n]['top1']:.4f}" for n in names])
    _reconstruction_rows(table, result, names)
    table.add_row("goal met", *["-" if n not in g.met else ("yes" if g.met[n] else "no") for n in names])
    console.print(table)
    print_stream_tables(result)
    raw = s.raw_input_reference
    if raw:
        unit = "images" if result.input_kind == "image" else "windows"
        console.print(f"reference: {raw['attack']} on raw input {unit} re-identifies {raw['accuracy']:.4f}")
    prim = f"primary >= {g.primary_min:.4f}" if g.primary_min is not None else "no baseline for primary"
    if g.primary_balanced_min is not None:
        prim += f", balanced >= {g.primary_balanced_min:.4f}"
    console.print(f"goal: best attacker <= {chance_text(g.sensitive_max)} (chance + 10 points) and {prim}")
    for line in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {line}", highlight=False)


def _reconstruction_rows(table: Table, result: PrivacyResult, names: list[str]) -> None:
    """Each score beside the mean-input baseline's: a score is a reconstruction only where it beats it."""
    rec = result.reconstruction
    if any(rec.get(n, {}).get("split") for n in names):  # images: a conv decoder trained on other people
        table.add_row("reconstruction decoder", *[_decoder_text(rec.get(n, {})) for n in names])
    for key, label, digits in (("nmse", "NMSE", 3), ("correlation", "corr", 3), ("ssim", "SSIM", 3),
                               ("psnr", "PSNR dB", 1)):
        if not any(key in rec.get(n, {}) for n in names):
            continue
        cells = []
        for n in names:
            r = rec.get(n, {})
            base = (r.get("baseline") or {}).get(key)
            cells.append(_num(r.get(key), digits) + ("" if base is None else f" (mean {base:.{digits}f})"))
        table.add_row(f"reconstruction {label}", *cells)


def _decoder_text(r: dict) -> str:
    if not r:
        return "-"
    if "attacker_identities" in r:
        return f"{r.get('decoder')}, {r['attacker_identities']} -> {r.get('victim_identities')} other people"
    return str(r.get("decoder", "-"))


def _k_label(k: int) -> str:
    return "whole session" if k == 0 else f"k = {k}"


def print_stream_tables(result: PrivacyResult) -> None:
    """The session attacker (k pooled windows of one session) and open-set linkage, per model."""
    names = [n for n in result.primary_accuracy if n in result.session]
    if names:
        unit = "images" if result.input_kind == "image" else "windows"
        table = Table(title=f"session attacker: best attack on k pooled {unit} of one {result.session_of} "
                            f"(1/K {chance_text(result.sensitive.chance)}) · its balanced accuracy · rank share first")
        table.add_column("k")
        table.add_column("constant guess", justify="right")
        for n in names:
            table.add_column(n, justify="right")
        for i, p in enumerate(result.session[names[0]]):
            cells = []
            for n in names:
                q = result.session[n][i]
                bal = "" if q.best_balanced_accuracy is None else f" · {q.best_balanced_accuracy:.3f}"
                cells.append("-" if q.best_accuracy is None else
                             f"{q.best_accuracy:.4f} ({q.best_attack}){bal} · {q.rank_top1:.3f}")
            windows = result.session[names[0]][i].windows
            guess = "-" if p.chance_majority is None else f"{p.chance_majority:.3f}"
            table.add_row(_k_label(p.k) + (f" (mean {windows:.1f})" if p.k == 0 and windows else ""), guess, *cells)
        console.print(table)
    links = [n for n in result.primary_accuracy if n in result.linkage]
    if links:
        table = Table(title="open-set linkage: same person? (attacker trained on disjoint identities) · AUC · EER")
        table.add_column("k")
        for n in links:
            table.add_column(n, justify="right")
        for i, p in enumerate(result.linkage[links[0]]):
            cells = ["-" if result.linkage[n][i].auc is None else
                     f"{result.linkage[n][i].auc:.3f} · {result.linkage[n][i].eer:.3f}" for n in links]
            table.add_row(_k_label(p.k), *cells)
        console.print(table)
    g = result.goal
    bars = sorted({round(v, 4) for v in g.session_max.values()})
    session_label = f"session attacker at k = {g.session_k}" + (  # bars: absent in a privacy.json from before them
        f" (accuracy <= {' / '.join(map(str, bars))}, its samples' chance + 10 points; balanced accuracy <= "
        f"{chance_text(result.sensitive.chance + 0.10)})" if bars else "")
    for label, met in ((session_label, g.session_met),
                       (f"linkage AUC <= {g.linkage_auc_max}", g.linkage_met),
                       (f"reconstruction SSIM <= the mean image's + {g.reconstruction_ssim_margin}", g.reconstruction_met)):
        if met:
            console.print(f"goal, {label}: " + ", ".join(f"{n} {'yes' if ok else 'no'}" for n, ok in met.items()))


def chance_text(p: float) -> str:
    """A probability with enough digits to be itself: 0.1, 0.025, 0.1429 (never 0.025 -> '0.03')."""
    for digits in (2, 3, 4):
        if abs(round(p, digits) - p) < 1e-9:
            return f"{p:.{digits}f}"
    return f"{p:.4f}"


def _num(v: float | None, digits: int) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _lowest_recall(result: PrivacyResult, name: str) -> str:
    recall = [(r, c) for c, r in enumerate(result.primary_recall.get(name, [])) if r is not None]
    if not recall:
        return "-"
    r, c = min(recall)
    label = result.primary_classes[c] if c < len(result.primary_classes) else str(c)
    return f"{r:.3f} ({label})"
