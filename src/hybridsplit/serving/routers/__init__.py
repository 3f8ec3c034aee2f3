"""One router per resource: infer (predict), info, health, metrics."""
