# Cython kernels of the index family: scatter-adds, masked fill, running sums
# and products, arg-extrema, logsumexp and five activations.
#
# Each kernel takes C-contiguous typed memoryviews, documents every argument as
# IN or OUT, writes only its OUT argument and releases the GIL. The Python
# wrappers in ``quasar/backends/compiled_index.py`` make the inputs contiguous,
# allocate OUT, flatten shapes to the 1-, 2- or 3-axis views used here, and pick
# ``num_threads``. Bounds checks are off: the op layer (``quasar/ops``) has
# validated every index before a kernel runs.
#
# Axis kernels see an array as (outer, n, inner): ``n`` is the axis being
# scanned or reduced, ``outer`` the dims before it and ``inner`` the dims after.
# They share work between threads by (outer row, block of inner columns), so no
# two threads ever write the same element.
#
# With ``num_threads == 1`` a kernel runs a plain loop over the same tasks and
# opens no parallel region: OpenMP would still build a team of one, which costs
# more (~0.4 us) than a kernel on a small tensor takes. So each kernel's body is
# written once, as a task (or block) function, and called from a ``prange``
# loop or from a plain ``range`` loop; the tasks are the same either way, and so
# are the results, bit for bit.

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport INFINITY, erf as c_erf, erff, isinf
from libc.stdint cimport int32_t, int64_t, uint8_t


cdef inline Py_ssize_t column_blocks(Py_ssize_t inner, int num_threads) noexcept nogil:
    """How many blocks of inner columns to cut, so that outer * blocks tasks keep the threads busy."""
    if inner < num_threads:
        return inner if inner > 0 else 1
    return num_threads


# Elementwise kernels (masked_fill, the activations) hand threads blocks of
# BLOCK elements (block_count, block_length: _kernels.pxd); each block is a
# plain loop over raw pointers that loads x[i] into a local before choosing,
# so the compiler turns the choice into a vector blend instead of a branch
# (random signs would mispredict half of the branches and make the loop about
# ten times slower).


# ---------------------------------------------------------------- scatter-adds


def scatter_add_flat(const floating[::1] values, const int64_t[::1] flat_index, floating[::1] out):
    """out[flat_index[i]] += values[i] for every i.

    IN  values (m,); flat_index (m,), every entry in [0, out.shape[0])
    OUT out (size,), zeroed by the caller

    Serial on purpose: repeated indices mean two threads could add into one slot.
    """
    cdef Py_ssize_t i, m = values.shape[0]
    with nogil:
        for i in range(m):
            out[flat_index[i]] += values[i]


cdef inline void index_add_task(const floating* values, const int64_t* index, floating* out,
                                Py_ssize_t m, Py_ssize_t size, Py_ssize_t inner, Py_ssize_t start,
                                Py_ssize_t stop) noexcept nogil:
    """Columns [start, stop) of one outer row: values (m, inner) added into out (size, inner)."""
    cdef Py_ssize_t k, j
    cdef floating* dst
    cdef const floating* src
    for k in range(m):
        dst = out + index[k] * inner
        src = values + k * inner
        for j in range(start, stop):
            dst[j] = dst[j] + src[j]


def index_add(const floating[:, :, ::1] values, const int64_t[::1] index,
              floating[:, :, ::1] out, int num_threads):
    """out[o, index[k], j] += values[o, k, j]: whole rows added back along the middle axis.

    IN  values (outer, m, inner); index (m,), every entry in [0, out.shape[1])
    OUT out (outer, size, inner), zeroed by the caller

    Each task owns one outer row and one block of inner columns and walks all
    of ``index`` in order, so repeated indices add up without races.
    """
    cdef Py_ssize_t outer = values.shape[0], m = values.shape[1], inner = values.shape[2]
    cdef Py_ssize_t size = out.shape[1]
    cdef Py_ssize_t blocks = column_blocks(inner, num_threads)
    cdef Py_ssize_t width = (inner + blocks - 1) // blocks
    cdef Py_ssize_t task, o, start
    if outer == 0 or m == 0 or inner == 0:
        return
    with nogil:
        if num_threads > 1:
            for task in prange(outer * blocks, num_threads=num_threads, schedule="static"):
                o = task // blocks
                start = (task % blocks) * width
                index_add_task(&values[o, 0, 0], &index[0], &out[o, 0, 0], m, size, inner,
                               start, min(start + width, inner))
        else:  # one task: blocks == 1 when num_threads == 1
            for o in range(outer):
                index_add_task(&values[o, 0, 0], &index[0], &out[o, 0, 0], m, size, inner, 0, inner)


