"""The pointwise family on the Cython kernels of ``quasar/_pointwise.pxi`` (in the ``quasar._kernels`` module).

Exactly the names, arguments and results of ``reference_pointwise.py`` (read
its docstring for the contract). Each wrapper only moves data: it makes the
inputs C-contiguous (binary operands broadcast to the output's shape first,
which copies a broadcast operand: these ops are rarely on a hot path),
allocates the output, picks the thread count and calls one kernel.
"""

import math

import numpy as np

from .. import _kernels as _k  # the _pointwise.pxi family

name = "compiled"

# Even vectorized (glibc's libmvec), tan or log1p costs several adds per
# element (measured: tan ~2 ms per 1e6 float64, an add ~0.3 ms): count each
# element as this many adds of work when asking for threads.
_WORK_PER_ELEMENT = 8
_threads_for = None


def _threads(n_elements):
    """Threads for a kernel over ``n_elements`` (quasar.parallel.threads_for, looked up on first use)."""
    global _threads_for
    if _threads_for is None:
        from ..parallel import threads_for as _threads_for
    return _threads_for(n_elements * _WORK_PER_ELEMENT)


def _flat(x):
    return np.ascontiguousarray(x).reshape(-1)


def _unary(op, x, p0=0.0, p1=0.0):
    out = np.empty(x.shape, x.dtype)
    _k.pointwise_unary(op, _flat(x), out.reshape(-1), p0, p1, _threads(out.size))
    return out


def _binary(op, a, b):
    shape = np.broadcast_shapes(a.shape, b.shape)
    out = np.empty(shape, a.dtype)
    _k.pointwise_binary(op, _flat(np.broadcast_to(a, shape)), _flat(np.broadcast_to(b, shape)), out.reshape(-1),
              _threads(out.size))
    return out


_U, _B, _S = _k.PointwiseUnaryOp, _k.PointwiseBinaryOp, _k.ScanOp


def tan(x):
    return _unary(_U.TAN, x)


def asin(x):
    return _unary(_U.ASIN, x)


def acos(x):
    return _unary(_U.ACOS, x)


def atan(x):
    return _unary(_U.ATAN, x)


def sinh(x):
    return _unary(_U.SINH, x)


def cosh(x):
    return _unary(_U.COSH, x)


def asinh(x):
    return _unary(_U.ASINH, x)


def acosh(x):
    return _unary(_U.ACOSH, x)


def atanh(x):
    return _unary(_U.ATANH, x)


def log2(x):
    return _unary(_U.LOG2, x)


def log10(x):
    return _unary(_U.LOG10, x)


def exp2(x):
    return _unary(_U.EXP2, x)


def expm1(x):
    return _unary(_U.EXPM1, x)


def log1p(x):
    return _unary(_U.LOG1P, x)


def rsqrt(x):
    return _unary(_U.RSQRT, x)


def reciprocal(x):
    return _unary(_U.RECIPROCAL, x)


def sign(x):
    return _unary(_U.SIGN, x)


def floor(x):
    return _unary(_U.FLOOR, x)


def ceil(x):
    return _unary(_U.CEIL, x)


def round(x, decimals=0):
    if decimals == 0:
        return _unary(_U.ROUND, x)
    return _unary(_U.ROUND_SCALED, x, 10.0 ** abs(decimals), 1.0 if decimals > 0 else -1.0)


def trunc(x):
    return _unary(_U.TRUNC, x)


def frac(x):
    return _unary(_U.FRAC, x)


def erfinv(x):
    return _unary(_U.ERFINV, x)


def logit(x, eps=None):
    return _unary(_U.LOGIT, x, math.nan if eps is None else eps)


def atan2(a, b):
    return _binary(_B.ATAN2, a, b)


def copysign(a, b):
    return _binary(_B.COPYSIGN, a, b)


def hypot(a, b):
    return _binary(_B.HYPOT, a, b)


def fmod(a, b):
    return _binary(_B.FMOD, a, b)


def logaddexp(a, b):
    return _binary(_B.LOGADDEXP, a, b)


def logaddexp2(a, b):
    return _binary(_B.LOGADDEXP2, a, b)


def xlogy(a, b):
    return _binary(_B.XLOGY, a, b)


# ---------------------------------------------------------------- scans along one axis


def _around(x, axis):
    """x as a C-contiguous (outer, n, inner) array around ``axis``."""
    shape = x.shape
    return np.ascontiguousarray(x).reshape(math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :]))


_NO_INDEX = np.zeros((1, 1, 1), np.int64)


def _scan(op, x, axis, with_index=False):
    rows = _around(x, axis)
    out = np.empty(rows.shape, x.dtype)
    index = np.empty(rows.shape, np.int64) if with_index else _NO_INDEX
    _k.scan(op, rows, out, index, _threads(x.size))
    if with_index:
        return out.reshape(x.shape), index.reshape(x.shape)
    return out.reshape(x.shape)


def cumprod(x, axis):
    return _scan(_S.CUMPROD, x, axis)


def cummax(x, axis):
    return _scan(_S.CUMMAX, x, axis, with_index=True)


def cummin(x, axis):
    return _scan(_S.CUMMIN, x, axis, with_index=True)


def logcumsumexp(x, axis):
    return _scan(_S.LOGCUMSUMEXP, x, axis)


def cumprod_backward(x, g, axis):
    out = np.empty(x.shape, x.dtype)
    rows = _around(x, axis)
    _k.cumprod_backward(rows, _around(g, axis), out.reshape(rows.shape), _threads(x.size))
    return out


def logcumsumexp_backward(x, result, g, axis):
    out = np.empty(x.shape, x.dtype)
    rows = _around(x, axis)
    _k.logcumsumexp_backward(rows, _around(result, axis), _around(g, axis), out.reshape(rows.shape),
                             _threads(x.size))
    return out


# ---------------------------------------------------------------- median along one axis


def median(x, axis):
    """(values, indices) of the lower median along ``axis`` (n >= 1): the
    element of rank (n - 1) // 2; NaN, at the first NaN, where a NaN is
    present; the index is the first position holding the value.

    NumPy's introselect (``np.partition``) is the best kernel for the value,
    so this calls it (the reference sorts instead)."""
    n = x.shape[axis]
    values = np.take(np.partition(x, (n - 1) // 2, axis=axis), (n - 1) // 2, axis=axis)
    has_nan = np.isnan(x).any(axis=axis)
    values = np.where(has_nan, np.asarray(np.nan, x.dtype), values)
    target = np.expand_dims(values, axis)
    hits = np.where(np.expand_dims(has_nan, axis), np.isnan(x), x == target)
    return values, np.argmax(hits, axis=axis).astype(np.int64)
