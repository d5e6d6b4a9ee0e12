"""The pointwise family in plain NumPy: the contract of the kernels of
``compiled_pointwise.py`` (same names, arguments and results).

Elementwise kernels take float32/float64 arrays of any layout (binary ones
two arrays of one dtype whose shapes broadcast) and return a new array of
the broadcast shape and that dtype. Scan kernels take an array and one
normalised ``axis``. Where NumPy has the function (tan, arctan2, cumprod,
logaddexp.accumulate, ...) it is used; the rest is computed another way than
the compiled kernels (erfinv by Newton from Winitzki's approximation, the
scan gradients as explicit sums), so the cross-check means something.
"""

import math

import numpy as np

name = "reference"


def _quiet(fn, *arrays):
    """fn(*arrays) with NumPy's floating-point warnings off: NaN and inf are results here."""
    with np.errstate(all="ignore"):
        return fn(*arrays)


def tan(x):
    return _quiet(np.tan, x)


def asin(x):
    return _quiet(np.arcsin, x)


def acos(x):
    return _quiet(np.arccos, x)


def atan(x):
    return np.arctan(x)


def sinh(x):
    return _quiet(np.sinh, x)


def cosh(x):
    return _quiet(np.cosh, x)


def asinh(x):
    return np.arcsinh(x)


def acosh(x):
    return _quiet(np.arccosh, x)


def atanh(x):
    return _quiet(np.arctanh, x)


def log2(x):
    return _quiet(np.log2, x)


def log10(x):
    return _quiet(np.log10, x)


def exp2(x):
    return _quiet(np.exp2, x)


def expm1(x):
    return _quiet(np.expm1, x)


def log1p(x):
    return _quiet(np.log1p, x)


def rsqrt(x):
    return _quiet(lambda v: 1 / np.sqrt(v), x)


def reciprocal(x):
    return _quiet(np.reciprocal, x)


def sign(x):
    """-1, 0 or 1; 0 for NaN (PyTorch's (0 < x) - (x < 0), unlike np.sign)."""
    return (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)


def floor(x):
    return np.floor(x)


def ceil(x):
    return np.ceil(x)


def round(x, decimals=0):
    """Round half to even; with decimals, PyTorch's scaling in x's precision:
    rint(x * 10**d) / 10**d, or rint(x / 10**-d) * 10**-d for d < 0."""
    if decimals == 0:
        return np.rint(x)
    scale = np.asarray(10.0 ** abs(decimals), x.dtype)
    with np.errstate(all="ignore"):
        return np.rint(x * scale) / scale if decimals > 0 else np.rint(x / scale) * scale


def trunc(x):
    return np.trunc(x)


def frac(x):
    with np.errstate(invalid="ignore"):
        return x - np.trunc(x)


_erf = np.frompyfunc(math.erf, 1, 1)


def erfinv(x):
    """Winitzki's closed-form approximation (about 2e-3 relative), then Newton
    steps on erf(y) = x in float64 until they stop changing it."""
    y64 = np.asarray(x, np.float64)
    a = 0.147
    with np.errstate(all="ignore"):
        log_term = np.log((1 - y64) * (1 + y64))
        first = 2 / (math.pi * a) + log_term / 2
        guess = np.sign(y64) * np.sqrt(np.sqrt(first * first - log_term / a) - first)
        inside = np.abs(y64) < 1
        guess = np.where(inside, guess, 0.0)
        for _ in range(6):
            step = (np.asarray(_erf(guess), np.float64) - y64) / (2 / math.sqrt(math.pi) * np.exp(-guess * guess))
            guess = np.where(inside, guess - step, guess)
        out = np.where(inside, guess, np.where(np.abs(y64) == 1, np.sign(y64) * np.inf, np.nan))
    return out.astype(x.dtype)


def logit(x, eps=None):
    z = x if eps is None else np.clip(x, eps, 1 - eps)
    with np.errstate(all="ignore"):
        return np.log(z / (1 - z)).astype(x.dtype)


def atan2(a, b):
    return np.arctan2(a, b)


def copysign(a, b):
    return np.copysign(a, b)


def hypot(a, b):
    return np.hypot(a, b)


