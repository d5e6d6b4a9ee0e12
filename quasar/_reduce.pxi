# Reductions: sum, max and min over any axes of an array.
#
# ``reduce``, the entry point, turns any ``axes`` into one or more steps of
# two shapes of problem, on a C-contiguous array (copied first if needed):
#
# * ``_reduce_all``: everything to one number. The array is cut into fixed
#   REDUCE_CHUNK-element chunks; each chunk's partial is computed (in parallel)
#   and the partials are combined *serially in chunk order*. The chunks do not
#   depend on the thread count, so neither does the result: 1, 2 or 16 threads
#   give the same bits.
# * ``_reduce_axis``: x viewed as (outer, n, inner), reduce the middle axis to
#   out (outer, inner). With inner == 1 each output is a contiguous row reduced
#   like ``_reduce_all`` (serially, same chunking), rows in parallel. With
#   inner > 1 a work item is a block of up to INNER_BLOCK output columns of one
#   outer index; it walks the n rows adding each (contiguous) row segment into
#   accumulators, so the inner loop is unit-stride and vectorizes. Each output
#   is computed by exactly one thread in a fixed order: deterministic too.
#
# Sums accumulate float32 in float32 lanes within a chunk and combine chunks
# (and the column accumulators) in double; max/min propagate NaN like NumPy.
#
# ``reduce`` also does the bookkeeping (result shape, steps, outputs, thread
# count) in C, and a small reduction never calls back into Python: summing a
# 16-element tensor costs about what NumPy's sum does.

cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy


cnp.import_array()


cpdef enum ReduceOp:
    SUM
    MAX
    MIN


cdef enum:
    # Output columns per work item of _reduce_axis when inner > 1. The block's
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


cdef int _reduce_all(int op, const floating* x, Py_ssize_t n, floating* out,
                    int num_threads) except -1 nogil:
    """out[0] = op(x[0:n]), n >= 1: the whole array to one value. The result
    does not depend on num_threads."""
    cdef Py_ssize_t n_chunks = (n + REDUCE_CHUNK - 1) // REDUCE_CHUNK
    cdef Py_ssize_t c, start
    cdef double acc
    cdef double* partials
    if num_threads <= 1 or n_chunks == 1:
        out[0] = <floating>_reduce_contiguous(op, x, n)
        return 0
    partials = <double*>calloc(n_chunks, sizeof(double))
    if partials == NULL:
        with gil:
            raise MemoryError()
    for c in prange(n_chunks, schedule='static', num_threads=num_threads):
        start = c * REDUCE_CHUNK
        partials[c] = _chunk_partial(op, x + start, min(<Py_ssize_t>REDUCE_CHUNK, n - start))
    # The same combination, in the same order, as _reduce_contiguous.
    acc = _initial(op, partials[0])
    for c in range(n_chunks):
        acc = _combine(op, acc, partials[c])
    out[0] = <floating>acc
    free(partials)
    return 0


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
    """Work item ``item`` of _reduce_axis; x and out are the whole arrays.
    inner == 1: item is a row (its reduction is like _reduce_all's, serial);
    inner > 1: item is (outer index, block of INNER_BLOCK columns)."""
    cdef Py_ssize_t o, k0
    if inner == 1:
        out[item] = <floating>_reduce_contiguous(op, x + item * n, n)
    else:
        o = item // blocks_per_row
        k0 = (item - o * blocks_per_row) * INNER_BLOCK
        _reduce_columns(op, x + o * n * inner + k0, n, inner,
                        min(<Py_ssize_t>INNER_BLOCK, inner - k0), out + o * inner + k0)


cdef void _reduce_axis(int op, const floating* x, Py_ssize_t outer, Py_ssize_t n,
                       Py_ssize_t inner, floating* out, int num_threads) noexcept nogil:
    """out[o, k] = op over j of x[o, j, k]: x (outer, n, inner) and out
    (outer, inner) C-contiguous, n >= 1. The result does not depend on
    num_threads."""
    cdef Py_ssize_t item, blocks_per_row = (inner + INNER_BLOCK - 1) // INNER_BLOCK
    cdef Py_ssize_t n_items = outer if inner == 1 else outer * blocks_per_row
    if num_threads > 1:
        for item in prange(n_items, schedule='static', num_threads=num_threads):
            _axis_item(op, x, out, n, inner, blocks_per_row, item)
    else:
        for item in range(n_items):
            _axis_item(op, x, out, n, inner, blocks_per_row, item)


# ------------------------------------------------------------------ entry point

cdef int _step(int op, cnp.ndarray x, Py_ssize_t outer, Py_ssize_t n, Py_ssize_t inner,
               cnp.ndarray out, int num_threads) except -1:
    """One kernel call: x (C-contiguous float32/float64, read as (outer, n,
    inner), n >= 1) reduced over n into out (outer * inner elements of x's
    dtype, C-contiguous). A full reduction (outer == inner == 1) is the
    chunk-parallel one."""
    cdef const void* px = cnp.PyArray_DATA(x)
    cdef void* po = cnp.PyArray_DATA(out)
    cdef bint full = outer == 1 and inner == 1
    with nogil:
        if cnp.PyArray_TYPE(x) == cnp.NPY_FLOAT:
            if full:
                _reduce_all(op, <const float*>px, n, <float*>po, num_threads)
            else:
                _reduce_axis(op, <const float*>px, outer, n, inner, <float*>po, num_threads)
        else:
            if full:
                _reduce_all(op, <const double*>px, n, <double*>po, num_threads)
            else:
                _reduce_axis(op, <const double*>px, outer, n, inner, <double*>po, num_threads)
    return 0