# ---------------------------------------------------------------- selection


cdef inline void masked_fill_block(const any_value* x, const uint8_t* mask, any_value fill, any_value* out,
                                   Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef any_value v
    for i in range(n):
        v = x[i]
        out[i] = fill if mask[i] else v


def masked_fill(const any_value[::1] x, const uint8_t[::1] mask, const any_value[::1] value,
                any_value[::1] out, int num_threads):
    """out[i] = value[0] where mask[i], else x[i].

    IN  x (n,), n >= 1; mask (n,), bool viewed as uint8; value (1,), x's dtype
    OUT out (n,)
    """
    cdef Py_ssize_t b, n = x.shape[0]
    with nogil:
        if num_threads > 1:
            for b in prange(block_count(n), num_threads=num_threads, schedule="static"):
                masked_fill_block(&x[b * BLOCK], &mask[b * BLOCK], value[0], &out[b * BLOCK], block_length(b, n))
        else:
            for b in range(block_count(n)):
                masked_fill_block(&x[b * BLOCK], &mask[b * BLOCK], value[0], &out[b * BLOCK], block_length(b, n))


def arg_extreme(const any_value[:, :, ::1] x, int64_t[:, ::1] out, bint largest, int num_threads):
    """out[o, j] = the k of the largest (or smallest) x[o, k, j].

    IN  x (outer, n, inner), n >= 1; largest: argmax if true, else argmin
    OUT out (outer, inner)

    The first of equal values wins, and a NaN beats everything (NumPy and
    PyTorch agree on both).
    """
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2]
    cdef Py_ssize_t task
    with nogil:
        if num_threads > 1:
            for task in prange(outer * inner, num_threads=num_threads, schedule="static"):
                out[task // inner, task % inner] = arg_extreme_along(&x[task // inner, 0, task % inner],
                                                                     n, inner, largest)
        else:
            for task in range(outer * inner):
                out[task // inner, task % inner] = arg_extreme_along(&x[task // inner, 0, task % inner],
                                                                     n, inner, largest)


cdef inline int64_t arg_extreme_along(const any_value* x, Py_ssize_t n, Py_ssize_t step, bint largest) noexcept nogil:
    """The k of the extreme x[k * step], k < n (n >= 1); the first wins, NaN first of all."""
    cdef Py_ssize_t k, best_k = 0
    cdef any_value best = x[0], v
    if is_nan(best):  # a leading NaN wins at once
        return 0
    for k in range(1, n):
        v = x[k * step]
        if is_nan(v):
            return k
        if (v > best) if largest else (v < best):
            best = v
            best_k = k
    return best_k


# ---------------------------------------------------------------- scans and products along one axis


cdef inline void cumsum_task(const floating* x, floating* out, Py_ssize_t n, Py_ssize_t inner,
                             Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    """Columns [start, stop) of one outer row: x and out are (n, inner), n >= 1."""
    cdef Py_ssize_t k, j
    for j in range(start, stop):
        out[j] = x[j]
    for k in range(1, n):
        for j in range(start, stop):
            out[k * inner + j] = out[(k - 1) * inner + j] + x[k * inner + j]


def cumsum(const floating[:, :, ::1] x, floating[:, :, ::1] out, int num_threads):
    """out[o, k, j] = x[o, 0, j] + ... + x[o, k, j], added in order (as NumPy does).

    IN  x (outer, n, inner)
    OUT out, same shape
    """
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2]
    cdef Py_ssize_t blocks = column_blocks(inner, num_threads)
    cdef Py_ssize_t width = (inner + blocks - 1) // blocks
    cdef Py_ssize_t task, o, start
    if n == 0 or outer == 0 or inner == 0:
        return
    with nogil:
        if num_threads > 1:
            for task in prange(outer * blocks, num_threads=num_threads, schedule="static"):
                o = task // blocks
                start = (task % blocks) * width
                cumsum_task(&x[o, 0, 0], &out[o, 0, 0], n, inner, start, min(start + width, inner))
        else:
            for o in range(outer):
                cumsum_task(&x[o, 0, 0], &out[o, 0, 0], n, inner, 0, inner)


