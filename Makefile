# The two commands a newcomer runs: `make demo` and `make test`.
# Both create .venv when missing, install the local CPU torch wheel first, then the project;
# the install is skipped while pyproject.toml and the Makefile are unchanged.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.install-stamp
TORCH_VERSION ?= 2.13.0
DEMO_DIR ?= checkerfree-demo
PYTEST_ARGS ?=

.PHONY: install browser demo test test-all clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@echo "== installing torch $(TORCH_VERSION) (CPU) and checkerfree[all,dev] into $(VENV): about 1-2 minutes, once"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/python -m pip install --quiet -e ".[all,dev]"
	touch $(STAMP)
	@echo "== installed"

# Progress on stderr: one line per claim, and steps with an ETA inside each training loop.
demo: $(STAMP)
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