def fmod(a, b):
    return _quiet(np.fmod, a, b)


def logaddexp(a, b):
    return np.logaddexp(a, b)


def logaddexp2(a, b):
    return np.logaddexp2(a, b)


def xlogy(a, b):
    """a * log(b); 0 where a == 0, NaN where b is NaN."""
    with np.errstate(all="ignore"):
        product = a * np.log(b)
    return np.where(np.isnan(b), b, np.where(a == 0, np.zeros((), a.dtype), product)).astype(a.dtype)


# ---------------------------------------------------------------- scans along one axis


def cumprod(x, axis):
    return _quiet(lambda v: np.cumprod(v, axis=axis), x)


def _cumulative_pick(x, axis, better):
    """Running extreme and its index along ``axis``: a new value takes over when
    ``better(value, best)`` (>= for max: ties take the later index) or it is
    NaN; once the best is NaN only a NaN replaces it."""
    moved = np.moveaxis(x, axis, 0)
    values, indices = np.empty_like(moved), np.empty(moved.shape, np.int64)
    best, best_k = moved[0].copy(), np.zeros(moved.shape[1:], np.int64)
    for k in range(moved.shape[0]):
        v = moved[k]
        take = np.isnan(v) | (~np.isnan(best) & better(v, best))
        best = np.where(take, v, best)
        best_k = np.where(take, k, best_k)
        values[k], indices[k] = best, best_k
    return np.moveaxis(values, 0, axis).copy(), np.moveaxis(indices, 0, axis).copy()


def cummax(x, axis):
    return _cumulative_pick(x, axis, np.greater_equal)


def cummin(x, axis):
    return _cumulative_pick(x, axis, np.less_equal)


def logcumsumexp(x, axis):
    return _quiet(lambda v: np.logaddexp.accumulate(v, axis=axis), x)


def cumprod_backward(x, g, axis):
    """dL/dx_i = sum over k >= i of g_k * (product of x_j, j <= k, j != i):
    for each i, the running product of x with x_i replaced by 1."""
    xs, gs = np.moveaxis(x, axis, -1), np.moveaxis(g, axis, -1)
    out = np.empty_like(xs)
    for i in range(xs.shape[-1]):
        without_i = xs.copy()
        without_i[..., i] = 1
        products = np.cumprod(without_i, axis=-1)
        out[..., i] = np.sum((gs * products)[..., i:], axis=-1)
    return np.moveaxis(out, -1, axis).copy()


def logcumsumexp_backward(x, result, g, axis):
    """dL/dx_i = sum over k >= i of g_k * exp(x_i - result_k) (0 where x_i is -inf)."""
    xs, rs, gs = (np.moveaxis(a, axis, -1) for a in (x, result, g))
    n = xs.shape[-1]
    later = np.triu(np.ones((n, n), bool))  # later[i, k]: k >= i
    with np.errstate(all="ignore"):
        weights = np.exp(xs[..., :, None] - rs[..., None, :])
    terms = np.where(later, gs[..., None, :] * weights, 0)
    out = np.where(np.isneginf(xs), 0, terms.sum(axis=-1)).astype(x.dtype)
    return np.moveaxis(out, -1, axis).copy()


# ---------------------------------------------------------------- median along one axis


def median(x, axis):
    """(values, indices) of the lower median along ``axis`` (n >= 1): the
    element of rank (n - 1) // 2 of the sorted values (NaN sorts last, so a
    NaN-holding row is first checked for NaN); the index is the first
    position holding the value (the first NaN for NaN)."""
    moved = np.moveaxis(x, axis, -1)
    n = moved.shape[-1]
    ranked = np.sort(moved, axis=-1)[..., (n - 1) // 2]
    nan_rows = np.isnan(ranked) | np.isnan(moved).any(axis=-1)
    values = np.where(nan_rows, np.asarray(np.nan, x.dtype), ranked)
    indices = np.empty(values.shape, np.int64)
    for position in np.ndindex(values.shape):
        row = moved[position]
        match = np.isnan(row) if nan_rows[position] else row == values[position]
        indices[position] = np.flatnonzero(match)[0]
    return values.astype(x.dtype), indices