cdef inline void prod_task(const floating* x, floating* out, Py_ssize_t n, Py_ssize_t inner,
                           Py_ssize_t start, Py_ssize_t stop) noexcept nogil:
    """Columns [start, stop) of one outer row: x (n, inner) multiplied down into out (inner,)."""
    cdef Py_ssize_t k, j
    for j in range(start, stop):
        out[j] = 1
    for k in range(n):
        for j in range(start, stop):
            out[j] = out[j] * x[k * inner + j]


def prod(const floating[:, :, ::1] x, floating[:, ::1] out, int num_threads):
    """out[o, j] = x[o, 0, j] * ... * x[o, n-1, j] (1 when n == 0).

    IN  x (outer, n, inner)
    OUT out (outer, inner)
    """
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2]
    cdef Py_ssize_t blocks = column_blocks(inner, num_threads)
    cdef Py_ssize_t width = (inner + blocks - 1) // blocks
    cdef Py_ssize_t task, o, start
    if outer == 0 or inner == 0:
        return
    with nogil:
        if num_threads > 1:
            for task in prange(outer * blocks, num_threads=num_threads, schedule="static"):
                o = task // blocks
                start = (task % blocks) * width
                prod_task(&x[o, 0, 0] if n else NULL, &out[o, 0], n, inner, start, min(start + width, inner))
        else:
            for o in range(outer):
                prod_task(&x[o, 0, 0] if n else NULL, &out[o, 0], n, inner, 0, inner)


cdef inline void prod_backward_task(const floating* x, const floating* grad, floating* out,
                                    Py_ssize_t n, Py_ssize_t inner, Py_ssize_t task) noexcept nogil:
    """One (o, j) column; x and out are the whole (outer, n, inner) arrays, grad (outer, inner)."""
    cdef Py_ssize_t o = task // inner, j = task % inner, k
    cdef const floating* xs = x + o * n * inner + j
    cdef floating* column = out + o * n * inner + j
    cdef floating running = 1
    for k in range(n):
        column[k * inner] = running
        running = running * xs[k * inner]
    running = grad[task]
    for k in range(n - 1, -1, -1):
        column[k * inner] = column[k * inner] * running
        running = running * xs[k * inner]


def prod_backward(const floating[:, :, ::1] x, const floating[:, ::1] grad,
                  floating[:, :, ::1] out, int num_threads):
    """out[o, k, j] = grad[o, j] * (product of x[o, i, j] over every i != k).

    IN  x (outer, n, inner); grad (outer, inner)
    OUT out (outer, n, inner)

    No division by x, so zeros are exact: a first sweep writes the product of
    everything before k, a second sweep (from the end) multiplies in the
    product of everything after k.
    """
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2]
    cdef Py_ssize_t task
    if n == 0 or outer == 0 or inner == 0:
        return
    with nogil:
        if num_threads > 1:
            for task in prange(outer * inner, num_threads=num_threads, schedule="static"):
                prod_backward_task(&x[0, 0, 0], &grad[0, 0], &out[0, 0, 0], n, inner, task)
        else:
            for task in range(outer * inner):
                prod_backward_task(&x[0, 0, 0], &grad[0, 0], &out[0, 0, 0], n, inner, task)


cdef inline floating logsumexp_row(const floating* x, Py_ssize_t n) noexcept nogil:
    """log(sum of exp(x[k])) for k < n, shifted by the max (see logsumexp)."""
    cdef Py_ssize_t k
    cdef floating top = -INFINITY
    cdef double total = 0
    for k in range(n):
        if x[k] > top:
            top = x[k]
    if isinf(top):
        top = 0
    for k in range(n):
        total = total + q_exp(x[k] - top)
    return <floating>q_log(<floating>total) + top


