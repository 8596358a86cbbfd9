# evalkit — two commands: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lab wheel-check lint bench clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install evalkit with its dependencies

demo: $(STAMP) ## synthetic data -> annual report in reports/
	$(BIN)/evalkit demo --overwrite

# one BLAS thread per test worker: two workers on two cores, no oversubscription
test: $(STAMP) ## run the whole test suite (tests/ and the docstring examples)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 --dist loadgroup

lab: $(STAMP) ## JupyterLab on notebooks/ with the project's kernel (start with getting_started.ipynb)
	$(BIN)/jupyter lab --notebook-dir=notebooks

# build the wheel, install it in a fresh venv outside the checkout, run synth + report there
wheel-check: $(STAMP) ## the installed package works without the repository
	.ci/check-wheel

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP) ## print every benchmark's figures
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info
