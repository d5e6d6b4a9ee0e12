# Shared building blocks of the kernel families (_elementwise.pxi,
# _reduce.pxi, ...), all included into the one module _kernels.pyx, whose
# declaration file this is: Cython reads it before _kernels.pyx, so every
# family sees these names without a cimport. Everything here is ``cdef
# inline``, and the C compiler inlines it, so using a helper costs nothing. All but the thread policy (at the
# end) are ``noexcept nogil`` helpers of the loops.
#
# ``floating`` is Cython's fused type {float, double}: every helper exists
# once per dtype, generated from the one source.

from cpython.long cimport PyLong_AsLongAndOverflow
from cython cimport floating
from libc.stdint cimport int32_t, int64_t, uint8_t
from libc.math cimport (
    exp, expf, log, logf, sqrt, sqrtf, tanh, tanhf, sin, sinf, cos, cosf,
    pow, powf, fabs, fabsf, expm1, expm1f, log1p, log1pf,
)


cdef enum:
    # Elements per parallel work item ("block") of the elementwise kernels.
    # Large enough that a block's bookkeeping is noise, small enough that
    # 2..16 threads get balanced work on ~100k-element arrays.
    CHUNK = 4096

    # Elements per partial sum of a full reduction. This is part of the
    # *result*, not just of the schedule: the chunk partials are combined in
    # chunk order, so the sum is bit-for-bit the same for any thread count,
    # but changing REDUCE_CHUNK (or LANES) changes the last bits.
    REDUCE_CHUNK = 4096

    # Independent accumulators inside a chunk. Without -ffast-math the
    # compiler may not reorder ``s += x[i]``; with LANES explicit accumulators
    # the reordering is written in the code, so the loop vectorizes (4 x 8
    # floats or 8 x 4 doubles per step) and the order is still fixed. 32, not
    # 16: gcc fully unrolls a 16-trip inner loop before the loop vectorizer
    # sees it, and then fails to vectorize the max/min selects.
    LANES = 32

    # The most dims an array can have (NPY_MAXDIMS in NumPy 2): the size of
    # the per-dim scratch arrays of the kernels that accept any rank.
    MAX_DIMS = 64

    # Elements per parallel block of the index and pointwise families'
    # elementwise kernels (block_count, block_length below).
    BLOCK = 4096


# Any dtype a tensor may hold (bool arrives viewed as uint8): for kernels that
# move or compare values without arithmetic (the index and select families).
ctypedef fused any_value:
    float
    double
    int32_t
    int64_t
    uint8_t


cdef inline bint is_nan(any_value v) noexcept nogil:
    """True only for a float NaN. Integers and bools are never NaN, and a
    self-comparison on them would be a constant the C compiler warns about."""
    if any_value is float or any_value is double:
        return v != v
    else:
        return False


cdef inline Py_ssize_t block_count(Py_ssize_t n) noexcept nogil:
    """How many BLOCKs cover n elements."""
    return (n + BLOCK - 1) // BLOCK


cdef inline Py_ssize_t block_length(Py_ssize_t b, Py_ssize_t n) noexcept nogil:
    """The length of block b of n elements (BLOCK but for the last)."""
    return BLOCK if (b + 1) * BLOCK <= n else n - b * BLOCK


# ------------------------------------------------------------------ libm
# One name per function; ``if floating is float`` is resolved at compile
# time, so float32 calls the fast f-suffixed libm routines and float64 the
# double ones (no double round trip for float32).
#
# _libmvec.h lets gcc vectorize loops over these calls with glibc's vector
# variants (libmvec) when setup.py found them; see that header.

cdef extern from "_libmvec.h":
    pass

cdef inline floating q_exp(floating x) noexcept nogil:
    if floating is float:
        return expf(x)
    else:
        return exp(x)


cdef inline floating q_log(floating x) noexcept nogil:
    if floating is float:
        return logf(x)
    else:
        return log(x)


cdef inline floating q_sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline floating q_tanh(floating x) noexcept nogil:
    if floating is float:
        return tanhf(x)
    else:
        return tanh(x)


cdef inline floating q_sin(floating x) noexcept nogil:
    if floating is float:
        return sinf(x)
    else:
        return sin(x)


cdef inline floating q_cos(floating x) noexcept nogil:
    if floating is float:
        return cosf(x)
    else:
        return cos(x)


cdef inline floating q_expm1(floating x) noexcept nogil:
    if floating is float:
        return expm1f(x)
    else:
        return expm1(x)


cdef inline floating q_log1p(floating x) noexcept nogil:
    if floating is float:
        return log1pf(x)
    else:
        return log1p(x)


cdef inline floating q_pow(floating x, floating p) noexcept nogil:
    if floating is float:
        return powf(x, p)
    else:
        return pow(x, p)


cdef inline floating q_fabs(floating x) noexcept nogil:
    if floating is float:
        return fabsf(x)
    else:
        return fabs(x)


# ------------------------------------------------------------------ NaN-aware picks
# np.maximum / np.max propagate NaN. ``x != x`` is the NaN test. Written as
# a select on ``|`` (not ``or``, whose short circuit is a branch; and not
# fmax, which *drops* NaN), so loops over it vectorize to compare + blend.

