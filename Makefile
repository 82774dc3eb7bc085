# The two commands a newcomer runs: `make demo` and `make test`.
# Both create .venv when missing, install the local CPU torch wheel first, then the project
# (the demo only the extras it uses); the install is skipped while pyproject.toml and the
# Makefile are unchanged.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.install-stamp
DEMO_STAMP := $(VENV)/.install-demo-stamp
TORCH_VERSION ?= 2.13.0
DEMO_DIR ?= checkerfree-demo
PYTEST_ARGS ?=

.PHONY: install browser demo test test-all clean

install: $(STAMP)

# Two steps: what `make demo` needs (torch, then the plot, cli and image extras: about 1.5
# minutes), then the rest for `make test` (all extras and the dev tools: ray, pyarrow, monai,
# diffusers, onnxruntime; minutes more, which the demo does not wait for).
$(DEMO_STAMP): pyproject.toml Makefile
	@echo "== installing torch $(TORCH_VERSION) (CPU) and checkerfree[plot,cli,image] into $(VENV) (once)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/python -m pip install --quiet -e ".[plot,cli,image]"
	touch $(DEMO_STAMP)
	@echo "== installed what the demo needs"

$(STAMP): $(DEMO_STAMP) pyproject.toml Makefile
	@echo "== installing checkerfree[all,dev] for the tests (once)"
	$(BIN)/python -m pip install --quiet -e ".[all,dev]"
	touch $(STAMP)

# Progress on stderr: one line per claim, and steps with an ETA inside each training loop.
demo: $(DEMO_STAMP)
	@echo "== reproducing every claim, quick settings, into $(DEMO_DIR)/ (a few minutes)"
	$(BIN)/python -m checkerfree reproduce --quick --out $(DEMO_DIR) --force

# The report test opens index.html in headless Chromium (Debian's package). Installing it
# needs root and the Debian mirror; without them that one test is skipped, not failed.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser test"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "could not install chromium: the browser test will be skipped"; }

test: $(STAMP) browser
	$(BIN)/python -m pytest -q -n 2 $(PYTEST_ARGS)

# Also the long experiments (full reproduce runs): well over the 10-minute budget.
test-all: $(STAMP) browser
	$(BIN)/python -m pytest -q -n 2 -m "slow or not slow" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .hypothesis
