# powderkeg: one file for setting up, testing and measuring.
#   make setup   build .venv (Python 3.12) and install powderkeg editable with the dev extras
#   make run     setup if needed, then the headless baseline (8 worlds, 260 weeks) into results/baseline
#   make demo    setup if needed, Solara's front-end assets from the npm registry, then the app
#                (powderkeg ui: the baseline at http://127.0.0.1:8765/)
#   make test    setup if needed, Debian's chromium and the app's assets for the browser tests, then
#                lint and run the whole test suite
#   make bench   setup if needed, then run the kernel and model benchmarks (table + JSON in benchmarks/results/)
#   make lint    ruff on everything

VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.powderkeg-installed
# Playwright drives Debian's /usr/bin/chromium; it must never download a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup test lint bench run clean demo assets chromium

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

test: setup lint assets chromium
	POWDERKEG_BROWSER_TESTS=require $(VENV)/bin/pytest

demo: setup assets
	$(VENV)/bin/powderkeg ui

bench: setup
	$(VENV)/bin/powderkeg bench

run: setup
	$(VENV)/bin/powderkeg run --steps 260 --worlds 8 --seed 1 --out results/baseline

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
