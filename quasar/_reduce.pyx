# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Reductions: sum, max and min of a C-contiguous array.

The wrapper (``quasar.backends.compiled``) turns any ``axes`` into one or
more calls of two shapes of problem:

* ``reduce_all``: everything to one number. The array is cut into fixed
  REDUCE_CHUNK-element chunks; each chunk's partial is computed (in parallel)
  and the partials are combined *serially in chunk order*. The chunks do not
  depend on the thread count, so neither does the result: 1, 2 or 16 threads
  give the same bits.
* ``reduce_axis``: x viewed as (outer, n, inner), reduce the middle axis to
  out (outer, inner). With inner == 1 each output is a contiguous row reduced
  like ``reduce_all`` (serially, same chunking), rows in parallel. With
  inner > 1 a work item is a block of up to INNER_BLOCK output columns of one
  outer index; it walks the n rows adding each (contiguous) row segment into
  accumulators, so the inner loop is unit-stride and vectorizes. Each output
  is computed by exactly one thread in a fixed order: deterministic too.

Sums accumulate float32 in float32 lanes within a chunk and combine chunks
(and the column accumulators) in double; max/min propagate NaN like NumPy.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.stdlib cimport calloc, free

from quasar._kernels cimport (
    REDUCE_CHUNK, sum_lanes, max_lanes, min_lanes, pick_max, pick_min,
)


cpdef enum ReduceOp:
    SUM
    MAX
    MIN


cdef enum:
    # Output columns per work item of reduce_axis when inner > 1. The block's
    # double accumulators live on the thread's stack (4 KiB).
    INNER_BLOCK = 512


# ------------------------------------------------------------------ full / row reductions

cdef inline double _chunk_partial(int op, const floating* x, Py_ssize_t n) noexcept nogil:
    """One chunk's partial result, as a double (exact for max/min of floats)."""
    if op == SUM:
        return sum_lanes(x, n)
    elif op == MAX:
        return max_lanes(x, n)
    else:
        return min_lanes(x, n)


cdef inline double _combine(int op, double acc, double partial) noexcept nogil:
    if op == SUM:
        return acc + partial
    elif op == MAX:
        return pick_max(acc, partial)
    else:
        return pick_min(acc, partial)


cdef inline double _initial(int op, double first_partial) noexcept nogil:
    """Start value of the chunk combination: 0 for a sum (as in
    _kernels.sum_contiguous), the first partial for max/min."""
    return 0.0 if op == SUM else first_partial


cdef double _reduce_contiguous(int op, const floating* x, Py_ssize_t n) noexcept nogil:
    """op over x[0:n] (contiguous, n >= 1 for max/min), serially, chunk by chunk."""
    cdef Py_ssize_t start = 0
    cdef double partial = _chunk_partial(op, x, min(<Py_ssize_t>REDUCE_CHUNK, n))
    cdef double acc = _combine(op, _initial(op, partial), partial)
    start = REDUCE_CHUNK
    while start < n:
        partial = _chunk_partial(op, x + start, min(<Py_ssize_t>REDUCE_CHUNK, n - start))
        acc = _combine(op, acc, partial)
        start += REDUCE_CHUNK
    return acc


def reduce_all(int op, const floating[::1] x, floating[::1] out, int num_threads):
    """out[0] = op(x): the whole array to one value.

    op           IN   a ReduceOp
    x            IN   (n,) contiguous; n >= 1 for MAX/MIN
    out          OUT  (1,) same dtype
    num_threads  IN   OpenMP threads; the result does not depend on it
    """
    cdef Py_ssize_t n = x.shape[0]
    cdef Py_ssize_t n_chunks = (n + REDUCE_CHUNK - 1) // REDUCE_CHUNK
    cdef Py_ssize_t c, start
    cdef double acc
    cdef double* partials
    if out.shape[0] != 1:
        raise ValueError("reduce_all: out must have shape (1,)")
    if n == 0:
        if op != SUM:
            raise ValueError("zero-size array to a max/min reduction, which has no identity")
        out[0] = 0
        return
    if num_threads <= 1 or n_chunks == 1:
        with nogil:
            out[0] = <floating>_reduce_contiguous(op, &x[0], n)
        return
    partials = <double*>calloc(n_chunks, sizeof(double))
    if partials == NULL:
        raise MemoryError()
    with nogil:
        for c in prange(n_chunks, schedule='static', num_threads=num_threads):
            start = c * REDUCE_CHUNK
            partials[c] = _chunk_partial(op, &x[start], min(<Py_ssize_t>REDUCE_CHUNK, n - start))
        # The same combination, in the same order, as _reduce_contiguous.
        acc = _initial(op, partials[0])
        for c in range(n_chunks):
            acc = _combine(op, acc, partials[c])
        out[0] = <floating>acc
    free(partials)


