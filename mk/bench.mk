# Benchmarks (issue 5): per-layer latency, memory, energy proxies on a target; split sweep; runtimes.
#   make bench                              local: bench.json beside $(BUNDLE), per-layer table printed
#   make bench DEVICE=adb:SERIAL BENCHMARK_MODEL=/path/to/android/benchmark_model [BENCH_ARGS="--threads 4 --cpu-mask f0"]
#   make bench DEVICE=ssh://pi@raspberrypi.local [BENCH_ARGS="--remote-python /home/pi/venv/bin/python"]
#   make sweep [SWEEP_ARGS="--max-latency-ms 20 --max-bytes 2000 --network lte"]   every cut -> $(SWEEP_OUT)/sweep.json + pareto.png
#   make bench-runtimes                     torch / ORT / TFLite fp32 / TFLite int8 on this CPU -> benchmarks/results/runtimes.json
#   make bench-int8-mobile                  real-size torchvision device halves: int8 before/after rewrites, runtimes, per-op sums
#   make profile MODEL=file.tflite          per-op profile of any .tflite (op, shapes, dtypes, XNNPACK or not, median µs)
DEVICE ?= local
BENCH_ARGS ?=
SWEEP_OUT ?= runs/sweep
SWEEP_ARGS ?=
BENCHMARK_MODEL ?=

.PHONY: bench sweep bench-runtimes bench-bundle bench-int8-mobile profile

bench-bundle: $(STAMP)
	@test -f $(BUNDLE)/manifest.json || $(MAKE) export-tflite

bench: $(STAMP) bench-bundle  ## per-layer bench of $(BUNDLE) on DEVICE=local|adb[:SERIAL]|ssh://user@host[:port]
	$(HS) bench --bundle $(BUNDLE) $(if $(wildcard $(RUN)/checkpoint.pt),--run $(RUN)) --target $(DEVICE) \
		$(if $(BENCHMARK_MODEL),--benchmark-binary $(BENCHMARK_MODEL)) $(BENCH_ARGS)

sweep: $(STAMP) $(RUN)/checkpoint.pt  ## every cut of $(RECIPE): latency, bytes, energy, accuracy (+attacker) -> Pareto + recommendation
	$(HS) sweep --recipe $(RECIPE) --run $(RUN) --out $(SWEEP_OUT) --target $(DEVICE) $(SWEEP_ARGS)

bench-runtimes: $(STAMP) bench-bundle  ## default device half across runtimes on this CPU -> benchmarks/results/runtimes.json
	$(PY) benchmarks/runtimes.py --bundle $(BUNDLE) --run $(RUN) --out benchmarks/results/runtimes.json

bench-int8-mobile: $(STAMP)  ## mobilenet_v3_small / resnet18 / efficientnet_b0 halves at 224: int8 vs fp32 vs ORT vs torch -> benchmarks/results/int8_mobile.json
	$(PY) benchmarks/int8_mobile.py --out benchmarks/results/int8_mobile.json

MODEL ?= $(BUNDLE)/device.tflite
profile: $(STAMP)  ## per-op profile of MODEL (any .tflite) on DEVICE=local|ssh://...
	$(HS) profile $(MODEL) --target $(DEVICE) $(BENCH_ARGS)
