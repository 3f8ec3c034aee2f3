"""Third-party log noise, silenced at its source and only there.

- Environment read by native libraries when they load (TensorFlow's C++ log level, the oneDNN
  banner, Hugging Face hub retries) is set by `hybridsplit/__init__.py`, before any of them is
  imported; a value the user set is kept.
- Native log lines printed to file descriptor 2 by one call (LiteRT's "Created TensorFlow Lite
  XNNPACK delegate", ExecuTorch's cpuinfo probing) are held back around that call alone and
  printed after all if the call fails, so an error never loses its explanation.
- Python loggers of a dependency, and deprecation warnings it raises, are lowered around the call
  that triggers them.
The toolkit's own warnings and errors are never filtered.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator

# Read by TensorFlow / LiteRT / absl / the HF hub when they are first imported.
NATIVE_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # TensorFlow C++ INFO/WARNING/ERROR lines (the oneDNN banner among them)
    "HF_HUB_OFFLINE": "1",  # no hub can be reached: fail at once instead of 30 s of retries
}


def set_native_env() -> None:
    for key, value in NATIVE_ENV.items():
        os.environ.setdefault(key, value)


@contextlib.contextmanager
def native_stderr_held() -> Iterator[None]:
    """Hold what native code writes to fd 2 during the block; print it only if the block raises."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (e.g. captured by a test runner)
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    held = tempfile.TemporaryFile()
    failed = False
    try:
        os.dup2(held.fileno(), fd)
        yield
    except BaseException:
        failed = True
        raise
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        if failed:  # the library's own words about why it failed
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            sys.stderr.flush()
        held.close()


@contextlib.contextmanager
def loggers_at(level: int, *names: str) -> Iterator[None]:
    """Raise the given Python loggers to `level` for the block (a dependency's import-time chatter)."""
    loggers = [logging.getLogger(n) for n in names]
    before = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(level)
    try:
        yield
    finally:
        for lg, lvl in zip(loggers, before):
            lg.setLevel(lvl)


# torch 2.13 deprecates a pytree check that litert-torch and ExecuTorch still make on every export;
# Python attributes it to copyreg, so it is matched by its text rather than by module.
PYTREE_LEAFSPEC = r"`isinstance\(treespec, LeafSpec\)` is deprecated"


@contextlib.contextmanager
def deprecations_hidden(*messages: str) -> Iterator[None]:
    """Hide the FutureWarning / DeprecationWarning whose text matches one of `messages` during the
    block (a dependency's deprecation that users cannot act on); every other warning still shows."""
    with warnings.catch_warnings():
        for message in messages:
            for category in (FutureWarning, DeprecationWarning):
                warnings.filterwarnings("ignore", message=message, category=category)
        yield


@contextlib.contextmanager
def torch_converters_quiet() -> Iterator[None]:
    """Importing and running torch.export-based converters (litert-torch, ExecuTorch): torchao logs its
    missing CUDA kernels and a pytree deprecation when imported, and every export trips PYTREE_LEAFSPEC."""
    with loggers_at(logging.ERROR, "torchao", "torch.utils._pytree"), deprecations_hidden(PYTREE_LEAFSPEC):
        yield
