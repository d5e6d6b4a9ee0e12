"""Making tensors: from data, and the usual factories.

Floats default to float32 (PyTorch's default); pass ``dtype=quasar.float64``
for double precision. Random factories draw from one generator seeded by
``manual_seed``.
"""

import numbers

import numpy as np

from .ops.common import check_allocation, require_tensor
from .tensor import Tensor, _to_array

DEFAULT_FLOAT = np.dtype(np.float32)
_rng = np.random.default_rng()


def tensor(data, dtype=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (a number, nested lists, a NumPy
    array or a Tensor). A float64 array stays float64; Python floats become
    float32; ints become int64."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def from_numpy(array):
    """A tensor that shares memory with a NumPy array (no copy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor._wrap(_to_array(array, copy=False, op="from_numpy"))


def _factory(op, make, shape, dtype, requires_grad):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for n in shape:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"{op}: sizes must be non-negative ints, got {shape}")
    dtype = DEFAULT_FLOAT if dtype is None else np.dtype(dtype)
    check_allocation(op, shape, dtype)
    t = Tensor._wrap(_to_array(make(tuple(shape), dtype), dtype, copy=False, op=op))
    return t.requires_grad_(requires_grad) if requires_grad is not False else t


def zeros(*shape, dtype=None, requires_grad=False):
    return _factory("zeros", np.zeros, shape, dtype, requires_grad)


def ones(*shape, dtype=None, requires_grad=False):
    return _factory("ones", np.ones, shape, dtype, requires_grad)


def full(shape, fill_value, dtype=None, requires_grad=False):
    if isinstance(fill_value, Tensor) and fill_value.numel() == 1:
        fill_value = fill_value.item()
    if not isinstance(fill_value, numbers.Real):  # None would silently become NaN, 'x' a NumPy error
        raise TypeError(f"full: argument 'fill_value' must be a real number, not {type(fill_value).__name__}")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _factory("full", lambda s, d: np.full(s, fill_value, d), shape, dtype, requires_grad)


def empty(*shape, dtype=None, requires_grad=False):
    return _factory("empty", np.empty, shape, dtype, requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    require_tensor("zeros_like", t)
    return zeros(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    require_tensor("ones_like", t)
    return ones(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad=False):
    require_tensor("full_like", t)
    return full(t.shape, fill_value, dtype=dtype or t.dtype, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    """Evenly spaced values in [start, end). Integer arguments give int64, as in PyTorch."""
    if end is None:
        start, end = 0, start
    for name, value in (("start", start), ("end", end), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"arange: argument '{name}' must be a real number, not {type(value).__name__}")
    if step == 0:
        raise ValueError("arange: step must be non-zero")
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if ints else DEFAULT_FLOAT
    check_allocation("arange", (max(0, int(np.ceil((end - start) / step))),), dtype)
    data = np.arange(start, end, step, dtype=dtype)
    return Tensor(data, requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False):
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    check_allocation("linspace", (steps,), dtype or DEFAULT_FLOAT)
    return Tensor(np.linspace(start, end, steps, dtype=dtype or DEFAULT_FLOAT), requires_grad=requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
    return _factory("eye", lambda s, d: np.eye(*s, dtype=d), (n, n if m is None else m), dtype, requires_grad)


def manual_seed(seed):
    """Seed the generator behind rand, randn, randint and the nn initialisers."""
    global _rng
    _rng = np.random.default_rng(seed)


def generator():
    """The random generator quasar draws from (a numpy.random.Generator)."""
    return _rng


def rand(*shape, dtype=None, requires_grad=False):
    """Uniform samples in [0, 1)."""
    return _factory("rand", lambda s, d: _rng.random(s, dtype=d), shape, dtype, requires_grad)


def randn(*shape, dtype=None, requires_grad=False):
    """Standard normal samples."""
    return _factory("randn", lambda s, d: _rng.standard_normal(s, dtype=d), shape, dtype, requires_grad)


def randint(low, high=None, size=(), dtype=np.int64):
    """Integers in [low, high) (or [0, low) when high is omitted)."""
    if high is None:
        low, high = 0, low
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"randint: argument '{name}' must be an int, not {type(value).__name__}")
    if low >= high:
        raise RuntimeError(f"randint: expected low < high, got low={low}, high={high}")
    size = (size,) if isinstance(size, numbers.Integral) else tuple(size)
    for n in size:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"randint: sizes must be non-negative ints, got {size}")
    check_allocation("randint", size, dtype)
    return Tensor._wrap(_rng.integers(low, high, size=size, dtype=dtype))
