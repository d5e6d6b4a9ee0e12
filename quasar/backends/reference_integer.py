"""The reference integer kernels (and floor/trunc division and remainder):
the contract of ``compiled_integer.py``, computed another way.

Integers are computed as Python integers (exact, unbounded), then wrapped to
the dtype's width as two's complement, which is what C, NumPy and PyTorch
do on overflow. Float floor division and remainder follow PyTorch's
``div_floor_floating`` algorithm (fmod-based) step by step. Slow and plain,
so that a mistake in either backend shows up as a disagreement.
"""

import operator

import numpy as np


def _python(a):
    """An object array of Python ints (bools stay bools)."""
    return np.asarray(a).astype(object)


def _to_dtype(values, dtype):
    """Python ints -> dtype, wrapping modulo 2**bits (bool: truth value)."""
    values = np.asarray(values, dtype=object)
    if dtype == np.bool_:
        return np.asarray(np.vectorize(bool, otypes=[bool])(values) if values.size else values.astype(bool))
    info = np.iinfo(dtype)
    span = 1 << info.bits
    wrapped = np.vectorize(lambda v: (int(v) - info.min) % span + info.min, otypes=[object])(values) \
        if values.size else values
    return np.array(wrapped.tolist(), dtype=dtype).reshape(values.shape)


def _elementwise(fn, a, b, dtype):
    x, y = np.broadcast_arrays(_python(a), _python(b))
    out = np.empty(x.shape, dtype=object)
    for index in np.ndindex(x.shape):
        out[index] = fn(x[index], y[index])
    return _to_dtype(out, dtype)


def _bool_or_int(fn_int, fn_bool):
    def kernel(a, b):
        if a.dtype == np.bool_:
            return _elementwise(fn_bool, a, b, a.dtype)
        return _elementwise(fn_int, a, b, a.dtype)

    return kernel


int_add = _bool_or_int(operator.add, lambda p, q: p or q)
int_sub = _bool_or_int(operator.sub, lambda p, q: p != q)
int_mul = _bool_or_int(operator.mul, lambda p, q: p and q)
int_maximum = _bool_or_int(lambda p, q: p if p >= q else q, lambda p, q: p or q)
int_minimum = _bool_or_int(lambda p, q: p if p <= q else q, lambda p, q: p and q)
bitwise_and = _bool_or_int(operator.and_, lambda p, q: p and q)
bitwise_or = _bool_or_int(operator.or_, lambda p, q: p or q)
bitwise_xor = _bool_or_int(operator.xor, lambda p, q: p != q)


def int_pow(a, b):
    return _elementwise(lambda p, q: int(p) ** int(q), a, b, a.dtype)


def _shift_left(p, q):
    return 0 if q >= 64 else int(p) << int(q)


def _shift_right(p, q):
    return (-1 if p < 0 else 0) if q >= 64 else int(p) >> int(q)


def left_shift(a, b):
    return _elementwise(_shift_left, a, b, a.dtype)


def right_shift(a, b):
    return _elementwise(_shift_right, a, b, a.dtype)


def int_neg(x):
    return _elementwise(lambda p, _: -int(p), x, x, x.dtype)


def int_abs(x):
    return _elementwise(lambda p, _: p if x.dtype == np.bool_ else abs(int(p)), x, x, x.dtype)


def bitwise_not(x):
    if x.dtype == np.bool_:
        return _elementwise(lambda p, _: not p, x, x, x.dtype)
    return _elementwise(lambda p, _: ~int(p), x, x, x.dtype)


def _float_floor_divide(a, b):
    """PyTorch's div_floor_floating, one step at a time."""
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b = np.broadcast_arrays(a, b)
        mod = np.fmod(a, b)
        div = (a - mod) / b
        div = np.where((mod != 0) & ((b < 0) != (mod < 0)), div - 1, div)
        floordiv = np.floor(div)
        floordiv = np.where(div - floordiv > 0.5, floordiv + 1, floordiv)
        floordiv = np.where(div != 0, floordiv, np.copysign(np.zeros_like(div), a / b))
        return np.asarray(np.where(b == 0, a / b, floordiv), dtype=a.dtype)


def floor_divide(a, b):
    if a.dtype.kind == "f":
        return _float_floor_divide(a, b)
    return _elementwise(lambda p, q: int(p) // int(q), a, b, a.dtype)


def remainder(a, b):
    if a.dtype.kind == "f":
        with np.errstate(divide="ignore", invalid="ignore"):
            a, b = np.broadcast_arrays(a, b)
            mod = np.fmod(a, b)
            return np.asarray(np.where((mod != 0) & ((b < 0) != (mod < 0)), mod + b, mod), dtype=a.dtype)
    return _elementwise(lambda p, q: int(p) % int(q), a, b, a.dtype)


def _int_trunc_divide(p, q):
    quotient = abs(int(p)) // abs(int(q))
    return quotient if (p < 0) == (q < 0) else -quotient


def trunc_divide(a, b):
    if a.dtype.kind == "f":
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.divide(a, b)
            return np.asarray(np.where(q < 0, np.ceil(q), np.floor(q)), dtype=a.dtype)
    return _elementwise(_int_trunc_divide, a, b, a.dtype)


def int_where(cond, a, b):
    cond, a, b = np.broadcast_arrays(np.asarray(cond, bool), a, b)
    out = b.copy()
    out[cond] = a[cond]
    return out


def _reduce(x, axes, keepdims, combine, dtype):
    """combine(list of Python values) over ``axes``, one output element at a time."""
    x = np.asarray(x)
    kept = [a for a in range(x.ndim) if a not in axes]
    rows = np.transpose(x, kept + list(axes)).reshape([x.shape[a] for a in kept] + [-1])
    out = np.empty(rows.shape[:-1], dtype=object)
    for index in np.ndindex(out.shape):
        out[index] = combine(rows[index].tolist())
    if keepdims:
        out = out.reshape([1 if a in axes else n for a, n in enumerate(x.shape)])
    return _to_dtype(out, dtype)


def int_sum(x, axes, keepdims=False):
    return _reduce(x, axes, keepdims, lambda row: sum(int(v) for v in row), np.dtype(np.int64))


def int_prod(x, axes, keepdims=False):
    """Product over axes in int64 (wrapping like C on overflow)."""
    def product(row):
        total = 1
        for v in row:
            total = (total * int(v) + 2**63) % 2**64 - 2**63  # int64 wrap-around
        return total

    return _reduce(x, axes, keepdims, product, np.dtype(np.int64))


def int_max(x, axes, keepdims=False):
    return _reduce(x, axes, keepdims, max, x.dtype)


def int_min(x, axes, keepdims=False):
    return _reduce(x, axes, keepdims, min, x.dtype)
