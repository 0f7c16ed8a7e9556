# Gilgamesh: `make serve` and `make test` work on a fresh machine (Debian, Python 3.11).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
REGISTRY ?= $(CURDIR)/.registry
HOST ?= 127.0.0.1
PORT ?= 8765
PYTEST_ARGS ?=
# Test processes: most tests wait on kernels, git and subprocesses, so three share two cores well.
TEST_WORKERS ?= 3

.PHONY: install static generators serve seed test test-fast sandbox browser bench clean

# The lab extension (labextension/) is built by pip's build of the package (setup.py): npm ci, tsc,
# rspack; its bundle is installed into the venv's share/jupyter/labextensions. Here a bundle that
# cannot be built is an error (a plain pip install says why and installs without it).
LAB_SOURCES := labextension/package.json labextension/package-lock.json labextension/tsconfig.json \
	$(wildcard labextension/src/*.ts labextension/style/*.css)

$(VENV)/.installed: pyproject.toml setup.py service/static/package-lock.json tests/service/generators/package-lock.json $(LAB_SOURCES)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	GILGAMESH_REQUIRE_LABEXTENSION=1 $(PY) -m pip install --quiet -e '.[test]'
	$(MAKE) --no-print-directory static generators
	touch $@

# KaTeX, served from the service's own origin so that equations render offline.
static:
	@command -v npm >/dev/null 2>&1 || { echo "npm is needed to install KaTeX (apt-get install npm)"; exit 1; }
	npm ci --silent --no-audit --no-fund --prefix service/static

# openapi-typescript (and tsc), which the tests run against the live OpenAPI document.
generators:
	@command -v npm >/dev/null 2>&1 || { echo "npm is needed for the OpenAPI generator tests (apt-get install npm)"; exit 1; }
	npm ci --silent --no-audit --no-fund --prefix tests/service/generators

# The package's own byte-code, as a pip install compiles it: the editable install runs the
# sources, and where PYTHONDONTWRITEBYTECODE is set every process (the CLI, the validation runner,
# its kernel) would compile every Gilgamesh module it imports again at each start.
install: $(VENV)/.installed
	@$(PY) -m compileall -q -x node_modules gilgamesh registry loader service >/dev/null

# The lab's bibliography, then its API notebooks (dependencies first); what is there already is a no-op.
seed: install sandbox
	$(PY) -m gilgamesh init --registry $(REGISTRY)
	$(PY) -m gilgamesh bib add --registry $(REGISTRY) api_notebooks/references.bib
	$(PY) -m gilgamesh publish --registry $(REGISTRY) api_notebooks/*/*.ipynb

serve: seed
	$(PY) -m gilgamesh serve --registry $(REGISTRY) --host $(HOST) --port $(PORT)

# Debian packages: bubblewrap sandboxes validation kernels (make serve and make test), chromium
# drives the web UI tests (make test). Installed once, if missing (needs root and apt).
define apt_install
	@missing=""; for pkg in $(1); do dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null \
	  || { echo "could not install$$missing (are you root?)"; exit 1; }; fi
endef

sandbox:
	$(call apt_install,bubblewrap)

browser:
	$(call apt_install,chromium chromium-driver)

test: install sandbox browser
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# The quick loop (under 2 minutes on 2 cores): the suite without the tests marked slow (they run
# kernels or many processes) or browser (they drive Chromium). `make test` stays the whole suite.
test-fast: install sandbox
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup -m "not slow and not browser" $(PYTEST_ARGS)

bench: install
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .registry test-artifacts *.egg-info service/static/node_modules tests/service/generators/node_modules \
	  labextension/node_modules labextension/lib labextension/build
