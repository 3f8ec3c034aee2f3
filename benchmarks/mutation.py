"""Mutation check: put each deliberate bug of benchmarks/mutants.py into a copy of the tree, one at a
time, run the tests that must catch it, and record whether they did (killed) -> JSON.

    python benchmarks/mutation.py [--run runs/default] [--bundle bundles/default] [--kind all|curated|operators] [--only NAME ...]
                                  [--out benchmarks/results/mutation.json]

Two kinds: the hand-written bugs of benchmarks/mutants.py (the issue's survivors and more), and the
operator mutants benchmarks/mutation_ops.py generates in the critical functions. A surviving
operator mutant listed in mutation_ops.EQUIVALENT (with why it cannot change behaviour) is reported
as "equivalent" and left out of the score.

The tree (src, tests, recipes, pyproject.toml) is copied to a temp dir; the run is copied there and
exported once with the unmutated code, and the tests reuse both ($HYBRIDSPLIT_TEST_RUN / _BUNDLE), so
a mutant costs one pytest process. The unmutated copy must pass every listed test first (a baseline
that fails makes every "killed" meaningless). A mutant is killed when pytest reports failed tests
(exit 1); a collection error or crash (any other exit) is recorded as "error" and not counted killed.
Exit status: 0 when every non-equivalent mutant is killed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from mutants import MUTANTS  # noqa: E402
from mutation_ops import EQUIVALENT, generate  # noqa: E402

COPIED = ("src", "tests", "recipes", "pyproject.toml")


def copy_tree(dst: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for name in COPIED:
        src = ROOT / name
        (shutil.copytree(src, dst / name, ignore=ignore) if src.is_dir() else shutil.copy2(src, dst / name))
    return dst


def env_for(tree: Path, run: Path, bundle: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "HYBRIDSPLIT_TEST_RUN": str(run),
           "HYBRIDSPLIT_TEST_BUNDLE": str(bundle), "HF_HUB_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # onnxsim, as the Makefile does
    return env


# Third-party modules the tests import: loaded once in this process, so a mutant's pytest (a fork of
# it) starts in well under a second instead of re-importing torch & co. hybridsplit itself is never
# imported here: each fork imports it fresh from the mutated copy.
PRELOAD = ("numpy", "torch", "onnxruntime", "ai_edge_litert.interpreter", "sklearn.ensemble", "sklearn.linear_model",
           "sklearn.neighbors", "sklearn.neural_network", "pydantic", "typer", "typer.testing", "fastapi", "httpx",
           "uvicorn", "hypothesis", "pytest", "onnx")


def preload() -> None:
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)


def pytest(tree: Path, env: dict, tests: list[str], timeout: float) -> tuple[int, str, float]:
    """pytest in a fork of this (preloaded) process, cwd = the copy; (exit code, output, seconds)."""
    t0 = time.perf_counter()
    log = tree.parent / "pytest.log"
    pid = os.fork()
    if pid == 0:  # child: never returns
        try:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.chdir(tree)
            os.environ.clear()
            os.environ.update(env)
            sys.path[:0] = [str(tree / "src")]
            import pytest as pt

            rc = pt.main(["-q", "-x", "-p", "no:cacheprovider", "-W", "ignore", *tests])
        except BaseException:  # noqa: BLE001 - anything in the child is a crash, reported by exit code
            import traceback

            traceback.print_exc()
            rc = 3
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(rc))
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            rc = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            rc = -1
            break
        time.sleep(0.05)
    out = log.read_text(errors="replace") + (f"\ntimed out after {timeout:g} s" if rc == -1 else "")
    return rc, out, time.perf_counter() - t0


def first_failure(output: str) -> str:
    lines = [ln for ln in output.splitlines() if ln.startswith(("FAILED", "ERROR"))]
    return lines[0][:300] if lines else (output.strip().splitlines() or [""])[-1][:300]


def apply(tree: Path, mutant: dict) -> str:
    """Write the mutant into the copy; returns the original text to restore."""
    path = tree / mutant["file"]
    text = path.read_text()
    count = text.count(mutant["find"])
    if count != 1:
        raise SystemExit(f"error: mutant {mutant['name']}: the snippet occurs {count} times in {mutant['file']} "
                         "(expected once); update benchmarks/mutants.py")
    path.write_text(text.replace(mutant["find"], mutant["replace"]))
    return text


def prepare(tree: Path, run: Path, work: Path, given: Path | None) -> tuple[Path, Path]:
    """The run copied, and its bundle: `given` (exported from that run) copied, or exported by the unmutated copy."""
    if not (run / "checkpoint.pt").is_file():
        raise SystemExit(f"error: no checkpoint in '{run}'; run `make train` (or pass --run)")
    run_copy, bundle = work / "run", work / "bundle"
    shutil.copytree(run, run_copy)
    if given is not None:
        if not (given / "manifest.json").is_file():
            raise SystemExit(f"error: '{given}' is not a bundle; run `make export-tflite` (or drop --bundle)")
        shutil.copytree(given, bundle)
        return run_copy, bundle
    env = env_for(tree, run_copy, bundle)
    proc = subprocess.run([sys.executable, "-m", "hybridsplit.cli", "export", "--run", str(run_copy), "--out", str(bundle)],
                          cwd=tree, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"error: exporting the unmutated bundle failed: {first_failure(proc.stdout + proc.stderr)}")
    return run_copy, bundle


def run_one(tree: Path, env: dict, m: dict, timeout: float) -> dict:
    """One mutant in, its tests run, the file restored; its row."""
    original = apply(tree, m)
    try:
        rc, out, secs = pytest(tree, env, m["tests"], timeout)
    finally:
        (tree / m["file"]).write_text(original)
    status = "killed" if rc == 1 else ("survived" if rc == 0 else "error")
    if status == "survived" and m["name"] in EQUIVALENT:
        status = "equivalent"
    row = {"name": m["name"], "origin": m["origin"], "file": m["file"], "tests": m["tests"], "status": status,
           "pytest_exit": rc, "seconds": round(secs, 1), "caught_by": first_failure(out) if rc == 1 else None}
    if m["origin"] != "operator":  # an operator mutant's snippet is its whole function: the name says it
        row.update(find=m["find"], replace=m["replace"])
    if status == "equivalent":
        row["why_equivalent"] = EQUIVALENT[m["name"]]
    elif status != "killed":
        row["output_tail"] = out.strip().splitlines()[-3:]
    print(f"{status:10s} {m['name']} ({secs:.0f} s){': ' + row['caught_by'] if rc == 1 else ''}", flush=True)
    return row


def score(rows: list[dict]) -> dict:
    killed = sum(r["status"] == "killed" for r in rows)
    equivalent = sum(r["status"] == "equivalent" for r in rows)
    scored = len(rows) - equivalent
    return {"total": len(rows), "killed": killed, "equivalent": equivalent,
            "survived": [r["name"] for r in rows if r["status"] in ("survived", "error")],
            "score": killed / scored if scored else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=ROOT / "runs" / "default")
    ap.add_argument("--bundle", type=Path, default=None, help="that run's bundle (default: export it once here)")
    ap.add_argument("--kind", choices=("all", "curated", "operators"), default="all")
    ap.add_argument("--only", nargs="*", help="mutant names (default: all)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per pytest run")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "mutation.json")
    args = ap.parse_args()
    pool = (MUTANTS if args.kind != "operators" else []) + (generate(ROOT) if args.kind != "curated" else [])
    chosen = [m for m in pool if not args.only or m["name"] in args.only]
    if args.only and len(chosen) != len(set(args.only)):
        raise SystemExit(f"error: unknown mutant in --only; known: {', '.join(m['name'] for m in pool)}")
    t_start = time.perf_counter()
    preload()
    with tempfile.TemporaryDirectory(prefix="hybridsplit-mutation-") as tmp:
        tree = copy_tree(Path(tmp) / "tree")
        run, bundle = prepare(tree, args.run, Path(tmp), args.bundle)
        env = env_for(tree, run, bundle)
        all_tests = list(dict.fromkeys(t for m in chosen for t in m["tests"]))
        rc, out, secs = pytest(tree, env, all_tests, args.timeout)
        print(f"baseline (unmutated): exit {rc} in {secs:.0f} s", flush=True)
        if rc != 0:
            raise SystemExit(f"error: the unmutated tree fails its own tests: {first_failure(out)}")
        rows = [run_one(tree, env, m, args.timeout) for m in chosen]
    total = score(rows)
    result = {
        "command": "python benchmarks/mutation.py" + (f" --kind {args.kind}" if args.kind != "all" else "")
                   + (f" --only {' '.join(args.only)}" if args.only else ""),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {"machine": platform.machine(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "baseline": {"tests": all_tests, "passed": True},
        **total,
        "by_kind": {"curated": score([r for r in rows if r["origin"] != "operator"]),
                    "operator": score([r for r in rows if r["origin"] == "operator"])},
        "seconds": round(time.perf_counter() - t_start, 1),
        "mutants": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.out.with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps(result, indent=2) + "\n")
    tmp_out.replace(args.out)
    print(f"{total['killed']}/{total['total'] - total['equivalent']} mutants killed "
          f"({total['equivalent']} equivalent left out) -> {args.out}")
    return 0 if not total["survived"] else 1


if __name__ == "__main__":
    sys.exit(main())
