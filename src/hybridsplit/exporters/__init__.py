"""Exporters: device half to TFLite, either half to ONNX, and the bundle that ties them."""
