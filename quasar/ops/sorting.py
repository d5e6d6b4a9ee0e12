"""Sorting and selection: sort, argsort, topk, kthvalue, unique,
searchsorted, nonzero, argwhere, masked_select, take and the one-argument
``where(cond)``.

The order of a row comes from one backend kernel, ``sort_indices`` (stable;
NaN counts as the largest value, as in PyTorch); everything else reads
values at the positions it gives. So the only differentiable step is
``SortedGather``: read x at positions that are distinct along a dim (part
of a permutation), whose backward puts each output's gradient back where
it was read; distinct positions need no adding up, which makes it much
cheaper than the general gather of ``quasar.ops.index``. At ties, the
gradient goes to the index the op returns, as PyTorch's does.

Results that hold indices are int64 and carry no gradient.
"""

import math
from collections import namedtuple

import numpy as np

from ..autograd import Function
from ..backends.differentiable import linear_backward
from ..tensor import Tensor, as_tensor
from .common import backend, broadcast_shape, normalize_dim, require_tensor
from .index import IndexSelect, _index_array, _mask_array, getitem, wrap_indices
from .join import _check_int
from .shape import broadcast_to, reshape

SortResult = namedtuple("SortResult", ["values", "indices"])
TopkResult = namedtuple("TopkResult", ["values", "indices"])
KthvalueResult = namedtuple("KthvalueResult", ["values", "indices"])


class SortedGather(Function):
    """x at ``index`` along ``dim``: index (int64, x's shape but for dim) holds
    distinct positions along dim in every row, as a sort's order does."""

    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.shape, ctx.dim, ctx.index = x.shape, dim, index
        return np.take_along_axis(x, index, dim)

    @staticmethod
    def backward(ctx, grad):
        if isinstance(grad, Tensor):  # double backward: this linear op's transpose, as an op
            return linear_backward(ctx, grad)
        full = np.zeros(ctx.shape, grad.dtype)  # positions not read (topk, kthvalue) get nothing
        np.put_along_axis(full, ctx.index, grad, ctx.dim)
        return full


def _read_along(x, dim, index):
    """x at the kernel's sorting positions ``index`` along ``dim``: differentiable."""
    return SortedGather.apply(x, dim=dim, index=index)


def _order(op, x, dim, descending):
    """(x with at least one dim, its dim, the stable sorting positions along it)."""
    d = normalize_dim(op, dim, x.ndim)
    if x.ndim == 0:
        x = reshape(x, (1,))
    return x, d, backend().sort_indices(x.array, d, bool(descending))


# ---------------------------------------------------------------- sorting


def sort(input, dim=-1, descending=False, stable=False):
    """``(values, indices)``: input sorted along ``dim``, and where each value came from.

    Always stable (equal elements keep their order, also when descending),
    which PyTorch's ``stable=True`` promises and ``stable=False`` allows. NaN
    sorts as the largest value. values: input's shape and dtype, differentiable;
    indices: int64.
    """
    require_tensor("sort", input)
    x, d, order = _order("sort", input, dim, descending)
    values = _read_along(x, d, order)
    if input.ndim == 0:
        values, order = reshape(values, ()), order.reshape(())
    return SortResult(values, Tensor._wrap(order))


def argsort(input, dim=-1, descending=False, stable=False):
    """The int64 indices that sort input along ``dim`` (stable; see :func:`sort`)."""
    require_tensor("argsort", input)
    _, _, order = _order("argsort", input, dim, descending)
    return Tensor._wrap(order.reshape(input.shape))


def msort(input):
    """input sorted along its first dim: ``sort(input, dim=0).values``."""
    require_tensor("msort", input)
    return sort(input, 0).values


def topk(input, k, dim=-1, largest=True, sorted=True):
    """``(values, indices)`` of the k largest (``largest=False``: smallest)
    elements along ``dim``, in sorted order (also when ``sorted=False``).

    k: 0 <= k <= input.size(dim). At ties the earlier element comes first.
    """
    k = _check_int("topk", "k", k)
    x, d, order = _order("topk", input, dim, largest)
    if not 0 <= k <= x.shape[d]:
        raise IndexError(f"topk: k={k} is out of range for dim {d} of size {x.shape[d]} (shape {input.shape})")
    picked = np.take(order, np.arange(k), axis=d)
    values = _read_along(x, d, picked)
    if input.ndim == 0:
        return TopkResult(reshape(values, ()) if k else values, Tensor._wrap(picked.reshape(()) if k else picked))
    return TopkResult(values, Tensor._wrap(picked))


