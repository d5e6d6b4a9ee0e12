# Row-wise kernels: the softmax family and cross-entropy.
#
# Every kernel here walks C-contiguous rows: the softmax family the last
# axis of its input (the wrapper swaps the softmax axis there), cross-entropy
# the rows of an (N, C) matrix; an input that is not C-contiguous is copied
# first. One row is one unit of work; rows run in parallel, and each row is
# handled by a single thread in a fixed order, so results do not depend on
# the thread count.
#
# Numerical stability: every exp is of ``x - max(row)`` (<= 0), so nothing
# overflows, even for logits of +-1e4. Row sums use the lane scheme of
# ``_kernels.sum_contiguous`` (float32 lanes, combined in double).
#
# Masked entries: a causal mask puts -inf in half of every row (masked_fill
# before softmax, as nanoGPT does), and glibc's vector exp takes its slow
# scalar path for a whole vector when one lane is -inf or below the underflow
# point: such rows ran 2-3x slower than finite ones. ``_exp_shifted`` keeps
# those lanes off the vector exp (see there) and gives the same bits.

cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport NAN
from libc.stdint cimport int64_t


cnp.import_array()


cpdef enum RowOp:
    SOFTMAX
    LOG_SOFTMAX
    SOFTMAX_BACKWARD            # y = softmax(x):     dx = y * (g - sum(g * y))
    LOG_SOFTMAX_BACKWARD        # y = log_softmax(x): dx = g - exp(y) * sum(g)


# ------------------------------------------------------------------ one row

cdef void _exp_shifted(const floating* x, floating m, floating* out, Py_ssize_t n) noexcept nogil:
    """out[j] = exp(x[j] - m), bit for bit, for a row's max m (or 0 for log-probabilities).

    The vector exp is fast only for arguments above about ``fast_min``, near
    where its result turns subnormal; below ``zero_below`` (every -inf) the
    result is exactly 0. So exp runs on the differences clamped to fast_min,
    and only a row that had some clamped lane pays a pass that puts 0 there,
    and, in the rare row with a difference between zero_below and fast_min
    (a finite logit 87 to 104 below the max in float32), a last pass that
    gives those lanes exp of their own difference (the same vectorized call,
    so the same bits as an unclamped exp). NaN reaches exp and stays NaN.

    Three loops, not one: in a single loop gcc sees that a clamped lane's exp
    is discarded and calls exp on the unclamped difference (slow path and all)."""
    cdef floating fast_min, zero_below, d
    cdef int clamped = 0, subnormal = 0
    cdef Py_ssize_t j
    if floating is float:
        fast_min, zero_below = -87.0, -104.0      # expf(-104) rounds to 0
    else:
        fast_min, zero_below = -708.0, -746.0     # exp(-746) rounds to 0
    for j in range(n):
        d = x[j] - m
        clamped |= d <= fast_min
        out[j] = fast_min if d <= fast_min else d
    for j in range(n):
        out[j] = q_exp(out[j])
    if clamped:
        for j in range(n):
            d = x[j] - m
            subnormal |= (d <= fast_min) & (d > zero_below)
            out[j] = 0 if d <= fast_min else out[j]
        if subnormal:
            for j in range(n):
                d = x[j] - m
                if d <= fast_min and d > zero_below:
                    out[j] = q_exp(d)


cdef enum:
    EXP_BLOCK = 1024        # exps computed into (or from) a stack buffer at a time


cdef void _exp_shifted_in_place(floating* x, floating m, Py_ssize_t n) noexcept nogil:
    """x[j] = exp(x[j] - m), as _exp_shifted (which needs its input intact
    after its first loop): each block is copied to a stack buffer first."""
    cdef floating buffer[EXP_BLOCK]
    cdef Py_ssize_t start = 0, width, j
    while start < n:
        width = min(<Py_ssize_t>EXP_BLOCK, n - start)
        for j in range(width):
            buffer[j] = x[start + j]
        _exp_shifted(buffer, m, x + start, width)
        start += EXP_BLOCK


