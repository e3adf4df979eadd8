# The two commands of the README: `make book` and `make test`. Both create $(VENV) on first
# use and reinstall when pyproject.toml changes.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HTML := book/_build/html
# make test executes the notebooks in a staged copy of the book's sources (so the committed
# .ipynb files stay output-free) and builds the book from those executed copies.
STAGE := build/stage
NB_WORKERS ?= 2
NB_TIMEOUT ?= 120
# Two kernels started at once can draw the same TCP port (jupyter_client picks free ports by
# bind-and-release); the losing kernel dies before replying. Only that error is retried: a
# notebook that fails raises nbmake's NotebookFailedException and is never rerun.
KERNEL_START_RACE := Kernel died before replying|Address already in use
# make test re-executes this many chapters, chosen by the commit, to check reproducibility.
REPRO_SAMPLE ?= 2

export PYTHONHASHSEED := 0
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: help install book test lint typecheck unit notebooks strict-book browser-deps check-book \
	reproducible lab sync clean

help:
	@echo "make book   execute every notebook and build the HTML book into $(HTML)"
	@echo "make test   ruff, mypy, unit tests, notebook checks, nbmake, strict book build, browser"
	@echo "make lab    JupyterLab with the chapters' .py files opening as notebooks"
	@echo "make sync   rewrite each .ipynb from its .py twin"
	@echo "make reproducible  execute every chapter twice and compare the text outputs"
	@echo "make clean  remove build outputs (keeps $(VENV))"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python >= 3.11 is needed (found: $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[book,dev]"
	@touch $(STAMP)

install: $(STAMP)

book: $(STAMP)
	$(BIN)/python tools/sync_notebooks.py --check
	$(BIN)/sphinx-build -c book -b html . $(HTML)
	@echo
	@echo "The book is built. Open: file://$(CURDIR)/$(HTML)/book/index.html"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# One thread per worker: with -n 2 on 2 cores, torch's default of a thread per core makes the
# small training tests spin against each other (measured: 30 s instead of 6 s under load).
unit: $(STAMP)
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -n $(NB_WORKERS)

# Execute every notebook once, in a staged copy of the book so that the committed .ipynb
# files stay output-free, then check what the executed notebooks show.
notebooks: $(STAMP)
	rm -rf $(STAGE) && mkdir -p $(STAGE)
	tar --exclude=book/_build -cf - README.md book notebooks/*/[0-9][0-9]_*.ipynb \
	  $$(ls -d notebooks/*/results 2>/dev/null) | tar -C $(STAGE) -xf -
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
	  $(BIN)/python -m pytest --nbmake --overwrite -n $(NB_WORKERS) --timeout=$(NB_TIMEOUT) \
	  --reruns 2 --only-rerun "$(KERNEL_START_RACE)" \
	  --durations=0 --durations-min=0 -p no:cacheprovider $(STAGE)/notebooks
	$(BIN)/python -m pytest -p no:cacheprovider tests/executed --executed-dir $(STAGE)/notebooks
	OMP_NUM_THREADS=1 $(BIN)/python tools/check_reproducible.py $(STAGE)/notebooks \
	  --sample $(REPRO_SAMPLE) --seed "$$(git rev-parse HEAD 2>/dev/null || echo 0)"

# Every chapter executed twice: identical text outputs (numbers, tables), timings aside.
reproducible: notebooks
	OMP_NUM_THREADS=1 $(BIN)/python tools/check_reproducible.py $(STAGE)/notebooks

# Warnings are errors; nothing is executed here (NB_EXECUTION_MODE=off).
strict-book: $(STAMP)
	NB_EXECUTION_MODE=off $(BIN)/sphinx-build -W --keep-going -n -j $(NB_WORKERS) -b html \
	  -c $(STAGE)/book $(STAGE) $(STAGE)/_build/html

# The browser tests need Chromium: Debian's package, installed here if missing (as root, as
# in CI); Playwright drives it and never downloads a browser of its own.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# The book as a reader's browser shows it (pages, images, math, search, sidebar) and its links.
check-book: $(STAMP) browser-deps
	$(BIN)/python -m pytest -p no:cacheprovider tests/book --html-dir $(STAGE)/_build/html \
	  --screenshot-dir build/screenshots

test: lint typecheck unit notebooks strict-book check-book
	@echo "make test: all checks passed"

lab: $(STAMP)
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp tools/jupyterlab-overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	$(BIN)/jupyter lab --notebook-dir=.

sync: $(STAMP)
	$(BIN)/python tools/sync_notebooks.py

clean:
	rm -rf $(HTML) book/_build build .pytest_cache .mypy_cache .ruff_cache