def kthvalue(input, k, dim=-1, keepdim=False):
    """``(values, indices)`` of the k-th smallest element (k counts from 1) along ``dim``."""
    k = _check_int("kthvalue", "k", k)
    x, d, order = _order("kthvalue", input, dim, False)
    if not 1 <= k <= x.shape[d]:
        raise IndexError(f"kthvalue: k={k} is out of range for dim {d} of size {x.shape[d]} (shape {input.shape})")
    picked = np.take(order, [k - 1], axis=d)
    values, indices = _read_along(x, d, picked), picked
    if not keepdim or input.ndim == 0:
        shape = tuple(n for i, n in enumerate(x.shape) if i != d) if input.ndim else ()
        values, indices = reshape(values, shape), indices.reshape(shape)
    return KthvalueResult(values, Tensor._wrap(indices))


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values of input, ascending; no gradient.

    dim=None: the distinct elements, 1-D. An int dim: the distinct slices
    along that dim (compared whole), kept in that dim. ``return_inverse``
    adds, for every element (slice), the position of its value in the result
    (input's shape; the dim's length); ``return_counts`` adds how often each
    value occurs. NaNs are all distinct, as in PyTorch. The result is sorted
    whatever ``sorted`` says (PyTorch allows either).
    """
    require_tensor("unique", input)
    rows, d = _as_rows("unique", input, dim)
    B = backend()
    order = np.arange(rows.shape[0])
    for column in range(rows.shape[1] - 1, -1, -1):  # lexicographic: stable sorts, last column first
        order = order[B.sort_indices(rows[order, column], 0, False)]
    return _collapse_runs(input, rows, d, order, return_inverse, return_counts)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse each run of equal consecutive elements (slices along ``dim``)
    to one, keeping their order; the extras as in :func:`unique`. No gradient."""
    require_tensor("unique_consecutive", input)
    rows, d = _as_rows("unique_consecutive", input, dim)
    return _collapse_runs(input, rows, d, np.arange(rows.shape[0]), return_inverse, return_counts)


def _as_rows(op, input, dim):
    """input as a 2-D array with one row per element (dim=None) or per slice
    along dim; and that dim (None for elements)."""
    values = input.array
    if dim is None:
        return values.reshape(-1, 1), None
    d = normalize_dim(op, dim, values.ndim)
    moved = np.moveaxis(values.reshape(values.shape or (1,)), d, 0)
    return moved.reshape(moved.shape[0], math.prod(moved.shape[1:])), d


