"""hybridsplit: privacy-preserving split inference for phones and IoT devices."""

__version__ = "0.1.0"