def logsumexp(const floating[:, ::1] x, floating[::1] out, int num_threads):
    """out[r] = log(sum over k of exp(x[r, k])), shifted by the row's max so exp never overflows.

    IN  x (rows, n)
    OUT out (rows,)

    An infinite max is replaced by 0: a row of -inf (or an empty row) gives
    -inf, a row holding +inf gives +inf; a NaN gives NaN.
    """
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], r
    if rows == 0:
        return
    with nogil:
        if num_threads > 1:
            for r in prange(rows, num_threads=num_threads, schedule="static"):
                out[r] = logsumexp_row(&x[r, 0] if n else NULL, n)
        else:
            for r in range(rows):
                out[r] = logsumexp_row(&x[r, 0] if n else NULL, n)


# ---------------------------------------------------------------- activations
# IN x (n,) and, for the backward kernels, grad (n,); OUT out (n,). The
# constants arrive as doubles and are rounded to the array's dtype first, as
# NumPy does with a Python float, so both backends multiply the same numbers.

cdef inline void leaky_relu_block(const floating* x, floating s, floating* out, Py_ssize_t n) noexcept nogil:
    # v * factor[v > 0], not (v if v > 0 else v * s): the same numbers (v * 1 == v), but
    # GCC keeps a product that only one side needs behind a branch (under its default
    # -ftrapping-math it may not run it speculatively), and a two-entry table has none
    cdef Py_ssize_t i
    cdef floating v
    cdef floating factor[2]
    factor[0] = s
    factor[1] = 1
    for i in range(n):
        v = x[i]
        out[i] = v * factor[v > 0]


cdef inline void leaky_relu_backward_block(const floating* x, const floating* g, floating s, floating* out,
                                           Py_ssize_t n) noexcept nogil:
    # the product is needed on both sides, so this one blends without a table
    cdef Py_ssize_t i
    for i in range(n):
        out[i] = g[i] * (1 if x[i] > 0 else s)


