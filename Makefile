# powderkeg: one file for setting up, testing and measuring.
#   make setup   build .venv (Python 3.12) and install powderkeg editable with the dev extras
#   make run     setup if needed, then the headless baseline (8 worlds, 260 weeks) into results/baseline
#   make test    setup if needed, then lint and run the whole test suite
#   make bench   setup if needed, then run the kernel and model benchmarks (table + JSON in benchmarks/results/)
#   make lint    ruff on everything

VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.powderkeg-installed

.PHONY: setup test lint bench run clean

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

test: setup lint
	$(VENV)/bin/pytest

bench: setup
	$(VENV)/bin/powderkeg bench

run: setup
	$(VENV)/bin/powderkeg run --steps 260 --worlds 8 --seed 1 --out results/baseline

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
