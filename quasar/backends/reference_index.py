"""Reference kernels of the index family: indexing, joining and the extra math
of ``quasar.ops.index``, ``join``, ``mathops`` and ``inplace``, in plain NumPy.

The contract of this family (the compiled twin, ``compiled_index.py``, has
exactly these names and meanings; see ``reference.py`` for the rules every
backend shares):

* Index arguments are int64 arrays the op layer has already checked: every
  entry is in range and non-negative. The kernels never check bounds.
* ``axis``/``axes`` are already normalised (non-negative, distinct); an array
  given an ``axis`` has at least one dimension.
* Every kernel returns a new array.

Written for clarity, not speed.
"""

import math

import numpy as np

name = "reference"

# ---------------------------------------------------------------- scatter-adds
# The backward of every gather: each gradient element goes back to the place
# its value was read from, and a place read twice receives the sum.


def scatter_add_flat(values, flat_index, size):
    """A zero vector of length ``size`` with ``values`` added at ``flat_index``.

    values: float array; flat_index: int64 array of the same shape, entries in
    [0, size). Returns (size,): out[flat_index[i]] += values[i], repeats adding up.
    """
    out = np.zeros(size, values.dtype)
    np.add.at(out, flat_index.reshape(-1), values.reshape(-1))
    return out


def index_add(values, index, size):
    """Whole rows added back along the middle axis.

    values: (outer, m, inner) float; index: (m,) int64 in [0, size).
    Returns (outer, size, inner) zeros with out[:, index[k], :] += values[:, k, :].
    """
    outer, _, inner = values.shape
    out = np.zeros((outer, size, inner), values.dtype)
    np.add.at(out, (slice(None), index), values)
    return out


# ---------------------------------------------------------------- selection


def masked_fill(x, mask, value):
    """``value`` where ``mask`` is True, else x.

    x: any supported dtype; mask: bool, broadcastable to x.shape; value: a
    Python number (converted to x's dtype). Returns x's shape and dtype.
    """
    return np.where(mask, np.asarray(value, x.dtype), x)


# ---------------------------------------------------------------- scans and products along one axis


def cumsum(x, axis):
    """Running sum along ``axis``: out[..., k, ...] = x[..., 0, ...] + ... + x[..., k, ...]."""
    return np.cumsum(x, axis=axis)


def prod(x, axis, keepdims=False):
    """Product along ``axis`` (1 for an empty axis)."""
    return np.prod(x, axis=axis, keepdims=keepdims)


def prod_backward(x, g, axis):
    """dL/dx for out = prod(x, axis): g times the product of the *other* elements.

    g has x's shape with ``axis`` of size 1 (keepdims). Computed from the
    products before and after each element, so zeros in x are exact (no
    division by x).
    """
    if x.shape[axis] == 0:
        return np.zeros(x.shape, x.dtype)
    rows = np.moveaxis(x, axis, -1)
    one = np.ones(rows.shape[:-1] + (1,), x.dtype)
    before = np.cumprod(np.concatenate([one, rows[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([one, rows[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return np.moveaxis(before * after, -1, axis) * g


def argmax(x, axis):
    """Index of the largest value along ``axis`` (of the flattened x when axis is
    None), int64. Ties and NaN: the first one wins (a NaN counts as largest)."""
    return np.argmax(x, axis=axis).astype(np.int64, copy=False)


def argmin(x, axis):
    """Index of the smallest value; the first one wins, and a NaN counts as smallest."""
    return np.argmin(x, axis=axis).astype(np.int64, copy=False)


def logsumexp(x, axes, keepdims=False):
    """log(sum(exp(x))) over ``axes`` (a tuple, possibly empty), without overflow.

    The row maximum is subtracted first; an infinite maximum is replaced by 0,
    so a row of -inf (or an empty row) gives -inf and a row holding +inf gives
    +inf. NaN anywhere in a row gives NaN.
    """
    top = np.max(x, axis=axes, keepdims=True, initial=-np.inf)
    top = np.where(np.isfinite(top), top, np.zeros((), x.dtype))
    with np.errstate(divide="ignore", over="ignore"):
        out = np.log(np.sum(np.exp(x - top), axis=axes, keepdims=True)) + top
    return out if keepdims else out.reshape([n for i, n in enumerate(x.shape) if i not in axes])


# ---------------------------------------------------------------- activations
# x: float array; g: the upstream gradient, same shape. Constants are Python floats.


def leaky_relu(x, slope):
    """x where x > 0, else slope * x."""
    return np.where(x > 0, x, x * slope)


def leaky_relu_backward(x, g, slope):
    """g where x > 0, else slope * g (so slope at x == 0, as in PyTorch)."""
    return np.where(x > 0, g, g * slope)


def elu(x, alpha):
    """x where x > 0, else alpha * (exp(x) - 1), with expm1 for accuracy near 0."""
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def elu_backward(x, g, alpha):
    """g where x > 0, else g * alpha * exp(x)."""
    return np.where(x > 0, g, g * (alpha * np.exp(np.minimum(x, 0))))


def softplus(x, beta, threshold):
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold.

    Written as (max(bx, 0) + log1p(exp(-|bx|))) / beta so it never overflows,
    whatever the threshold.
    """
    bx = x * beta
    smooth = (np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))) / beta
    return np.where(bx > threshold, x, smooth)


def softplus_backward(x, g, beta, threshold):
    """g * sigmoid(beta * x), and g where beta * x > threshold."""
    bx = x * beta
    e = np.exp(-np.abs(bx))
    sig = np.where(bx >= 0, 1 / (1 + e), e / (1 + e))
    return np.where(bx > threshold, g, g * sig)


_erf_each = np.frompyfunc(math.erf, 1, 1)  # NumPy has no erf: apply the C library's, one element at a time


def erf(x):
    """The error function 2/sqrt(pi) * integral from 0 to x of exp(-t^2) dt."""
    return np.array(_erf_each(x), dtype=x.dtype).reshape(x.shape)


def erf_backward(x, g):
    """g * 2/sqrt(pi) * exp(-x^2)."""
    return g * (2 / math.sqrt(math.pi) * np.exp(-(x * x)))


def gelu(x):
    """Exact GELU, x * Phi(x): (x / 2) * (1 + erf(x / sqrt 2)), PyTorch's formula."""
    with np.errstate(invalid="ignore"):  # -inf * 0 is nan, silently, as in the kernel
        return (x * 0.5) * (1 + erf(x * (1 / math.sqrt(2))))


def gelu_backward(x, g):
    """g * (Phi(x) + x * phi(x)), phi the standard normal density exp(-x^2 / 2) / sqrt(2 pi)."""
    cdf = 0.5 * (1 + erf(x * (1 / math.sqrt(2))))
    pdf = np.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
    with np.errstate(invalid="ignore"):  # +-inf * 0 is nan, silently, as in the kernel
        return g * (cdf + x * pdf)