cdef inline void elu_block(const floating* x, floating a, floating* out, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating v
    for i in range(n):
        v = x[i]
        out[i] = v if v > 0 else a * q_expm1(v)


cdef inline void elu_backward_block(const floating* x, const floating* g, floating a, floating* out,
                                    Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating v
    for i in range(n):
        v = x[i]
        out[i] = g[i] if v > 0 else g[i] * (a * q_exp(v))


cdef inline void softplus_block(const floating* x, floating b, floating t, floating* out, Py_ssize_t n) noexcept nogil:
    # (max(bx, 0) + log1p(exp(-|bx|))) / beta: exp never sees a positive argument
    cdef Py_ssize_t i
    cdef floating v, bx
    for i in range(n):
        v = x[i]
        bx = v * b
        out[i] = v if bx > t else ((bx if bx > 0 else 0) + q_log1p(q_exp(-q_fabs(bx)))) / b


cdef inline void softplus_backward_block(const floating* x, const floating* g, floating b, floating t,
                                         floating* out, Py_ssize_t n) noexcept nogil:
    # sigmoid(bx) from e = exp(-|bx|) <= 1: no overflow on either side
    cdef Py_ssize_t i
    cdef floating bx, e
    for i in range(n):
        bx = x[i] * b
        e = q_exp(-q_fabs(bx))
        out[i] = g[i] if bx > t else g[i] * ((1 / (1 + e)) if bx >= 0 else (e / (1 + e)))


cdef inline void erf_block(const floating* x, floating* out, Py_ssize_t n) noexcept nogil:
    # computed in double for both dtypes, so float32 is correctly rounded
    cdef Py_ssize_t i
    for i in range(n):
        out[i] = <floating>c_erf(x[i])


cdef double SQRT1_2 = 0.7071067811865476             # 1 / sqrt(2)
cdef double INV_SQRT_2PI = 0.3989422804014327        # the standard normal density at 0


cdef inline floating q_erf(floating x) noexcept nogil:
    # In the array's precision, as PyTorch's GELU computes it: with libmvec
    # (quasar/_libmvec_more.h) a loop over erff runs 8 floats per call, about
    # 2.5x faster than 4 doubles through erf (erff is within 4 ulp).
    return erff(x) if floating is float else c_erf(x)


cdef inline void gelu_block(const floating* x, floating* out, Py_ssize_t n) noexcept nogil:
    # PyTorch's formula and order: (x / 2) * (1 + erf(x / sqrt 2)), one pass
    cdef Py_ssize_t i
    cdef floating v
    for i in range(n):
        v = x[i]
        out[i] = (v * <floating>0.5) * (1 + q_erf(v * <floating>SQRT1_2))


cdef inline void gelu_backward_block(const floating* x, const floating* g, floating* out,
                                     Py_ssize_t n) noexcept nogil:
    # d/dx x Phi(x) = Phi(x) + x phi(x); Phi is recomputed from x (cheaper
    # than storing it in forward), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
    cdef Py_ssize_t i
    cdef floating v, cdf, pdf
    for i in range(n):
        v = x[i]
        cdf = <floating>0.5 * (1 + q_erf(v * <floating>SQRT1_2))
        pdf = q_exp(<floating>-0.5 * v * v) * <floating>INV_SQRT_2PI
        out[i] = g[i] * (cdf + v * pdf)


cdef inline void erf_backward_block(const floating* x, const floating* g, floating c, floating* out,
                                    Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating v
    for i in range(n):
        v = x[i]
        out[i] = g[i] * (c * q_exp(-(v * v)))


def leaky_relu(const floating[::1] x, double slope, floating[::1] out, int num_threads):
    """out = x where x > 0, else slope * x. (n >= 1: the wrapper skips empty arrays.)"""
    cdef Py_ssize_t b, n = x.shape[0]
    with nogil:
        if num_threads > 1:
            for b in prange(block_count(n), num_threads=num_threads, schedule="static"):
                leaky_relu_block(&x[b * BLOCK], <floating>slope, &out[b * BLOCK], block_length(b, n))
        else:
            for b in range(block_count(n)):
                leaky_relu_block(&x[b * BLOCK], <floating>slope, &out[b * BLOCK], block_length(b, n))


def leaky_relu_backward(const floating[::1] x, const floating[::1] grad, double slope,
                        floating[::1] out, int num_threads):
    """out = grad where x > 0, else slope * grad."""
    cdef Py_ssize_t b, n = x.shape[0]
    with nogil:
        if num_threads > 1:
            for b in prange(block_count(n), num_threads=num_threads, schedule="static"):
                leaky_relu_backward_block(&x[b * BLOCK], &grad[b * BLOCK], <floating>slope, &out[b * BLOCK],
                                          block_length(b, n))
        else:
            for b in range(block_count(n)):
                leaky_relu_backward_block(&x[b * BLOCK], &grad[b * BLOCK], <floating>slope, &out[b * BLOCK],
                                          block_length(b, n))


def elu(const floating[::1] x, double alpha, floating[::1] out, int num_threads):
    """out = x where x > 0, else alpha * (exp(x) - 1), with expm1 for accuracy near 0."""
    cdef Py_ssize_t b, n = x.shape[0]
    with nogil:
        if num_threads > 1:
            for b in prange(block_count(n), num_threads=num_threads, schedule="static"):
                elu_block(&x[b * BLOCK], <floating>alpha, &out[b * BLOCK], block_length(b, n))
        else:
            for b in range(block_count(n)):
                elu_block(&x[b * BLOCK], <floating>alpha, &out[b * BLOCK], block_length(b, n))


def elu_backward(const floating[::1] x, const floating[::1] grad, double alpha,
                 floating[::1] out, int num_threads):
    """out = grad where x > 0, else grad * alpha * exp(x)."""
    cdef Py_ssize_t b, n = x.shape[0]
    with nogil:
        if num_threads > 1:
            for b in prange(block_count(n), num_threads=num_threads, schedule="static"):
                elu_backward_block(&x[b * BLOCK], &grad[b * BLOCK], <floating>alpha, &out[b * BLOCK], block_length(b, n))
        else:
            for b in range(block_count(n)):
                elu_backward_block(&x[b * BLOCK], &grad[b * BLOCK], <floating>alpha, &out[b * BLOCK], block_length(b, n))


def softplus(const floating[::1] x, double beta, double threshold, floating[::1] out, int num_threads):
    """out = log(1 + exp(beta x)) / beta, or x where beta x > threshold; never overflows."""
    cdef Py_ssize_t b, n = x.shape[0]
    with nogil:
        if num_threads > 1:
            for b in prange(block_count(n), num_threads=num_threads, schedule="static"):
                softplus_block(&x[b * BLOCK], <floating>beta, <floating>threshold, &out[b * BLOCK], block_length(b, n))
        else:
            for b in range(block_count(n)):
                softplus_block(&x[b * BLOCK], <floating>beta, <floating>threshold, &out[b * BLOCK], block_length(b, n))


def softplus_backward(const floating[::1] x, const floating[::1] grad, double beta, double threshold,
                      floating[::1] out, int num_threads):
    """out = grad * sigmoid(beta x), or grad where beta x > threshold."""
    cdef Py_ssize_t b, n = x.shape[0]
    with nogil:
        if num_threads > 1:
            for b in prange(block_count(n), num_threads=num_threads, schedule="static"):
                softplus_backward_block(&x[b * BLOCK], &grad[b * BLOCK], <floating>beta, <floating>threshold,
                                        &out[b * BLOCK], block_length(b, n))
        else:
            for b in range(block_count(n)):
                softplus_backward_block(&x[b * BLOCK], &grad[b * BLOCK], <floating>beta, <floating>threshold,
                                        &out[b * BLOCK], block_length(b, n))


def erf(const floating[::1] x, floating[::1] out, int num_threads):
    """out = erf(x), the C library's."""
    cdef Py_ssize_t b, n = x.shape[0]
    with nogil:
        if num_threads > 1:
            for b in prange(block_count(n), num_threads=num_threads, schedule="static"):
                erf_block(&x[b * BLOCK], &out[b * BLOCK], block_length(b, n))
        else:
            for b in range(block_count(n)):
                erf_block(&x[b * BLOCK], &out[b * BLOCK], block_length(b, n))


def erf_backward(const floating[::1] x, const floating[::1] grad, floating[::1] out, int num_threads):
    """out = grad * 2/sqrt(pi) * exp(-x^2)."""
    cdef Py_ssize_t b, n = x.shape[0]
    with nogil:
        if num_threads > 1:
            for b in prange(block_count(n), num_threads=num_threads, schedule="static"):
                erf_backward_block(&x[b * BLOCK], &grad[b * BLOCK], <floating>TWO_OVER_SQRT_PI, &out[b * BLOCK],
                                   block_length(b, n))
        else:
            for b in range(block_count(n)):
                erf_backward_block(&x[b * BLOCK], &grad[b * BLOCK], <floating>TWO_OVER_SQRT_PI, &out[b * BLOCK],
                                   block_length(b, n))


def gelu(const floating[::1] x, floating[::1] out, int num_threads):
    """out = x * Phi(x) = (x / 2) * (1 + erf(x / sqrt 2)), exact GELU, in x's precision."""
    cdef Py_ssize_t b, n = x.shape[0]
    with nogil:
        if num_threads > 1:
            for b in prange(block_count(n), num_threads=num_threads, schedule="static"):
                gelu_block(&x[b * BLOCK], &out[b * BLOCK], block_length(b, n))
        else:
            for b in range(block_count(n)):
                gelu_block(&x[b * BLOCK], &out[b * BLOCK], block_length(b, n))


def gelu_backward(const floating[::1] x, const floating[::1] grad, floating[::1] out, int num_threads):
    """out = grad * (Phi(x) + x * phi(x)), the gradient of exact GELU."""
    cdef Py_ssize_t b, n = x.shape[0]
    with nogil:
        if num_threads > 1:
            for b in prange(block_count(n), num_threads=num_threads, schedule="static"):
                gelu_backward_block(&x[b * BLOCK], &grad[b * BLOCK], &out[b * BLOCK], block_length(b, n))
        else:
            for b in range(block_count(n)):
                gelu_backward_block(&x[b * BLOCK], &grad[b * BLOCK], &out[b * BLOCK], block_length(b, n))
