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
from .common import backend, expand_to, keepdim_shape, normalize_dims, require_float

MaxResult = namedtuple("MaxResult", ["values", "indices"])


def _reduction_args(op, x, dim, keepdim, axis, keepdims):
    """Merge the PyTorch and NumPy spellings; return (axes, keepdim)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}: pass dim or axis, not both")
        dim = axis
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


def sum(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """Sum over ``dim`` (int, tuple or None = all). Output shape drops those dims
    unless keepdim."""
    axes, keepdim = _reduction_args("sum", x, dim, keepdim, axis, keepdims)
    require_float("sum", x)
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
    """max or min over axes. Gradient: split evenly among the elements equal
    to the extremum (PyTorch's amax/amin rule)."""

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
        if not ctx.keepdim:
            shape = keepdim_shape(x.shape, ctx.axes)
            out, grad = out.reshape(shape), grad.reshape(shape)
        winners = B.eq(x, out)
        one, zero = np.ones((), x.dtype), np.zeros((), x.dtype)
        count = B.sum(B.where(winners, one, zero), ctx.axes, True)
        return B.where(winners, B.div(grad, count), zero)


def _extremum(op, kernel, x, dim, keepdim, axis, keepdims, with_indices):
    axes, keepdim = _reduction_args(op, x, dim, keepdim, axis, keepdims)
    require_float(op, x)
    if any(x.array.shape[a] == 0 for a in axes) or (x.array.size == 0 and not axes):
        raise ValueError(f"{op}: cannot reduce an empty dimension (shape {x.shape}, dim {dim})")
    values = Extremum.apply(x, axes=axes, keepdim=keepdim, kernel=kernel)
    if not with_indices:
        return values
    from .mathops import argmax, argmin  # the index kernels live with the other arg-reductions

    pick = argmax if kernel == "max" else argmin
    return MaxResult(values, pick(x, dim, keepdim))


def max(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """Largest value: over everything (dim=None), or ``(values, indices)`` over
    an int ``dim`` as in PyTorch; a tuple ``dim`` or NumPy's ``axis`` gives values."""
    with_indices = isinstance(dim, int) and not isinstance(dim, bool) and axis is None
    return _extremum("max", "max", x, dim, keepdim, axis, keepdims, with_indices)


def min(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """Smallest value; same conventions as :func:`max`."""
    with_indices = isinstance(dim, int) and not isinstance(dim, bool) and axis is None
    return _extremum("min", "min", x, dim, keepdim, axis, keepdims, with_indices)


def amax(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """Largest value over ``dim`` (int, tuple or None); values only."""
    return _extremum("amax", "max", x, dim, keepdim, axis, keepdims, False)


def amin(x, dim=None, keepdim=False, *, axis=None, keepdims=False):
    """Smallest value over ``dim`` (int, tuple or None); values only."""
    return _extremum("amin", "min", x, dim, keepdim, axis, keepdims, False)
