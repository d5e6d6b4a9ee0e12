# Cython kernels of the pointwise family: the rest of the math library
# (tan ... erfinv, atan2 ... xlogy) and the scans along one axis (cumprod,
# cummax/cummin, logcumsumexp) with the backward sweeps that need a kernel.
#
# Two generic kernels serve every elementwise op, driven by an op code (like
# ``_elementwise``'s exp/log/tanh): ``pointwise_unary(op, x, out, p0, p1)``
# and ``pointwise_binary(op, a, b, out)``. Each switches on the op once per block, outside
# the element loop, so every op gets its own tight loop. The wrappers in
# ``quasar/backends/compiled_pointwise.py`` pass C-contiguous 1-D views
# (``pointwise_binary``'s operands already broadcast to one size); blocks of BLOCK
# elements are the units of ``prange``.
#
# Each op computes in the array's own precision with the C library's float or
# double function (``q_tan`` and friends pick ``tanf`` or ``tan`` at compile
# time), in loops without branches: with glibc's vector libm
# (``_libmvec_more.h``) the compiler turns every such loop into calls of the
# 4- or 8-lane variants. Only erfinv and logit, whose loops branch anyway,
# compute in double and round once.
#
# Scan kernels see an array as (outer, n, inner) with the scanned axis in the
# middle, as the index family's cumsum does; each task is one (outer, inner)
# column, so no two threads write the same element, and the order of every
# operation is fixed: the same bits at any thread count.

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport (
    INFINITY, NAN, acos, acosf, acosh, acoshf, asin, asinf, asinh, asinhf, atan, atan2, atan2f, atanf,
    atanh, atanhf, ceil, ceilf, copysign, copysignf, cosh, coshf, erf as c_erf, exp, exp2, exp2f,
    fabs, floor, floorf, fmod, fmodf, hypot, hypotf, isinf, isnan, log, log1p, log2, log2f, log10,
    log10f, nearbyint, nearbyintf, sinh, sinhf, sqrt, tan, tanf, trunc, truncf,
)
from libc.stdint cimport int64_t


cdef extern from "_libmvec_more.h":
    pass

cdef double LN2 = 0.6931471805599453


cpdef enum PointwiseUnaryOp:
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


cpdef enum PointwiseBinaryOp:
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


# ---------------------------------------------------------------- libm in the array's precision
# ``if floating is float`` is decided at compile time: float32 calls the
# f-suffixed function, float64 the double one (and each has a vector variant).

cdef inline floating q_tan(floating x) noexcept nogil:
    return tanf(x) if floating is float else tan(x)

cdef inline floating q_asin(floating x) noexcept nogil:
    return asinf(x) if floating is float else asin(x)

cdef inline floating q_acos(floating x) noexcept nogil:
    return acosf(x) if floating is float else acos(x)

cdef inline floating q_atan(floating x) noexcept nogil:
    return atanf(x) if floating is float else atan(x)

cdef inline floating q_sinh(floating x) noexcept nogil:
    return sinhf(x) if floating is float else sinh(x)

cdef inline floating q_cosh(floating x) noexcept nogil:
    return coshf(x) if floating is float else cosh(x)

cdef inline floating q_asinh(floating x) noexcept nogil:
    return asinhf(x) if floating is float else asinh(x)

cdef inline floating q_acosh(floating x) noexcept nogil:
    return acoshf(x) if floating is float else acosh(x)

cdef inline floating q_atanh(floating x) noexcept nogil:
    return atanhf(x) if floating is float else atanh(x)

cdef inline floating q_log2(floating x) noexcept nogil:
    return log2f(x) if floating is float else log2(x)

cdef inline floating q_log10(floating x) noexcept nogil:
    return log10f(x) if floating is float else log10(x)

cdef inline floating q_exp2(floating x) noexcept nogil:
    return exp2f(x) if floating is float else exp2(x)

cdef inline floating q_floor(floating x) noexcept nogil:
    return floorf(x) if floating is float else floor(x)

cdef inline floating q_ceil(floating x) noexcept nogil:
    return ceilf(x) if floating is float else ceil(x)

cdef inline floating q_trunc(floating x) noexcept nogil:
    return truncf(x) if floating is float else trunc(x)

cdef inline floating q_round(floating x) noexcept nogil:
    """To nearest, ties to even (the default rounding mode)."""
    return nearbyintf(x) if floating is float else nearbyint(x)

cdef inline floating q_atan2(floating a, floating b) noexcept nogil:
    return atan2f(a, b) if floating is float else atan2(a, b)

cdef inline floating q_hypot(floating a, floating b) noexcept nogil:
    return hypotf(a, b) if floating is float else hypot(a, b)

cdef inline floating q_copysign(floating a, floating b) noexcept nogil:
    return copysignf(a, b) if floating is float else copysign(a, b)

cdef inline floating q_fmod(floating a, floating b) noexcept nogil:
    return fmodf(a, b) if floating is float else fmod(a, b)


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
    x = x - (c_erf(x) - y) / (TWO_OVER_SQRT_PI * exp(-x * x))
    x = x - (c_erf(x) - y) / (TWO_OVER_SQRT_PI * exp(-x * x))
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


# ---------------------------------------------------------------- elementwise blocks


