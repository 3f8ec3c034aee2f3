"""Privacy measures on split-inference features: attribute inference, the paper's rank measure,
and reconstruction. Features come from the torch device half or from an exported artifact
(`features.py`); `evaluate.py` runs them all on bundles and writes privacy.json.
"""
