"""Result documents in the schemas the stages write (hybridsplit.results), shared by the results
and report tests: small, complete, with values chosen so every table cell is distinguishable."""

from __future__ import annotations


def bench_doc() -> dict:
    """A bench.json in the schema `hybridsplit bench` writes (hybridsplit.results.BenchResult), three layers."""
    layers = []
    cum = 0.0
    for name, macs, lat in (("block1", 38400, 21.0), ("block2", 614400, 48.5), ("block3", 393216, 30.2)):
        cum += lat
        layers.append({"name": name, "kind": "Conv1d+BatchNorm1d+ReLU+MaxPool1d", "output_shape": [1, 64, 12],
                       "output_bytes_fp32": 3072, "output_bytes_int8": 768, "macs": macs, "params": 6000,
                       "weight_bytes_int8": 6000, "weight_bytes_fp32": 24000, "latency_us_median": lat,
                       "latency_us_p90": lat * 1.2, "latency_method": "paired difference",
                       "cumulative_us_median": cum, "energy_uj": 1.5})
    net = {"split": {"total_ms": 12.5}, "cloud_only": {"total_ms": 14.0},
           "radio_energy": {"split": {"total_mj": 1.7}, "cloud_only": {"total_mj": 5.5}}}
    return {"kind": "bench", "schema": 1, "created": "2026-12-01T00:00:00Z", "bundle": "b", "cut": "block3",
            "backbone": "imu_cnn", "target": {"spec": "local", "kind": "local", "host": {"cpu": "x86_64"}},
            "method": "prefix: one int8 prefix model per stage", "layers": layers,
            "check": {"sum_of_layer_medians_us": cum, "whole_median_us": cum * 1.05, "ratio": 0.95, "within_15pct": True},
            "device_half": {"file": "device.tflite", "file_bytes": 35224, "latency_us": {"median": cum * 1.05, "p90": cum * 1.3}},
            "cloud": {"half": {"median_ms": 0.04}, "whole_model": {"median_ms": 0.13}},
            "energy": {"compute_uj": {"total_uj": 6.1}}, "feature": {"bytes": 768, "raw_input_bytes": 2400,
                                                                    "dtype": "int8", "shape": [1, 64, 12]},
            "networks": {"wifi": net, "lte": net}}


def privacy_doc() -> dict:
    """A privacy.json in the schema `hybridsplit privacy` writes (hybridsplit.results.PrivacyResult)."""
    curve = [{"model": "defended", "noise": s, "pca_dims": 8, "primary_accuracy": 0.98 - 0.05 * s,
              "best_attack": "logreg", "best_attack_accuracy": 0.6 - 0.2 * s} for s in (0.0, 0.5, 1.0, 2.0)]
    return {"kind": "privacy", "schema": 1, "artifact": "tflite_int8", "protocol": "time", "sensitive_attribute": "subject",
            "models": {"undefended": {"bundle": "u", "defences": [], "noise": 0.0, "pca_dims": None, "bytes_per_inference": 768},
                       "defended": {"bundle": "d", "defences": ["siamese", "pca", "noise"], "noise": 0.5, "pca_dims": 8,
                                    "bytes_per_inference": 8}},
            "primary_accuracy": {"undefended": 0.987, "defended": 0.962},
            "sensitive": {"chance": 0.1, "majority": 0.12, "classes": 10,
                          "attacks": {"logreg": {"undefended": 0.71, "defended": 0.19}},
                          "best": {"undefended": {"attack": "logreg", "accuracy": 0.71},
                                   "defended": {"attack": "logreg", "accuracy": 0.19}},
                          "raw_input_reference": {"attack": "random_forest", "accuracy": 0.8}},
            "rank": {"undefended": {"top1": 0.4, "mean_rank_over_n": 0.1}, "defended": {"top1": 0.05, "mean_rank_over_n": 0.4}},
            "reconstruction": {"undefended": {"nmse": 0.3}, "defended": {"nmse": 0.9}},
            "goal": {"sensitive_max": 0.2, "primary_min": 0.967, "met": {"defended": False}},
            "curve": curve}


def sweep_doc() -> dict:
    """A sweep.json in the schema `hybridsplit sweep` writes (hybridsplit.results.SweepResult), three cuts."""
    rows = [{"cut": c, "bytes": b, "feature_shape": [b], "end_to_end_ms": e, "device_ms": d, "cloud_ms": 0.04,
             "uplink_ms": e - d - 0.04, "compute_energy_mj": 0.05 * i, "radio_energy_mj": 0.05 * i,
             "accuracy": a, "attacker_acc": None, "energy_mj": 0.1 * i, "pareto": p, "feasible": True}
            for i, (c, b, e, d, a, p) in enumerate((("block1", 6400, 9.0, 0.05, 0.985, True),
                                                    ("block2", 3072, 9.5, 0.12, 0.989, True),
                                                    ("block3", 768, 12.0, 0.2, 0.987, False)))]
    return {"kind": "sweep", "schema": 1, "created": "2026-12-01T00:00:00Z", "recipe": "r.toml", "run": "runs/x",
            "target": {"spec": "local", "kind": "local"}, "network": {"name": "wifi"}, "cuts": rows,
            "recommendation": {"cut": "block2", "reason": "best int8 accuracy"}}


def export_doc() -> dict:
    """An export_report.json in the schema `hybridsplit export` writes (hybridsplit.results.ExportReport)."""
    return {"kind": "export", "schema": 1, "backbone": "imu_cnn", "cut": "block3", "torch_fp32_accuracy": 0.987,
            "rows": [{"artifact": "tflite_int8", "format": "tflite", "mode": "int8", "converter": "litert-torch",
                      "max_abs": 0.19, "bytes": 35224},
                     {"artifact": "coreml_fp16", "format": "coreml", "mode": "fp16", "converter": "coremltools",
                      "status": "failed", "message": "no macOS"}],
            "size_ratios": {"tflite_fp32_over_int8": {"larger": "tflite_fp32", "smaller": "tflite_int8",
                                                      "larger_bytes": 99656, "smaller_bytes": 35224, "ratio": 2.829}}}
