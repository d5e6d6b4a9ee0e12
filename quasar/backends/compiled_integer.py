"""The compiled backend's integer kernels, and floor/trunc division and
remainder for every dtype: **NumPy's ufuncs**, on purpose.

Integer tensors hold indices, labels, masks and images; they carry no
gradient, and their arithmetic is rarely the hot path, so quasar does not
compile a second set of fused kernels for int8/16/32/64, uint8 and bool:
these wrappers call NumPy's ufuncs (wrapping on overflow, as C and PyTorch
do). ``floor_divide``, ``remainder`` and ``trunc_divide`` call NumPy's
ufuncs for floats too (its ``divmod`` is PyTorch's ``div_floor``
algorithm). The reference backend (``reference_integer.py``) computes all of
them another way: Python integers, and PyTorch's fmod-based algorithm.

Contract (the op layer guarantees it): two operands of one dtype whose
shapes broadcast; integer divisors are nonzero; integer exponents are
non-negative. Every kernel returns a new ndarray.
"""

import numpy as np


def _array(out):
    return out if type(out) is np.ndarray else np.asarray(out)


def int_add(a, b):
    """a + b (bool: logical or)."""
    return _array(np.add(a, b))


def int_sub(a, b):
    return _array(np.subtract(a, b))


def int_mul(a, b):
    """a * b (bool: logical and)."""
    return _array(np.multiply(a, b))


def int_maximum(a, b):
    return _array(np.maximum(a, b))


def int_minimum(a, b):
    return _array(np.minimum(a, b))


def int_pow(a, b):
    """a ** b for integer a and non-negative integer b (wraps on overflow)."""
    return _array(np.power(a, b))


def int_neg(x):
    return _array(np.negative(x))


def int_abs(x):
    return _array(np.abs(x))


def floor_divide(a, b):
    """floor(a / b); floats: IEEE a / b where b == 0 (inf or nan)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return _array(np.floor_divide(a, b))


def remainder(a, b):
    """a - b * floor(a / b): the sign of b (Python's %); floats: nan where b == 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return _array(np.remainder(a, b))


def trunc_divide(a, b):
    """a / b rounded toward zero."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if a.dtype.kind == "f":
            return _array(np.trunc(np.divide(a, b)))
        quotient = np.floor_divide(a, b)
        inexact = np.remainder(a, b) != 0
        return _array(quotient + (inexact & ((a < 0) != (b < 0))).astype(quotient.dtype))


def bitwise_and(a, b):
    return _array(np.bitwise_and(a, b))


def bitwise_or(a, b):
    return _array(np.bitwise_or(a, b))


def bitwise_xor(a, b):
    return _array(np.bitwise_xor(a, b))


def bitwise_not(x):
    return _array(np.invert(x))


def left_shift(a, b):
    return _array(np.left_shift(a, b))


def right_shift(a, b):
    return _array(np.right_shift(a, b))


def int_where(cond, a, b):
    """a where cond else b, for integer or bool a and b of one dtype."""
    return _array(np.where(cond, a, b))


def int_sum(x, axes, keepdims=False):
    """Sum over axes in int64 (bool counts its Trues), as PyTorch's sum of integers."""
    return _array(np.sum(x, axis=axes, dtype=np.int64, keepdims=keepdims))


def int_prod(x, axes, keepdims=False):
    """Product over axes in int64 (bools and narrower ints widen), as PyTorch's prod of integers."""
    return _array(np.prod(x, axis=axes, dtype=np.int64, keepdims=keepdims))


def int_max(x, axes, keepdims=False):
    """Largest value over axes, in x's dtype. The op layer rejects empty reductions."""
    return _array(np.max(x, axis=axes, keepdims=keepdims))


def int_min(x, axes, keepdims=False):
    return _array(np.min(x, axis=axes, keepdims=keepdims))
