"""Making tensors: from data, and the usual factories.

Floats default to float32 (PyTorch's default; ``quasar.set_default_dtype``
changes it); pass ``dtype=quasar.float64`` for double precision. Random
factories draw from ``generator=`` (a ``quasar.Generator``) or from the
default generator that ``manual_seed`` seeds (see ``quasar/random.py``).
"""

import numbers

import numpy as np

from . import random as _random
from .dtypes import checked_cast, get_default_dtype, scalar_dtype
from .ops.common import check_allocation, require_tensor
from .tensor import Tensor, _to_array


def tensor(data, dtype=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (a number, nested lists, a NumPy
    array or a Tensor). A NumPy array keeps its dtype (float16 becomes
    float32); Python floats take the default dtype (float32); ints become
    int64. nan, inf or out-of-range values for an integer dtype raise
    ConversionError."""
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
    dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
    check_allocation(op, shape, dtype)
    t = Tensor._wrap(_to_array(make(tuple(shape), dtype), dtype, copy=False, op=op))
    return t.requires_grad_(requires_grad) if requires_grad is not False else t


def zeros(*shape, dtype=None, requires_grad=False):
    return _factory("zeros", np.zeros, shape, dtype, requires_grad)


def ones(*shape, dtype=None, requires_grad=False):
    return _factory("ones", np.ones, shape, dtype, requires_grad)


def full(shape, fill_value, dtype=None, requires_grad=False):
    """A tensor of ``shape`` filled with ``fill_value``. The dtype follows the
    value as in PyTorch: bool -> bool, int -> int64, float -> the default dtype."""
    if isinstance(fill_value, Tensor) and fill_value.numel() == 1:
        fill_value = fill_value.item()
    if not isinstance(fill_value, numbers.Real):  # None would silently become NaN, 'x' a NumPy error
        raise TypeError(f"full: argument 'fill_value' must be a real number, not {type(fill_value).__name__}")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None:
        dtype = scalar_dtype(fill_value)
    value = checked_cast(np.asarray(fill_value), np.dtype(dtype), "full")
    return _factory("full", lambda s, d: np.full(s, value, d), shape, dtype, requires_grad)


def empty(*shape, dtype=None, requires_grad=False):
    """An uninitialised tensor of ``shape`` (its values are whatever the memory held)."""
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


def empty_like(t, dtype=None, requires_grad=False):
    require_tensor("empty_like", t)
    return empty(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def rand_like(t, dtype=None, requires_grad=False):
    """Uniform samples in [0, 1) of t's shape and (float) dtype."""
    require_tensor("rand_like", t)
    return rand(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def randn_like(t, dtype=None, requires_grad=False):
    """Standard normal samples of t's shape and (float) dtype."""
    require_tensor("randn_like", t)
    return randn(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def is_tensor(obj):
    """True if obj is a quasar Tensor."""
    return isinstance(obj, Tensor)


def numel(t):
    """The number of elements of tensor t."""
    if not isinstance(t, Tensor):
        raise TypeError(f"numel: expected a Tensor, got {type(t).__name__}")
    return t.array.size


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
        dtype = np.int64 if ints else get_default_dtype()
    check_allocation("arange", (max(0, int(np.ceil((end - start) / step))),), dtype)
    data = np.arange(start, end, step, dtype=dtype)
    return Tensor(data, requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False):
    """``steps`` evenly spaced values from start to end (both included). Computed
    in float64; an integer dtype truncates toward zero, as PyTorch does."""
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
    check_allocation("linspace", (steps,), dtype)
    values = checked_cast(np.linspace(start, end, steps, dtype=np.float64), dtype, "linspace")
    return Tensor(values, requires_grad=requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
    return _factory("eye", lambda s, d: np.eye(*s, dtype=d), (n, n if m is None else m), dtype, requires_grad)


def manual_seed(seed):
    """Seed the default generator behind rand, randn, randint, the nn
    initialisers, dropout and DataLoader. Returns the generator."""
    return _random.manual_seed(seed)


def generator():
    """The NumPy generator behind quasar's default generator (a numpy.random.Generator)."""
    return _random.default_generator.numpy


def rand(*shape, generator=None, dtype=None, requires_grad=False):
    """Uniform samples in [0, 1)."""
    rng = _random.numpy_generator("rand", generator)
    return _factory("rand", lambda s, d: rng.random(s, dtype=d), shape, dtype, requires_grad)


def randn(*shape, generator=None, dtype=None, requires_grad=False):
    """Standard normal samples."""
    rng = _random.numpy_generator("randn", generator)
    return _factory("randn", lambda s, d: rng.standard_normal(s, dtype=d), shape, dtype, requires_grad)


def randint(low=None, high=None, size=None, *, generator=None, dtype=np.int64, requires_grad=False):
    """Integers in [low, high): ``randint(high, size)`` or ``randint(low, high, size)``
    as in PyTorch, or by keyword (``randint(high=5, size=(2,))``); without a
    size, a 0-d tensor."""
    if isinstance(high, (tuple, list)) and size is None:  # randint(high, size)
        low, high, size = 0, low, high
    if high is None:
        if low is None:
            raise TypeError("randint: missing the upper bound high")
        low, high = 0, low
    if low is None:
        low = 0
    if size is None:
        size = ()
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"randint: argument '{name}' must be an int, not {type(value).__name__}")
    if low >= high:
        raise RuntimeError(f"randint: expects low < high, got low={low}, high={high}")
    size = (size,) if isinstance(size, numbers.Integral) else tuple(size)
    for n in size:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"randint: sizes must be non-negative ints, got {size}")
    dtype = np.int64 if dtype is None else dtype
    check_allocation("randint", size, dtype)
    rng = _random.numpy_generator("randint", generator)
    return _factory("randint", lambda s, d: rng.integers(low, high, size=s, dtype=d), (size,), dtype, requires_grad)
