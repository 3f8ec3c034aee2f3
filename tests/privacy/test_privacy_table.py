"""The privacy printer on a written privacy.json: balanced accuracy, the collapse warning, the session
and linkage tables, the mean-input baseline, image wording and a title for an unnamed attribute."""

from __future__ import annotations

from hybridsplit.cli.common import console
from hybridsplit.cli.privacy import print_privacy_table
from hybridsplit.report.sections import privacy_summary
from hybridsplit.results.privacy import PrivacyResult

from result_docs import privacy_doc


def _doc(**changes) -> PrivacyResult:
    d = privacy_doc()
    d.update(primary_balanced_accuracy={"undefended": 0.98, "defended": 0.61},
             primary_recall={"undefended": [0.99, 0.97], "defended": [0.99, 0.23]}, primary_classes=["walk", "run"],
             warnings=["defended: primary recall collapsed on run 0.230 (undefended 0.970)"],
             session_of="recording",
             session={m: [{"k": 1, "best_accuracy": a, "best_attack": "logreg", "rank_top1": 0.1},
                          {"k": 20, "best_accuracy": a + 0.2, "best_attack": "knn", "rank_top1": 0.3,
                           "best_balanced_accuracy": a + 0.05, "chance_uniform": 0.1, "chance_majority": 0.228}]
                      for m, a in (("undefended", 0.71), ("defended", 0.19))},
             linkage={m: [{"k": 0, "auc": a, "eer": 1 - a}] for m, a in (("undefended", 0.8), ("defended", 0.55))})
    d["reconstruction"]["defended"].update(correlation=0.5, ssim=0.41, baseline={"nmse": 1.0, "correlation": 0.55, "ssim": 0.40})
    d["reconstruction"]["undefended"].update(correlation=0.9)
    d["goal"].update(session_k=20, session_met={"defended": False}, session_max={"defended": 0.328},
                     linkage_auc_max=0.6, linkage_met={"defended": True})
    d.update(changes)
    return PrivacyResult.from_dict(d)


def _printed(doc: PrivacyResult) -> str:
    with console.capture() as cap:
        print_privacy_table(doc)
    return " ".join(cap.get().split())  # titles wrap at the table's width


def test_table_shows_balanced_accuracy_session_linkage_and_warning():
    out = _printed(_doc())
    assert "primary balanced accuracy" in out and "0.6100" in out and "0.230 (run)" in out
    assert "warning:" in out and "collapsed on run" in out
    assert "k = 20" in out and "0.9100 (logreg)" not in out and "0.3900 (knn)" in out
    assert "0.550 · 0.450" in out and "linkage AUC <= 0.6: defended yes" in out
    assert ("session attacker at k = 20 (accuracy <= 0.328, its samples' chance + 10 points; balanced accuracy "
            "<= 0.20): defended no") in out
    assert "0.3900 (knn) · 0.240 · 0.300" in out and "0.228" in out  # balanced accuracy; the constant guess
    old = _doc()
    old.goal.session_max = {}  # a privacy.json written before the per-k chance
    assert "session attacker at k = 20: defended no" in _printed(old)
    assert "(mean 0.400)" in out  # SSIM beside the mean image's
    assert "sensitive = subject" in out and "windows" in out


def test_image_wording_and_unnamed_attribute():
    out = _printed(_doc(sensitive_attribute="sensitive", input_kind="image"))
    assert "sensitive = sensitive" not in out and "sensitive attribute" in out
    assert "pooled images" in out and "raw input images" in out


def test_report_summary_has_balanced_session_and_linkage():
    rows = {r["model"]: r for r in privacy_summary(_doc())}
    assert rows["defended"]["primary balanced accuracy"] == 0.61
    assert rows["defended"]["session attacker (k=20)"] == 0.39 and rows["defended"]["linkage AUC (sessions)"] == 0.55
