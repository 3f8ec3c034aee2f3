# Serving (issue 6): the cloud half over HTTP, the device client against it, the load benchmark.
#   make serve [PORT=8000 HOST=127.0.0.1 SERVE_ARGS="--engine ray --replicas 2 --cors-origin http://127.0.0.1:8080"]
#   make demo          serve the bundle on a free loopback port, run the client on every test window, stop
#   make bench-serving 200 clients x 60 s, batched vs unbatched -> benchmarks/results/serving_load.json
#   make bench-serving-fuzz   5,943 malformed messages -> benchmarks/results/serving_fuzz.json
#   make bench-serving-abuse  header floods, slowloris, idle sockets, body lies -> benchmarks/results/serving_abuse.json
PORT ?= 8000
HOST ?= 127.0.0.1
SERVE_ARGS ?=
CLIENT_ARGS ?=
SERVE_TOKEN ?= runs/.serve-token

.PHONY: serve demo bench-serving bench-serving-fuzz bench-serving-abuse serve-token serving-bundle

serve-token:
	@mkdir -p $(dir $(SERVE_TOKEN))
	@test -s $(SERVE_TOKEN) || $(PY) -c "import secrets; print(secrets.token_urlsafe(24))" > $(SERVE_TOKEN)

serving-bundle: $(STAMP)
	@test -f $(BUNDLE)/manifest.json || $(MAKE) export-tflite

serve: $(STAMP) serve-token serving-bundle  ## serve $(BUNDLE)'s cloud half on $(HOST):$(PORT) (token in $(SERVE_TOKEN))
	@echo "token file: $(SERVE_TOKEN)  (clients: --token-file $(SERVE_TOKEN), or HYBRIDSPLIT_TOKEN=\$$(cat $(SERVE_TOKEN)))"
	$(HS) serve --bundle $(BUNDLE) --host $(HOST) --port $(PORT) --token-file $(SERVE_TOKEN) $(SERVE_ARGS)

demo: $(STAMP) serve-token serving-bundle  ## serve + client end to end: accuracy and device/network/cloud latency
	@set -e; port=$$($(PY) -c "from hybridsplit.serving.server import free_port; print(free_port())"); \
	log=$$(mktemp); \
	$(HS) serve --bundle $(BUNDLE) --host 127.0.0.1 --port $$port --token-file $(SERVE_TOKEN) $(SERVE_ARGS) > $$log 2>&1 & pid=$$!; \
	trap 'kill $$pid 2>/dev/null || true; wait $$pid 2>/dev/null || true; rm -f $$log' EXIT; \
	for i in $$(seq 900); do grep -q '^ready:' $$log && break; kill -0 $$pid 2>/dev/null || break; sleep 0.2; done; \
	grep '^ready:' $$log || { cat $$log; echo "server did not start"; exit 1; }; \
	$(HS) client --bundle $(BUNDLE) --server http://127.0.0.1:$$port --token-file $(SERVE_TOKEN) $(CLIENT_ARGS)

bench-serving: $(STAMP) serving-bundle  ## bounded loopback load test -> benchmarks/results/serving_load.json
	$(PY) benchmarks/serving_load.py --bundle $(BUNDLE)

bench-serving-fuzz: $(STAMP) serving-bundle  ## malformed messages vs hybridsplit serve: 0 answers >= 500 (exit 1 otherwise)
	$(PY) benchmarks/serving_fuzz.py --bundle $(BUNDLE)

bench-serving-abuse: $(STAMP) serving-bundle  ## bounded connection-level attacks: refusals, server alive, RSS within 50 MB
	$(PY) benchmarks/serving_abuse.py --bundle $(BUNDLE)
