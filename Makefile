# cnnlessons: set up, run the course, test it.
#   make course   create .venv (unless an environment is active), execute every lesson
#   make test     same set-up, then the whole test suite (what CI runs)
# See README.md for the rest.

SHELL := /bin/bash
.DEFAULT_GOAL := course

# Use the active virtualenv/conda environment if there is one, else a local .venv.
ifneq ($(strip $(VIRTUAL_ENV)$(CONDA_PREFIX)),)
  PYTHON ?= python
  STAMP := .env-installed
else
  PYTHON := .venv/bin/python
  STAMP := .venv/.installed
endif
PYTEST := $(PYTHON) -m pytest -p no:cacheprovider
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg
export TQDM_DISABLE := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: setup course execute metadata lab test test-gpu test-full test-fast test-browser doctor slides book bench zoo-table clean

$(STAMP): pyproject.toml
	@if [ "$(PYTHON)" = ".venv/bin/python" ] && [ ! -x .venv/bin/python ]; then \
	  echo "creating .venv"; python3 -m venv .venv; fi
	$(PYTHON) -m pip install --upgrade pip
	$(PYTHON) -m pip install -e '.[test,diagrams]'
	@touch $@

setup: $(STAMP) ## create the environment and install the course

course: setup execute ## set up, then execute every lesson at its defaults

execute: $(STAMP) ## re-execute every lesson in place (atomic; volatile metadata stripped)
	$(PYTHON) -m cnnlessons.course.cli execute

metadata: $(STAMP) ## re-derive every lesson's metadata from its cell tags (hidden cells, slides), without executing; outputs kept byte for byte
	$(PYTHON) -m cnnlessons.course.cli execute --metadata-only

lab: $(STAMP) ## open JupyterLab on the lessons (trusted, so saved widget views show without a kernel)
	$(PYTHON) -m jupyter trust notebooks/*.ipynb
	$(PYTHON) -m jupyter lab notebooks/

# The strict nbval pass runs under ATEN_CPU_CAPABILITY=default: torch's portable kernels, another
# CPU's floating-point arithmetic on this one. The committed outputs come from `make execute` with
# the native kernels (AVX2/AVX-512), so one pass that compares equal proves both: no compared
# output depends on the CPU's arithmetic (what makes `make test` pass on any machine), and the
# notebooks still run. A second, native pass would add ~4 minutes and prove nothing more.
#
# Both passes spread their files over JOBS worker processes (pytest-xdist; --dist loadfile keeps a
# test file's fixtures, and a notebook's cells, in one worker), and each worker's torch gets its
# share of the cores (OMP_NUM_THREADS, unless you set it): two workers of one thread keep a 2-core
# CPU busier than one worker of two. No compared output depends on the thread count.
JOBS ?= 2
XDIST = -n $(JOBS) --dist loadfile
THREADS = $${OMP_NUM_THREADS:-$$(( $$(nproc) / $(JOBS) > 1 ? $$(nproc) / $(JOBS) : 1 ))}
test: $(STAMP) ## the whole test suite: unit tests, browser tests, strict nbval of every lesson (portable kernels)
	bash scripts/install-browser.sh
	@status=0; threads=$(THREADS); echo "make test: $(JOBS) workers of $$threads torch thread(s)"; \
	OMP_NUM_THREADS=$$threads $(PYTEST) $(XDIST) tests || status=1; \
	OMP_NUM_THREADS=$$threads ATEN_CPU_CAPABILITY=default $(PYTEST) $(XDIST) $(NBVAL) notebooks || status=1; \
	exit $$status

test-fast: $(STAMP) ## unit tests only (no notebooks, no browser)
	$(PYTEST) -m "not slow and not browser" tests

test-browser: $(STAMP) ## the browser test alone; screenshots in build/screenshots/
	bash scripts/install-browser.sh
	$(PYTEST) -m browser tests/test_browser.py

doctor: $(STAMP) ## versions, device, reachable online extras
	$(PYTHON) -m cnnlessons.course.cli doctor

test-gpu: ## the whole suite with every lesson on CUDA; fails without CUDA
	CNNLESSONS_DEVICE=cuda $(MAKE) test

test-full: $(STAMP) ## every lesson at its full preset, compared with data/records/ (long: not part of make test)
	CNNLESSONS_FULL=1 $(PYTEST) -m slow tests/test_full.py

book: $(STAMP) ## the course as a static website in build/book/ (committed notebooks, not re-executed)
	$(PYTHON) -m book

slides: $(STAMP) ## reveal.js decks of every lesson, with speaker notes, into build/slides/ (a folder that works copied alone, offline)
	$(PYTHON) -m cnnlessons.course.decks

bench: $(STAMP) ## benchmarks into build/bench/
	$(PYTHON) -m benchmarks.run

zoo-table: $(STAMP) ## re-measure every torchvision classifier into the shipped table (lesson 06; about a minute)
	$(PYTHON) -m cnnlessons.experiments.zoo_table

clean:
	rm -rf build .pytest_cache
