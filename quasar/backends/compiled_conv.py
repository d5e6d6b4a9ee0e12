"""The convolution family on the Cython kernels of ``quasar/_conv.pxi`` (in the ``quasar._kernels`` module).

Exactly the names, arguments and results of ``reference_conv.py`` (read its
docstring for the contract). The wrappers make inputs C-contiguous, view
images as planes, allocate outputs and pick the thread count.

Convolution is im2col (a Cython kernel) followed by one matrix product per
group through NumPy's ``matmul``, i.e. BLAS: NumPy has the best
GEMM, so the compiled backend uses it (the reference backend computes the
same sums with ``einsum`` over ``sliding_window_view`` windows instead).
A depthwise convolution (groups = input channels = output channels) has
GEMMs of one row each, so it runs a direct stencil kernel instead.
"""

import numpy as np

from .. import _kernels as _k  # the _conv.pxi family
from .compiled_index import _threads

name = "compiled"


def _planes(x):
    """(N, C, H, W) -> a C-contiguous (N, C, H * W) view (a copy only if needed)."""
    n, c, h, w = x.shape
    return np.ascontiguousarray(x).reshape(n, c, h * w)


# ---------------------------------------------------------------- im2col / col2im


def _im2col(x, kernel, stride, padding, dilation, out_hw, rows_first):
    n, c, h, w = x.shape
    (kh, kw), (oh, ow) = kernel, out_hw
    shape = (c * kh * kw, n, oh * ow) if rows_first else (n, c * kh * kw, oh * ow)
    cols = np.empty(shape, x.dtype)
    _k.im2col(_planes(x), h, w, cols.reshape(-1), tuple(kernel), tuple(stride), (padding[0], padding[2]),
              tuple(dilation), oh, ow, rows_first, _threads(cols.size))
    return cols


def _col2im(cols, batch, channels, in_hw, kernel, stride, padding, dilation, out_hw, rows_first):
    (h, w), (oh, ow) = in_hw, out_hw
    x = np.zeros((batch, channels, h * w), cols.dtype)
    _k.col2im(np.ascontiguousarray(cols).reshape(-1), x, h, w, tuple(kernel), tuple(stride),
              (padding[0], padding[2]), tuple(dilation), oh, ow, rows_first, _threads(cols.size))
    return x.reshape(batch, channels, h, w)


def im2col(x, kernel, stride, padding, dilation, out_hw):
    return _im2col(x, kernel, stride, padding, dilation, out_hw, False)


def col2im(cols, channels, in_hw, kernel, stride, padding, dilation, out_hw):
    return _col2im(cols, cols.shape[0], channels, in_hw, kernel, stride, padding, dilation, out_hw, False)


# ---------------------------------------------------------------- convolution
# The columns are laid out (C * KH * KW, N, L), rows first, so that each pass
# of a group's convolution is a single GEMM over the whole batch: one BLAS
# call (per group) instead of one per sample, and no sum over samples after it.


def _geometry(stride, padding, dilation):
    return tuple(stride), (padding[0], padding[2]), tuple(dilation)


