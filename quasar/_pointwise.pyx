# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Cython kernels of the pointwise family: the rest of the math library
(tan ... erfinv, atan2 ... xlogy) and the scans along one axis (cumprod,
cummax/cummin, logcumsumexp) with the backward sweeps that need a kernel.

Two generic kernels serve every elementwise op, driven by an op code (like
``_elementwise``'s exp/log/tanh): ``unary(op, x, out, p0, p1)`` and
``binary(op, a, b, out)``. Each switches on the op once per block, outside
the element loop, so every op gets its own tight loop. The wrappers in
``quasar/backends/compiled_pointwise.py`` pass C-contiguous 1-D views
(``binary``'s operands already broadcast to one size); blocks of BLOCK
elements are the units of ``prange``.

Every element is computed in double and rounded once to the array's dtype:
float32 results are then (nearly always) correctly rounded, whatever libm's
float32 routines would give. These ops are rarely hot; exactness wins.

Scan kernels see an array as (outer, n, inner) with the scanned axis in the
middle, as the index family's cumsum does; each task is one (outer, inner)
column, so no two threads write the same element, and the order of every
operation is fixed: the same bits at any thread count.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport (
    INFINITY, NAN, acos, acosh, asin, asinh, atan, atan2, atanh, ceil, copysign, cosh, erf, exp,
    exp2, expm1, fabs, floor, fmod, hypot, isinf, isnan, log, log1p, log2, log10, nearbyint, sinh,
    sqrt, tan, trunc,
)
from libc.stdint cimport int64_t

cdef double LN2 = 0.6931471805599453
cdef double TWO_OVER_SQRT_PI = 1.1283791670955126


cpdef enum UnaryOp:
    TAN
    ASIN
    ACOS
    ATAN
    SINH
    COSH
    ASINH
    ACOSH
    ATANH
    LOG2
    LOG10
    EXP2
    EXPM1
    LOG1P
    RSQRT
    RECIPROCAL
    SIGN              # -1, 0 or 1; 0 for NaN, as PyTorch's (0 < x) - (x < 0)
    FLOOR
    CEIL
    ROUND             # to nearest, ties to even
    ROUND_SCALED      # p0 = 10 ** |decimals|; p1 > 0: round(x * p0) / p0, else round(x / p0) * p0
    TRUNC
    FRAC              # x - trunc(x)
    ERFINV
    LOGIT             # log(z / (1 - z)), z = x clamped to [p0, 1 - p0] (p0 NaN: no clamp)


cpdef enum BinaryOp:
    ATAN2
    COPYSIGN
    HYPOT
    FMOD              # C's fmod: the sign of a
    LOGADDEXP
    LOGADDEXP2
    XLOGY             # a * log(b), 0 where a == 0 (unless b is NaN)


cpdef enum ScanOp:
    CUMPROD
    CUMMAX            # values and indices; ties take the later index, NaN wins (PyTorch)
    CUMMIN
    LOGCUMSUMEXP


cdef enum:
    BLOCK = 4096


cdef inline Py_ssize_t block_count(Py_ssize_t n) noexcept nogil:
    return (n + BLOCK - 1) // BLOCK


cdef inline Py_ssize_t block_length(Py_ssize_t b, Py_ssize_t n) noexcept nogil:
    return BLOCK if (b + 1) * BLOCK <= n else n - b * BLOCK


# ---------------------------------------------------------------- scalar helpers


cdef inline double erfinv_double(double y) noexcept nogil:
    """erf^-1(y): Giles' single-precision approximation as the start, then two
    Newton steps on erf(x) = y (each doubles the correct digits)."""
    cdef double w, p, x
    if isnan(y) or y < -1 or y > 1:
        return NAN
    if y == 1 or y == -1:
        return copysign(INFINITY, y)
    w = -log((1.0 - y) * (1.0 + y))
    if w < 5.0:
        w = w - 2.5
        p = 2.81022636e-08
        p = 3.43273939e-07 + p * w
        p = -3.5233877e-06 + p * w
        p = -4.39150654e-06 + p * w
        p = 0.00021858087 + p * w
        p = -0.00125372503 + p * w
        p = -0.00417768164 + p * w
        p = 0.246640727 + p * w
        p = 1.50140941 + p * w
    else:
        w = sqrt(w) - 3.0
        p = -0.000200214257
        p = 0.000100950558 + p * w
        p = 0.00134934322 + p * w
        p = -0.00367342844 + p * w
        p = 0.00573950773 + p * w
        p = -0.0076224613 + p * w
        p = 0.00943887047 + p * w
        p = 1.00167406 + p * w
        p = 2.83297682 + p * w
    x = p * y
    x = x - (erf(x) - y) / (TWO_OVER_SQRT_PI * exp(-x * x))
    x = x - (erf(x) - y) / (TWO_OVER_SQRT_PI * exp(-x * x))
    return x


cdef inline double logit_double(double x, double eps) noexcept nogil:
    if eps == eps:  # a NaN eps means no clamp
        if x < eps:
            x = eps
        elif x > 1.0 - eps:
            x = 1.0 - eps
    return log(x / (1.0 - x))


cdef inline double logaddexp_double(double a, double b) noexcept nogil:
    """log(e^a + e^b) without overflow; equal infinities give themselves."""
    cdef double top
    if a == b:  # also inf + inf and -inf + -inf, where a - b would be NaN
        return a + LN2
    top = a if a > b else b
    if isnan(top) or isnan(a) or isnan(b):
        return NAN
    return top + log1p(exp(-fabs(a - b)))


cdef inline double logaddexp2_double(double a, double b) noexcept nogil:
    cdef double top
    if a == b:
        return a + 1.0
    top = a if a > b else b
    if isnan(a) or isnan(b):
        return NAN
    return top + log1p(exp2(-fabs(a - b))) / LN2


# ---------------------------------------------------------------- elementwise blocks


cdef void unary_block(int op, const floating* x, floating* out, Py_ssize_t n,
                      double p0, double p1) noexcept nogil:
    """out[i] = op(x[i]) for i < n: one loop per op, chosen once."""
    cdef Py_ssize_t i
    cdef double v
    if op == TAN:
        for i in range(n):
            out[i] = <floating>tan(<double>x[i])
    elif op == ASIN:
        for i in range(n):
            out[i] = <floating>asin(<double>x[i])
    elif op == ACOS:
        for i in range(n):
            out[i] = <floating>acos(<double>x[i])
    elif op == ATAN:
        for i in range(n):
            out[i] = <floating>atan(<double>x[i])
    elif op == SINH:
        for i in range(n):
            out[i] = <floating>sinh(<double>x[i])
    elif op == COSH:
        for i in range(n):
            out[i] = <floating>cosh(<double>x[i])
    elif op == ASINH:
        for i in range(n):
            out[i] = <floating>asinh(<double>x[i])
    elif op == ACOSH:
        for i in range(n):
            out[i] = <floating>acosh(<double>x[i])
    elif op == ATANH:
        for i in range(n):
            out[i] = <floating>atanh(<double>x[i])
    elif op == LOG2:
        for i in range(n):
            out[i] = <floating>log2(<double>x[i])
    elif op == LOG10:
        for i in range(n):
            out[i] = <floating>log10(<double>x[i])
    elif op == EXP2:
        for i in range(n):
            out[i] = <floating>exp2(<double>x[i])
    elif op == EXPM1:
        for i in range(n):
            out[i] = <floating>expm1(<double>x[i])
    elif op == LOG1P:
        for i in range(n):
            out[i] = <floating>log1p(<double>x[i])
    elif op == RSQRT:
        for i in range(n):
            out[i] = <floating>(1.0 / sqrt(<double>x[i]))
    elif op == RECIPROCAL:
        for i in range(n):
            out[i] = <floating>(1.0 / <double>x[i])
    elif op == SIGN:
        for i in range(n):
            v = x[i]
            out[i] = <floating>((v > 0) - (v < 0))
    elif op == FLOOR:
        for i in range(n):
            out[i] = <floating>floor(<double>x[i])
    elif op == CEIL:
        for i in range(n):
            out[i] = <floating>ceil(<double>x[i])
    elif op == ROUND:
        for i in range(n):
            out[i] = <floating>nearbyint(<double>x[i])
    elif op == ROUND_SCALED:
        if p1 > 0:
            for i in range(n):
                out[i] = <floating>(nearbyint(<double>x[i] * p0) / p0)
        else:
            for i in range(n):
                out[i] = <floating>(nearbyint(<double>x[i] / p0) * p0)
    elif op == TRUNC:
        for i in range(n):
            out[i] = <floating>trunc(<double>x[i])
    elif op == FRAC:
        for i in range(n):
            v = x[i]
            out[i] = <floating>(v - trunc(v))
    elif op == ERFINV:
        for i in range(n):
            out[i] = <floating>erfinv_double(<double>x[i])
    elif op == LOGIT:
        for i in range(n):
            out[i] = <floating>logit_double(<double>x[i], p0)


cdef void binary_block(int op, const floating* a, const floating* b, floating* out,
                       Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef double u, v
    if op == ATAN2:
        for i in range(n):
            out[i] = <floating>atan2(<double>a[i], <double>b[i])
    elif op == COPYSIGN:
        for i in range(n):
            out[i] = <floating>copysign(<double>a[i], <double>b[i])
    elif op == HYPOT:
        for i in range(n):
            out[i] = <floating>hypot(<double>a[i], <double>b[i])
    elif op == FMOD:
        for i in range(n):
            out[i] = <floating>fmod(<double>a[i], <double>b[i])
    elif op == LOGADDEXP:
        for i in range(n):
            out[i] = <floating>logaddexp_double(a[i], b[i])
    elif op == LOGADDEXP2:
        for i in range(n):
            out[i] = <floating>logaddexp2_double(a[i], b[i])
    elif op == XLOGY:
        for i in range(n):
            u = a[i]
            v = b[i]
            out[i] = <floating>(NAN if isnan(v) else (0.0 if u == 0 else u * log(v)))


def unary(int op, const floating[::1] x, floating[::1] out, double p0, double p1, int num_threads):
    """out = op(x) elementwise.

    IN  op: a UnaryOp; x (n,); p0, p1: the op's parameters (see UnaryOp), else ignored
    OUT out (n,)
    """
    cdef Py_ssize_t b, n = x.shape[0]
    if op < TAN or op > LOGIT:
        raise ValueError(f"unary: unknown op {op}")
    if out.shape[0] != n:
        raise ValueError("unary: x and out differ in size")
    if n == 0:
        return
    with nogil:
        if num_threads > 1:
            for b in prange(block_count(n), num_threads=num_threads, schedule="static"):
                unary_block(op, &x[b * BLOCK], &out[b * BLOCK], block_length(b, n), p0, p1)
        else:
            for b in range(block_count(n)):
                unary_block(op, &x[b * BLOCK], &out[b * BLOCK], block_length(b, n), p0, p1)


def binary(int op, const floating[::1] a, const floating[::1] b, floating[::1] out, int num_threads):
    """out = op(a, b) elementwise.

    IN  op: a BinaryOp; a, b (n,): operands already broadcast to one size
    OUT out (n,)
    """
    cdef Py_ssize_t k, n = a.shape[0]
    if op < ATAN2 or op > XLOGY:
        raise ValueError(f"binary: unknown op {op}")
    if b.shape[0] != n or out.shape[0] != n:
        raise ValueError("binary: operands and out differ in size")
    if n == 0:
        return
    with nogil:
        if num_threads > 1:
            for k in prange(block_count(n), num_threads=num_threads, schedule="static"):
                binary_block(op, &a[k * BLOCK], &b[k * BLOCK], &out[k * BLOCK], block_length(k, n))
        else:
            for k in range(block_count(n)):
                binary_block(op, &a[k * BLOCK], &b[k * BLOCK], &out[k * BLOCK], block_length(k, n))


# ---------------------------------------------------------------- scans along one axis


cdef void scan_column(int op, const floating* x, floating* out, int64_t* index,
                      Py_ssize_t n, Py_ssize_t step) noexcept nogil:
    """One column: x[k * step], k < n (n >= 1), scanned into out (and index)."""
    cdef Py_ssize_t k, best_k = 0
    cdef floating v, best
    cdef double total
    if op == CUMPROD:
        total = 1
        for k in range(n):
            total = <floating>(total * x[k * step])  # rounded each step, as a float32 product is
            out[k * step] = <floating>total
    elif op == CUMMAX or op == CUMMIN:
        best = x[0]
        for k in range(n):
            v = x[k * step]
            # a NaN always takes over; once the best is NaN only a NaN replaces it
            if v != v or (best == best and ((v >= best) if op == CUMMAX else (v <= best))):
                best = v
                best_k = k
            out[k * step] = best
            index[k * step] = best_k
    else:  # LOGCUMSUMEXP
        total = x[0]
        out[0] = x[0]
        for k in range(1, n):
            total = <floating>logaddexp_double(total, x[k * step])
            out[k * step] = <floating>total


def scan(int op, const floating[:, :, ::1] x, floating[:, :, ::1] out, int64_t[:, :, ::1] index,
         int num_threads):
    """out[o, k, j] = the scan of x[o, 0..k, j] (cumprod, cummax, cummin, logcumsumexp).

    IN  op: a ScanOp; x (outer, n, inner)
    OUT out, same shape; index, same shape (cummax/cummin write it; else unused,
        and may be a (1, 1, 1) dummy)
    """
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2], task
    cdef bint with_index = op == CUMMAX or op == CUMMIN
    if op < CUMPROD or op > LOGCUMSUMEXP:
        raise ValueError(f"scan: unknown op {op}")
    if with_index and (index.shape[0] != outer or index.shape[1] != n or index.shape[2] != inner):
        raise ValueError("scan: index must have x's shape")
    if n == 0 or outer == 0 or inner == 0:
        return
    with nogil:
        if num_threads > 1:
            for task in prange(outer * inner, num_threads=num_threads, schedule="static"):
                scan_column(op, &x[task // inner, 0, task % inner], &out[task // inner, 0, task % inner],
                            &index[task // inner, 0, task % inner] if with_index else NULL, n, inner)
        else:
            for task in range(outer * inner):
                scan_column(op, &x[task // inner, 0, task % inner], &out[task // inner, 0, task % inner],
                            &index[task // inner, 0, task % inner] if with_index else NULL, n, inner)


cdef void cumprod_backward_column(const floating* x, const floating* grad, floating* out,
                                  Py_ssize_t n, Py_ssize_t step) noexcept nogil:
    """dL/dx_i = prefix_(i-1) * S_i, with prefix_(i-1) the product of x before i
    and S_i = sum over k >= i of grad_k * (x_(i+1) ... x_k), swept from the end
    as S_i = grad_i + x_(i+1) * S_(i+1). No division: zeros are exact."""
    cdef Py_ssize_t k
    cdef floating running = 0, prefix = 1
    for k in range(n - 1, -1, -1):
        running = grad[k * step] + (x[(k + 1) * step] * running if k + 1 < n else 0)
        out[k * step] = running
    for k in range(n):
        out[k * step] = prefix * out[k * step]
        prefix = prefix * x[k * step]


cdef void logcumsumexp_backward_column(const floating* x, const floating* result, const floating* grad,
                                       floating* out, Py_ssize_t n, Py_ssize_t step) noexcept nogil:
    """dL/dx_i = exp(x_i - r_i) * T_i, T_i = sum over k >= i of grad_k exp(r_i - r_k),
    swept from the end as T_i = grad_i + exp(r_i - r_(i+1)) T_(i+1). Every
    exponent is <= 0 (r is non-decreasing and r_i >= x_i): nothing overflows."""
    cdef Py_ssize_t k
    cdef double running = 0, r, r_next, v
    for k in range(n - 1, -1, -1):
        r = result[k * step]
        if k + 1 < n:
            r_next = result[(k + 1) * step]
            running = grad[k * step] + (running if r == r_next else exp(r - r_next) * running)
        else:
            running = grad[k * step]
        v = x[k * step]
        out[k * step] = <floating>(0.0 if (isinf(v) and v < 0) else exp(v - r) * running)


def cumprod_backward(const floating[:, :, ::1] x, const floating[:, :, ::1] grad,
                     floating[:, :, ::1] out, int num_threads):
    """out = dL/dx of out = cumprod(x) along the middle axis, exact with zeros.

    IN  x, grad (outer, n, inner)
    OUT out, same shape
    """
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2], task
    if n == 0 or outer == 0 or inner == 0:
        return
    with nogil:
        if num_threads > 1:
            for task in prange(outer * inner, num_threads=num_threads, schedule="static"):
                cumprod_backward_column(&x[task // inner, 0, task % inner], &grad[task // inner, 0, task % inner],
                                        &out[task // inner, 0, task % inner], n, inner)
        else:
            for task in range(outer * inner):
                cumprod_backward_column(&x[task // inner, 0, task % inner], &grad[task // inner, 0, task % inner],
                                        &out[task // inner, 0, task % inner], n, inner)


def logcumsumexp_backward(const floating[:, :, ::1] x, const floating[:, :, ::1] result,
                          const floating[:, :, ::1] grad, floating[:, :, ::1] out, int num_threads):
    """out = dL/dx of result = logcumsumexp(x) along the middle axis.

    IN  x, result, grad (outer, n, inner)
    OUT out, same shape (0 where x is -inf)
    """
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2], task
    if n == 0 or outer == 0 or inner == 0:
        return
    with nogil:
        if num_threads > 1:
            for task in prange(outer * inner, num_threads=num_threads, schedule="static"):
                logcumsumexp_backward_column(&x[task // inner, 0, task % inner],
                                             &result[task // inner, 0, task % inner],
                                             &grad[task // inner, 0, task % inner],
                                             &out[task // inner, 0, task % inner], n, inner)
        else:
            for task in range(outer * inner):
                logcumsumexp_backward_column(&x[task // inner, 0, task % inner],
                                             &result[task // inner, 0, task % inner],
                                             &grad[task // inner, 0, task % inner],
                                             &out[task // inner, 0, task % inner], n, inner)
