"""The defence-search section: the frontier `hybridsplit defend --max-attacker X` explored, from
defence_search.json (passed with `hybridsplit report --defence-search`, or found beside the bundle)."""

from __future__ import annotations

import html
from pathlib import Path

from hybridsplit.report import plots
from hybridsplit.report.sections import Section, load_result
from hybridsplit.report.tables import html_table, kv_table
from hybridsplit.results import DefenceSearchResult


def _rows(doc: DefenceSearchResult) -> list[dict]:
    rows = []
    for p in doc.points:
        s = p.settings
        rows.append({"siamese": s.siamese, "pca_dims": s.pca_dims, "noise": s.noise,
                     "primary_accuracy": p.primary_accuracy, "balanced_accuracy": p.primary_balanced_accuracy,
                     "best_attacker": p.best_attack_accuracy, "attack": p.best_attack, "meets_X": p.met,
                     "chosen": doc.chosen is not None and p == doc.chosen})
    return rows


def defence_search_section(bundle_dir: Path, path: Path | None = None) -> Section | None:
    path = Path(path) if path else bundle_dir / DefenceSearchResult.FILE
    if not path.is_file():
        return None
    doc, err = load_result(DefenceSearchResult, path)
    if err:
        return Section("defence_search", "Defence search", f'<p class="warn">{html.escape(err)}</p>', [], path.name)
    front = [i for i, p in enumerate(doc.points) if p in doc.frontier()]
    chosen = None if doc.chosen is None else (doc.chosen.best_attack_accuracy, doc.chosen.primary_accuracy)
    images = []
    if doc.points:
        pts = [(p.best_attack_accuracy, p.primary_accuracy, p.met) for p in doc.points]
        images.append(("defence search: primary accuracy against the best attacker, every explored setting",
                       plots.search_plot(pts, front, doc.max_attacker, chosen,
                                         [(v.best_attack_accuracy, v.primary_accuracy) for v in doc.verified],
                                         "best attacker accuracy on the sensitive attribute (lower is more private)",
                                         f"defence search, target best attacker <= {doc.max_attacker:g}")))
    body = html_table(_rows(doc), highlight=[i for i, p in enumerate(doc.points) if doc.chosen is not None
                                             and p == doc.chosen])
    sp = doc.spread
    facts = {"target X (best attacker at most)": doc.max_attacker, "chance": doc.chance, "met": doc.met,
             "undefended accuracy (torch)": doc.undefended_accuracy, "fine-tunes": len(doc.finetunes),
             "seconds": doc.seconds, "how measured": doc.method, "message": doc.message or None}
    if sp is not None:
        facts |= {"seeds": ", ".join(map(str, sp.seeds)),
                  "primary accuracy over seeds (mean [min, max])":
                      f"{sp.primary_accuracy.mean:.4f} [{sp.primary_accuracy.min:.4f}, {sp.primary_accuracy.max:.4f}]",
                  "best attacker over seeds (mean [min, max])":
                      f"{sp.best_attack_accuracy.mean:.3f} [{sp.best_attack_accuracy.min:.3f}, "
                      f"{sp.best_attack_accuracy.max:.3f}]"}
    body += kv_table({k: v for k, v in facts.items() if v is not None})
    return Section("defence_search", "Defence search", body, images, str(path))
