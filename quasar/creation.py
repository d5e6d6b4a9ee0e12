"""Making tensors: from data, and the usual factories.

Floats default to float32 (PyTorch's default; ``quasar.set_default_dtype``
changes it); pass ``dtype=quasar.float64`` for double precision. Random factories draw from one generator seeded by
``manual_seed``.
"""

import numpy as np

from .dtypes import checked_cast, get_default_dtype, scalar_dtype
from .tensor import Tensor, _to_array

# PyTorch's initial default float dtype, kept for code written before
# set_default_dtype existed: new code calls get_default_dtype(), which follows it.
DEFAULT_FLOAT = np.dtype(np.float32)
_rng = np.random.default_rng()


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
    t = Tensor._wrap(_to_array(make(tuple(shape), dtype), dtype, copy=False, op=op))
    return t.requires_grad_(True) if requires_grad else t


def zeros(*shape, dtype=None, requires_grad=False):
    return _factory("zeros", np.zeros, shape, dtype, requires_grad)


def ones(*shape, dtype=None, requires_grad=False):
    return _factory("ones", np.ones, shape, dtype, requires_grad)


def full(shape, fill_value, dtype=None, requires_grad=False):
    """A tensor of ``shape`` filled with ``fill_value``. The dtype follows the
    value as in PyTorch: bool -> bool, int -> int64, float -> the default dtype."""
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
    return zeros(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return ones(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad=False):
    return full(t.shape, fill_value, dtype=dtype or t.dtype, requires_grad=requires_grad)


def empty_like(t, dtype=None, requires_grad=False):
    return empty(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def rand_like(t, dtype=None, requires_grad=False):
    """Uniform samples in [0, 1) of t's shape and (float) dtype."""
    return rand(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def randn_like(t, dtype=None, requires_grad=False):
    """Standard normal samples of t's shape and (float) dtype."""
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
    if step == 0:
        raise ValueError("arange: step must be non-zero")
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if ints else get_default_dtype()
    data = np.arange(start, end, step, dtype=dtype)
    return Tensor(data, requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False):
    """``steps`` evenly spaced values from start to end (both included). Computed
    in float64; an integer dtype truncates toward zero, as PyTorch does."""
    dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
    values = checked_cast(np.linspace(start, end, steps, dtype=np.float64), dtype, "linspace")
    return Tensor(values, requires_grad=requires_grad)


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
    return Tensor._wrap(_rng.integers(low, high, size=size, dtype=dtype))
