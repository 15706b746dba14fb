# DQN Course: two commands do everything.
#   make lab   -> create/refresh .venv, install the course, open JupyterLab on notebooks/
#   make test  -> create/refresh .venv, then: clean notebooks, lint + format, unit tests, notebooks in fast mode
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
LOCK   := requirements/constraints.txt
STAMP  := $(VENV)/.installed
# The course's kernel: the name the notebooks store (python3, which Colab also runs), installed into .venv
# and found first because make lab puts .venv's Jupyter folder at the head of JUPYTER_PATH (a python3
# kernelspec of your own, e.g. in ~/.local/share/jupyter, would otherwise win).
KERNEL := python3
KERNEL_PATH := $(CURDIR)/$(VENV)/share/jupyter
# metadata JupyterLab writes on save (the Python version and such): stripped like outputs
STRIP_KEYS := metadata.language_info.codemirror_mode metadata.language_info.file_extension \
    metadata.language_info.mimetype metadata.language_info.nbconvert_exporter \
    metadata.language_info.pygments_lexer metadata.language_info.version
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
CELL_TIMEOUT ?= 180

.PHONY: help env lab test execute bench clean strip lock

help:
	@echo "make lab      open the course in JupyterLab (sets up .venv first)"
	@echo "make test     set up .venv, then notebooks clean -> ruff -> pytest -> notebooks in fast mode"
	@echo "make test-browser  lessons 00, 01, 05 and every panel in JupyterLab in headless Chromium (also run by make test)"
	@echo "make execute  run every notebook in FULL mode, outputs kept in build/executed/"
	@echo "make bench    print the benchmark figures (benchmarks/)"
	@echo "make strip    strip outputs from all notebooks (nbstripout)"
	@echo "make clean    remove .venv, build/, runs/, notebooks/runs/ and caches"
	@echo "make site     the course site in build/site/: every lesson executed in FULL mode (cached)"
	@echo "make site-fast   the same in fast mode (DQN_FAST=1), as CI builds it"
	@echo "make diagrams redraw the diagrams in images/ (images/make_diagrams.py)"

env: $(STAMP)

