"""The select family on the compiled side: NumPy's sort and searchsorted,
and the Cython scatter of ``quasar/_select.pxi`` (in the ``quasar._kernels`` module).

Exactly the names, arguments and results of ``reference_select.py`` (read
its docstring for the contract). Sorting and binary search call NumPy on
purpose: its stable sort and searchsorted are the fastest kernels available
for them; the reference computes the same results by counting comparisons.
"""

import numpy as np

from .. import _kernels as _k  # the _select.pxi family

name = "compiled"

_REDUCE_CODES = {"sum": 0, "prod": 1, "amax": 2, "amin": 3}


def sort_indices(x, axis, descending):
    """NumPy's stable argsort (NaN last). Descending sorts the reversed row
    ascending and reverses the result: NaN then comes first and equal
    elements keep their original order, as PyTorch's stable sort does."""
    if not descending:
        return np.argsort(x, axis=axis, kind="stable").astype(np.int64, copy=False)
    n = x.shape[axis]
    flipped = np.argsort(np.flip(x, axis), axis=axis, kind="stable")
    return (n - 1 - np.flip(flipped, axis)).astype(np.int64, copy=False)


def searchsorted(boundaries, values, right):
    side = "right" if right else "left"
    out = np.empty(values.shape, np.int64)
    for row in range(boundaries.shape[0]):
        out[row] = np.searchsorted(boundaries[row], values[row], side=side)
    return out


def _as_kernel_dtype(x):
    """Bool arrays travel as uint8 (the same bytes): the kernels' fused types have no bool."""
    return x.view(np.uint8) if x.dtype == np.bool_ else x


def scatter_reduce_flat(out, flat_index, values, reduce):
    result = np.array(out, copy=True, order="C").reshape(-1)
    _k.scatter_reduce_flat(
        _as_kernel_dtype(np.ascontiguousarray(values).reshape(-1)),
        np.ascontiguousarray(flat_index, dtype=np.int64).reshape(-1),
        _as_kernel_dtype(result),
        _REDUCE_CODES[reduce],
    )
    return result
