"""What every op family shares: argument checks, dtype rules, and the one
gradient rule for broadcasting. Each concept lives here once."""

import functools
import math
import numbers
import os
import sys

import numpy as np

from .. import backends
from ..dtypes import FLOATS, checked_cast, get_default_dtype, result_type  # noqa: F401  (FLOATS re-exported)
from ..errors import ShapeError
from ..tensor import Tensor, as_tensor

backend = backends.current  # ops call backend().kernel(...) at run time

def is_float(dtype):
    return dtype in FLOATS


def require_tensor(op, x):
    """Raise TypeError unless x is a Tensor (as PyTorch does), rather than fail on a missing attribute."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: argument 'input' must be a Tensor, not {type(x).__name__}")


def require_float(op, *tensors):
    """Raise TypeError unless every tensor is a float32/float64 Tensor."""
    for t in tensors:
        try:
            is_float_tensor = t.array.dtype in FLOATS
        except AttributeError:  # not a Tensor: checked below, at no cost on the normal path
            is_float_tensor = False
        if not is_float_tensor:
            require_tensor(op, t)
            raise TypeError(
                f"{op}: expected a float32/float64 tensor, got {t.array.dtype} "
                f"(shape {t.shape}); convert with .float() or .double()"
            )


def require_bool(op, name, value):
    """Raise TypeError unless a flag (keepdim, ...) is a bool: ``keepdim='yes'`` is a mistake, not True."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: argument '{name}' must be bool, not {type(value).__name__}")


def broadcast_shape(op, *shapes):
    """The broadcast result shape, or a ShapeError (a ValueError and RuntimeError)
    naming the op and shapes."""
    ndim = max(len(s) for s in shapes)
    result = []
    for i in range(-ndim, 0):
        sizes = {s[i] for s in shapes if len(s) >= -i} - {1}
        if len(sizes) > 1:
            pretty = " and ".join(str(tuple(s)) for s in shapes)
            raise ShapeError(f"{op}: shapes {pretty} cannot be broadcast together")
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


def zeros_for(grad, shape, dtype):
    """A zero gradient of ``shape``: an ndarray, or a constant Tensor when
    ``grad`` is one (double backward: a backward must return Tensors there)."""
    zeros = np.zeros(shape, dtype)
    return Tensor._wrap(zeros) if isinstance(grad, Tensor) else zeros


def with_reduced_dims(shape, axes, keepdim, *arrays):
    """A reduction's output and gradient (``arrays``) with the reduced ``axes``
    put back as size 1, so they broadcast against the input of ``shape``
    (already so when the reduction kept its dims)."""
    if keepdim:
        return arrays
    kept = keepdim_shape(shape, axes)
    return tuple(a.reshape(kept) for a in arrays)


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

    The dtype is PyTorch's (``quasar.dtypes.result_type``): Python numbers and
    0-d tensors don't widen a dimensioned tensor of their category
    (``float32[3] * 2.0`` and ``float32[3] * float64 0-d`` stay float32), a
    higher category wins (``int64[3] + 0.5`` -> the default float), and
    integer operands stay integer. The cast between floats is differentiable.
    """
    if type(a) is type(b) is Tensor and a.array.dtype is b.array.dtype:
        if broadcast and a.array.shape != b.array.shape:
            broadcast_shape(op, a.array.shape, b.array.shape)
        return a, b  # the common case: one dtype, nothing to convert
    if type(a) is Tensor and type(b) in (float, int) and a.array.dtype in FLOATS:
        return a, Tensor._wrap(np.asarray(b, a.array.dtype))  # x * 2.0: the next most common
    if type(b) is Tensor and type(a) in (float, int) and b.array.dtype in FLOATS:
        return Tensor._wrap(np.asarray(a, b.array.dtype)), b  # 2.0 * x
    if isinstance(a, np.ndarray):  # a NumPy array operand acts as a tensor of its dtype
        a = as_tensor(a)
    if isinstance(b, np.ndarray):
        b = as_tensor(b)
    target = result_type(op, a, b)
    a, b = _operand_as(op, a, target), _operand_as(op, b, target)
    if broadcast:
        broadcast_shape(op, a.array.shape, b.array.shape)
    return a, b


def _operand_as(op, value, dtype):
    """A tensor operand cast to dtype (differentiably), or a number as a 0-d tensor of dtype."""
    if isinstance(value, Tensor):
        return value if value.array.dtype == dtype else value.to(dtype)
    return Tensor._wrap(checked_cast(np.asarray(value), dtype, op) if dtype.kind in "iub" else np.asarray(value, dtype))


def float_operands(op, a, b):
    """Both operands in the float dtype true division computes in: the promoted
    dtype if it is a float, else the default float (``int / int`` is float, as in PyTorch)."""
    a, b = tensor_pair(op, a, b)
    if a.array.dtype not in FLOATS:
        target = get_default_dtype()
        a, b = a.to(target), b.to(target)
    return a, b


def check_allocation(op, shape, dtype):
    """Raise RuntimeError, naming the op, before allocating a result of
    ``shape`` and ``dtype`` that could never fit in this machine's memory
    (rather than swapping, or NumPy's MemoryError without the op's name)."""
    if any(n > sys.maxsize for n in shape):
        raise RuntimeError(f"{op}: size {max(shape)} in shape {tuple(shape)} is too large (more than 2**63 - 1)")
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    if nbytes > _physical_memory():
        raise RuntimeError(
            f"{op}: a tensor of shape {tuple(shape)} and dtype {np.dtype(dtype)} needs {_in_units(nbytes)}, "
            f"more than this machine's {_in_units(_physical_memory())} of memory"
        )


@functools.cache
def _physical_memory():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows): NumPy's own check decides
        return sys.maxsize


def _in_units(nbytes):
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.4g} {unit}" if unit != "bytes" else f"{nbytes} bytes"
        nbytes /= 1024