# The environment is rebuilt only when the dependency files change (make compares timestamps).
$(STAMP): pyproject.toml $(LOCK)
	@test -n "$(PYTHON)" || { echo "error: no python3 found; install Python 3.11" >&2; exit 1; }
	@test -x $(BIN)/python || { echo ">> creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo ">> installing the course into $(VENV) (pinned by $(LOCK))"
	@echo "   (the first time this takes a few minutes: PyTorch, Gymnasium, ale-py, JupyterLab ...)"
	$(BIN)/python -m pip install --progress-bar off --disable-pip-version-check -c $(LOCK) -e '.[lab,dev]' \
	    | awk '/^(Collecting|Successfully installed|ERROR)/ { print; fflush() }'  # pip's status counts (pipefail)
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "DQN Course (.venv)" >/dev/null
	@# outputs of the lessons you run are stripped when you commit (git filter); nothing is committed here
	@if git rev-parse --git-dir >/dev/null 2>&1; then $(BIN)/nbstripout --install; \
	  git config filter.nbstripout.extrakeys "$(STRIP_KEYS)"; fi
	@touch $(STAMP)
	@echo ">> environment ready"

lab: $(STAMP)
	@echo ">> JupyterLab on notebooks/ (open the http://127.0.0.1 URL printed below; Ctrl-C to stop)"
	JUPYTER_PATH=$(KERNEL_PATH) $(BIN)/jupyter lab --no-browser --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=notebooks \
	    --MappingKernelManager.default_kernel_name=$(KERNEL) $(if $(filter 0,$(shell id -u)),--allow-root)

test: $(STAMP)
	@echo ">> 1/6 notebooks are committed without outputs (the outputs of lessons you ran are fine)"
	@test -n "$(NOTEBOOKS)" || { echo "error: no notebooks found in notebooks/" >&2; exit 1; }
	$(BIN)/python tests/check_clean_notebooks.py $(NOTEBOOKS)
	@echo ">> 2/6 lint and format (ruff)"
	$(BIN)/ruff check dqn_helpers tests benchmarks notebooks checkpoints
	$(BIN)/ruff format --check dqn_helpers tests benchmarks checkpoints
	@echo ">> 3/6 unit tests (the slowest listed at the end)"
	$(BIN)/python -m pytest tests/ -q -p no:cacheprovider --durations=10
	@echo ">> 4/6 every notebook in fast mode (DQN_FAST=1)"
	DQN_FAST=1 MPLBACKEND=Agg $(BIN)/python -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env \
	    --nbval-cell-timeout=$(CELL_TIMEOUT) $(NOTEBOOKS)
	@echo ">> 5/6 the course site in fast mode: every page executes and renders, no cell writes to stderr (build/site/)"
	DQN_FAST=1 $(BIN)/python notebooks/_site/build_site.py --fast --strict --timeout $(CELL_TIMEOUT) $(NOTEBOOKS)
	@if why=$$($(BIN)/python tests/browser/browserlab.py); then \
	  echo ">> 6/6 browser tests: JupyterLab in headless Chromium (screenshots in build/browser-artifacts/)"; \
	  $(MAKE) --no-print-directory test-browser; \
	else \
	  echo ">> 6/6 browser tests SKIPPED: $$why"; \
	fi

# The browser tests (tests/browser/): JupyterLab started as `make lab` does (own port and token) on a copy
# of lessons 00, 01 and 05, every cell run in fast mode in headless Chromium, the widgets played with; every
# panel from a small notebook the test builds (tests/browser/test_panels.py);
# then the built site (build/site/, when built). Screenshots and logs: build/browser-artifacts/.
.PHONY: test-browser
test-browser: $(STAMP)
	@why=$$($(BIN)/python tests/browser/browserlab.py) || { echo "error: $$why" >&2; exit 1; }
	$(BIN)/python -m pytest tests/browser -q -p no:cacheprovider --durations=5

# Full-length runs, outputs kept for a local look (not committed: build/ is ignored).
execute: $(STAMP)
	mkdir -p build/executed
	for nb in $(NOTEBOOKS); do \
	  echo ">> $$nb"; \
	  JUPYTER_PATH=$(KERNEL_PATH) $(BIN)/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=-1 \
	    --ExecutePreprocessor.kernel_name=$(KERNEL) --output-dir build/executed "$$nb"; \
	done

# The course site: each lesson executed (its outputs cached in build/site-cache/, so only changed notebooks
# run again) and rendered to HTML in build/site/; open build/site/index.html. site-fast: fast mode (CI).
.PHONY: site site-fast diagrams
site: $(STAMP)
	$(BIN)/python notebooks/_site/build_site.py $(NOTEBOOKS)

site-fast: $(STAMP)
	DQN_FAST=1 $(BIN)/python notebooks/_site/build_site.py --fast --strict --timeout $(CELL_TIMEOUT) $(NOTEBOOKS)

diagrams: $(STAMP)
	$(BIN)/python images/make_diagrams.py

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c $(LOCK) -e '.[bench]'
	for b in benchmarks/bench_*.py; do echo ">> $$b"; $(BIN)/python "$$b"; done

strip: $(STAMP)
	$(BIN)/nbstripout --extra-keys "$(STRIP_KEYS)" $(NOTEBOOKS)

# Re-pin the tested versions after changing pyproject.toml (run in a fresh venv).
lock:
	rm -rf build/lock-venv && $(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install --quiet torch==2.13.0 -e '.[lab,dev,bench]'
	{ echo "# Exact versions tested (Python 3.11, CPU). Installed by: make env"; \
	  build/lock-venv/bin/pip freeze --exclude-editable | grep -v '^-e' | sed 's/+cpu//'; } > $(LOCK)

clean:
	rm -rf $(VENV) build runs notebooks/runs .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