cdef void _softmax_row(const floating* x, floating* out, Py_ssize_t n) noexcept nogil:
    cdef floating m = max_lanes(x, n)
    cdef floating total
    cdef Py_ssize_t j
    _exp_shifted(x, m, out, n)
    total = <floating>sum_contiguous(out, n)
    for j in range(n):
        out[j] = out[j] / total


cdef void _log_softmax_row(const floating* x, floating* out, Py_ssize_t n) noexcept nogil:
    cdef floating m = max_lanes(x, n)
    cdef floating log_total
    cdef Py_ssize_t j
    _exp_shifted(x, m, out, n)              # out is scratch space for the exps
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
    _exp_shifted(y, 0, out, n)              # exp(y): -inf where the input was masked
    for j in range(n):
        out[j] = g[j] - out[j] * total


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
        _exp_shifted(x + start, m, buffer, width)
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


# ------------------------------------------------------------------ whole matrices
# Rows in parallel when num_threads > 1; with one thread a plain loop, no
# parallel region.

cdef void _softmax_run(int op, const floating* x, floating* out, Py_ssize_t rows, Py_ssize_t n,
                       int num_threads) noexcept nogil:
    cdef Py_ssize_t i
    if num_threads > 1:
        for i in prange(rows, schedule='static', num_threads=num_threads):
            _softmax_item(op, x, out, n, i)
    else:
        for i in range(rows):
            _softmax_item(op, x, out, n, i)


cdef void _softmax_backward_run(int op, const floating* y, const floating* g, floating* out,
                                Py_ssize_t rows, Py_ssize_t n, int num_threads) noexcept nogil:
    cdef Py_ssize_t i
    if num_threads > 1:
        for i in prange(rows, schedule='static', num_threads=num_threads):
            _softmax_backward_item(op, y, g, out, n, i)
    else:
        for i in range(rows):
            _softmax_backward_item(op, y, g, out, n, i)


cdef Py_ssize_t _cross_entropy_run(const floating* logits, const int64_t* target, floating* loss,
                                   floating* lse, Py_ssize_t N, Py_ssize_t C,
                                   int num_threads) noexcept nogil:
    """Every row; returns the number of bad targets."""
    cdef Py_ssize_t i, bad = 0
    if num_threads > 1:
        for i in prange(N, schedule='static', num_threads=num_threads):
            bad += _cross_entropy_item(logits, target, loss, lse, C, i)
    else:
        for i in range(N):
            bad += _cross_entropy_item(logits, target, loss, lse, C, i)
    return bad


cdef Py_ssize_t _cross_entropy_backward_run(const floating* logits, const int64_t* target,
                                            const floating* lse, const floating* g, floating* out,
                                            Py_ssize_t N, Py_ssize_t C,
                                            int num_threads) noexcept nogil:
    """Every row; returns the number of bad targets."""
    cdef Py_ssize_t i, bad = 0
    if num_threads > 1:
        for i in prange(N, schedule='static', num_threads=num_threads):
            bad += _cross_entropy_backward_item(logits, target, lse, g, out, C, i)
    else:
        for i in range(N):
            bad += _cross_entropy_backward_item(logits, target, lse, g, out, C, i)
    return bad


# ------------------------------------------------------------------ entry points
# ndarrays in, new arrays out (no typed memoryviews: acquiring one costs
# ~0.2 us, more than the whole kernel on a small tensor). Each entry checks
# shapes and dtypes, makes its inputs C-contiguous (a copy only when they are
# not), allocates its outputs and picks its thread count (``thread_count``:
# the thread policy of _kernels.pxd, with the elements as the work).

# _c_array and _float_type: shared with _sequence, defined in _kernels.pyx


cdef inline Py_ssize_t _row_length(cnp.ndarray x) noexcept:
    """The length of x's rows (its last axis; 1 for a 0-d array)."""
    cdef int nd = cnp.PyArray_NDIM(x)
    return cnp.PyArray_DIMS(x)[nd - 1] if nd > 0 else 1


