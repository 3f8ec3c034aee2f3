"""hybridsplit: privacy-preserving split inference for phones and IoT devices."""

__version__ = "0.1.0"

# Before any submodule imports TensorFlow, LiteRT or the HF hub: their log level is read at load time.
from hybridsplit.quiet import set_native_env as _set_native_env  # noqa: E402

_set_native_env()