# ------------------------------------------------------------------ axis reductions

cdef void _reduce_columns(int op, const floating* x, Py_ssize_t n, Py_ssize_t row_stride,
                          Py_ssize_t width, floating* out) noexcept nogil:
    """out[k] = op over j of x[j * row_stride + k], for k < width <= INNER_BLOCK.

    x    IN   the first element of the block in row 0
    out  OUT  width outputs, contiguous
    """
    cdef double acc[INNER_BLOCK]
    cdef const floating* row
    cdef Py_ssize_t j, k
    if op == SUM:
        for k in range(width):
            acc[k] = 0
        for j in range(n):
            row = x + j * row_stride
            for k in range(width):
                acc[k] += row[k]
        for k in range(width):
            out[k] = <floating>acc[k]
    elif op == MAX:
        for k in range(width):
            out[k] = x[k]
        for j in range(1, n):
            row = x + j * row_stride
            for k in range(width):
                out[k] = pick_max(out[k], row[k])
    else:
        for k in range(width):
            out[k] = x[k]
        for j in range(1, n):
            row = x + j * row_stride
            for k in range(width):
                out[k] = pick_min(out[k], row[k])


cdef void _axis_item(int op, const floating* x, floating* out, Py_ssize_t n,
                     Py_ssize_t inner, Py_ssize_t blocks_per_row, Py_ssize_t item) noexcept nogil:
    """Work item ``item`` of reduce_axis; x and out are the whole arrays.
    inner == 1: item is a row (its reduction is like reduce_all's, serial);
    inner > 1: item is (outer index, block of INNER_BLOCK columns)."""
    cdef Py_ssize_t o, k0
    if inner == 1:
        out[item] = <floating>_reduce_contiguous(op, x + item * n, n)
    else:
        o = item // blocks_per_row
        k0 = (item - o * blocks_per_row) * INNER_BLOCK
        _reduce_columns(op, x + o * n * inner + k0, n, inner,
                        min(<Py_ssize_t>INNER_BLOCK, inner - k0), out + o * inner + k0)


def reduce_axis(int op, const floating[:, :, ::1] x, floating[:, ::1] out, int num_threads):
    """out[o, k] = op over j of x[o, j, k].

    op           IN   a ReduceOp
    x            IN   (outer, n, inner) C-contiguous; n >= 1 for MAX/MIN
    out          OUT  (outer, inner) C-contiguous, same dtype
    num_threads  IN   OpenMP threads; the result does not depend on it
    """
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2]
    cdef Py_ssize_t item, n_items, blocks_per_row = (inner + INNER_BLOCK - 1) // INNER_BLOCK
    if out.shape[0] != outer or out.shape[1] != inner:
        raise ValueError("reduce_axis: out must have shape (outer, inner)")
    if outer == 0 or inner == 0:
        return
    if n == 0:
        if op != SUM:
            raise ValueError("zero-size array to a max/min reduction, which has no identity")
        out[:, :] = 0
        return
    n_items = outer if inner == 1 else outer * blocks_per_row
    with nogil:
        if num_threads > 1:
            for item in prange(n_items, schedule='static', num_threads=num_threads):
                _axis_item(op, &x[0, 0, 0], &out[0, 0], n, inner, blocks_per_row, item)
        else:
            for item in range(n_items):
                _axis_item(op, &x[0, 0, 0], &out[0, 0], n, inner, blocks_per_row, item)
