# Cython kernels of the select family: the reducing scatter behind
# ``scatter``, ``scatter_add``, ``scatter_reduce``, ``index_add`` and
# ``index_put(accumulate=True)``.
#
# Sorting and binary search are not here: NumPy's sort (a radix/introsort with
# SIMD paths) and searchsorted are the best kernels there are, and the
# compiled backend calls them (see ``quasar/backends/compiled_select.py``).
#
# The Python wrappers make every argument C-contiguous and flat; the op layer
# (``quasar/ops/scatter.py``) has validated every index, so bounds checks are
# off.

from libc.stdint cimport int32_t, int64_t, uint8_t

# the reductions, numbered as the wrapper passes them (SCATTER_: _reduce has its own SUM)
cdef enum:
    SCATTER_SUM = 0
    SCATTER_PROD = 1
    SCATTER_AMAX = 2
    SCATTER_AMIN = 3


def scatter_reduce_flat(const any_value[::1] values, const int64_t[::1] flat_index, any_value[::1] out, int reduce):
    """out[flat_index[i]] = reduce(out[flat_index[i]], values[i]) for i = 0, 1, ... in order.

    IN     values (m,); flat_index (m,), every entry in [0, out.shape[0])
    IN/OUT out (size,): the starting values, reduced in place
    reduce: 0 sum, 1 product, 2 maximum, 3 minimum (NaN wins both, as in PyTorch)

    Serial on purpose: repeated indices would make two threads write one slot,
    and the order of a floating-point sum must not depend on the thread count.
    """
    cdef Py_ssize_t i, m = values.shape[0]
    cdef int64_t p
    cdef any_value v, o
    with nogil:
        if reduce == SCATTER_SUM:
            for i in range(m):
                out[flat_index[i]] += values[i]
        elif reduce == SCATTER_PROD:
            for i in range(m):
                out[flat_index[i]] *= values[i]
        elif reduce == SCATTER_AMAX:
            for i in range(m):
                p = flat_index[i]
                v = values[i]
                o = out[p]
                # a NaN value wins, and a NaN already there stays
                if v > o or (is_nan(v) and not is_nan(o)):
                    out[p] = v
        else:
            for i in range(m):
                p = flat_index[i]
                v = values[i]
                o = out[p]
                if v < o or (is_nan(v) and not is_nan(o)):
                    out[p] = v