cdef void unary_block(int op, const floating* x, floating* out, Py_ssize_t n,
                      double p0, double p1) noexcept nogil:
    """out[i] = op(x[i]) for i < n: one branch-free loop per op, chosen once."""
    cdef Py_ssize_t i
    cdef floating v, one = 1, zero = 0, scale = <floating>p0
    if op == TAN:
        for i in range(n):
            out[i] = q_tan(x[i])
    elif op == ASIN:
        for i in range(n):
            out[i] = q_asin(x[i])
    elif op == ACOS:
        for i in range(n):
            out[i] = q_acos(x[i])
    elif op == ATAN:
        for i in range(n):
            out[i] = q_atan(x[i])
    elif op == SINH:
        for i in range(n):
            out[i] = q_sinh(x[i])
    elif op == COSH:
        for i in range(n):
            out[i] = q_cosh(x[i])
    elif op == ASINH:
        for i in range(n):
            out[i] = q_asinh(x[i])
    elif op == ACOSH:
        for i in range(n):
            out[i] = q_acosh(x[i])
    elif op == ATANH:
        for i in range(n):
            out[i] = q_atanh(x[i])
    elif op == LOG2:
        for i in range(n):
            out[i] = q_log2(x[i])
    elif op == LOG10:
        for i in range(n):
            out[i] = q_log10(x[i])
    elif op == EXP2:
        for i in range(n):
            out[i] = q_exp2(x[i])
    elif op == EXPM1:
        for i in range(n):
            out[i] = q_expm1(x[i])
    elif op == LOG1P:
        for i in range(n):
            out[i] = q_log1p(x[i])
    elif op == RSQRT:
        for i in range(n):
            out[i] = one / q_sqrt(x[i])
    elif op == RECIPROCAL:
        for i in range(n):
            out[i] = one / x[i]
    elif op == SIGN:
        for i in range(n):
            v = x[i]
            out[i] = (one if v > 0 else zero) - (one if v < 0 else zero)
    elif op == FLOOR:
        for i in range(n):
            out[i] = q_floor(x[i])
    elif op == CEIL:
        for i in range(n):
            out[i] = q_ceil(x[i])
    elif op == ROUND:
        for i in range(n):
            out[i] = q_round(x[i])
    elif op == ROUND_SCALED:
        # PyTorch's order of operations, in the array's precision
        if p1 > 0:
            for i in range(n):
                out[i] = q_round(x[i] * scale) / scale
        else:
            for i in range(n):
                out[i] = q_round(x[i] / scale) * scale
    elif op == TRUNC:
        for i in range(n):
            out[i] = q_trunc(x[i])
    elif op == FRAC:
        for i in range(n):
            v = x[i]
            out[i] = v - q_trunc(v)
    elif op == ERFINV:
        for i in range(n):
            out[i] = <floating>erfinv_double(<double>x[i])
    elif op == LOGIT:
        for i in range(n):
            out[i] = <floating>logit_double(<double>x[i], p0)


cdef inline floating logaddexp_op(floating a, floating b, floating shift_ln) noexcept nogil:
    """log(e^a + e^b) (shift_ln = 1), or log2(2^a + 2^b) (shift_ln = ln 2),
    without overflow and without branches: both sides are computed and one is
    selected. Equal operands (also equal infinities, where a - b is NaN) give
    a + log(2) / shift_ln; a NaN operand gives NaN."""
    cdef floating top = a if a > b else b
    cdef floating spread = q_exp(-q_fabs(a - b) * shift_ln)
    cdef floating general = top + q_log1p(spread) / shift_ln
    cdef floating equal = a + <floating>LN2 / shift_ln
    return equal if a == b else general


cdef void binary_block(int op, const floating* a, const floating* b, floating* out,
                       Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating u, v, product, zero = 0, nan = NAN, ln2 = LN2, one = 1
    if op == ATAN2:
        for i in range(n):
            out[i] = q_atan2(a[i], b[i])
    elif op == COPYSIGN:
        for i in range(n):
            out[i] = q_copysign(a[i], b[i])
    elif op == HYPOT:
        for i in range(n):
            out[i] = q_hypot(a[i], b[i])
    elif op == FMOD:
        for i in range(n):
            out[i] = q_fmod(a[i], b[i])
    elif op == LOGADDEXP:
        for i in range(n):
            out[i] = logaddexp_op(a[i], b[i], one)
    elif op == LOGADDEXP2:
        for i in range(n):
            out[i] = logaddexp_op(a[i], b[i], ln2)
    elif op == XLOGY:
        for i in range(n):
            u = a[i]
            v = b[i]
            product = u * q_log(v)
            out[i] = nan if v != v else (zero if u == 0 else product)


def pointwise_unary(int op, const floating[::1] x, floating[::1] out, double p0, double p1, int num_threads):
    """out = op(x) elementwise.

    IN  op: a PointwiseUnaryOp; x (n,); p0, p1: the op's parameters (see PointwiseUnaryOp), else ignored
    OUT out (n,)
    """
    cdef Py_ssize_t b, n = x.shape[0]
    if op < TAN or op > LOGIT:
        raise ValueError(f"pointwise_unary: unknown op {op}")
    if out.shape[0] != n:
        raise ValueError("pointwise_unary: x and out differ in size")
    if n == 0:
        return
    with nogil:
        if num_threads > 1:
            for b in prange(block_count(n), num_threads=num_threads, schedule="static"):
                unary_block(op, &x[b * BLOCK], &out[b * BLOCK], block_length(b, n), p0, p1)
        else:
            for b in range(block_count(n)):
                unary_block(op, &x[b * BLOCK], &out[b * BLOCK], block_length(b, n), p0, p1)


def pointwise_binary(int op, const floating[::1] a, const floating[::1] b, floating[::1] out, int num_threads):
    """out = op(a, b) elementwise.

    IN  op: a PointwiseBinaryOp; a, b (n,): operands already broadcast to one size
    OUT out (n,)
    """
    cdef Py_ssize_t k, n = a.shape[0]
    if op < ATAN2 or op > XLOGY:
        raise ValueError(f"pointwise_binary: unknown op {op}")
    if b.shape[0] != n or out.shape[0] != n:
        raise ValueError("pointwise_binary: operands and out differ in size")
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
