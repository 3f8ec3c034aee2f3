# hybridsplit — the two commands: `make export-tflite` and `make test`.
# Each area adds its own targets in mk/<area>.mk (included below).
SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
HS    := $(VENV)/bin/hybridsplit
RECIPE ?= recipes/watch.toml
RUN    ?= runs/default
BUNDLE ?= bundles/default
STAMP := $(VENV)/.installed
EXTRA_REQS := $(sort $(wildcard requirements/extra-*.txt))
export PATH := $(abspath $(VENV))/bin:$(PATH)
export HF_HUB_OFFLINE := 1
export TF_CPP_MIN_LOG_LEVEL := 3

.PHONY: install deps export-tflite train export test test-fast lint clean

install: $(STAMP)  ## create .venv with the pinned stack (fast when nothing changed)

# base pins first, then the --no-deps set, then each area's extras, then the package itself
$(STAMP): requirements/base.txt requirements/nodeps.txt $(EXTRA_REQS) pyproject.toml
	test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/base.txt
	$(PY) -m pip install -q --no-deps -r requirements/nodeps.txt
	for f in $(EXTRA_REQS); do $(PY) -m pip install -q -r $$f || exit 1; done
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

$(RUN)/checkpoint.pt: | $(STAMP)
	$(HS) train --recipe $(RECIPE) --out $(RUN)

train: $(STAMP)  ## (re)train the default recipe
	$(HS) train --recipe $(RECIPE) --out $(RUN)

export-tflite: $(STAMP) $(RUN)/checkpoint.pt  ## train if needed, export bundles/default, print the table
	$(HS) export --run $(RUN) --out $(BUNDLE)
	$(HS) verify --bundle $(BUNDLE)

export: export-tflite

# The tests' system packages (chromium, adb, sshd, the web demo's npm packages): each
# .ci/deps.d/*.sh installs only what is missing, so on a ready machine this costs seconds.
deps:  ## install the tests' system and npm packages (idempotent; apt-get needs root or sudo)
	@for script in $(sort $(wildcard .ci/deps.d/*.sh)); do bash $$script || { echo "error: $$script failed: install its packages by hand or rerun as root"; exit 1; }; done

test: deps $(STAMP)  ## the whole test suite (slow tests included); installs what the tests need first
	$(PY) -m pytest -q

test-fast: deps $(STAMP)
	$(PY) -m pytest -q -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests

clean:
	rm -rf runs bundles .pytest_cache

-include $(sort $(wildcard mk/*.mk))
