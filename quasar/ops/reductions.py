"""More reductions and scans, with PyTorch's names, signatures and gradients:
any, all, count_nonzero, nansum, nanmean, var_mean, std_mean, aminmax,
median, cumprod, cummax, cummin, logcumsumexp, and ``linalg.vector_norm``.

Boolean reductions (any, all, count_nonzero) count with the float sum
kernel over a 0/1 mask: exact to 2**53 elements and, like every quasar
reduction, the same bits at any thread count.

``dim`` is an int, a tuple or None (all dims) where PyTorch takes one; a
0-d tensor reduces like a one-element vector and gives a 0-d result.
"""

from collections import namedtuple

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from .common import backend, expand_to, keepdim_shape, normalize_dim, normalize_dims, require_float
from .mathops import NormP, norm, std, var
from .reduce import amax, amin, evenly_distribute, mean, to_index
from .shape import reshape

MinMax = namedtuple("MinMax", ["min", "max"])
ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def _tensor(op, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x


def _float_tensor(op, x):
    require_float(op, _tensor(op, x))
    return x


# ---------------------------------------------------------------- counting (no gradient)


def _count(op, x, dim, keepdim, nonzero):
    """The number of non-zero (``nonzero``) or zero elements over ``dim``, as float64."""
    B = backend()
    axes = normalize_dims(op, dim, x.ndim)
    array = x.array
    hit = B.ne(array, np.zeros((), array.dtype)) if nonzero else B.eq(array, np.zeros((), array.dtype))
    counts = B.where(hit, np.ones((), np.float64), np.zeros((), np.float64))
    if axes:
        counts = B.sum(counts, axes, bool(keepdim))
    return counts


def any(input, dim=None, keepdim=False):
    """Whether any element over ``dim`` is non-zero (a bool tensor; False for an empty reduction)."""
    x = _tensor("any", input)
    return Tensor._wrap(backend().gt(_count("any", x, dim, keepdim, True), np.zeros((), np.float64)))


def all(input, dim=None, keepdim=False):
    """Whether every element over ``dim`` is non-zero (a bool tensor; True for an empty reduction)."""
    x = _tensor("all", input)
    return Tensor._wrap(backend().eq(_count("all", x, dim, keepdim, False), np.zeros((), np.float64)))


def count_nonzero(input, dim=None):
    """The number of non-zero elements over ``dim`` (int64)."""
    x = _tensor("count_nonzero", input)
    return Tensor._wrap(np.asarray(_count("count_nonzero", x, dim, False, True)).astype(np.int64))


# ---------------------------------------------------------------- NaN-ignoring sums


class NanSum(Function):
    """sum over axes with NaN counted as 0; NaN positions get gradient 0."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        B = backend()
        ctx.save_for_backward(x)
        ctx.axes, ctx.keepdim = axes, keepdim
        cleaned = B.where(B.ne(x, x), np.zeros((), x.dtype), x)
        return B.sum(cleaned, axes, keepdim) if axes else cleaned

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        B = backend()
        if not ctx.keepdim:
            grad = grad.reshape(keepdim_shape(x.shape, ctx.axes))
        return B.where(B.ne(x, x), np.zeros((), x.dtype), expand_to(grad, x.shape))


def nansum(input, dim=None, keepdim=False):
    """Sum over ``dim`` treating NaN as zero."""
    x = _float_tensor("nansum", input)
    return NanSum.apply(x, axes=normalize_dims("nansum", dim, x.ndim), keepdim=bool(keepdim))


def nanmean(input, dim=None, keepdim=False):
    """Mean over ``dim`` of the non-NaN elements (NaN where there are none)."""
    x = _float_tensor("nanmean", input)
    B = backend()
    present = B.where(B.ne(x.array, x.array), np.zeros((), x.dtype), np.ones((), x.dtype))
    axes = normalize_dims("nanmean", dim, x.ndim)
    count = B.sum(present, axes, bool(keepdim)) if axes else present
    return nansum(x, dim, keepdim) / Tensor._wrap(count)


# ---------------------------------------------------------------- statistics in pairs


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(var, mean) over ``dim``, as :func:`var` and :func:`mean`."""
    x = _float_tensor("var_mean", input)
    v = var(x, dim, unbiased, keepdim, correction=correction)
    return v, mean(x, None if isinstance(dim, bool) else dim, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(std, mean) over ``dim``, as :func:`std` and :func:`mean`."""
    x = _float_tensor("std_mean", input)
    s = std(x, dim, unbiased, keepdim, correction=correction)
    return s, mean(x, None if isinstance(dim, bool) else dim, keepdim)


def aminmax(input, *, dim=None, keepdim=False):
    """(min, max) over ``dim`` (an int or None), as :func:`amin` and :func:`amax`."""
    x = _float_tensor("aminmax", input)
    if dim is not None:
        normalize_dim("aminmax", dim, x.ndim)
    return MinMax(amin(x, dim, keepdim), amax(x, dim, keepdim))


# ---------------------------------------------------------------- median


class MedianAll(Function):
    """The lower median of every element; the gradient is split evenly among
    the elements equal to it (or the NaNs), as PyTorch's median()."""

    @staticmethod
    def forward(ctx, x):
        values, _ = backend().median(x.reshape(-1), 0)
        ctx.save_for_backward(x, values)
        return values

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        return evenly_distribute(grad, x, out)


class MedianAlongDim(Function):
    """Lower medians along one axis, given their indices (keepdim shape); the
    gradient goes to the returned index, as PyTorch's median(dim)."""

    @staticmethod
    def forward(ctx, x, axis, keepdim, index):
        ctx.shape, ctx.axis, ctx.keepdim, ctx.index = x.shape, axis, keepdim, index
        values, _ = backend().median(x, axis)
        return np.expand_dims(values, axis) if keepdim else values

    @staticmethod
    def backward(ctx, grad):
        return to_index(grad, ctx.shape, ctx.axis, ctx.index, ctx.keepdim)


def median(input, dim=None, keepdim=False):
    """The lower median (the element of rank (n - 1) // 2; NaN if any NaN).

    Without ``dim``: a 0-d tensor. With an int ``dim``: ``(values, indices)``;
    the index is the first position holding the median (PyTorch leaves which
    of equal elements unspecified).
    """
    x = _float_tensor("median", input)
    if dim is None:
        if x.array.size == 0:
            raise ValueError(f"median: cannot take the median of an empty tensor (shape {x.shape})")
        return MedianAll.apply(x)
    axis = normalize_dim("median", dim, x.ndim)
    if x.ndim == 0:
        values, indices = median(reshape(x, 1), 0)
        return ValuesIndices(reshape(values, ()), Tensor._wrap(np.zeros((), np.int64)))
    if x.shape[axis] == 0:
        raise ValueError(f"median: cannot reduce the empty dim {axis} (shape {x.shape})")
    _, index = backend().median(x.array, axis)
    index = np.expand_dims(index, axis)
    values = MedianAlongDim.apply(x, axis=axis, keepdim=bool(keepdim), index=index)
    return ValuesIndices(values, Tensor._wrap(index if keepdim else np.squeeze(index, axis)))


# ---------------------------------------------------------------- scans


class CumProd(Function):
    @staticmethod
    def forward(ctx, x, axis):
        ctx.save_for_backward(x)
        ctx.axis = axis
        return backend().cumprod(x, axis)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        # exact with zeros: no division by x (see the kernel)
        return backend().cumprod_backward(x, grad, ctx.axis)


class LogCumSumExp(Function):
    @staticmethod
    def forward(ctx, x, axis):
        out = backend().logcumsumexp(x, axis)
        ctx.save_for_backward(x, out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        return backend().logcumsumexp_backward(x, out, grad, ctx.axis)


class CumExtremum(Function):
    """Running max or min values of x, computed by the caller with their
    indices (x itself only links the node into the graph); each output's
    gradient goes to the element it came from (PyTorch's cummaxmin_backward:
    a scatter-add)."""

    @staticmethod
    def forward(ctx, x, values, index, axis):
        ctx.index, ctx.axis = index, axis
        return values

    @staticmethod
    def backward(ctx, grad):
        index = ctx.index
        shape = index.shape
        # the flat position in the input of the element each output came from:
        # the output's own position, with the scanned axis replaced by index
        flat = np.zeros(shape, np.int64)
        for d, n in enumerate(shape):
            along = index if d == ctx.axis else np.arange(n, dtype=np.int64).reshape((-1,) + (1,) * (len(shape) - d - 1))
            flat = flat + along * int(np.prod(shape[d + 1 :], dtype=np.int64))
        values = grad if isinstance(grad, Tensor) else np.ascontiguousarray(grad)  # (a Tensor: double backward)
        return backend().scatter_add_flat(values, flat, flat.size).reshape(shape)


def _scan_args(op, x, dim):
    _float_tensor(op, x)
    return normalize_dim(op, dim, x.ndim)


def cumprod(input, dim):
    """Running product along ``dim``; its gradient is exact where elements are 0."""
    axis = _scan_args("cumprod", input, dim)
    if input.ndim == 0:
        return reshape(CumProd.apply(reshape(input, 1), axis=0), ())
    return CumProd.apply(input, axis=axis)


def logcumsumexp(input, dim):
    """log(cumsum(exp(x))) along ``dim``, without overflow."""
    axis = _scan_args("logcumsumexp", input, dim)
    if input.ndim == 0:
        return reshape(LogCumSumExp.apply(reshape(input, 1), axis=0), ())
    return LogCumSumExp.apply(input, axis=axis)


def _cum_extremum(op, input, dim):
    axis = _scan_args(op, input, dim)
    if input.ndim == 0:
        values, indices = _cum_extremum(op, reshape(input, 1), 0)
        return ValuesIndices(reshape(values, ()), Tensor._wrap(indices.array.reshape(())))
    values, index = getattr(backend(), op)(input.array, axis)
    return ValuesIndices(CumExtremum.apply(input, values=values, index=index, axis=axis), Tensor._wrap(index))


def cummax(input, dim):
    """Running max along ``dim``: ``(values, indices)``. A tie takes the later
    index and a NaN takes over from there on, as in PyTorch."""
    return _cum_extremum("cummax", input, dim)


def cummin(input, dim):
    """Running min along ``dim``: ``(values, indices)``; conventions as :func:`cummax`."""
    return _cum_extremum("cummin", input, dim)


# ---------------------------------------------------------------- norms


def vector_norm(x, ord=2, dim=None, keepdim=False):
    """PyTorch's ``linalg.vector_norm``: (sum |x|^ord)^(1/ord) over ``dim`` (all
    elements when None); ord inf/-inf: max/min of |x|; 0: the count of non-zeros."""
    x = _float_tensor("vector_norm", x)
    if isinstance(ord, bool) or not isinstance(ord, (int, float)):
        raise TypeError(f"vector_norm: ord must be a number, got {ord!r}")
    if ord < 0 and ord != -float("inf"):
        if x.ndim == 0:
            return reshape(vector_norm(reshape(x, 1), ord, 0), ())
        axes = normalize_dims("vector_norm", dim, x.ndim)
        return NormP.apply(x, axes=axes, keepdim=bool(keepdim), p=float(ord))
    return norm(x, ord, dim, keepdim)

