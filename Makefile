# One entry point for set-up: `make serve` and `make test` create the venv, install
# everything and build the ONNX models before they do anything else.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
MODELS := models/pose_detection.onnx models/pose_landmark_full.onnx

.PHONY: setup browser serve test lint lock audit bench fuzz clean

setup: $(STAMP) $(MODELS)

# Exactly the locked versions (hash-checked), then the two local packages without their deps
# (already in the lock; tests/test_lock.py fails when a pyproject and the lock disagree).
$(STAMP): pyproject.toml sdk/python/pyproject.toml requirements/dev.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "kneecave needs Python 3.11+"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e . -e sdk/python
	touch $@

$(MODELS) &: $(STAMP) models/build.py models/manifest.json
	$(BIN)/python models/build.py
	touch $(MODELS)

serve: setup
	$(BIN)/kneecave serve

# The web page's test drives Debian's Chromium through chromedriver (installed when missing).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends chromium chromium-driver; }

# The TypeScript SDK's build and test tools (tests/test_sdk_typescript.py), from package-lock.json.
TS_SDK := sdk/typescript/node_modules/.installed-stamp
$(TS_SDK): sdk/typescript/package-lock.json
	cd sdk/typescript && npm ci --no-audit --no-fund
	touch $@

test: setup browser $(TS_SDK)
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy service

# Hashed locks for plain pip, by uv's universal resolver (Python 3.11 and 3.12 alike, one version
# per package): dev (make setup, CI: both pyprojects' dev extras), cpu / gpu (the images: same
# versions, one onnxruntime flavour each), models (the image's converter stage). Versions the
# resolver must not choose are in requirements/constraints.txt. Run after any dependency change.
LOCK = $(BIN)/uv pip compile --quiet --universal --fork-strategy fewest --python-version 3.11 \
	--generate-hashes --custom-compile-command 'make lock' -c requirements/constraints.txt
lock:
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet uv
	$(LOCK) pyproject.toml sdk/python/pyproject.toml --extra cpu --extra redis --extra models \
	    --extra dev -o requirements/dev.txt
	$(LOCK) pyproject.toml --extra cpu --extra redis -c requirements/dev.txt -o requirements/cpu.txt
	$(LOCK) pyproject.toml --extra gpu --extra redis -c requirements/dev.txt -o requirements/gpu.txt
	$(BIN)/python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["models"]))' \
	    | $(LOCK) - -c requirements/dev.txt -o requirements/models.txt

# Known vulnerabilities in the installed dependencies: pip-audit (in its own venv, so it audits
# only the project's) asks PyPI about each pinned version; --strict fails on any package it could
# not check. An accepted finding is added as `--ignore-vuln ID` here, with its reason beside it.
AUDIT := .venv-audit
audit: setup
	test -x $(AUDIT)/bin/pip-audit || { $(PYTHON) -m venv $(AUDIT) && $(AUDIT)/bin/python -m pip install --quiet pip-audit; }
	$(BIN)/python -m pip freeze --exclude-editable > $(AUDIT)/installed.txt
	$(AUDIT)/bin/pip-audit --strict --no-deps --disable-pip --progress-spinner off -r $(AUDIT)/installed.txt

bench: setup
	$(BIN)/python benchmarks/scoring.py
	$(BIN)/python benchmarks/pose.py

# Outside CI: atheris (libFuzzer) on the upload sniffer and the keypoints parser.
FUZZ_S ?= 300
fuzz: setup
	$(BIN)/python -m pip install --quiet atheris
	$(BIN)/python fuzz/seeds.py
	$(BIN)/python fuzz/run.py sniffer -max_total_time=$(FUZZ_S) fuzz/corpus/sniffer
	$(BIN)/python fuzz/run.py keypoints -max_total_time=$(FUZZ_S) -timeout=20 fuzz/corpus/keypoints

clean:
	rm -rf $(VENV) models/build $(MODELS)