def softmax(int op, cnp.ndarray x not None, threshold, threads_for):
    """Softmax or log-softmax along the last axis; returns a new array.

    op           IN   SOFTMAX or LOG_SOFTMAX
    x            IN   float32/float64, any shape and strides; each row (along
                      the last axis) is one softmax
    threshold, threads_for  IN   the calling thread's thread policy (_kernels.pxd)
    returns      OUT  C-contiguous, x's shape and dtype
    """
    cdef int typenum = _float_type(x)
    cdef Py_ssize_t n, size
    if op != SOFTMAX and op != LOG_SOFTMAX:
        raise ValueError("softmax: op must be SOFTMAX or LOG_SOFTMAX")
    x = _c_array(x, typenum)
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x), typenum, 0)
    size, n = cnp.PyArray_SIZE(x), _row_length(x)
    if size == 0:
        return out
    cdef int num_threads = thread_count(size, threshold, threads_for)
    cdef const void* px = cnp.PyArray_DATA(x)
    cdef void* po = cnp.PyArray_DATA(out)
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            _softmax_run(op, <const float*>px, <float*>po, size // n, n, num_threads)
        else:
            _softmax_run(op, <const double*>px, <double*>po, size // n, n, num_threads)
    return out


def softmax_backward(int op, cnp.ndarray y not None, cnp.ndarray g not None,
                     threshold, threads_for):
    """dL/dx of softmax or log-softmax along the last axis; returns a new array.

    op           IN   SOFTMAX_BACKWARD or LOG_SOFTMAX_BACKWARD
    y            IN   the forward output; float32/float64, any strides
    g            IN   the upstream gradient, y's shape and dtype
    threshold, threads_for  IN   the calling thread's thread policy (_kernels.pxd)
    returns      OUT  C-contiguous, y's shape and dtype
    """
    cdef int typenum = _float_type(y)
    cdef Py_ssize_t n, size
    if op != SOFTMAX_BACKWARD and op != LOG_SOFTMAX_BACKWARD:
        raise ValueError("softmax_backward: op must be a *_BACKWARD RowOp")
    if cnp.PyArray_TYPE(g) != typenum:
        raise TypeError(f"softmax_backward: dtype mismatch, y {y.dtype} and g {g.dtype}")
    if (<object>y).shape != (<object>g).shape:
        raise ValueError(f"softmax_backward: y {(<object>y).shape} and g {(<object>g).shape} differ in shape")
    y, g = _c_array(y, typenum), _c_array(g, typenum)
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(y), cnp.PyArray_DIMS(y), typenum, 0)
    size, n = cnp.PyArray_SIZE(y), _row_length(y)
    if size == 0:
        return out
    cdef int num_threads = thread_count(size, threshold, threads_for)
    cdef const void* py = cnp.PyArray_DATA(y)
    cdef const void* pg = cnp.PyArray_DATA(g)
    cdef void* po = cnp.PyArray_DATA(out)
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            _softmax_backward_run(op, <const float*>py, <const float*>pg, <float*>po,
                                  size // n, n, num_threads)
        else:
            _softmax_backward_run(op, <const double*>py, <const double*>pg, <double*>po,
                                  size // n, n, num_threads)
    return out


def cross_entropy(cnp.ndarray logits not None, target, threshold, threads_for):
    """Per-row negative log-likelihood, one fused pass per row.

    logits       IN   (N, C) float32/float64, any strides, C >= 1 unless N == 0
    target       IN   (N,) integer class indices (read as int64)
    threshold, threads_for  IN   the calling thread's thread policy (_kernels.pxd)
    returns      OUT  (loss, lse), both (N,) of logits' dtype: loss[i] =
                      lse[i] - logits[i, target[i]], lse[i] the log-sum-exp of
                      row i (kept for the backward)
    IndexError if a target is outside [0, C): checked per row, so a bad
    target never reads out of bounds.
    """
    cdef int typenum = _float_type(logits)
    if cnp.PyArray_NDIM(logits) != 2:
        raise ValueError(f"cross_entropy: logits must be (N, C), got {(<object>logits).shape}")
    logits = _c_array(logits, typenum)
    cdef cnp.ndarray targets = _c_array(target, cnp.NPY_INT64)
    cdef cnp.npy_intp N = cnp.PyArray_DIMS(logits)[0], C = cnp.PyArray_DIMS(logits)[1]
    cdef Py_ssize_t bad
    if cnp.PyArray_NDIM(targets) != 1 or cnp.PyArray_DIMS(targets)[0] != N:
        raise ValueError(f"cross_entropy: target must be ({N},), got {(<object>targets).shape}")
    cdef cnp.ndarray loss = cnp.PyArray_EMPTY(1, &N, typenum, 0)
    cdef cnp.ndarray lse = cnp.PyArray_EMPTY(1, &N, typenum, 0)
    if N == 0:
        return loss, lse
    if C == 0:
        raise ValueError("cross_entropy: logits have no classes")
    cdef int num_threads = thread_count(cnp.PyArray_SIZE(logits), threshold, threads_for)
    cdef const void* px = cnp.PyArray_DATA(logits)
    cdef const int64_t* pt = <const int64_t*>cnp.PyArray_DATA(targets)
    cdef void* pl = cnp.PyArray_DATA(loss)
    cdef void* pe = cnp.PyArray_DATA(lse)
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            bad = _cross_entropy_run(<const float*>px, pt, <float*>pl, <float*>pe, N, C, num_threads)
        else:
            bad = _cross_entropy_run(<const double*>px, pt, <double*>pl, <double*>pe, N, C, num_threads)
    if bad:
        raise IndexError(f"cross_entropy: {bad} target(s) outside [0, {C})")
    return loss, lse


def cross_entropy_backward(cnp.ndarray logits not None, target, lse, g,
                           threshold, threads_for):
    """dL/dlogits = g[i] * (softmax(logits[i]) - one_hot(target[i])), row by row.

    logits       IN   (N, C) float32/float64, any strides
    target       IN   (N,) integer class indices (read as int64)
    lse          IN   (N,) log-sum-exp of each row, from cross_entropy
    g            IN   (N,) upstream gradient of each row's loss
    threshold, threads_for  IN   the calling thread's thread policy (_kernels.pxd)
    returns      OUT  (N, C) C-contiguous, logits' dtype
    IndexError if a target is outside [0, C).
    """
    cdef int typenum = _float_type(logits)
    if cnp.PyArray_NDIM(logits) != 2:
        raise ValueError(f"cross_entropy_backward: logits must be (N, C), got {(<object>logits).shape}")
    logits = _c_array(logits, typenum)
    cdef cnp.ndarray targets = _c_array(target, cnp.NPY_INT64)
    cdef cnp.ndarray lse_rows = _c_array(lse, typenum)
    cdef cnp.ndarray g_rows = _c_array(g, typenum)
    cdef cnp.npy_intp N = cnp.PyArray_DIMS(logits)[0], C = cnp.PyArray_DIMS(logits)[1]
    cdef Py_ssize_t bad
    cdef cnp.ndarray arr
    for arr in (targets, lse_rows, g_rows):
        if cnp.PyArray_NDIM(arr) != 1 or cnp.PyArray_DIMS(arr)[0] != N:
            raise ValueError(f"cross_entropy_backward: target, lse and g must be ({N},), "
                             f"got {(<object>arr).shape}")
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(2, cnp.PyArray_DIMS(logits), typenum, 0)
    if N == 0 or C == 0:
        return out
    cdef int num_threads = thread_count(cnp.PyArray_SIZE(logits), threshold, threads_for)
    cdef const void* px = cnp.PyArray_DATA(logits)
    cdef const int64_t* pt = <const int64_t*>cnp.PyArray_DATA(targets)
    cdef const void* pe = cnp.PyArray_DATA(lse_rows)
    cdef const void* pg = cnp.PyArray_DATA(g_rows)
    cdef void* po = cnp.PyArray_DATA(out)
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            bad = _cross_entropy_backward_run(<const float*>px, pt, <const float*>pe, <const float*>pg,
                                              <float*>po, N, C, num_threads)
        else:
            bad = _cross_entropy_backward_run(<const double*>px, pt, <const double*>pe,
                                              <const double*>pg, <double*>po, N, C, num_threads)
    if bad:
        raise IndexError(f"cross_entropy_backward: {bad} target(s) outside [0, {C})")
    return out
