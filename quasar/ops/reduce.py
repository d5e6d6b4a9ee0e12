"""Reductions: sum, mean, max, min over one, several or all dimensions.

``dim`` takes an int, a tuple or None (all); NumPy's ``axis``/``keepdims``
are accepted as aliases. As in PyTorch, ``max(x, dim=int)`` returns the pair
``(values, indices)``; ``amax``/``amin`` (and ``max`` with a tuple or with
NumPy's ``axis=``) return the values alone.
"""

from collections import namedtuple

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ..dtypes import SUPPORTED, SUPPORTED_NAMES
from .common import (
    FLOATS, backend, expand_to, keepdim_shape, normalize_dims, require_bool, require_float, with_reduced_dims,
)
from .elementwise import maximum, minimum

MaxResult = namedtuple("MaxResult", ["values", "indices"])


def _reduction_args(op, x, dim, keepdim, axis, keepdims):
    """Merge the PyTorch and NumPy spellings; return (axes, keepdim)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}: pass dim or axis, not both")
        dim = axis
    if isinstance(dim, (tuple, list)) and len(dim) == 0:
        dim = None  # PyTorch: an empty dim list reduces everything
    if type(keepdim) is not bool or type(keepdims) is not bool:
        require_bool(op, "keepdim", keepdim)
        require_bool(op, "keepdims", keepdims)
    keepdim = bool(keepdim or keepdims)
    return normalize_dims(op, dim, x.array.ndim), keepdim


class Sum(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        if not axes:  # a 0-d tensor: nothing to reduce
            return x.copy()
        return backend().sum(x, axes, keepdim)

    @staticmethod
    def backward(ctx, grad):
        # every input element contributed once: spread grad back over the reduced axes
        if not ctx.keepdim:
            grad = grad.reshape(keepdim_shape(ctx.shape, ctx.axes))
        return expand_to(grad, ctx.shape)


def sum(x, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=False):
    """Sum over ``dim`` (int, tuple or None = all; ``()`` = all, as in PyTorch).
    Output shape drops those dims unless keepdim. Integer and bool tensors sum
    in int64; ``dtype=`` casts the input first."""
    axes, keepdim = _reduction_args("sum", x, dim, keepdim, axis, keepdims)
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype not in SUPPORTED:
            raise TypeError(f"sum: unsupported dtype {dtype}; use {SUPPORTED_NAMES}")
        x = x.to(dtype)
    if x.array.dtype not in FLOATS:
        return Tensor._wrap(backend().int_sum(x.array, axes, keepdim))
    return Sum.apply(x, axes=axes, keepdim=keepdim)


def mean(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """Mean over ``dim`` (int, tuple or None = all); the mean of nothing is nan."""
    axes, keepdim = _reduction_args("mean", x, dim, keepdim, axis, keepdims)
    require_float("mean", x)
    count = int(np.prod([x.array.shape[a] for a in axes])) if axes else 1
    total = Sum.apply(x, axes=axes, keepdim=keepdim)
    if count == 0:
        return total * float("nan")
    return total * (1.0 / count)


class Extremum(Function):
    """amax/amin over axes: the gradient is split evenly among the elements
    equal to the result, PyTorch's ``scale_grad_by_count``: (grad / count) * mask.
    Where the result is NaN no element equals it, count is 0, and the whole
    slice's gradient is NaN, as in PyTorch."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, kernel):
        out = getattr(backend(), kernel)(x, axes, keepdim) if axes else x.copy()
        ctx.save_for_backward(x, out)
        ctx.axes, ctx.keepdim = axes, keepdim
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        B = backend()
        out, grad = with_reduced_dims(x.shape, ctx.axes, ctx.keepdim, out, grad)
        one, zero = np.ones((), x.dtype), np.zeros((), x.dtype)
        mask = B.where(B.eq(x, out), one, zero)
        count = B.sum(mask, ctx.axes, True) if ctx.axes else one
        return B.mul(B.div(grad, count), mask)


class ExtremumAll(Function):
    """max()/min() of every element: the gradient is split evenly among the
    elements equal to the result, or among the NaNs when the result is NaN
    (PyTorch's ``evenly_distribute_backward``)."""

    @staticmethod
    def forward(ctx, x, kernel):
        out = getattr(backend(), kernel)(x, tuple(range(x.ndim)), False) if x.ndim else x.copy()
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        return evenly_distribute(grad, x, out)


