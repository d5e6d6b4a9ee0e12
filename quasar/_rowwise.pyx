# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Row-wise kernels: the softmax family and cross-entropy.

Every kernel here sees a C-contiguous (rows, n) matrix: the wrapper moves the
softmax axis last (copying only if that is not already contiguous). One row
is one unit of work; rows run in parallel, and each row is handled by a
single thread in a fixed order, so results do not depend on the thread count.

Numerical stability: every exp is of ``x - max(row)`` (<= 0), so nothing
overflows, even for logits of +-1e4. Row sums use the lane scheme of
``_kernels.sum_contiguous`` (float32 lanes, combined in double).
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport NAN
from libc.stdint cimport int64_t

from quasar._kernels cimport q_exp, q_log, max_lanes, sum_contiguous, sum_lanes, dot_lanes


cpdef enum RowOp:
    SOFTMAX
    LOG_SOFTMAX
    SOFTMAX_BACKWARD            # y = softmax(x):     dx = y * (g - sum(g * y))
    LOG_SOFTMAX_BACKWARD        # y = log_softmax(x): dx = g - exp(y) * sum(g)


# ------------------------------------------------------------------ one row

cdef void _softmax_row(const floating* x, floating* out, Py_ssize_t n) noexcept nogil:
    cdef floating m = max_lanes(x, n)
    cdef floating total
    cdef Py_ssize_t j
    for j in range(n):
        out[j] = q_exp(x[j] - m)
    total = <floating>sum_contiguous(out, n)
    for j in range(n):
        out[j] = out[j] / total


cdef void _log_softmax_row(const floating* x, floating* out, Py_ssize_t n) noexcept nogil:
    cdef floating m = max_lanes(x, n)
    cdef floating log_total
    cdef Py_ssize_t j
    for j in range(n):
        out[j] = q_exp(x[j] - m)            # out is scratch space for the exps
    log_total = q_log(<floating>sum_contiguous(out, n))
    for j in range(n):
        out[j] = (x[j] - m) - log_total


cdef void _softmax_backward_row(const floating* y, const floating* g, floating* out,
                                Py_ssize_t n) noexcept nogil:
    cdef floating dot = <floating>dot_lanes(g, y, n)
    cdef Py_ssize_t j
    for j in range(n):
        out[j] = y[j] * (g[j] - dot)


cdef void _log_softmax_backward_row(const floating* y, const floating* g, floating* out,
                                    Py_ssize_t n) noexcept nogil:
    cdef floating total = <floating>sum_contiguous(g, n)
    cdef Py_ssize_t j
    for j in range(n):
        out[j] = g[j] - q_exp(y[j]) * total


cdef enum:
    EXP_BLOCK = 1024        # exps computed into a stack buffer at a time


cdef floating _logsumexp_row(const floating* x, Py_ssize_t n) noexcept nogil:
    """log(sum(exp(x))) of one row, as max + log(sum(exp(x - max))). The exps
    go through a small buffer so that both loops vectorize (the exp loop,
    and the lane sum)."""
    cdef floating m = max_lanes(x, n)
    cdef floating buffer[EXP_BLOCK]
    cdef double total = 0.0
    cdef Py_ssize_t start = 0, width, j
    while start < n:
        width = min(<Py_ssize_t>EXP_BLOCK, n - start)
        for j in range(width):
            buffer[j] = q_exp(x[start + j] - m)
        total += sum_lanes(buffer, width)
        start += EXP_BLOCK
    return m + q_log(<floating>total)


# ------------------------------------------------------------------ work items
# One row each; the matrices are passed whole, with the row index. (A
# separate function per item keeps the loops below a single call, so the
# serial and the parallel loop share all the code.)

cdef inline void _softmax_item(int op, const floating* x, floating* out, Py_ssize_t n,
                               Py_ssize_t row) noexcept nogil:
    if op == SOFTMAX:
        _softmax_row(x + row * n, out + row * n, n)
    else:
        _log_softmax_row(x + row * n, out + row * n, n)


