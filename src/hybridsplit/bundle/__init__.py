"""The bundle: the one contract between the side that writes a split model and every side that
reads one (server, Python client, privacy attacks, bench, demos, report).

Torch-free by rule: numpy, pydantic and the runtimes (LiteRT, ONNX Runtime) only. Code that
reads a bundle imports from here and never from `exporters/`, `models/`, `defences/` or `train`.
"""
