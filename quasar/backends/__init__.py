"""Which backend runs the kernels: the switch, per thread.

Ops never import a kernel module; they ask ``current()`` for the active
backend and call its named kernels (``B.add``, ``B.relu_backward``, ...).
Both backends implement the contract documented in ``reference.py`` (and in
``reference_<family>.py`` for each further kernel family); a backend is the
union of its ``compiled*.py`` or ``reference*.py`` modules.

The default is ``compiled`` (the Cython kernels). ``QUASAR_BACKEND=reference``
changes the default for the process; ``set_backend`` changes it for the
calling thread; ``with backend(name):`` for a block.
"""

import contextlib
import functools
import importlib
import os
import pkgutil
import threading
import types
import warnings

import numpy as np


def _family_modules(prefix):
    """The modules of one backend: ``<prefix>.py`` (the core kernels) and any
    ``<prefix>_<family>.py`` beside it (more kernel families: nn, index, ...)."""
    names = sorted(
        m.name for m in pkgutil.iter_modules(__path__) if m.name == prefix or m.name.startswith(prefix + "_")
    )
    return [importlib.import_module(f"{__name__}.{name}") for name in names]


def _assemble(name, modules, wrap=None):
    """One namespace with every public kernel of the modules: ``B.add``, ``B.gather``, ...
    (each passed through ``wrap`` when given)."""
    namespace = types.SimpleNamespace(name=name)
    for module in modules:
        for key, value in vars(module).items():
            if not key.startswith("_") and callable(value) and getattr(value, "__module__", None) == module.__name__:
                setattr(namespace, key, wrap(value) if wrap else value)
    namespace.modules = tuple(m.__name__ for m in modules)
    return namespace


def _arrays_out(kernel):
    """The kernel, returning 0-d arrays where it returned NumPy scalars.

    The contract says a kernel returns arrays, but NumPy's ufuncs and
    reductions turn a 0-d result into a scalar (``np.add(a0, b0)`` is a
    ``np.float64``), and a tensor's array must always be an ndarray. The
    compiled kernels allocate their outputs and never do this.
    """

    @functools.wraps(kernel)
    def call(*args, **kwargs):
        out = kernel(*args, **kwargs)
        if isinstance(out, np.generic):
            return np.asarray(out)
        if type(out) is tuple:
            return tuple(np.asarray(o) if isinstance(o, np.generic) else o for o in out)
        return out

    return call


reference = _assemble("reference", _family_modules("reference"), wrap=_arrays_out)
try:
    _compiled_modules = _family_modules("compiled")
    if not _compiled_modules:
        raise ImportError("quasar/backends/compiled.py is missing")
    compiled = _assemble("compiled", _compiled_modules)
except ImportError as exc:  # the extension was not built
    compiled = None
    _import_error = exc

_BACKENDS = {"reference": reference}
if compiled is not None:
    _BACKENDS["compiled"] = compiled


def _default_name():
    wanted = os.environ.get("QUASAR_BACKEND", "compiled").strip().lower()
    if wanted not in ("compiled", "reference"):
        raise ValueError(f"QUASAR_BACKEND={wanted!r}: expected 'compiled' or 'reference'")
    if wanted == "compiled" and compiled is None:
        warnings.warn(
            "quasar: the compiled kernels are not built "
            f"({_import_error}); running on the slow 'reference' backend. "
            "Build them with `make build` (or `pip install -e .`).",
            RuntimeWarning,
            stacklevel=3,
        )
        return "reference"
    return wanted


class _BackendState(threading.local):
    _module = None  # None: the process default
    array_backend = None  # under the differentiable backend (double backward): the one it computes with

    @property
    def module(self):
        """This thread's backend, or None for the process default."""
        return self._module

    @module.setter
    def module(self, value):
        global _switched
        _switched = True
        self._module = value


_DEFAULT = _BACKENDS[_default_name()]
_local = _BackendState()
# Whether any thread has ever set a backend of its own. Until one does, every
# thread runs the default, and current() (called for every kernel) skips the
# thread-local lookup, which costs about as much as the rest of the call.
_switched = False


def current():
    """The backend active in this thread (a namespace of kernels)."""
    return (_local.module or _DEFAULT) if _switched else _DEFAULT


def _lookup(name):
    if name not in ("compiled", "reference"):
        raise ValueError(f"set_backend: unknown backend {name!r}; choose 'compiled' or 'reference'")
    if name not in _BACKENDS:
        raise RuntimeError(f"set_backend: the compiled backend is not available ({_import_error})")
    return _BACKENDS[name]


def set_backend(name):
    """Make ``name`` ('compiled' or 'reference') the backend of this thread."""
    _local.module = _lookup(name)


def get_backend():
    """Name of the backend active in this thread: 'compiled' or 'reference'."""
    return current().name


@contextlib.contextmanager
def backend(name):
    """``with qs.backend("reference"):`` runs the block on that backend."""
    module = _lookup(name)
    saved = _local.module
    _local.module = module
    try:
        yield module
    finally:
        _local.module = saved