cdef inline void _softmax_backward_item(int op, const floating* y, const floating* g,
                                        floating* out, Py_ssize_t n, Py_ssize_t row) noexcept nogil:
    if op == SOFTMAX_BACKWARD:
        _softmax_backward_row(y + row * n, g + row * n, out + row * n, n)
    else:
        _log_softmax_backward_row(y + row * n, g + row * n, out + row * n, n)


cdef inline Py_ssize_t _cross_entropy_item(const floating* logits, const int64_t* target,
                                           floating* loss, floating* lse, Py_ssize_t C,
                                           Py_ssize_t row) noexcept nogil:
    """Loss and lse of one row; returns 1 (and writes NaN) for a bad target."""
    cdef int64_t t = target[row]
    cdef const floating* x = logits + row * C
    cdef floating row_lse
    if t < 0 or t >= C:
        loss[row] = NAN
        lse[row] = NAN
        return 1
    row_lse = _logsumexp_row(x, C)
    lse[row] = row_lse
    loss[row] = row_lse - x[t]
    return 0


cdef inline Py_ssize_t _cross_entropy_backward_item(const floating* logits, const int64_t* target,
                                                    const floating* lse, const floating* g,
                                                    floating* out, Py_ssize_t C,
                                                    Py_ssize_t row) noexcept nogil:
    """One row of the gradient; returns 1 (and writes NaN) for a bad target."""
    cdef int64_t t = target[row]
    cdef const floating* x = logits + row * C
    cdef floating* o = out + row * C
    cdef floating p, row_lse = lse[row], scale = g[row]
    cdef Py_ssize_t j
    if t < 0 or t >= C:
        for j in range(C):
            o[j] = NAN
        return 1
    for j in range(C):
        o[j] = q_exp(x[j] - row_lse) * scale
    p = q_exp(x[t] - row_lse) - <floating>1         # the target's one-hot term
    o[t] = p * scale
    return 0


# ------------------------------------------------------------------ entry points
# Rows in parallel when num_threads > 1; with one thread a plain loop, no
# parallel region.

def softmax_rows(int op, const floating[:, ::1] x, floating[:, ::1] out, int num_threads):
    """Softmax or log-softmax of every row.

    op           IN   SOFTMAX or LOG_SOFTMAX
    x            IN   (rows, n) C-contiguous
    out          OUT  (rows, n) C-contiguous, same dtype
    num_threads  IN   OpenMP threads; 1 runs serially
    """
    cdef Py_ssize_t rows = x.shape[0], n = x.shape[1], i
    if out.shape[0] != rows or out.shape[1] != n:
        raise ValueError("softmax_rows: out must have x's shape")
    if op != SOFTMAX and op != LOG_SOFTMAX:
        raise ValueError("softmax_rows: op must be SOFTMAX or LOG_SOFTMAX")
    if rows == 0 or n == 0:
        return
    with nogil:
        if num_threads > 1:
            for i in prange(rows, schedule='static', num_threads=num_threads):
                _softmax_item(op, &x[0, 0], &out[0, 0], n, i)
        else:
            for i in range(rows):
                _softmax_item(op, &x[0, 0], &out[0, 0], n, i)


