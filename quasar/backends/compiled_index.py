"""The index family on the Cython kernels of ``quasar/_index.pxi`` (in the ``quasar._kernels`` module).

Exactly the names, arguments and results of ``reference_index.py`` (read its
docstring for the contract). Each wrapper only moves data: it makes the
inputs C-contiguous, views them as the 1-, 2- or 3-axis arrays a kernel
walks, allocates the output, picks the thread count and calls one kernel.
"""

import math

import numpy as np

from .. import _kernels as _k  # the _index.pxi family

name = "compiled"


def _one_thread(n_elements):
    return 1


_threads_for = None


def _threads(n_elements):
    """Threads for a kernel over ``n_elements``: ``quasar.parallel.threads_for``,
    or 1 where that module is missing. Looked up on first use, not at import,
    so this module loads in whatever order the package initialises."""
    global _threads_for
    if _threads_for is None:
        try:
            from ..parallel import threads_for as _threads_for
        except ImportError:
            _threads_for = _one_thread
    return _threads_for(n_elements)


def _flat(x):
    """x as a C-contiguous 1-D array (no copy when it already is one)."""
    return np.ascontiguousarray(x).reshape(-1)


def _around(x, axis):
    """x as a C-contiguous (outer, n, inner) array: the dims before ``axis``,
    ``axis`` itself, the dims after it."""
    shape = x.shape
    return np.ascontiguousarray(x).reshape(math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :]))


def _as_kernel_dtype(x):
    """Bool arrays travel as uint8 (the same bytes): the kernels' fused types have no bool."""
    return x.view(np.uint8) if x.dtype == np.bool_ else x


_NARROW_INTS = (np.dtype(np.int8), np.dtype(np.int16))  # not among the kernels' fused types


def _widened(x):
    """int8 and int16 as int32 (a copy: same values, same order), for the kernels that only read."""
    return x.astype(np.int32) if x.dtype in _NARROW_INTS else x


# ---------------------------------------------------------------- scatter-adds


def scatter_add_flat(values, flat_index, size):
    out = np.zeros(size, values.dtype)
    _k.scatter_add_flat(_flat(values), _flat(flat_index), out)
    return out


def index_add(values, index, size):
    outer, _, inner = values.shape
    out = np.zeros((outer, size, inner), values.dtype)
    _k.index_add(np.ascontiguousarray(values), _flat(index), out, _threads(values.size))
    return out


# ---------------------------------------------------------------- selection


def masked_fill(x, mask, value):
    if x.dtype in _NARROW_INTS:  # filled in int32, then narrowed back (every value fits)
        return masked_fill(x.astype(np.int32), mask, value).astype(x.dtype)
    out = np.empty(x.shape, x.dtype)
    if out.size:
        full_mask = np.broadcast_to(mask, x.shape)
        _k.masked_fill(
            _as_kernel_dtype(_flat(x)),
            _flat(full_mask).view(np.uint8),
            _as_kernel_dtype(np.array([value], x.dtype)),
            _as_kernel_dtype(out.reshape(-1)),
            _threads(out.size),
        )
    return out


# ---------------------------------------------------------------- scans and products along one axis


def cumsum(x, axis):
    rows = _around(x, axis)
    out = np.empty(rows.shape, x.dtype)
    if out.size:
        _k.cumsum(rows, out, _threads(out.size))
    return out.reshape(x.shape)


def prod(x, axis, keepdims=False):
    rows = _around(x, axis)
    out = np.empty((rows.shape[0], rows.shape[2]), x.dtype)
    _k.prod(rows, out, _threads(x.size))
    kept = x.shape[:axis] + ((1,) if keepdims else ()) + x.shape[axis + 1 :]
    return out.reshape(kept)


def prod_backward(x, g, axis):
    rows = _around(x, axis)
    out = np.empty(rows.shape, x.dtype)
    grad = np.ascontiguousarray(g).reshape(rows.shape[0], rows.shape[2])
    _k.prod_backward(rows, grad, out, _threads(x.size))
    return out.reshape(x.shape)


def _arg_extreme(x, axis, largest):
    if axis is None:
        rows, shape = _flat(x).reshape(1, x.size, 1), ()
    else:
        rows, shape = _around(x, axis), x.shape[:axis] + x.shape[axis + 1 :]
    out = np.empty((rows.shape[0], rows.shape[2]), np.int64)
    if out.size:
        _k.arg_extreme(_as_kernel_dtype(_widened(rows)), out, largest, _threads(x.size))
    return out.reshape(shape)


def argmax(x, axis):
    return _arg_extreme(x, axis, True)


def argmin(x, axis):
    return _arg_extreme(x, axis, False)


def logsumexp(x, axes, keepdims=False):
    kept = [a for a in range(x.ndim) if a not in axes]
    kept_shape = [x.shape[a] for a in kept]
    # the reduced axes last, then one row per kept position
    rows = np.ascontiguousarray(x.transpose(kept + list(axes))).reshape(
        math.prod(kept_shape), math.prod(x.shape[a] for a in axes)
    )
    out = np.empty(rows.shape[0], x.dtype)
    _k.logsumexp(rows, out, _threads(x.size))
    if keepdims:
        return out.reshape([1 if a in axes else n for a, n in enumerate(x.shape)])
    return out.reshape(kept_shape)


# ---------------------------------------------------------------- activations


def _pointwise(kernel, x, *args):
    """kernel(x flat, *args, out flat): same shape and dtype as x."""
    out = np.empty(x.shape, x.dtype)
    if out.size:
        kernel(_flat(x), *args, out.reshape(-1), _threads(out.size))
    return out


def _pointwise_backward(kernel, x, g, *args):
    out = np.empty(x.shape, x.dtype)
    if out.size:
        kernel(_flat(x), _flat(g), *args, out.reshape(-1), _threads(out.size))
    return out


def leaky_relu(x, slope):
    return _pointwise(_k.leaky_relu, x, slope)


def leaky_relu_backward(x, g, slope):
    return _pointwise_backward(_k.leaky_relu_backward, x, g, slope)


def elu(x, alpha):
    return _pointwise(_k.elu, x, alpha)


def elu_backward(x, g, alpha):
    return _pointwise_backward(_k.elu_backward, x, g, alpha)


def softplus(x, beta, threshold):
    return _pointwise(_k.softplus, x, beta, threshold)


def softplus_backward(x, g, beta, threshold):
    return _pointwise_backward(_k.softplus_backward, x, g, beta, threshold)


def erf(x):
    return _pointwise(_k.erf, x)


def erf_backward(x, g):
    return _pointwise_backward(_k.erf_backward, x, g)


def gelu(x):
    return _pointwise(_k.gelu, x)


def gelu_backward(x, g):
    return _pointwise_backward(_k.gelu_backward, x, g)
