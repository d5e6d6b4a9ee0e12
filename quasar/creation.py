"""Making tensors: from data, and the usual factories.

Floats default to float32 (PyTorch's default); pass ``dtype=quasar.float64``
for double precision. Random factories draw from one generator seeded by
``manual_seed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .tensor import Tensor, _to_array

Shape = int | Sequence[int]  # zeros(2, 3), zeros((2, 3)) and zeros([2, 3]) are the same

DEFAULT_FLOAT = np.dtype(np.float32)
_rng = np.random.default_rng()


def tensor(data: Any, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (a number, nested lists, a NumPy
    array or a Tensor). A float64 array stays float64; Python floats become
    float32; ints become int64."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
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
    t = Tensor._wrap(_to_array(make(tuple(shape), dtype), dtype, copy=False, op=op))
    return t.requires_grad_(True) if requires_grad else t


def zeros(*shape: Shape, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    return _factory("zeros", np.zeros, shape, dtype, requires_grad)


def ones(*shape: Shape, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    return _factory("ones", np.ones, shape, dtype, requires_grad)


def full(shape: Shape, fill_value: float, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _factory("full", lambda s, d: np.full(s, fill_value, d), shape, dtype, requires_grad)


def empty(*shape: Shape, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    return _factory("empty", np.empty, shape, dtype, requires_grad)


def zeros_like(t: Tensor, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    return zeros(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def ones_like(t: Tensor, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    return ones(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def full_like(t: Tensor, fill_value: float, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    return full(t.shape, fill_value, dtype=dtype or t.dtype, requires_grad=requires_grad)


def arange(
    start: float, end: float | None = None, step: float = 1, dtype: DTypeLike | None = None, requires_grad: bool = False
) -> Tensor:
    """Evenly spaced values in [start, end). Integer arguments give int64, as in PyTorch."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be non-zero")
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if ints else DEFAULT_FLOAT
    data = np.arange(start, end, step, dtype=dtype)
    return Tensor(data, requires_grad=requires_grad)


def linspace(start: float, end: float, steps: int, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.linspace(start, end, steps, dtype=dtype or DEFAULT_FLOAT), requires_grad=requires_grad)


def eye(n: int, m: int | None = None, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    return _factory("eye", lambda s, d: np.eye(*s, dtype=d), (n, n if m is None else m), dtype, requires_grad)


def manual_seed(seed: int) -> None:
    """Seed the generator behind rand, randn, randint and the nn initialisers."""
    global _rng
    _rng = np.random.default_rng(seed)


def generator() -> np.random.Generator:
    """The random generator quasar draws from (a numpy.random.Generator)."""
    return _rng


def rand(*shape: Shape, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1)."""
    return _factory("rand", lambda s, d: _rng.random(s, dtype=d), shape, dtype, requires_grad)


def randn(*shape: Shape, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    return _factory("randn", lambda s, d: _rng.standard_normal(s, dtype=d), shape, dtype, requires_grad)


def randint(low: int, high: int | None = None, size: Shape = (), dtype: DTypeLike = np.int64) -> Tensor:
    """Integers in [low, high) (or [0, low) when high is omitted)."""
    if high is None:
        low, high = 0, low
    return Tensor._wrap(_rng.integers(low, high, size=size, dtype=dtype))