cdef inline floating pick_max(floating current, floating x) noexcept nogil:
    """max(current, x), NaN if either is NaN."""
    return x if (x > current) | (x != x) else current


cdef inline floating pick_min(floating current, floating x) noexcept nogil:
    """min(current, x), NaN if either is NaN."""
    return x if (x < current) | (x != x) else current


# ------------------------------------------------------------------ contiguous sums
# The canonical summation order of quasar. Full reductions (``_reduce``) and
# the row sums of the softmax family (``_rowwise``) both use it, and the
# parallel full reduction computes exactly the same partials, so every sum of
# the same numbers gives the same bits whatever the thread count.

cdef inline double sum_lanes(const floating* x, Py_ssize_t n) noexcept nogil:
    """Sum of x[0:n] (IN, contiguous): LANES running sums in the input dtype,
    folded in double as a fixed tree, then the tail.

    The tree (lane j += lane j + w, for w = LANES/2, ..., 1) is a few vector
    adds; folding lane after lane was LANES dependent adds, ~15 % of a
    4096-element chunk's time. The order is fixed either way."""
    cdef floating acc[LANES]
    cdef double fold[LANES]
    cdef Py_ssize_t i = 0, j, width
    cdef double total
    for j in range(LANES):
        acc[j] = 0
    while i + LANES <= n:
        for j in range(LANES):
            acc[j] = acc[j] + x[i + j]
        i += LANES
    for j in range(LANES):
        fold[j] = acc[j]
    width = LANES // 2
    while width >= 1:
        for j in range(width):
            fold[j] = fold[j] + fold[j + width]
        width = width // 2
    total = fold[0]
    while i < n:
        total += x[i]
        i += 1
    return total


cdef inline double sum_contiguous(const floating* x, Py_ssize_t n) noexcept nogil:
    """Sum of x[0:n] (IN, contiguous), serially, chunk by chunk: the same bits
    as the parallel full reduction of _reduce.pxi."""
    cdef Py_ssize_t start = 0
    cdef double total = 0.0
    while start < n:
        total += sum_lanes(x + start, min(<Py_ssize_t>REDUCE_CHUNK, n - start))
        start += REDUCE_CHUNK
    return total


cdef inline double dot_lanes(const floating* a, const floating* b, Py_ssize_t n) noexcept nogil:
    """sum(a[i] * b[i]) for contiguous a, b of length n; same lane scheme."""
    cdef floating acc[LANES]
    cdef Py_ssize_t i = 0, j
    cdef double total = 0.0
    for j in range(LANES):
        acc[j] = 0
    while i + LANES <= n:
        for j in range(LANES):
            acc[j] = acc[j] + a[i + j] * b[i + j]
        i += LANES
    for j in range(LANES):
        total += acc[j]
    while i < n:
        total += a[i] * b[i]
        i += 1
    return total


cdef inline floating max_lanes(const floating* x, Py_ssize_t n) noexcept nogil:
    """Largest of x[0:n] (n >= 1, contiguous); NaN if any element is NaN."""
    cdef floating acc[LANES]
    cdef floating best = x[0]
    cdef Py_ssize_t i = 0, j
    for j in range(LANES):
        acc[j] = x[0]
    while i + LANES <= n:
        for j in range(LANES):
            acc[j] = pick_max(acc[j], x[i + j])
        i += LANES
    for j in range(LANES):
        best = pick_max(best, acc[j])
    while i < n:
        best = pick_max(best, x[i])
        i += 1
    return best


cdef inline floating min_lanes(const floating* x, Py_ssize_t n) noexcept nogil:
    """Smallest of x[0:n] (n >= 1, contiguous); NaN if any element is NaN."""
    cdef floating acc[LANES]
    cdef floating best = x[0]
    cdef Py_ssize_t i = 0, j
    for j in range(LANES):
        acc[j] = x[0]
    while i + LANES <= n:
        for j in range(LANES):
            acc[j] = pick_min(acc[j], x[i + j])
        i += LANES
    for j in range(LANES):
        best = pick_min(best, acc[j])
    while i < n:
        best = pick_min(best, x[i])
        i += 1
    return best


# ------------------------------------------------------------------ thread policy
# The entry points of _elementwise, _reduce, _rowwise and _optim take the
# calling thread's thread policy as two arguments, and decide their thread
# count with ``thread_count``:
#
#   threshold    IN  its parallel threshold, an int >= 0 (quasar.parallel's
#                    per-thread setting, read by the wrapper)
#   threads_for  IN  quasar.parallel.threads_for
#
# Work below the threshold, the common case, runs on one thread without
# calling back into Python (a Python call would cost more than a small
# kernel); only larger work asks threads_for, which applies max_workers and
# OpenMP's limits. The answer is what threads_for(work) alone would give:
# it returns 1 below the same threshold itself.

cdef inline int thread_count(Py_ssize_t work, object threshold, object threads_for) except -1:
    """Threads for a kernel of ``work`` (in elements of an add)."""
    cdef int overflow
    cdef long limit = PyLong_AsLongAndOverflow(threshold, &overflow)
    if overflow > 0 or work < limit:       # (a threshold too big for a C long: never reached)
        return 1
    return threads_for(work)
