# Two-command quick start: `make run` (the main job) and `make test` (the test suite).
# Both create .venv on first use with a Python >= 3.12 interpreter.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml constraints.txt
	@bash scripts/bootstrap.sh $(VENV)
	@touch $(STAMP)

run: $(STAMP)
	$(PY) run.py

test: $(STAMP)
	MPLBACKEND=Agg $(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check .

bench: $(STAMP)
	$(PY) benchmarks/bench_single_run.py

clean:
	rm -rf $(VENV)
