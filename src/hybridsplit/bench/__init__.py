"""Benchmark harness: targets (local, adb, ssh), per-layer profile, benchmark_model parser,
energy proxies, network model, and the split sweep with its Pareto front."""

from hybridsplit.bench.targets import BenchConfig, Target, make_target

__all__ = ["BenchConfig", "Target", "make_target"]