def evenly_distribute(grad, x, out):
    """The gradient of a selection of all of x (max(), min(), median()) that gave
    ``out``: split evenly among the elements equal to it, or among the NaNs
    when it is NaN (PyTorch's ``evenly_distribute_backward``)."""
    B = backend()
    value = out.array if isinstance(out, Tensor) else out  # which elements won: a constant
    winners = B.ne(x, x) if np.isnan(value) else B.eq(x, out)
    zero = np.zeros((), x.dtype)
    count = B.sum(B.where(winners, np.ones((), x.dtype), zero), tuple(range(x.ndim)), False)
    return B.where(winners, B.div(grad, count), zero)


class ExtremumAlongDim(Function):
    """max(dim)/min(dim) values, given their indices (keepdim shape, from the
    argmax/argmin kernels): the gradient goes to the returned index alone (the
    first of ties, the first NaN), as PyTorch's ``value_selecting_reduction_backward``."""

    @staticmethod
    def forward(ctx, x, axis, keepdim, kernel, index):
        ctx.shape, ctx.axis, ctx.keepdim, ctx.index = x.shape, axis, keepdim, index
        if not x.ndim:
            return x.copy()
        return getattr(backend(), kernel)(x, (axis,), keepdim)

    @staticmethod
    def backward(ctx, grad):
        return to_index(grad, ctx.shape, ctx.axis, ctx.index, ctx.keepdim)


def to_index(grad, shape, axis, index, keepdim):
    """The gradient of a selection along ``axis`` (max(dim), median(dim), ...):
    grad placed at ``index`` (int64, keepdim shape), zeros elsewhere (PyTorch's
    ``value_selecting_reduction_backward``). ``shape`` is the input's."""
    if not shape:
        return grad
    B = backend()
    if not keepdim:
        grad = grad.reshape(index.shape)
    # a one-hot mask along the axis: position == the returned index
    trailing = (1,) * (len(shape) - axis - 1)
    positions = np.arange(shape[axis], dtype=np.int64).reshape((-1,) + trailing)
    return B.where(B.eq(positions, index), grad, np.zeros((), grad.dtype))


def _extremum(op, kernel, x, dim, keepdim, axis, keepdims, with_indices):
    axes, keepdim = _reduction_args(op, x, dim, keepdim, axis, keepdims)
    if any(x.array.shape[a] == 0 for a in axes) or (x.array.size == 0 and not axes):
        raise ValueError(f"{op}: cannot reduce an empty dimension (shape {x.shape}, dim {dim})")
    if x.array.dtype not in FLOATS:  # integers and bools keep their dtype (no gradient)
        values = Tensor._wrap(getattr(backend(), "int_" + kernel)(x.array, axes, keepdim) if axes else x.array.copy())
        if not with_indices:
            return values
        from .mathops import argmax, argmin  # the index kernels live with the other arg-reductions

        return MaxResult(values, (argmax if kernel == "max" else argmin)(x, dim, keepdim))
    if with_indices:
        from .mathops import argmax, argmin

        indices = (argmax if kernel == "max" else argmin)(x, dim, True)
        values = ExtremumAlongDim.apply(x, axis=axes[0] if axes else 0, keepdim=keepdim, kernel=kernel,
                                        index=indices.array)
        return MaxResult(values, indices if keepdim or not x.ndim else indices.squeeze(axes[0]))
    if op in ("max", "min") and dim is None and axis is None:
        values = ExtremumAll.apply(x, kernel=kernel)
        return values.reshape((1,) * x.ndim) if keepdim else values
    return Extremum.apply(x, axes=axes, keepdim=keepdim, kernel=kernel)


def max(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """Largest value: over everything (dim=None), or ``(values, indices)`` over
    an int ``dim`` as in PyTorch; a tuple ``dim`` or NumPy's ``axis`` gives values.
    ``max(a, b)`` with a tensor b is ``maximum(a, b)``, as in PyTorch."""
    if isinstance(dim, Tensor):
        return maximum(x, dim)
    with_indices = isinstance(dim, int) and not isinstance(dim, bool) and axis is None
    return _extremum("max", "max", x, dim, keepdim, axis, keepdims, with_indices)


def min(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """Smallest value; same conventions as :func:`max` (``min(a, b)`` is ``minimum``)."""
    if isinstance(dim, Tensor):
        return minimum(x, dim)
    with_indices = isinstance(dim, int) and not isinstance(dim, bool) and axis is None
    return _extremum("min", "min", x, dim, keepdim, axis, keepdims, with_indices)


def amax(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """Largest value over ``dim`` (int, tuple or None); values only."""
    return _extremum("amax", "max", x, dim, keepdim, axis, keepdims, False)


def amin(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """Smallest value over ``dim`` (int, tuple or None); values only."""
    return _extremum("amin", "min", x, dim, keepdim, axis, keepdims, False)
