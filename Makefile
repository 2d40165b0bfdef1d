# Quick start: `make check` then `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: check test lint install sandbox browser clean

# Python's bytecode caches on, whatever the environment says: the tests start hundreds of Python
# processes (the command, batch pools, the examples), each of which would otherwise compile gradref
# from source again (0.9 s -> 0.5 s to import the grader), and pytest would rewrite every module's
# asserts again in each worker. The sandbox's worker never writes any (it runs with -B).
unexport PYTHONDONTWRITEBYTECODE

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==2.13.0" || echo "torch 2.13.0 could not be installed: torch submissions will say so"
	$(BIN)/python -m pip install --quiet -e ".[test,plot]"
	$(BIN)/python -c "import torch" 2>/dev/null && $(BIN)/python -m pip install --quiet -e ".[test,plot,torch]" || true
	touch $(STAMP)

# The grader's sandbox: bubblewrap and libseccomp's Python bindings (the system-call filter) from the
# system's package manager where we may (root, apt); otherwise say the one command to run. Without
# bubblewrap, `gradref grade` isolates by process only; without the bindings, it runs without the filter.
SANDBOX_PACKAGES := bubblewrap python3-seccomp
sandbox:
	@if command -v bwrap >/dev/null 2>&1 && /usr/bin/python3 -c "import seccomp" >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing $(SANDBOX_PACKAGES) (the grader's sandbox)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SANDBOX_PACKAGES)) >/dev/null \
	  || echo "could not install $(SANDBOX_PACKAGES); grading will say which isolation it has"; \
	else \
	  echo "note: for a real grading sandbox install: sudo apt-get install $(SANDBOX_PACKAGES)" \
	       "(or dnf install bubblewrap python3-libseccomp)"; \
	fi

# Headless Chromium, for the browser tests of the HTML class report (skipped, with the reason, without it).
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium (the HTML report's browser tests)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
	  || echo "could not install chromium; the browser tests will be skipped"; \
	else \
	  echo "note: for the HTML report's browser tests install: sudo apt-get install chromium"; \
	fi

install: $(STAMP) sandbox browser

check: install
	$(BIN)/gradref check

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q -n auto

# Lint and format in place (make test only checks).
lint: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks
