"""Serving the cloud half: wire format, server, device client."""
