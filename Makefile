# Gilgamesh: `make serve` and `make test` work on a fresh machine (Debian, Python 3.11).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
REGISTRY ?= $(CURDIR)/.registry
HOST ?= 127.0.0.1
PORT ?= 8765
PYTEST_ARGS ?=

.PHONY: install serve seed test browser bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

# Publish the lab's API notebooks (dependencies first); already-published versions are no-ops.
seed: install
	$(PY) -m gilgamesh init --registry $(REGISTRY)
	$(PY) -m gilgamesh publish --registry $(REGISTRY) api_notebooks/*/*.ipynb

serve: seed
	$(PY) -m gilgamesh serve --registry $(REGISTRY) --host $(HOST) --port $(PORT)

# Debian's Chromium drives the web UI tests (headless); installed once if missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null \
	  || { echo "could not install chromium (are you root?)"; exit 1; }; }

test: install browser
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .registry test-artifacts *.egg-info
