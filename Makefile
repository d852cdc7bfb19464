# dnncost: `make demo` runs the main job, `make test` runs the tests.
# Both create .venv and install pinned dependencies (constraints.txt) by themselves.

PYTHON  ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
DNNCOST := $(VENV)/bin/dnncost
STAMP   := $(VENV)/.installed
STORE   ?= data/dnncost.sqlite
IISWC_DIR ?=
# Stage knobs: `make bench DEVICE=98AX1Y8LK`, `make train MODE=collaborative` ...
SPACE     ?= mobileopt
COUNT     ?= 100
SEED      ?= 42
MODELS    ?= data/models
PRECISION ?= int8
DEVICE    ?= local
MODE      ?= collaborative
MODEL     ?= $(if $(filter collaborative,$(MODE)),lowrank,xgb)
SAMPLING  ?= d_optimal
K         ?= 10
MODEL_DIR ?= models/$(MODE)-$(MODEL)
DEVICE_MODEL_DIR ?= models/device
ONNX      ?= model.onnx

.PHONY: install test clean gen bench phone train evaluate export import-iiswc node-deps system-deps demo demo-local

install: $(STAMP)

# Reinstall whenever the dependency files are newer than the last install.
$(STAMP): setup.cfg constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[all,test]'
	touch $(STAMP)

# Debian's Chromium for the report's browser test (skipped, with a reason, without it).
system-deps:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	  || echo "chromium not installed: the report's browser test will be skipped"

test: $(STAMP) system-deps node-deps
	$(PY) -m pytest -q -p no:cacheprovider tests

gen: $(STAMP)
	$(DNNCOST) gen --space $(SPACE) --count $(COUNT) --seed $(SEED) --precision $(PRECISION) --store $(STORE) --out $(MODELS)

bench: $(STAMP)
	$(DNNCOST) bench --device $(DEVICE) --precision $(PRECISION) --store $(STORE)

# One phone, one command: its signature measured, the population model adapted to it.
phone: $(STAMP)
	@test "$(DEVICE)" != local || { echo "pass your phone: make phone DEVICE=SERIAL (see adb devices)"; exit 2; }
	$(DNNCOST) phone $(DEVICE) --store $(STORE) $(if $(BENCHMARK_BINARY),--benchmark-binary $(BENCHMARK_BINARY))

# The embedded IISWC phones (IISWC_DIR=DIR: the published dataset there instead).
import-iiswc: $(STAMP)
	$(DNNCOST) data import-iiswc $(IISWC_DIR) --store $(STORE)

train: $(STAMP)
	$(DNNCOST) train --mode $(MODE) --model $(MODEL) --sampling $(SAMPLING) --signature-size $(K) --store $(STORE) -o $(MODEL_DIR)

evaluate: $(STAMP)
	$(DNNCOST) evaluate --mode $(MODE) --model $(MODEL) --sampling $(SAMPLING) --signature-size $(K) --store $(STORE)

export: $(STAMP)
	$(DNNCOST) export $(DEVICE_MODEL_DIR) -o $(ONNX) --store $(STORE)

# The Node.js parity test's onnxruntime-node (its CPU binary ships in the npm package;
# the skip stops its install script from reaching outside the npm registry), the browser
# test's playwright-core, and the report's ONNX Runtime Web (export/web).
node-deps:
	if command -v npm >/dev/null; then (cd tests/node && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --silent) && (cd export/web && npm ci --no-audit --no-fund --silent); fi

# The main job on the embedded default: 84 phones, three held out through ONNX, this
# computer measured and placed against them, new networks predicted, the report.
demo: $(STAMP)
	$(DNNCOST) demo --store $(STORE) --out data

# The older demo: this host's profiles act as the devices (its own store).
demo-local: $(STAMP)
	$(DNNCOST) demo --local --store data/local/dnncost.sqlite --out data/local

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
