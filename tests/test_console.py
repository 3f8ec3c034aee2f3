"""What a user reads: the toolkit's own lines, without TensorFlow / absl / torch / LiteRT internals.

Native libraries write to file descriptor 2 directly, so these tests run real subprocesses and read
what a terminal would show.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest

# Shapes of third-party log lines: glog/absl ("W1201 08:28:53.232 ... file.py:630]"), TFLite's minimal
# logger ("INFO: Created TensorFlow Lite XNNPACK delegate"), absl's pre-init notice, the oneDNN banner,
# cpuinfo probing ("[cpuinfo_utils.cpp:71]"), Python warnings of a dependency, site-packages paths.
INTERNAL = re.compile(
    r"^[IWEF]\d{4} \d\d:\d\d|^(INFO|WARNING|ERROR|VERBOSE): |absl::|oneDNN|^\[\w+\.(cc|cpp):\d+\]"
    r"|(Future|Deprecation|User)Warning|site-packages/|Failed to load .*\.so"
)


def _user_env() -> dict[str, str]:
    """The environment of a user who set none of the variables the Makefile sets, with Python's default
    warning filters (FutureWarning and UserWarning shown, a library's DeprecationWarning not)."""
    drop = ("TF_CPP_MIN_LOG_LEVEL", "HF_HUB_OFFLINE", "PYTHONWARNINGS")
    return {k: v for k, v in os.environ.items() if k not in drop}


def _internal_lines(output: str) -> list[str]:
    return [ln for ln in output.splitlines() if INTERNAL.search(ln)]


def test_the_pattern_catches_the_lines_users_reported():
    reported = [
        "W1201 08:28:53.232000 4104 torch/utils/_pytree.py:630] <enum 'KernelPreference'> is an Enum subclass",
        "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "I0000 00:00:1764577733.123456   1234 cpu_feature_guard.cc:210] oneDNN custom operations are on.",
        "[cpuinfo_utils.cpp:71] Reading file /sys/devices/soc0/image_version",
        "/x/site-packages/torch/utils/_pytree.py:1: FutureWarning: isinstance(treespec, LeafSpec) is deprecated",
    ]
    assert _internal_lines("\n".join(reported)) == reported
    assert _internal_lines("bundles/default: 4 files match their sha256\ntflite_int8 35,224 0.9873") == []


@pytest.mark.slow
def test_export_prints_no_third_party_internals(tmp_path, trained_run):
    out = tmp_path / "bundle"
    proc = subprocess.run([sys.executable, "-m", "hybridsplit.cli", "export", "--run", str(trained_run),
                           "--out", str(out), "--format", "tflite,onnx,pte"],
                          capture_output=True, text=True, env=_user_env(), timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "report written to" in output  # the toolkit's own lines are there
    assert _internal_lines(output) == [], output


_HELD = textwrap.dedent("""
    import os, sys
    from hybridsplit.quiet import native_stderr_held
    try:
        with native_stderr_held():
            os.write(2, b"native chatter\\n")
            if sys.argv[1] == "fail":
                os.write(2, b"native reason for the failure\\n")
                raise RuntimeError("converter failed")
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
    os.write(2, b"after the block\\n")
""")


def test_native_stderr_is_held_on_success_and_shown_on_failure():
    ok = subprocess.run([sys.executable, "-c", _HELD, "ok"], capture_output=True, text=True, timeout=60)
    assert ok.stderr == "after the block\n"
    failed = subprocess.run([sys.executable, "-c", _HELD, "fail"], capture_output=True, text=True, timeout=60)
    assert failed.stderr == ("native chatter\nnative reason for the failure\n"
                             "error: converter failed\nafter the block\n")


def test_the_toolkits_own_warnings_still_show():
    code = textwrap.dedent("""
        import sys, warnings
        from hybridsplit import cli
        sys.argv = ["hybridsplit", "list", "datasets"]
        try:
            cli.main()  # whatever the command sets up for itself stays set up afterwards
        except SystemExit:
            pass
        origin = "hybridsplit.models.graph_split"
        warnings.warn_explicit("toolkit warning", UserWarning, "graph_split.py", 1, module=origin)
        warnings.warn_explicit("toolkit future", FutureWarning, "graph_split.py", 2, module=origin)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_user_env(), timeout=120)
    assert "toolkit warning" in proc.stderr and "toolkit future" in proc.stderr, proc.stderr
