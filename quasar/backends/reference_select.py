"""Reference kernels of the select family: sorting, binary search and the
reducing scatter behind ``quasar.ops.sorting`` and ``quasar.ops.scatter``,
in plain NumPy, computed differently from the compiled twin
(``compiled_select.py``, which calls NumPy's sort and searchsorted) so the
cross-check means something.

Contract (both backends):

* ``axis`` is normalised (non-negative) and the array has at least one dim.
* Index arguments are int64 arrays the op layer has checked: in range,
  non-negative. The kernels never check bounds.
* Every kernel returns a new array.

Order: NaN counts as larger than every number (PyTorch's rule), and sorts
are stable: equal elements keep their order, in both directions.

Written for clarity, not speed: the sort compares every pair of a row
(n² work per row, in blocks of bounded memory).
"""

import numpy as np

name = "reference"

REDUCTIONS = ("sum", "prod", "amax", "amin")


def _less(a, b):
    """a < b, with NaN larger than everything (and equal to itself)."""
    if a.dtype.kind != "f":
        return a < b
    return (a < b) | (np.isnan(b) & ~np.isnan(a))


def _equal(a, b):
    if a.dtype.kind != "f":
        return a == b
    return (a == b) | (np.isnan(a) & np.isnan(b))


COMPARISONS_PER_BLOCK = 1 << 22  # bounds the memory of the pairwise comparisons (bools)


def sort_indices(x, axis, descending):
    """The positions that sort x along ``axis``, stably: int64 of x's shape.

    Each element's place is the number of elements that go before it: the
    smaller ones (larger when descending) and the equal ones to its left.
    Elements are ranked a block at a time, so memory stays bounded.
    """
    rows = np.moveaxis(x, axis, -1)
    n = rows.shape[-1]
    rank = np.empty(rows.shape, np.int64)
    block = max(1, COMPARISONS_PER_BLOCK // max(1, n * max(1, rows.size // max(n, 1))))
    for start in range(0, n, block):
        stop = min(n, start + block)
        mine, other = rows[..., start:stop, None], rows[..., None, :]  # elements start..stop against all
        goes_before = _less(mine, other) if descending else _less(other, mine)
        left = np.arange(n) < np.arange(start, stop)[:, None]  # j < i
        rank[..., start:stop] = np.count_nonzero(goes_before | (_equal(mine, other) & left), axis=-1)
    order = np.empty(rows.shape, np.int64)
    np.put_along_axis(order, rank, np.broadcast_to(np.arange(n), rows.shape), axis=-1)
    return np.moveaxis(order, -1, axis)


def searchsorted(boundaries, values, right):
    """For each row r: how many boundaries[r] entries lie before values[r, j].

    boundaries: (rows, n), each row sorted ascending; values: (rows, m) of the
    same dtype. Left (right=False): entries < value; right: entries <= value.
    Returns (rows, m) int64.
    """
    entries, value = boundaries[:, None, :], values[:, :, None]
    before = _less(entries, value) | (_equal(entries, value) if right else False)
    return np.count_nonzero(before, axis=-1).astype(np.int64)


def scatter_reduce_flat(out, flat_index, values, reduce):
    """A copy of the flat ``out`` with ``values[i]`` reduced into ``out[flat_index[i]]``.

    out: (size,); flat_index, values: (m,); reduce: 'sum', 'prod', 'amax' or
    'amin' (NaN wins amax and amin). Integer and bool arrays too.
    """
    result = out.copy()
    if reduce == "sum":
        np.add.at(result, flat_index, values)
    elif reduce == "prod":
        np.multiply.at(result, flat_index, values)
    else:
        extreme = np.maximum if reduce == "amax" else np.minimum  # both propagate NaN
        with np.errstate(invalid="ignore"):
            extreme.at(result, flat_index, values)
    return result
