"""What every op family shares: argument checks, dtype rules, and the one
gradient rule for broadcasting. Each concept lives here once."""

import numbers

import numpy as np

from .. import backends
from ..tensor import Tensor, as_tensor

backend = backends.current  # ops call backend().kernel(...) at run time

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def is_float(dtype):
    return dtype in FLOATS


def require_float(op, *tensors):
    """Raise TypeError unless every tensor is float32/float64."""
    for t in tensors:
        if t.array.dtype not in FLOATS:
            raise TypeError(
                f"{op}: expected a float32/float64 tensor, got {t.array.dtype} "
                f"(shape {t.shape}); convert with .float() or .double()"
            )


def broadcast_shape(op, *shapes):
    """The broadcast result shape, or a ValueError naming the op and shapes."""
    ndim = max(len(s) for s in shapes)
    result = []
    for i in range(-ndim, 0):
        sizes = {s[i] for s in shapes if len(s) >= -i} - {1}
        if len(sizes) > 1:
            pretty = " and ".join(str(tuple(s)) for s in shapes)
            raise ValueError(f"{op}: shapes {pretty} cannot be broadcast together")
        result.append(sizes.pop() if sizes else 1)
    return tuple(result)


def reduce_to_shape(grad, shape):
    """Sum a broadcast gradient back down to an input's shape.

    The one gradient rule of broadcasting: an input of shape ``shape`` that
    was broadcast to ``grad.shape`` receives the sum of ``grad`` over every
    dimension it was stretched along (leading extra dims and size-1 dims).
    """
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1
    )
    if not axes:
        return grad.reshape(shape)
    return backend().sum(grad, axes, True).reshape(shape)


# ---------------------------------------------------------------- array-or-tensor helpers
# A backward formula receives ndarrays in a first-order backward and Tensors
# when create_graph=True (quasar/backends/differentiable.py). Kernels, shape,
# ndim, dtype, reshape, .T and [key] read the same on both; these few helpers
# cover the NumPy functions a Tensor has no same-named method for.


def expand_to(x, shape):
    """x broadcast to ``shape`` (a view, no copy)."""
    return x.expand(shape) if isinstance(x, Tensor) else np.broadcast_to(x, shape)


def swap_last_two(x):
    """x with its last two dims swapped (a view)."""
    return x.transpose(-1, -2) if isinstance(x, Tensor) else np.swapaxes(x, -1, -2)


def permute_dims(x, axes):
    """x with its dims reordered: ``out.shape[i] == x.shape[axes[i]]`` (a view)."""
    return x.permute(*axes) if isinstance(x, Tensor) else x.transpose(axes)


def keepdim_shape(shape, axes):
    """``shape`` with the reduced ``axes`` kept as size 1: where a reduction's
    result (or its gradient) must be reshaped to broadcast against the input."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def normalize_dim(op, dim, ndim):
    """One axis number in [-ndim, ndim) -> [0, ndim); 0-d tensors accept 0 and -1."""
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    bound = max(ndim, 1)
    if not -bound <= dim < bound:
        raise IndexError(
            f"{op}: dim {dim} is out of range for a tensor with {ndim} dimensions "
            f"(expected {-bound} <= dim < {bound})"
        )
    return dim % bound if ndim else 0


def normalize_dims(op, dim, ndim):
    """dim as None, an int or a tuple -> a sorted tuple of distinct axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    axes = tuple(sorted({normalize_dim(op, d, ndim) for d in dims}))
    if len(axes) != len(dims):
        raise ValueError(f"{op}: dim {dim} repeats an axis")
    if ndim == 0:
        return ()
    return axes


def tensor_pair(op, a, b, broadcast=True):
    """Make a binary op's operands two tensors of one dtype with broadcastable shapes.

    Python numbers take the tensor's float dtype (as in PyTorch, ``x * 2``
    keeps float32); two float tensors of different precision promote to
    float64 through a differentiable cast; integer and bool operands are
    converted to the other operand's float dtype, or to float64 when both are
    integers (quasar's arithmetic kernels are float-only; ints carry no gradient).
    """
    if type(a) is type(b) is Tensor and a.array.dtype is b.array.dtype and a.array.shape == b.array.shape:
        if a.array.dtype in FLOATS:
            return a, b  # the common case: nothing to convert or check
    if not isinstance(a, Tensor):
        a = _scalar_like(op, a, b)
    if not isinstance(b, Tensor):
        b = _scalar_like(op, b, a)
    da, db = a.array.dtype, b.array.dtype
    if da != db or da not in FLOATS:
        if da in FLOATS and db in FLOATS:
            target = np.dtype(np.float64)  # float32 with float64
        elif da in FLOATS or db in FLOATS:
            target = da if da in FLOATS else db  # an int operand takes the float's dtype
        else:
            target = np.dtype(np.float64)  # integer-only arithmetic: float64 is exact up to 2**53
        a, b = a.to(target), b.to(target)
    if broadcast:
        broadcast_shape(op, a.array.shape, b.array.shape)
    return a, b


def _scalar_like(op, value, other):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        if isinstance(value, np.ndarray):
            return as_tensor(value)
        raise TypeError(f"{op}: unsupported operand of type {type(value).__name__}")
    if other.array.dtype in FLOATS:
        dtype = other.array.dtype
    else:  # int tensor with an int stays integer-only (-> float64); with a float, float32 as in PyTorch
        dtype = np.dtype(np.int64) if isinstance(value, numbers.Integral) else np.dtype(np.float32)
    return Tensor._wrap(np.asarray(value, dtype=dtype))