def _collapse_runs(input, rows, dim, order, return_inverse, return_counts):
    """Keep the first row of each run of equal rows in ``rows[order]``; the
    inverse maps every original row to its run, the counts are run lengths."""
    ordered = rows[order]
    starts = np.ones(len(order), bool)
    starts[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)  # != keeps NaNs apart
    first = np.flatnonzero(starts)
    if dim is None:
        result = Tensor._wrap(ordered[first, 0].copy())
    else:
        kept = np.moveaxis(input.array.reshape(input.shape or (1,)), dim, 0)[order[first]]
        result = Tensor._wrap(np.ascontiguousarray(np.moveaxis(kept, 0, dim)))
    extras = []
    if return_inverse:
        inverse = np.empty(len(order), np.int64)
        inverse[order] = np.cumsum(starts) - 1
        extras.append(Tensor._wrap(inverse.reshape(input.shape) if dim is None else inverse))
    if return_counts:
        extras.append(Tensor._wrap(np.diff(np.append(first, len(order))).astype(np.int64)))
    return (result, *extras) if extras else result


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    """Where each value of ``input`` would be inserted into ``sorted_sequence``
    to keep it sorted: int64 (int32 with ``out_int32``) of input's shape.

    sorted_sequence: 1-D (searched for every value), or N-D whose leading
    dims match input's (each row searched for its own values), ascending
    along the last dim (or put in order by ``sorter``, the int64 indices that
    sort it). input: a tensor or a number. ``right=True`` or ``side='right'``
    returns the position after any equal entries; the default, before.
    """
    if side is not None:
        if side not in ("left", "right"):
            raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
        if right and side == "left":
            raise ValueError("searchsorted: side='left' and right=True contradict each other")
        right = side == "right"
    boundaries = as_tensor(sorted_sequence).array
    scalar = not isinstance(input, Tensor)
    values = np.asarray(input.array if not scalar else input)
    if boundaries.ndim == 0:
        raise ValueError("searchsorted: sorted_sequence must have at least one dim, got a 0-d tensor")
    if sorter is not None:
        sorter = _index_array(sorter)
        if sorter.shape != boundaries.shape:
            raise ValueError(f"searchsorted: sorter of shape {sorter.shape} must match sorted_sequence's "
                             f"shape {boundaries.shape}")
        sorter = wrap_indices("searchsorted (sorter)", sorter, boundaries.ndim - 1, boundaries.shape[-1])
        boundaries = np.take_along_axis(boundaries, sorter, -1)
    if boundaries.ndim > 1 and (values.ndim != boundaries.ndim or values.shape[:-1] != boundaries.shape[:-1]):
        raise ValueError(
            f"searchsorted: sorted_sequence of shape {boundaries.shape} and input of shape {values.shape} "
            "must agree in every dim but the last (or sorted_sequence must be 1-D)"
        )
    dtype = np.result_type(boundaries, values)
    boundaries, values = boundaries.astype(dtype, copy=False), values.astype(dtype, copy=False)
    if boundaries.ndim == 1:  # one row, searched for every value
        rows, queries = boundaries.reshape(1, -1), values.reshape(1, -1)
    else:
        count = math.prod(boundaries.shape[:-1])
        rows, queries = boundaries.reshape(count, boundaries.shape[-1]), values.reshape(count, values.shape[-1])
    found = backend().searchsorted(rows, queries, bool(right))
    return Tensor._wrap(found.reshape(values.shape).astype(np.int32 if out_int32 else np.int64, copy=False))


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each value of input among the ascending 1-D ``boundaries``:
    ``boundaries[i-1] < x <= boundaries[i]`` (``right=True``:
    ``boundaries[i-1] <= x < boundaries[i]``). ``searchsorted`` with the
    arguments swapped."""
    if as_tensor(boundaries).ndim != 1:
        raise ValueError(f"bucketize: boundaries must be 1-D, got shape {as_tensor(boundaries).shape}")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


# ---------------------------------------------------------------- selection


def nonzero(input, *, as_tuple=False):
    """The coordinates of the non-zero (True, NaN included) elements, in C order.

    Returns an int64 tensor (count, input.ndim), or with ``as_tuple`` one
    1-D int64 tensor per dim (a 0-d input counts as 1-D).
    """
    values = input.array if isinstance(input, Tensor) else np.asarray(input)
    if as_tuple:
        coordinates = np.nonzero(values.reshape(values.shape or (1,)))
        return tuple(Tensor._wrap(c.astype(np.int64, copy=False)) for c in coordinates)
    coordinates = np.argwhere(values).astype(np.int64, copy=False)
    return Tensor._wrap(coordinates)


def argwhere(input):
    """``nonzero(input)``: an int64 tensor (count, input.ndim)."""
    return nonzero(input)


def masked_select(input, mask):
    """The elements of input where ``mask`` (bool, broadcasting with input) is
    True, as a 1-D tensor in C order; differentiable in input."""
    require_tensor("masked_select", input)
    mask = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    shape = broadcast_shape("masked_select", input.shape, mask.shape)
    mask = _mask_array("masked_select", mask, shape)
    x = input if input.shape == shape else broadcast_to(input, shape)
    return getitem(x, np.broadcast_to(mask, shape))


def take(input, index):
    """input read as a flat (C-order) vector at ``index`` (integers of any
    shape, negative counting from the end): a tensor of index's shape."""
    index = _index_array(index)
    flat = reshape(input, (-1,))
    positions = wrap_indices("take", index.reshape(-1), 0, flat.shape[0], allow_negative=True)
    return reshape(IndexSelect.apply(flat, dim=0, index=positions), index.shape)