def reduce(int op, cnp.ndarray x not None, axes, bint keepdims, Py_ssize_t work_divisor,
           threshold, threads_for):
    """op over ``axes`` of x, as NumPy reduces; returns a new array.

    op            IN   a ReduceOp
    x             IN   float32/float64 array, any strides (copied to C order if needed);
                       not empty for MAX/MIN unless the result is empty
    axes          IN   distinct axis numbers in [0, x.ndim), e.g. a tuple
    keepdims      IN   keep the reduced axes, as size 1
    work_divisor  IN   elements read per unit of work (an element of an add)
    threshold, threads_for  IN   the calling thread's thread policy (_kernels.pxd)
    returns       OUT  C-contiguous array of x's dtype, NumPy's result shape

    Size-1 dims are dropped, then neighbouring dims that are both reduced (or
    both kept) are merged into "runs". One step reduces one reduced run, the
    last one first, as (outer, n, inner); its output is the next step's
    input: ``x.sum(axis=(0, 2))`` on (A, B, C) is two steps. The usual cases,
    everything or one axis, are one step.
    """
    cdef int nd = cnp.PyArray_NDIM(x), typenum = cnp.PyArray_TYPE(x)
    cdef cnp.npy_intp* shape = cnp.PyArray_DIMS(x)
    cdef bint reduced[MAX_DIMS]
    cdef cnp.npy_intp final[MAX_DIMS]               # the result's shape
    cdef Py_ssize_t run_size[MAX_DIMS]
    cdef bint run_reduced[MAX_DIMS]
    cdef int final_nd = 0, n_axes = 0, axis = 0, n_runs = 0, d, r, last
    cdef Py_ssize_t outer, inner, n
    cdef cnp.npy_intp kept
    cdef cnp.ndarray out, current, contiguous

    if op < SUM or op > MIN:
        raise ValueError(f"reduce: unknown op {op}")
    if typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE:
        raise TypeError(f"reduce: expected a float32 or float64 array, got {x.dtype}")
    for d in range(nd):
        reduced[d] = False
    for a in axes:
        axis = a
        if axis < 0 or axis >= nd or reduced[axis]:
            raise ValueError(f"reduce: axes {axes!r} are not distinct axes of a {nd}-d array")
        reduced[axis] = True
        n_axes += 1
    for d in range(nd):
        if not reduced[d] or keepdims:
            final[final_nd] = 1 if reduced[d] else shape[d]
            final_nd += 1

    if cnp.PyArray_SIZE(x) == 0:
        if op == SUM:
            return cnp.PyArray_ZEROS(final_nd, final, typenum, 0)
        for d in range(final_nd):
            if final[d] == 0:                       # nothing to compute
                return cnp.PyArray_EMPTY(final_nd, final, typenum, 0)
        raise ValueError("zero-size array to reduction operation which has no identity")
    if not (cnp.PyArray_IS_C_CONTIGUOUS(x) and cnp.PyArray_ISALIGNED(x)
            and cnp.PyArray_ISNOTSWAPPED(x)):
        contiguous = new_output(nd, shape, typenum)  # a C-ordered native copy
        cnp.PyArray_CopyInto(contiguous, x)
        x = contiguous
        shape = cnp.PyArray_DIMS(x)

    if n_axes == nd:                                # everything: one value
        out = new_output(final_nd, final, typenum)
        _step(op, x, 1, cnp.PyArray_SIZE(x), 1, out,
              thread_count(cnp.PyArray_SIZE(x) // work_divisor, threshold, threads_for))
        return out
    if n_axes == 1:                                 # one axis: one (outer, n, inner) step
        outer = inner = 1
        for d in range(axis):
            outer *= shape[d]
        for d in range(axis + 1, nd):
            inner *= shape[d]
        out = new_output(final_nd, final, typenum)
        _step(op, x, outer, shape[axis], inner, out,
              thread_count(cnp.PyArray_SIZE(x) // work_divisor, threshold, threads_for))
        return out

    for d in range(nd):                             # the runs of non-size-1 dims
        if shape[d] == 1:
            continue
        if n_runs > 0 and run_reduced[n_runs - 1] == reduced[d]:
            run_size[n_runs - 1] *= shape[d]
        else:
            run_size[n_runs] = shape[d]
            run_reduced[n_runs] = reduced[d]
            n_runs += 1
    last = n_runs - 1
    while last >= 0 and not run_reduced[last]:
        last -= 1
    if last < 0:                                    # only size-1 axes are reduced: a copy
        out = new_output(final_nd, final, typenum)
        memcpy(cnp.PyArray_DATA(out), cnp.PyArray_DATA(x),
               cnp.PyArray_SIZE(x) * cnp.PyArray_ITEMSIZE(x))
        return out
    current = x
    while last >= 0:                                # one step per reduced run, the last first
        outer = inner = 1
        for r in range(last):
            outer *= run_size[r]
        for r in range(last + 1, n_runs):
            inner *= run_size[r]
        n = run_size[last]
        for r in range(last, n_runs - 1):           # drop the run (the kept runs around it
            run_size[r] = run_size[r + 1]           # could merge; outer/inner products
            run_reduced[r] = run_reduced[r + 1]     # don't care)
        n_runs -= 1
        last -= 1
        while last >= 0 and not run_reduced[last]:
            last -= 1
        if last >= 0:                               # an intermediate result
            kept = outer * inner
            out = new_output(1, &kept, typenum)
        else:                                       # the last step writes the result
            out = new_output(final_nd, final, typenum)
        _step(op, current, outer, n, inner, out,
              thread_count(cnp.PyArray_SIZE(current) // work_divisor, threshold, threads_for))
        current = out
    return current