def _by_group(a, groups):
    """(rows, N, L) -> (groups, rows / groups, N * L)."""
    return a.reshape(groups, a.shape[0] // groups, a.size // a.shape[0] if a.shape[0] else 0)


def conv2d(x, weight, bias, stride, padding, dilation, groups, out_hw):
    """im2col, then out[g] = weight[g] @ cols[g] (BLAS), transposed to (N, C_out, ...)
    with the bias added on the way; depthwise: the stencil kernel."""
    n = x.shape[0]
    out_channels, group_channels, kh, kw = weight.shape
    length = out_hw[0] * out_hw[1]
    out = np.empty((n, out_channels, length), x.dtype)
    if group_channels == 1 and groups == out_channels > 1:  # depthwise: one input channel per output channel
        _k.depthwise_conv2d(_planes(x), x.shape[2], x.shape[3], np.ascontiguousarray(weight).reshape(out_channels, kh * kw),
                            out, (kh, kw), *_geometry(stride, padding, dilation), *out_hw,
                            _threads(out.size * kh * kw))
        if bias is not None:
            out += bias.reshape(-1, 1)
        return out.reshape(n, out_channels, *out_hw)
    cols = _im2col(x, (kh, kw), stride, padding, dilation, out_hw, True)
    per_group = weight.reshape(groups, out_channels // groups, group_channels * kh * kw)
    product = np.matmul(per_group, _by_group(cols, groups))
    product = product.reshape(out_channels, n, length).transpose(1, 0, 2)  # (n, out_channels, length) view
    if bias is None:
        out[...] = product
    else:
        np.add(product, bias.reshape(-1, 1), out=out)
    return out.reshape(n, out_channels, *out_hw)


def _rows_first(grad_out):
    """(N, C_out, OH, OW) -> a contiguous (C_out, N, OH * OW) copy."""
    n, c, h, w = grad_out.shape
    return np.ascontiguousarray(grad_out.reshape(n, c, h * w).transpose(1, 0, 2))


def conv2d_backward_input(grad_out, weight, in_hw, stride, padding, dilation, groups):
    """cols = weight[g].T @ grad_out[g] (BLAS), folded back by col2im; depthwise: the stencil kernel."""
    n, out_channels, oh, ow = grad_out.shape
    _, group_channels, kh, kw = weight.shape
    if group_channels == 1 and groups == out_channels > 1:  # depthwise
        grad_in = np.zeros((n, groups, in_hw[0] * in_hw[1]), grad_out.dtype)
        _k.depthwise_conv2d_backward_input(np.ascontiguousarray(grad_out).reshape(n, out_channels, oh * ow),
                                           np.ascontiguousarray(weight).reshape(out_channels, kh * kw), grad_in,
                                           *in_hw, (kh, kw), *_geometry(stride, padding, dilation), oh, ow,
                                           _threads(grad_out.size * kh * kw))
        return grad_in.reshape(n, groups, *in_hw)
    w = weight.reshape(groups, out_channels // groups, group_channels * kh * kw)
    cols = np.matmul(w.transpose(0, 2, 1), _by_group(_rows_first(grad_out), groups))
    return _col2im(cols, n, groups * group_channels, in_hw, (kh, kw), stride, padding, dilation, (oh, ow), True)


def conv2d_backward_weight(x, grad_out, kernel, stride, padding, dilation, groups):
    """grad_out[g] @ cols[g].T (BLAS, the sum over samples and positions inside the GEMM);
    depthwise: the stencil kernel."""
    n, channels = x.shape[:2]
    _, out_channels, oh, ow = grad_out.shape
    kh, kw = kernel
    if channels == groups == out_channels > 1:  # depthwise
        grad_weight = np.empty((out_channels, kh * kw), x.dtype)
        grad = np.ascontiguousarray(grad_out).reshape(n, out_channels, oh * ow)
        _k.depthwise_conv2d_backward_weight(_planes(x), grad, grad_weight, *x.shape[2:], (kh, kw),
                                            *_geometry(stride, padding, dilation), oh, ow,
                                            _threads(grad_out.size * kh * kw))
        return grad_weight.reshape(out_channels, 1, kh, kw)
    cols = _im2col(x, kernel, stride, padding, dilation, (oh, ow), True)
    grad = np.matmul(_by_group(_rows_first(grad_out), groups), _by_group(cols, groups).transpose(0, 2, 1))
    return grad.reshape(out_channels, channels // groups, kh, kw)


# ---------------------------------------------------------------- pooling


def max_pool2d(x, kernel, stride, padding, dilation, out_hw):
    n, c, h, w = x.shape
    oh, ow = out_hw
    out = np.empty((n * c, oh * ow), x.dtype)
    indices = np.empty((n * c, oh * ow), np.int64)
    _k.max_pool2d(_planes(x).reshape(n * c, h * w), h, w, out, indices, tuple(kernel), tuple(stride),
                  tuple(padding), tuple(dilation), oh, ow, _threads(out.size * kernel[0] * kernel[1]))
    return out.reshape(n, c, oh, ow), indices.reshape(n, c, oh, ow)


def max_pool2d_backward(grad_out, indices, in_hw):
    n, c, oh, ow = grad_out.shape
    h, w = in_hw
    grad_in = np.zeros((n * c, h * w), grad_out.dtype)
    _k.max_pool_backward(np.ascontiguousarray(grad_out).reshape(n * c, oh * ow),
                         np.ascontiguousarray(indices).reshape(n * c, oh * ow), grad_in, _threads(grad_out.size))
    return grad_in.reshape(n, c, h, w)


def avg_pool2d(x, kernel, stride, padding, out_hw, count_include_pad, divisor_override):
    n, c, h, w = x.shape
    oh, ow = out_hw
    out = np.empty((n * c, oh * ow), x.dtype)
    _k.avg_pool2d(_planes(x).reshape(n * c, h * w), h, w, out, tuple(kernel), tuple(stride), tuple(padding),
                  oh, ow, count_include_pad, divisor_override or 0, _threads(out.size * kernel[0] * kernel[1]))
    return out.reshape(n, c, oh, ow)


def avg_pool2d_backward(grad_out, in_hw, kernel, stride, padding, count_include_pad, divisor_override):
    n, c, oh, ow = grad_out.shape
    h, w = in_hw
    grad_in = np.zeros((n * c, h * w), grad_out.dtype)
    _k.avg_pool_backward(np.ascontiguousarray(grad_out).reshape(n * c, oh * ow), grad_in, h, w, tuple(kernel),
                         tuple(stride), tuple(padding), oh, ow, count_include_pad, divisor_override or 0,
                         _threads(grad_in.size * kernel[0] * kernel[1]))
    return grad_in.reshape(n, c, h, w)


# ---------------------------------------------------------------- batch normalization


def batch_norm(x, weight, bias, mean, var, eps, training):
    x = np.ascontiguousarray(x)
    out = np.empty(x.shape, x.dtype)
    mean = np.array(mean, np.float64)  # the kernel writes the batch statistics into these
    var = np.array(var, np.float64)
    _k.batch_norm_forward(x, weight, bias, mean, var, eps, training, out, _threads(2 * x.size))
    return out, mean, var


def batch_norm_backward(x, grad_out, mean, var, weight, eps, training, want_grad_in):
    x = np.ascontiguousarray(x)
    channels = x.shape[1]
    grad_in = np.empty(x.shape if want_grad_in else (0,) + x.shape[1:], x.dtype)
    grad_weight, grad_bias = np.empty(channels), np.empty(channels)
    _k.batch_norm_backward(x, np.ascontiguousarray(grad_out, x.dtype), mean, var, weight, eps, training, grad_in,
                           want_grad_in, grad_weight, grad_bias, _threads(2 * x.size))
    return (grad_in if want_grad_in else None), grad_weight, grad_bias
