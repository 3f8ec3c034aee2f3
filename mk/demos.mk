# Demos (issue 7, 18): Android assets + static check + Kotlin compile/JVM check, the browser demo, the HTML report.
WEB_PORT   ?= 8080
SERVE_PORT ?= 8000
ANDROID_APP ?= android_demo
ANDROID_BUILD ?= runs/android-jvm

.PHONY: demos-deps android-assets android-check demo-web report

demos-deps:  ## Debian chromium + the web demo's npm packages (idempotent)
	bash .ci/deps.d/demos.sh

android-assets: $(STAMP)  ## copy BUNDLE's device.tflite + manifest.json (+ samples.json) into the Android app
	$(HS) demo android-assets --bundle $(BUNDLE) --app $(ANDROID_APP)

# The Kotlin compile check + JVM tests need Debian's kotlin (.ci/deps.d/android.sh); the compile is
# cached in $(ANDROID_BUILD) while no source changes.
android-check: $(STAMP)  ## Android app: static manifest-key check, Kotlin compile against stand-ins, JVM byte checks vs Python
	$(HS) demo android-check --bundle $(BUNDLE) --app $(ANDROID_APP)
	$(HS) demo android-jvm --bundle $(BUNDLE) --app $(ANDROID_APP) --build $(ANDROID_BUILD)

demo-web: $(STAMP)  ## serve web_demo/ on 127.0.0.1:$(WEB_PORT) and BUNDLE's cloud half on :$(SERVE_PORT) (Ctrl-C stops both)
	@test -d web_demo/node_modules/@litertjs/core || bash .ci/deps.d/demos.sh
	@set -e; tok=$$(mktemp); trap 'kill $$pid 2>/dev/null; rm -f $$tok' EXIT INT TERM; \
	$(PY) -c "import secrets; print(secrets.token_urlsafe(24))" > $$tok; \
	$(HS) serve --bundle $(BUNDLE) --host 127.0.0.1 --port $(SERVE_PORT) --token-file $$tok \
	    --cors-origin http://127.0.0.1:$(WEB_PORT) & pid=$$!; \
	echo "open http://127.0.0.1:$(WEB_PORT)/#token=$$(cat $$tok)"; \
	$(HS) demo web --bundle $(BUNDLE) --port $(WEB_PORT) --server http://127.0.0.1:$(SERVE_PORT)

report: $(STAMP)  ## write $(BUNDLE)/report.html from the bundle and the results beside it
	$(HS) report --bundle $(BUNDLE)