def softmax_backward_rows(int op, const floating[:, ::1] y, const floating[:, ::1] g,
                          floating[:, ::1] out, int num_threads):
    """dL/dx of softmax or log-softmax, row by row.

    op           IN   SOFTMAX_BACKWARD or LOG_SOFTMAX_BACKWARD
    y            IN   (rows, n) the forward output, C-contiguous
    g            IN   (rows, n) the upstream gradient, C-contiguous
    out          OUT  (rows, n) C-contiguous, same dtype
    num_threads  IN   OpenMP threads; 1 runs serially
    """
    cdef Py_ssize_t rows = y.shape[0], n = y.shape[1], i
    if (g.shape[0] != rows or g.shape[1] != n
            or out.shape[0] != rows or out.shape[1] != n):
        raise ValueError("softmax_backward_rows: y, g and out must have one shape")
    if op != SOFTMAX_BACKWARD and op != LOG_SOFTMAX_BACKWARD:
        raise ValueError("softmax_backward_rows: op must be a *_BACKWARD RowOp")
    if rows == 0 or n == 0:
        return
    with nogil:
        if num_threads > 1:
            for i in prange(rows, schedule='static', num_threads=num_threads):
                _softmax_backward_item(op, &y[0, 0], &g[0, 0], &out[0, 0], n, i)
        else:
            for i in range(rows):
                _softmax_backward_item(op, &y[0, 0], &g[0, 0], &out[0, 0], n, i)


def cross_entropy(const floating[:, ::1] logits, const int64_t[::1] target,
                  floating[::1] loss, floating[::1] lse, int num_threads):
    """Per-row negative log-likelihood, one fused pass per row.

    logits       IN   (N, C) C-contiguous, C >= 1
    target       IN   (N,) int64 class indices
    loss         OUT  (N,) lse[i] - logits[i, target[i]]
    lse          OUT  (N,) log-sum-exp of each row (kept for the backward)
    num_threads  IN   OpenMP threads; 1 runs serially
    Returns the number of targets outside [0, C) (their rows get NaN); the
    wrapper raises if it is not 0, so a bad target never reads out of bounds.
    """
    cdef Py_ssize_t N = logits.shape[0], C = logits.shape[1], i
    cdef Py_ssize_t bad = 0
    if target.shape[0] != N or loss.shape[0] != N or lse.shape[0] != N:
        raise ValueError("cross_entropy: target, loss and lse must have N elements")
    if N == 0:
        return 0
    if C == 0:
        raise ValueError("cross_entropy: logits have no classes")
    with nogil:
        if num_threads > 1:
            for i in prange(N, schedule='static', num_threads=num_threads):
                bad += _cross_entropy_item(&logits[0, 0], &target[0], &loss[0], &lse[0], C, i)
        else:
            for i in range(N):
                bad += _cross_entropy_item(&logits[0, 0], &target[0], &loss[0], &lse[0], C, i)
    return bad


def cross_entropy_backward(const floating[:, ::1] logits, const int64_t[::1] target,
                           const floating[::1] lse, const floating[::1] g,
                           floating[:, ::1] out, int num_threads):
    """dL/dlogits = g[i] * (softmax(logits[i]) - one_hot(target[i])), row by row.

    logits       IN   (N, C) C-contiguous
    target       IN   (N,) int64 class indices
    lse          IN   (N,) log-sum-exp of each row, from cross_entropy
    g            IN   (N,) upstream gradient of each row's loss
    out          OUT  (N, C) C-contiguous, same dtype
    num_threads  IN   OpenMP threads; 1 runs serially
    Returns the number of targets outside [0, C) (their rows get NaN).
    """
    cdef Py_ssize_t N = logits.shape[0], C = logits.shape[1], i
    cdef Py_ssize_t bad = 0
    if (target.shape[0] != N or lse.shape[0] != N or g.shape[0] != N
            or out.shape[0] != N or out.shape[1] != C):
        raise ValueError("cross_entropy_backward: inconsistent shapes")
    if N == 0 or C == 0:
        return 0
    with nogil:
        if num_threads > 1:
            for i in prange(N, schedule='static', num_threads=num_threads):
                bad += _cross_entropy_backward_item(&logits[0, 0], &target[0], &lse[0], &g[0],
                                                    &out[0, 0], C, i)
        else:
            for i in range(N):
                bad += _cross_entropy_backward_item(&logits[0, 0], &target[0], &lse[0], &g[0],
                                                    &out[0, 0], C, i)
    return bad
