"""Shape ops: reshape, transpose, permute, squeeze, unsqueeze, flatten,
expand, and the dtype cast.

These move no numbers: the forward is a NumPy view where one exists (the
result then shares memory, and its version counter, with its input, like
PyTorch views) and the backward puts the gradient back in the input's shape.
"""

import numbers

import numpy as np

from ..autograd import Function
from ..dtypes import SUPPORTED, SUPPORTED_NAMES, checked_cast
from ..errors import ShapeError
from ..tensor import Tensor
from .common import FLOATS, broadcast_shape, normalize_dim, permute_dims, reduce_to_shape, require_tensor


def _view_apply(function, x, **options):
    out = function.apply(x, **options)
    # a NumPy view of the input's memory: share its version counter, as PyTorch views do
    if out.array.base is not None and np.may_share_memory(out.array, x.array):
        out._version = x._version
        out._is_view = True
    return out


def _shape_arg(op, shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for n in shape:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral):
            raise TypeError(f"{op}: shape entries must be ints, got {shape}")
    return tuple(int(n) for n in shape)


class Reshape(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape)


def reshape(x, *shape):
    """The same elements in a new shape (one entry may be -1). A view when the
    memory layout allows, else a copy (as NumPy and PyTorch's reshape)."""
    require_tensor("reshape", x)
    shape = _shape_arg("reshape", shape)
    size = x.array.size
    known = int(np.prod([n for n in shape if n != -1])) if shape else 1
    bad = shape.count(-1) > 1 or any(n < -1 for n in shape)
    if not bad:
        bad = (known != size) if -1 not in shape else (known == 0 or size % known != 0)
    if bad:
        raise ShapeError(f"reshape: shape {shape} is invalid for input of shape {x.shape} ({size} elements)")
    return _view_apply(Reshape, x, shape=shape)


def view(x, *shape):
    """Like reshape, but always a view: an error if the tensor's layout needs a copy."""
    require_tensor("view", x)
    out = reshape(x, *shape)
    if out.array.size and not out._is_view:
        raise RuntimeError(
            f"view: shape {_shape_arg('view', shape)} is incompatible with the layout of the input "
            f"(shape {x.shape}, strides {x.array.strides}); use reshape() instead"
        )
    return out


class Permute(Function):
    @staticmethod
    def forward(ctx, x, dims):
        ctx.inverse = tuple(np.argsort(dims))
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, grad):
        return permute_dims(grad, ctx.inverse)


def permute(x, *dims):
    """Reorder the dimensions: ``out.shape[i] == x.shape[dims[i]]``. A view."""
    require_tensor("permute", x)
    dims = _shape_arg("permute", dims)
    ndim = x.array.ndim
    axes = tuple(normalize_dim("permute", d, ndim) for d in dims)
    if len(axes) != ndim or sorted(axes) != list(range(ndim)):
        raise ShapeError(f"permute: dims {dims} are not a permutation of the {ndim} dims of shape {x.shape}")
    return _view_apply(Permute, x, dims=axes)


def transpose(x, dim0, dim1):
    """Swap two dimensions. A view."""
    require_tensor("transpose", x)
    ndim = x.array.ndim
    a, b = normalize_dim("transpose", dim0, ndim), normalize_dim("transpose", dim1, ndim)
    order = list(range(ndim))
    order[a], order[b] = order[b], order[a]
    return _view_apply(Permute, x, dims=tuple(order))


def squeeze(x, dim=None):
    """Drop size-1 dimensions (all of them, or only ``dim`` if it has size 1)."""
    require_tensor("squeeze", x)
    shape = x.array.shape
    if dim is None:
        new = tuple(n for n in shape if n != 1)
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        axes = {normalize_dim("squeeze", d, x.array.ndim) for d in dims}
        new = tuple(n for i, n in enumerate(shape) if not (i in axes and n == 1))
    return reshape(x, new)


def unsqueeze(x, dim):
    """Insert a size-1 dimension at position ``dim`` (-ndim-1 <= dim <= ndim)."""
    require_tensor("unsqueeze", x)
    ndim = x.array.ndim
    dim = normalize_dim("unsqueeze", dim, ndim + 1)
    return reshape(x, x.array.shape[:dim] + (1,) + x.array.shape[dim:])


def flatten(x, start_dim=0, end_dim=-1):
    """Merge dimensions start_dim..end_dim (inclusive) into one."""
    require_tensor("flatten", x)
    ndim = x.array.ndim
    if ndim == 0:
        return reshape(x, (1,))
    start = normalize_dim("flatten", start_dim, ndim)
    end = normalize_dim("flatten", end_dim, ndim)
    if start > end:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = x.array.shape
    merged = int(np.prod(shape[start : end + 1]))
    return reshape(x, shape[:start] + (merged,) + shape[end + 1 :])


class Expand(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, grad):
        return reduce_to_shape(grad, ctx.shape)


def broadcast_to(x, *shape):
    """x repeated (without copying) to a broadcast-compatible shape. A read-only view."""
    require_tensor("broadcast_to", x)
    shape = _shape_arg("broadcast_to", shape)
    if broadcast_shape("broadcast_to", x.array.shape, shape) != shape:
        raise ShapeError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}")
    return _view_apply(Expand, x, shape=shape)


def expand(x, *shape):
    """PyTorch's expand: like broadcast_to, where -1 keeps that dimension's size."""
    require_tensor("expand", x)
    shape = list(_shape_arg("expand", shape))
    lead = len(shape) - x.array.ndim
    if lead < 0:
        raise ShapeError(f"expand: shape {tuple(shape)} has fewer dims than the input shape {x.shape}")
    for i, n in enumerate(shape):
        if n == -1:
            if i < lead:
                raise ShapeError(f"expand: -1 is not allowed in a new leading dimension ({tuple(shape)})")
            shape[i] = x.array.shape[i - lead]
    return broadcast_to(x, tuple(shape))


class Cast(Function):
    @staticmethod
    def forward(ctx, x, dtype):
        ctx.dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.dtype)


def cast(x, dtype):
    """A copy of x in another dtype; differentiable between float32 and float64.
    Casting a tensor that requires grad to an integer or bool dtype detaches it;
    nan, inf or out-of-range floats cast to an integer dtype raise ConversionError."""
    require_tensor("cast", x)
    dtype = np.dtype(dtype)
    if dtype not in FLOATS:
        if dtype not in SUPPORTED:
            raise TypeError(f"cast: unsupported dtype {dtype}; use {SUPPORTED_NAMES}")
        return Tensor._wrap(checked_cast(x.array, dtype, "to"))
    return Cast.apply(x, dtype=dtype)


# ---------------------------------------------------------------- part A: copies


class Clone(Function):
    """A copy of x in fresh (C-contiguous) memory; the gradient passes through."""

    @staticmethod
    def forward(ctx, x):
        return np.array(x, order="C", copy=True)

    @staticmethod
    def backward(ctx, grad):
        return grad


def clone(x):
    """A copy of x with its own memory, differentiable (PyTorch's ``clone``)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"clone: expected a Tensor, got {type(x).__name__}")
    return Clone.apply(x)


def contiguous(x):
    """x itself if its memory is C-contiguous, else a contiguous copy (``clone``)."""
    require_tensor("contiguous", x)
    return x if x.array.flags.c_contiguous else clone(x)
