# powderkeg: one file for setting up, testing and measuring.
#   make setup   build .venv (Python 3.12) and install powderkeg editable with the dev extras
#   make run     setup if needed, then the headless baseline (8 worlds, 260 weeks) into results/baseline
#   make demo    setup if needed, Solara's front-end assets from the npm registry, then the app
#                (powderkeg ui: the baseline at http://127.0.0.1:8765/)
#   make test    setup if needed, Debian's chromium and the app's assets for the browser tests, then
#                lint and run the whole test suite
#   make bench   setup if needed, then run the kernel and model benchmarks (table + JSON in benchmarks/results/)
#   make lint    ruff on everything
#   make docs    setup if needed, then regenerate every document a model change moves (evidence,
#                audit, ablation, back-tests, systemic, seed targets, classroom, validation, the
#                logs of design.md's tail and stress-income tables), two commands at a time
#                (DOCS_ARGS="--only backtests" to do less)
#   make gpu-wheels  (where pip reaches an index) the pure-Python wheels the GPU check needs, in .whl/
#   make gpu-check   (on a machine with an NVIDIA GPU and CuPy, no index needed) install .whl/ into
#                .gpu-site/ and run scripts/gpu_check.py with the system python3: CuPy tests, every
#                preset on NumPy and CuPy, model and kernel benchmarks, one JSON in benchmarks/results/
#                (GPU_CHECK_ARGS="--quick" or "--sections presets,model" to do less)

VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.powderkeg-installed
# Playwright drives Debian's /usr/bin/chromium; it must never download a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# The GPU check's wheels: pure Python, pinned as in pyproject.toml (read from it); Mesa imports
# NetworkX. The GPU machine has NumPy, pandas, SciPy, tqdm, pytest and CuPy, and no index.
GPU_WHEELS := $(shell sed -nE 's/^ *"(mesa|networkx|array-api-compat|array-api-strict)(\[[a-z,]+\])?(==[^"]+)".*/\1\3/p' pyproject.toml)
WHEEL_PY   ?= $(if $(wildcard $(PY)),$(PY),python3)
GPU_PY     ?= python3
GPU_SITE   := .gpu-site
GPU_CHECK_ARGS ?=
DOCS_ARGS ?=

.PHONY: setup test lint bench run clean demo assets chromium gpu-wheels gpu-check docs

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/find-python312.sh
	@PY312=$$(scripts/find-python312.sh) || exit 1; \
	  echo "creating $(VENV) with $$PY312"; \
	  [ -x "$(PY)" ] || "$$PY312" -m venv "$(VENV)"
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $(STAMP)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Solara's front-end assets, from the npm registry into Solara's CDN cache (skips what is there).
assets: setup
	$(PY) scripts/seed_solara_cdn.py

# Debian's chromium for the browser tests (skipped when /usr/bin/chromium exists).
chromium:
	@[ -x /usr/bin/chromium ] || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; }

# one BLAS thread: the tests' small solves slow down many-fold when threads contend for the cores
test: setup lint assets chromium
	OPENBLAS_NUM_THREADS=1 POWDERKEG_BROWSER_TESTS=require $(VENV)/bin/pytest

demo: setup assets
	$(VENV)/bin/powderkeg ui

docs: setup
	$(PY) scripts/regenerate_docs.py $(DOCS_ARGS)

bench: setup
	$(VENV)/bin/powderkeg bench

run: setup
	$(VENV)/bin/powderkeg run --steps 260 --worlds 8 --seed 1 --out results/baseline

gpu-wheels:  # replaces these four packages' wheels in .whl/, leaves any other wheel there
	mkdir -p .whl
	rm -f .whl/mesa-*.whl .whl/networkx-*.whl .whl/array_api_compat-*.whl .whl/array_api_strict-*.whl
	$(WHEEL_PY) -m pip download --quiet --disable-pip-version-check --no-deps \
	  --only-binary=:all: --python-version 3.12 -d .whl $(GPU_WHEELS)
	@ls .whl

gpu-check:
	@ls .whl/*.whl >/dev/null 2>&1 || { echo "no wheels in .whl/: run 'make gpu-wheels' where pip reaches an index, then copy .whl/ here"; exit 2; }
	rm -rf $(GPU_SITE)
	$(GPU_PY) -m pip install --quiet --disable-pip-version-check --no-index --no-deps \
	  --target $(GPU_SITE) .whl/*.whl
	PYTHONPATH=$(GPU_SITE):. $(GPU_PY) scripts/gpu_check.py $(GPU_CHECK_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
