# Cython kernels of the convolution family: im2col/col2im, max and average
# pooling forward and backward, and batch normalization's fused passes.
#
# Each kernel takes C-contiguous typed memoryviews, documents every argument as
# IN or OUT, writes only its OUT arguments and releases the GIL. The wrappers in
# ``quasar/backends/compiled_conv.py`` make the inputs contiguous, allocate OUT,
# compute the output sizes and pick ``num_threads``. Bounds checks are off: the
# op layer (``quasar/ops/conv.py``) has validated every size before a kernel runs.
#
# Images are seen as planes: an (N, C, H, W) array is N * C planes of H * W
# values (a 1-D signal is a plane with H = 1). Every kernel hands whole planes
# (or, for batch norm, whole channels) to threads, and each plane is computed
# by one thread in one fixed order, so the results are the same bits on 1 or 16
# threads. With ``num_threads == 1`` a kernel opens no parallel region (a team
# of one costs more than a small kernel takes) and runs the same per-plane code.
#
# Padding is explicit and may be asymmetric (``padding='same'`` with an even
# kernel pads one more after than before): the kernels take the top and left
# widths; the output sizes the wrapper passes already account for the rest.

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport INFINITY, isnan, sqrt
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset


cdef inline Py_ssize_t ceil_div(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    """ceil(a / b) for b > 0 and any sign of a (C division truncates toward zero)."""
    if a >= 0:
        return (a + b - 1) // b
    return -((-a) // b)


cdef inline Py_ssize_t clamp(Py_ssize_t v, Py_ssize_t low, Py_ssize_t high) noexcept nogil:
    return low if v < low else (high if v > high else v)


cdef struct Geometry:
    # one plane's input size, the kernel window and the output size
    Py_ssize_t H, W, KH, KW, SH, SW, PT, PL, DH, DW, OH, OW


cdef inline void valid_columns(const Geometry* g, Py_ssize_t kj, Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """The output columns [lo, hi) whose input column ow*SW - PL + kj*DW lies inside [0, W)."""
    cdef Py_ssize_t offset = kj * g.DW - g.PL
    lo[0] = clamp(ceil_div(-offset, g.SW), 0, g.OW)
    hi[0] = clamp(ceil_div(g.W - offset, g.SW), lo[0], g.OW)


# ---------------------------------------------------------------- im2col / col2im


cdef void im2col_plane(const floating* image, floating* cols, Py_ssize_t row_stride, const Geometry* g) noexcept nogil:
    """One plane (H, W) -> its KH * KW rows of cols, each (OH * OW) and row_stride
    apart; padding reads as 0."""
    cdef Py_ssize_t ki, kj, oh, ow, ih, lo, hi, offset
    cdef floating* row
    cdef floating* dst
    cdef const floating* src
    for ki in range(g.KH):
        for kj in range(g.KW):
            row = cols + (ki * g.KW + kj) * row_stride
            valid_columns(g, kj, &lo, &hi)
            offset = kj * g.DW - g.PL
            for oh in range(g.OH):
                dst = row + oh * g.OW
                ih = oh * g.SH - g.PT + ki * g.DH
                if ih < 0 or ih >= g.H or lo >= hi:
                    memset(dst, 0, g.OW * sizeof(floating))
                    continue
                src = image + ih * g.W + offset
                if lo > 0:
                    memset(dst, 0, lo * sizeof(floating))
                if g.SW == 1:
                    memcpy(dst + lo, src + lo, (hi - lo) * sizeof(floating))
                else:
                    for ow in range(lo, hi):
                        dst[ow] = src[ow * g.SW]
                if hi < g.OW:
                    memset(dst + hi, 0, (g.OW - hi) * sizeof(floating))


cdef void col2im_plane(const floating* cols, floating* image, Py_ssize_t row_stride, const Geometry* g) noexcept nogil:
    """The adjoint of im2col_plane: add each of the plane's KH * KW rows back
    where it was read from (padding positions are dropped). image starts zeroed;
    the sums run in (ki, kj, oh, ow) order."""
    cdef Py_ssize_t ki, kj, oh, ow, ih, lo, hi, offset
    cdef const floating* row
    cdef const floating* src
    cdef floating* dst
    for ki in range(g.KH):
        for kj in range(g.KW):
            row = cols + (ki * g.KW + kj) * row_stride
            valid_columns(g, kj, &lo, &hi)
            offset = kj * g.DW - g.PL
            for oh in range(g.OH):
                ih = oh * g.SH - g.PT + ki * g.DH
                if ih < 0 or ih >= g.H:
                    continue
                src = row + oh * g.OW
                dst = image + ih * g.W + offset
                for ow in range(lo, hi):
                    dst[ow * g.SW] += src[ow]


cdef inline Geometry geometry(Py_ssize_t H, Py_ssize_t W, tuple kernel, tuple stride, tuple padding,
                              tuple dilation, Py_ssize_t OH, Py_ssize_t OW):
    cdef Geometry g
    g.H, g.W = H, W
    g.KH, g.KW = kernel
    g.SH, g.SW = stride
    g.PT, g.PL = padding
    g.DH, g.DW = dilation
    g.OH, g.OW = OH, OW
    return g


cdef inline Py_ssize_t rows_offset(Py_ssize_t plane, Py_ssize_t N, Py_ssize_t C, Py_ssize_t KK, Py_ssize_t L,
                                   bint rows_first) noexcept nogil:
    """Where plane (n, c)'s first row of columns starts, in either layout."""
    cdef Py_ssize_t n = plane // C, c = plane % C
    if rows_first:  # (C * KK, N, L)
        return (c * KK * N + n) * L
    return plane * KK * L  # (N, C * KK, L)


def im2col(const floating[:, :, ::1] x, Py_ssize_t H, Py_ssize_t W, floating[::1] cols,
           tuple kernel, tuple stride, tuple padding, tuple dilation, Py_ssize_t OH, Py_ssize_t OW,
           bint rows_first, int num_threads):
    """Unfold sliding windows into columns: row c*KH*KW + ki*KW + kj, column oh*OW + ow
    of sample n holds x[n, c, oh*SH - PT + ki*DH, ow*SW - PL + kj*DW] (0 outside the image).

    IN  x (N, C, H * W); kernel (KH, KW); stride (SH, SW) >= 1; padding (PT, PL)
        >= 0, the top and left widths; dilation (DH, DW) >= 1; OH, OW >= 0;
        rows_first: the layout of cols
    OUT cols, flat: (N, C * KH * KW, OH * OW) (F.unfold's layout), or with
        rows_first (C * KH * KW, N, OH * OW), where a convolution is one GEMM
    """
    cdef Geometry g = geometry(H, W, kernel, stride, padding, dilation, OH, OW)
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], plane
    cdef Py_ssize_t KK = g.KH * g.KW, L = OH * OW
    cdef Py_ssize_t row_stride = N * L if rows_first else L
    if N * C == 0 or KK * L == 0:
        return
    with nogil:
        if num_threads > 1:
            for plane in prange(N * C, num_threads=num_threads, schedule="static"):
                im2col_plane(&x[0, 0, 0] + plane * H * W, &cols[0] + rows_offset(plane, N, C, KK, L, rows_first),
                             row_stride, &g)
        else:
            for plane in range(N * C):
                im2col_plane(&x[0, 0, 0] + plane * H * W, &cols[0] + rows_offset(plane, N, C, KK, L, rows_first),
                             row_stride, &g)


def col2im(const floating[::1] cols, floating[:, :, ::1] x, Py_ssize_t H, Py_ssize_t W,
           tuple kernel, tuple stride, tuple padding, tuple dilation, Py_ssize_t OH, Py_ssize_t OW,
           bint rows_first, int num_threads):
    """Fold columns back into images, summing overlaps: the adjoint of im2col.

    IN  cols, flat, in im2col's layout (rows_first or not); the geometry as for im2col
    OUT x (N, C, H * W), zeroed by the caller
    """
    cdef Geometry g = geometry(H, W, kernel, stride, padding, dilation, OH, OW)
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], plane
    cdef Py_ssize_t KK = g.KH * g.KW, L = OH * OW
    cdef Py_ssize_t row_stride = N * L if rows_first else L
    if N * C == 0 or KK * L == 0 or H * W == 0:
        return
    with nogil:
        if num_threads > 1:
            for plane in prange(N * C, num_threads=num_threads, schedule="static"):
                col2im_plane(&cols[0] + rows_offset(plane, N, C, KK, L, rows_first), &x[0, 0, 0] + plane * H * W,
                             row_stride, &g)
        else:
            for plane in range(N * C):
                col2im_plane(&cols[0] + rows_offset(plane, N, C, KK, L, rows_first), &x[0, 0, 0] + plane * H * W,
                             row_stride, &g)


# ---------------------------------------------------------------- depthwise convolution
# groups == input channels and one input channel per output channel: each
# output plane is a small stencil over one input plane. im2col + a GEMM of one
# row per plane would spend its time on bookkeeping, so these loop directly.
# Output channel o reads input channel o // multiplier.


cdef void depthwise_plane(const floating* image, const floating* kernel, floating* out,
                          const Geometry* g) noexcept nogil:
    """out (OH * OW) = sum over (ki, kj), in that order, of kernel[ki, kj] * the shifted image."""
    cdef Py_ssize_t ki, kj, oh, ow, ih, lo, hi, offset
    cdef floating weight
    cdef const floating* src
    cdef floating* dst
    memset(out, 0, g.OH * g.OW * sizeof(floating))
    for ki in range(g.KH):
        for kj in range(g.KW):
            weight = kernel[ki * g.KW + kj]
            valid_columns(g, kj, &lo, &hi)
            offset = kj * g.DW - g.PL
            for oh in range(g.OH):
                ih = oh * g.SH - g.PT + ki * g.DH
                if ih < 0 or ih >= g.H:
                    continue
                src = image + ih * g.W + offset
                dst = out + oh * g.OW
                if g.SW == 1:  # unit stride: a loop the compiler vectorizes
                    for ow in range(lo, hi):
                        dst[ow] = dst[ow] + weight * src[ow]
                else:
                    for ow in range(lo, hi):
                        dst[ow] = dst[ow] + weight * src[ow * g.SW]


cdef void depthwise_input_plane(const floating* grad_out, const floating* kernel, floating* grad_in,
                                Py_ssize_t multiplier, const Geometry* g) noexcept nogil:
    """grad_in (H * W), zeroed: each of the plane's ``multiplier`` output gradients
    (consecutive planes of grad_out, with consecutive kernels) spread back through the stencil."""
    cdef Py_ssize_t m, ki, kj, oh, ow, ih, lo, hi, offset
    cdef floating weight
    cdef const floating* src
    cdef floating* dst
    for m in range(multiplier):
        for ki in range(g.KH):
            for kj in range(g.KW):
                weight = kernel[(m * g.KH + ki) * g.KW + kj]
                valid_columns(g, kj, &lo, &hi)
                offset = kj * g.DW - g.PL
                for oh in range(g.OH):
                    ih = oh * g.SH - g.PT + ki * g.DH
                    if ih < 0 or ih >= g.H:
                        continue
                    src = grad_out + (m * g.OH + oh) * g.OW
                    dst = grad_in + ih * g.W + offset
                    if g.SW == 1:
                        for ow in range(lo, hi):
                            dst[ow] += weight * src[ow]
                    else:
                        for ow in range(lo, hi):
                            dst[ow * g.SW] += weight * src[ow]


cdef void depthwise_weight_channel(const floating* x, const floating* grad_out, floating* grad_kernel,
                                   Py_ssize_t N, Py_ssize_t C, Py_ssize_t CO, Py_ssize_t o, Py_ssize_t multiplier,
                                   const Geometry* g) noexcept nogil:
    """grad_kernel (KH * KW) of output channel o: the sum over samples and positions of
    grad_out * the shifted input, accumulated in double. Each output column ow
    has its own running sum (over n, then oh), so the loop vectorizes; the
    column sums are added in column order at the end: a fixed order."""
    cdef Py_ssize_t n, ki, kj, oh, ow, ih, lo, hi, offset
    cdef double total
    cdef const floating* src
    cdef const floating* grad
    cdef Py_ssize_t c = o // multiplier
    cdef double* lanes = <double*>malloc(max(g.OW, 1) * sizeof(double))
    for ki in range(g.KH):
        for kj in range(g.KW):
            valid_columns(g, kj, &lo, &hi)
            offset = kj * g.DW - g.PL
            memset(lanes, 0, g.OW * sizeof(double))
            for n in range(N):
                for oh in range(g.OH):
                    ih = oh * g.SH - g.PT + ki * g.DH
                    if ih < 0 or ih >= g.H:
                        continue
                    src = x + (n * C + c) * g.H * g.W + ih * g.W + offset
                    grad = grad_out + ((n * CO + o) * g.OH + oh) * g.OW
                    if g.SW == 1:
                        for ow in range(lo, hi):
                            lanes[ow] = lanes[ow] + <double>grad[ow] * <double>src[ow]
                    else:
                        for ow in range(lo, hi):
                            lanes[ow] = lanes[ow] + <double>grad[ow] * <double>src[ow * g.SW]
            total = 0
            for ow in range(g.OW):
                total = total + lanes[ow]
            grad_kernel[ki * g.KW + kj] = <floating>total
    free(lanes)


def depthwise_conv2d(const floating[:, :, ::1] x, Py_ssize_t H, Py_ssize_t W, const floating[:, ::1] weight,
                     floating[:, :, ::1] out, tuple kernel, tuple stride, tuple padding, tuple dilation,
                     Py_ssize_t OH, Py_ssize_t OW, int num_threads):
    """Depthwise convolution: out[n, o] = the stencil weight[o] over x[n, o // multiplier].

    IN  x (N, C, H * W); weight (C_out, KH * KW), C_out = C * multiplier; the
        geometry as for im2col
    OUT out (N, C_out, OH * OW)
    """
    cdef Geometry g = geometry(H, W, kernel, stride, padding, dilation, OH, OW)
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], CO = out.shape[1], plane, n, o
    cdef Py_ssize_t multiplier = CO // C if C else 1
    if N * CO == 0 or OH * OW == 0:
        return
    with nogil:
        if num_threads > 1:
            for plane in prange(N * CO, num_threads=num_threads, schedule="static"):
                n = plane // CO
                o = plane % CO
                depthwise_plane(&x[n, o // multiplier, 0], &weight[o, 0], &out[n, o, 0], &g)
        else:
            for plane in range(N * CO):
                n = plane // CO
                o = plane % CO
                depthwise_plane(&x[n, o // multiplier, 0], &weight[o, 0], &out[n, o, 0], &g)


def depthwise_conv2d_backward_input(const floating[:, :, ::1] grad_out, const floating[:, ::1] weight,
                                    floating[:, :, ::1] grad_in, Py_ssize_t H, Py_ssize_t W, tuple kernel,
                                    tuple stride, tuple padding, tuple dilation, Py_ssize_t OH, Py_ssize_t OW,
                                    int num_threads):
    """The input's gradient of depthwise_conv2d.

    IN  grad_out (N, C_out, OH * OW); weight (C_out, KH * KW); the geometry as for im2col
    OUT grad_in (N, C, H * W), zeroed by the caller
    """
    cdef Geometry g = geometry(H, W, kernel, stride, padding, dilation, OH, OW)
    cdef Py_ssize_t N = grad_in.shape[0], C = grad_in.shape[1], CO = grad_out.shape[1], plane, n, c
    cdef Py_ssize_t multiplier = CO // C if C else 1
    if N * C == 0 or OH * OW == 0 or H * W == 0:
        return
    with nogil:
        if num_threads > 1:
            for plane in prange(N * C, num_threads=num_threads, schedule="static"):
                n = plane // C
                c = plane % C
                depthwise_input_plane(&grad_out[n, c * multiplier, 0], &weight[c * multiplier, 0],
                                      &grad_in[n, c, 0], multiplier, &g)
        else:
            for plane in range(N * C):
                n = plane // C
                c = plane % C
                depthwise_input_plane(&grad_out[n, c * multiplier, 0], &weight[c * multiplier, 0],
                                      &grad_in[n, c, 0], multiplier, &g)


def depthwise_conv2d_backward_weight(const floating[:, :, ::1] x, const floating[:, :, ::1] grad_out,
                                     floating[:, ::1] grad_weight, Py_ssize_t H, Py_ssize_t W, tuple kernel,
                                     tuple stride, tuple padding, tuple dilation, Py_ssize_t OH, Py_ssize_t OW,
                                     int num_threads):
    """The weight's gradient of depthwise_conv2d, one output channel per task.

    IN  x (N, C, H * W); grad_out (N, C_out, OH * OW); the geometry as for im2col
    OUT grad_weight (C_out, KH * KW)
    """
    cdef Geometry g = geometry(H, W, kernel, stride, padding, dilation, OH, OW)
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], CO = grad_out.shape[1], o
    cdef Py_ssize_t multiplier = CO // C if C else 1
    if CO == 0:
        return
    with nogil:
        if num_threads > 1:
            for o in prange(CO, num_threads=num_threads, schedule="static"):
                depthwise_weight_channel(&x[0, 0, 0], &grad_out[0, 0, 0], &grad_weight[o, 0], N, C, CO, o,
                                         multiplier, &g)
        else:
            for o in range(CO):
                depthwise_weight_channel(&x[0, 0, 0], &grad_out[0, 0, 0], &grad_weight[o, 0], N, C, CO, o,
                                         multiplier, &g)


# ---------------------------------------------------------------- max pooling


cdef void max_pool_plane(const floating* image, floating* out, int64_t* index, const Geometry* g) noexcept nogil:
    """Each output: the largest value of its window and where it is (ih * W + iw).

    As PyTorch: the first of equal values wins, a NaN wins over numbers (the
    last NaN seen), and the index starts at the window's first in-bounds position."""
    cdef Py_ssize_t oh, ow, ki, kj, ih, iw, ih0, iw0, best_index
    cdef floating best, v
    for oh in range(g.OH):
        ih0 = oh * g.SH - g.PT
        while ih0 < 0:
            ih0 = ih0 + g.DH
        for ow in range(g.OW):
            iw0 = ow * g.SW - g.PL
            while iw0 < 0:
                iw0 = iw0 + g.DW
            best = -INFINITY
            best_index = ih0 * g.W + iw0
            for ki in range(g.KH):
                ih = oh * g.SH - g.PT + ki * g.DH
                if ih < 0 or ih >= g.H:
                    continue
                for kj in range(g.KW):
                    iw = ow * g.SW - g.PL + kj * g.DW
                    if iw < 0 or iw >= g.W:
                        continue
                    v = image[ih * g.W + iw]
                    if v > best or isnan(v):
                        best = v
                        best_index = ih * g.W + iw
            out[oh * g.OW + ow] = best
            index[oh * g.OW + ow] = best_index


def max_pool2d(const floating[:, ::1] x, Py_ssize_t H, Py_ssize_t W, floating[:, ::1] out,
               int64_t[:, ::1] indices, tuple kernel, tuple stride, tuple padding, tuple dilation,
               Py_ssize_t OH, Py_ssize_t OW, int num_threads):
    """Max pooling of every plane.

    IN  x (planes, H * W); the geometry as for im2col, every window holding
        at least one in-bounds position (the op layer's padding <= kernel / 2)
    OUT out (planes, OH * OW); indices (planes, OH * OW), int64 ih * W + iw
    """
    cdef Geometry g = geometry(H, W, kernel, stride, padding, dilation, OH, OW)
    cdef Py_ssize_t planes = x.shape[0], p
    if planes == 0 or OH * OW == 0:
        return
    with nogil:
        if num_threads > 1:
            for p in prange(planes, num_threads=num_threads, schedule="static"):
                max_pool_plane(&x[p, 0], &out[p, 0], &indices[p, 0], &g)
        else:
            for p in range(planes):
                max_pool_plane(&x[p, 0], &out[p, 0], &indices[p, 0], &g)


def max_pool_backward(const floating[:, ::1] grad_out, const int64_t[:, ::1] indices,
                      floating[:, ::1] grad_in, int num_threads):
    """Each output's gradient added to the input position that won its window.

    IN  grad_out (planes, L); indices (planes, L), each in [0, grad_in.shape[1])
    OUT grad_in (planes, H * W), zeroed by the caller
    """
    cdef Py_ssize_t planes = grad_out.shape[0], L = grad_out.shape[1], p, i
    if planes == 0 or L == 0:
        return
    with nogil:
        if num_threads > 1:
            for p in prange(planes, num_threads=num_threads, schedule="static"):
                for i in range(L):
                    grad_in[p, indices[p, i]] += grad_out[p, i]
        else:
            for p in range(planes):
                for i in range(L):
                    grad_in[p, indices[p, i]] += grad_out[p, i]


# ---------------------------------------------------------------- average pooling


cdef inline double window_divisor(const Geometry* g, Py_ssize_t oh, Py_ssize_t ow, bint count_include_pad,
                                  Py_ssize_t divisor_override, Py_ssize_t* h0, Py_ssize_t* h1,
                                  Py_ssize_t* w0, Py_ssize_t* w1) noexcept nogil:
    """The in-bounds window [h0, h1) x [w0, w1) of output (oh, ow) and its divisor,
    by PyTorch's rule: the window clipped to the padded input counts with
    count_include_pad, the in-bounds part without; divisor_override > 0 wins."""
    cdef Py_ssize_t hs = oh * g.SH - g.PT, ws = ow * g.SW - g.PL
    cdef Py_ssize_t he = min(hs + g.KH, g.H + g.PT), we = min(ws + g.KW, g.W + g.PL)
    cdef Py_ssize_t padded = (he - hs) * (we - ws)
    h0[0], w0[0] = max(hs, 0), max(ws, 0)
    h1[0], w1[0] = min(he, g.H), min(we, g.W)
    if divisor_override > 0:
        return <double>divisor_override
    if count_include_pad:
        return <double>padded
    return <double>((h1[0] - h0[0]) * (w1[0] - w0[0]))


cdef void avg_pool_plane(const floating* image, floating* out, const Geometry* g, bint count_include_pad,
                         Py_ssize_t divisor_override) noexcept nogil:
    cdef Py_ssize_t oh, ow, ih, iw, h0, h1, w0, w1
    cdef double divisor
    cdef floating total
    for oh in range(g.OH):
        for ow in range(g.OW):
            divisor = window_divisor(g, oh, ow, count_include_pad, divisor_override, &h0, &h1, &w0, &w1)
            total = 0
            for ih in range(h0, h1):
                for iw in range(w0, w1):
                    total = total + image[ih * g.W + iw]
            out[oh * g.OW + ow] = <floating>(total / divisor)


cdef void avg_pool_backward_plane(const floating* grad_out, floating* grad_in, const Geometry* g,
                                  bint count_include_pad, Py_ssize_t divisor_override) noexcept nogil:
    cdef Py_ssize_t oh, ow, ih, iw, h0, h1, w0, w1
    cdef floating share
    for oh in range(g.OH):
        for ow in range(g.OW):
            share = <floating>(grad_out[oh * g.OW + ow] /
                               window_divisor(g, oh, ow, count_include_pad, divisor_override, &h0, &h1, &w0, &w1))
            for ih in range(h0, h1):
                for iw in range(w0, w1):
                    grad_in[ih * g.W + iw] += share


def avg_pool2d(const floating[:, ::1] x, Py_ssize_t H, Py_ssize_t W, floating[:, ::1] out, tuple kernel,
               tuple stride, tuple padding, Py_ssize_t OH, Py_ssize_t OW, bint count_include_pad,
               Py_ssize_t divisor_override, int num_threads):
    """Average pooling of every plane (the sum in window order, then one division).

    IN  x (planes, H * W); kernel, stride, padding (top, left) as for im2col;
        divisor_override: 0 for none
    OUT out (planes, OH * OW)
    """
    cdef Geometry g = geometry(H, W, kernel, stride, padding, (1, 1), OH, OW)
    cdef Py_ssize_t planes = x.shape[0], p
    if planes == 0 or OH * OW == 0:
        return
    with nogil:
        if num_threads > 1:
            for p in prange(planes, num_threads=num_threads, schedule="static"):
                avg_pool_plane(&x[p, 0], &out[p, 0], &g, count_include_pad, divisor_override)
        else:
            for p in range(planes):
                avg_pool_plane(&x[p, 0], &out[p, 0], &g, count_include_pad, divisor_override)


def avg_pool_backward(const floating[:, ::1] grad_out, floating[:, ::1] grad_in, Py_ssize_t H, Py_ssize_t W,
                      tuple kernel, tuple stride, tuple padding, Py_ssize_t OH, Py_ssize_t OW,
                      bint count_include_pad, Py_ssize_t divisor_override, int num_threads):
    """Each output's gradient, divided by its divisor, added to every position of its window.

    IN  grad_out (planes, OH * OW); the geometry as for avg_pool2d
    OUT grad_in (planes, H * W), zeroed by the caller
    """
    cdef Geometry g = geometry(H, W, kernel, stride, padding, (1, 1), OH, OW)
    cdef Py_ssize_t planes = grad_out.shape[0], p
    if planes == 0 or OH * OW == 0 or H * W == 0:
        return
    with nogil:
        if num_threads > 1:
            for p in prange(planes, num_threads=num_threads, schedule="static"):
                avg_pool_backward_plane(&grad_out[p, 0], &grad_in[p, 0], &g, count_include_pad, divisor_override)
        else:
            for p in range(planes):
                avg_pool_backward_plane(&grad_out[p, 0], &grad_in[p, 0], &g, count_include_pad, divisor_override)


# ---------------------------------------------------------------- batch normalization
# x is (N, C, L): channel c's values are the N rows x[n, c, :]. One thread
# owns one channel and walks its rows in order, accumulating in double.


cdef void channel_stats(const floating* x, Py_ssize_t N, Py_ssize_t C, Py_ssize_t L, Py_ssize_t c,
                        double* mean, double* var) noexcept nogil:
    """Mean and biased variance of one channel in one pass. The sums are of
    x - shift, with shift the channel's first value: with values far from 0
    the plain sum of squares would cancel catastrophically."""
    cdef Py_ssize_t n, j
    cdef const floating* row
    cdef double shift = x[c * L], d, s = 0, ss = 0, count = <double>(N * L)
    for n in range(N):
        row = x + (n * C + c) * L
        for j in range(L):
            d = row[j] - shift
            s = s + d
            ss = ss + d * d
    mean[0] = shift + s / count
    var[0] = (ss - s * (s / count)) / count
    if var[0] < 0:  # rounding
        var[0] = 0


cdef void channel_apply(const floating* x, floating* out, Py_ssize_t N, Py_ssize_t C, Py_ssize_t L,
                        Py_ssize_t c, double scale, double shift) noexcept nogil:
    """out = x * scale + shift on one channel (scale = weight * invstd, shift = bias - mean * scale)."""
    cdef Py_ssize_t n, j
    cdef const floating* row
    cdef floating* dst
    for n in range(N):
        row = x + (n * C + c) * L
        dst = out + (n * C + c) * L
        for j in range(L):
            dst[j] = <floating>(row[j] * scale + shift)


def batch_norm_forward(const floating[:, :, ::1] x, const double[::1] weight, const double[::1] bias,
                       double[::1] mean, double[::1] var, double eps, bint training,
                       floating[:, :, ::1] out, int num_threads):
    """Batch normalization: per channel, (x - mean) / sqrt(var + eps) * weight + bias.

    IN  x (N, C, L), N * L >= 1 when training; weight, bias (C,) float64;
        training: compute mean and var from x (else read them)
    IN/OUT mean, var (C,) float64: the batch's statistics when training (biased
        variance), else the running statistics to use
    OUT out (N, C, L)
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], L = x.shape[2], c
    cdef double scale
    if C == 0:
        return
    with nogil:
        if num_threads > 1:
            for c in prange(C, num_threads=num_threads, schedule="static"):
                if training:
                    channel_stats(&x[0, 0, 0], N, C, L, c, &mean[c], &var[c])
                scale = weight[c] / sqrt(var[c] + eps)
                channel_apply(&x[0, 0, 0], &out[0, 0, 0], N, C, L, c, scale, bias[c] - mean[c] * scale)
        else:
            for c in range(C):
                if training:
                    channel_stats(&x[0, 0, 0], N, C, L, c, &mean[c], &var[c])
                scale = weight[c] / sqrt(var[c] + eps)
                channel_apply(&x[0, 0, 0], &out[0, 0, 0], N, C, L, c, scale, bias[c] - mean[c] * scale)


cdef void channel_backward(const floating* x, const floating* dy, floating* dx, Py_ssize_t N, Py_ssize_t C,
                           Py_ssize_t L, Py_ssize_t c, double mean, double invstd, double weight, bint training,
                           double* grad_weight, double* grad_bias) noexcept nogil:
    """One channel's gradients. With batch statistics (training) the mean and
    variance depend on x too: dx = weight * invstd * (dy - mean(dy) - xhat * mean(dy * xhat))."""
    cdef Py_ssize_t n, j, off
    cdef double sum_dy = 0, sum_dy_centered = 0, count = <double>(N * L), k, scale, offset
    for n in range(N):
        off = (n * C + c) * L
        for j in range(L):
            sum_dy = sum_dy + dy[off + j]
            sum_dy_centered = sum_dy_centered + dy[off + j] * (x[off + j] - mean)
    grad_bias[0] = sum_dy
    grad_weight[0] = sum_dy_centered * invstd
    if dx == NULL:
        return
    scale = weight * invstd
    if training:  # dx = scale * dy - scale * (sum_dy / count) - (x - mean) * k
        k = scale * invstd * invstd * sum_dy_centered / count
        offset = scale * sum_dy / count
        for n in range(N):
            off = (n * C + c) * L
            for j in range(L):
                dx[off + j] = <floating>(scale * dy[off + j] - offset - (x[off + j] - mean) * k)
    else:
        for n in range(N):
            off = (n * C + c) * L
            for j in range(L):
                dx[off + j] = <floating>(scale * dy[off + j])


def batch_norm_backward(const floating[:, :, ::1] x, const floating[:, :, ::1] grad_out,
                        const double[::1] mean, const double[::1] var, const double[::1] weight, double eps,
                        bint training, floating[:, :, ::1] grad_in, bint want_grad_in,
                        double[::1] grad_weight, double[::1] grad_bias, int num_threads):
    """Gradients of batch_norm_forward, all three in one pass over each channel.

    IN  x, grad_out (N, C, L); mean, var, weight (C,) float64 as used forward;
        training: the statistics were the batch's; want_grad_in: write grad_in
    OUT grad_in (N, C, L) (untouched unless want_grad_in); grad_weight, grad_bias (C,) float64
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], L = x.shape[2], c
    cdef floating* dx = &grad_in[0, 0, 0] if want_grad_in and grad_in.shape[0] * C * L else NULL
    if C == 0:
        return
    with nogil:
        if num_threads > 1:
            for c in prange(C, num_threads=num_threads, schedule="static"):
                channel_backward(&x[0, 0, 0], &grad_out[0, 0, 0], dx, N, C, L, c, mean[c],
                                 1 / sqrt(var[c] + eps), weight[c], training, &grad_weight[c], &grad_bias[c])
        else:
            for c in range(C):
                channel_backward(&x[0, 0, 0], &grad_out[0, 0, 0], dx, N, C, L, c, mean[c],
                                 1 / sqrt(var[c] + eps), weight[c], training, &grad_weight[c], &grad_bias[c])
