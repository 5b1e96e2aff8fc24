# One entry point for set-up: `make serve` and `make test` create the venv, install
# everything and build the ONNX models before they do anything else.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
MODELS := models/pose_detection.onnx models/pose_landmark_full.onnx

.PHONY: setup browser serve test lint audit bench fuzz clean

setup: $(STAMP) $(MODELS)

$(STAMP): pyproject.toml sdk/python/pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "kneecave needs Python 3.11+"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e 'sdk/python[dev]'
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

test: setup browser
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy service

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
