# quasar: `make demo` and `make test` work on a fresh machine with Python 3.10+
# and a C compiler. Everything is installed into a local virtual environment
# (.venv) the first time; later runs only rebuild what changed.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q

.PHONY: build test demo examples bench bench-quick lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# build and test requirements (cython, numpy, pytest, ...), once per change of pyproject.toml
$(VENV)/.deps: $(PY) pyproject.toml
	$(PIP) install "setuptools>=64" wheel "cython>=3" "numpy>=2" threadpoolctl pytest hypothesis mpi4py mpich
	touch $@

# the example extras (matplotlib, tqdm, scikit-learn)
$(VENV)/.examples: $(VENV)/.deps
	$(PIP) install matplotlib tqdm scikit-learn
	touch $@

## build: compile the Cython kernels in place, for this machine's CPU (-march=native)
build: $(VENV)/.deps
	QUASAR_NATIVE=1 $(PY) setup.py -q build_ext --inplace -j 2

## test: the whole suite (builds first)
test: build $(VENV)/.examples
	$(PY) -m pytest -q tests

## demo: train an MLP on handwritten digits, with a progress bar and a plot
demo: build $(VENV)/.examples
	$(PY) examples/complete_neural_network.py

## bench: quasar side by side with NumPy (and PyTorch if installed); writes benchmarks/RESULTS.md
bench: build
	$(PY) benchmarks/run.py

bench-quick: build
	$(PY) benchmarks/run.py --quick

lint: $(VENV)/.deps
	$(PIP) install ruff && $(VENV)/bin/ruff check quasar tests examples benchmarks

clean:
	rm -rf build quasar/*.c quasar/*.so quasar/_build_info.py *.egg-info .pytest_cache
