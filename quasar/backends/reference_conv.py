"""Reference kernels of the convolution family (``quasar.ops.conv``), in plain NumPy.

The contract (``compiled_conv.py`` has exactly these names and meanings):

* Images are (N, C, H, W) float arrays; a 1-D op passes H = 1.
* ``kernel``, ``stride``, ``dilation`` and ``out_hw`` are (height, width)
  pairs of ints >= 1 (``out_hw`` >= 0) that the op layer has checked and
  computed: a kernel never derives an output size itself.
* Convolution padding is (top, bottom, left, right), each >= 0 (``'same'``
  may pad one more after than before); pooling padding is (top, left), the
  same after, and ceil_mode windows may run past it (``out_hw`` says so).
* Batch norm sees x as (N, C, L); weight, bias, mean and var are float64
  (C,) arrays; the statistics are the biased ones.
* Every kernel returns new arrays.

Written for clarity, not speed, and independently of the compiled kernels:
windows come from ``sliding_window_view`` and sums from ``einsum`` or from
explicit loops over the kernel positions.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

name = "reference"


def _windows(x, kernel, stride, padding, dilation, out_hw, fill=0.0):
    """x padded with ``fill``, seen as windows: (N, C, OH, OW, KH, KW) (a view)."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, stride, dilation, out_hw
    top, bottom, left, right = padding
    # room for every window, also those a ceil_mode output lets run past the padding
    bottom = max(bottom, (oh - 1) * sh + (kh - 1) * dh + 1 - x.shape[2] - top)
    right = max(right, (ow - 1) * sw + (kw - 1) * dw + 1 - x.shape[3] - left)
    padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=fill)
    span = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
    views = sliding_window_view(padded, span, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]
    return views[:, :, :oh, :ow]


def _add_windows(grad_windows, in_hw, stride, padding, dilation):
    """The adjoint of _windows: (N, C, OH, OW, KH, KW) values added back into an
    (N, C, H, W) image, one kernel position at a time; padding is dropped."""
    n, c, oh, ow, kh, kw = grad_windows.shape
    (sh, sw), (dh, dw) = stride, dilation
    top, _, left, _ = padding
    height = max(in_hw[0] + top, (oh - 1) * sh + (kh - 1) * dh + 1)
    width = max(in_hw[1] + left, (ow - 1) * sw + (kw - 1) * dw + 1)
    padded = np.zeros((n, c, height, width), grad_windows.dtype)
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + (oh - 1) * sh + 1, sh)
            cols = slice(j * dw, j * dw + (ow - 1) * sw + 1, sw)
            padded[:, :, rows, cols] += grad_windows[:, :, :, :, i, j]
    return padded[:, :, top : top + in_hw[0], left : left + in_hw[1]]


# ---------------------------------------------------------------- im2col / col2im


def im2col(x, kernel, stride, padding, dilation, out_hw):
    """(N, C, H, W) -> (N, C * KH * KW, OH * OW): column (oh, ow) holds window (oh, ow),
    rows ordered (channel, kernel row, kernel column)."""
    n, c = x.shape[:2]
    windows = _windows(x, kernel, stride, padding, dilation, out_hw)  # (N, C, OH, OW, KH, KW)
    cols = windows.transpose(0, 1, 4, 5, 2, 3)
    return np.ascontiguousarray(cols).reshape(n, c * kernel[0] * kernel[1], out_hw[0] * out_hw[1])


def col2im(cols, channels, in_hw, kernel, stride, padding, dilation, out_hw):
    """The adjoint of im2col: (N, C * KH * KW, OH * OW) -> (N, C, H, W), overlaps summed."""
    n = cols.shape[0]
    grid = cols.reshape(n, channels, kernel[0], kernel[1], out_hw[0], out_hw[1]).transpose(0, 1, 4, 5, 2, 3)
    return np.ascontiguousarray(_add_windows(grid, in_hw, stride, padding, dilation))


# ---------------------------------------------------------------- convolution


def _grouped(a, groups):
    """(N, C, ...) -> (N, groups, C / groups, ...)."""
    return a.reshape(a.shape[0], groups, a.shape[1] // groups, *a.shape[2:])


def conv2d(x, weight, bias, stride, padding, dilation, groups, out_hw):
    """out[n, o, oh, ow] = bias[o] + sum over c, i, j of window[n, c, oh, ow, i, j] * weight[o, c, i, j],
    c running over the input channels of o's group. weight: (C_out, C_in / groups, KH, KW)."""
    windows = _grouped(_windows(x, weight.shape[2:], stride, padding, dilation, out_hw), groups)
    out = np.einsum("ngchwij,gocij->ngohw", windows, _grouped(weight[None], groups)[0])
    out = out.reshape(x.shape[0], weight.shape[0], *out_hw).astype(x.dtype, copy=False)
    return out if bias is None else out + bias.reshape(-1, 1, 1)


def conv2d_backward_input(grad_out, weight, in_hw, stride, padding, dilation, groups):
    """dL/dx of conv2d: each window's share grad_out * weight, added back to the image."""
    g = _grouped(grad_out, groups)  # (N, G, O, OH, OW)
    grad_windows = np.einsum("ngohw,gocij->ngchwij", g, _grouped(weight[None], groups)[0])
    n = grad_out.shape[0]
    grad_windows = grad_windows.reshape(n, groups * grad_windows.shape[2], *grad_windows.shape[3:])
    return np.ascontiguousarray(_add_windows(grad_windows, in_hw, stride, padding, dilation))


def conv2d_backward_weight(x, grad_out, kernel, stride, padding, dilation, groups):
    """dL/dweight of conv2d: sum over samples and positions of window * grad_out."""
    windows = _grouped(_windows(x, kernel, stride, padding, dilation, grad_out.shape[2:]), groups)
    grad = np.einsum("ngchwij,ngohw->gocij", windows, _grouped(grad_out, groups))
    return grad.reshape(grad_out.shape[1], x.shape[1] // groups, *kernel).astype(x.dtype, copy=False)


# ---------------------------------------------------------------- pooling


def max_pool2d(x, kernel, stride, padding, dilation, out_hw):
    """Largest value of each window and its position ih * W + iw in the input plane
    (the first of equal values); padding never wins."""
    n, c, h, w = x.shape
    pad4 = (padding[0], padding[0], padding[1], padding[1])
    windows = _windows(x, kernel, stride, pad4, dilation, out_hw, fill=-np.inf)
    flat = windows.reshape(n, c, out_hw[0], out_hw[1], kernel[0] * kernel[1])
    best = flat.argmax(axis=-1)  # index into the window, (ki, kj) in C order
    out = np.take_along_axis(flat, best[..., None], axis=-1)[..., 0]
    ki, kj = np.divmod(best, kernel[1])
    rows = np.arange(out_hw[0]).reshape(-1, 1) * stride[0] - padding[0] + ki * dilation[0]
    cols = np.arange(out_hw[1]).reshape(1, -1) * stride[1] - padding[1] + kj * dilation[1]
    return out.astype(x.dtype, copy=False), (rows * w + cols).astype(np.int64)


def max_pool2d_backward(grad_out, indices, in_hw):
    """Each output's gradient added at its window's winning position."""
    n, c = grad_out.shape[:2]
    grad = np.zeros((n * c, in_hw[0] * in_hw[1]), grad_out.dtype)
    planes = np.repeat(np.arange(n * c), grad_out.shape[2] * grad_out.shape[3])
    np.add.at(grad, (planes, indices.reshape(-1)), grad_out.reshape(-1))
    return grad.reshape(n, c, *in_hw)


def _avg_divisors(in_hw, kernel, stride, padding, out_hw, count_include_pad, divisor_override):
    """(OH, OW) divisors by PyTorch's rule: the window clipped to the padded input
    with count_include_pad, its in-bounds part without; divisor_override wins."""
    if divisor_override:
        return np.full(out_hw, float(divisor_override))
    sizes = []
    for n, k, s, p, o in zip(in_hw, kernel, stride, padding, out_hw):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        sizes.append(end - start)
    return np.outer(sizes[0], sizes[1]).astype(np.float64)


def avg_pool2d(x, kernel, stride, padding, out_hw, count_include_pad, divisor_override):
    """Window sums (padding adds zeros) divided by each window's divisor."""
    pad4 = (padding[0], padding[0], padding[1], padding[1])
    sums = _windows(x, kernel, stride, pad4, (1, 1), out_hw).sum(axis=(-2, -1))
    divisors = _avg_divisors(x.shape[2:], kernel, stride, padding, out_hw, count_include_pad, divisor_override)
    return (sums / divisors).astype(x.dtype, copy=False)


def avg_pool2d_backward(grad_out, in_hw, kernel, stride, padding, count_include_pad, divisor_override):
    """Each output's gradient over its divisor, spread over its whole window."""
    divisors = _avg_divisors(in_hw, kernel, stride, padding, grad_out.shape[2:], count_include_pad,
                             divisor_override)
    share = (grad_out / divisors).astype(grad_out.dtype, copy=False)
    grad_windows = np.broadcast_to(share[..., None, None], share.shape + tuple(kernel))
    pad4 = (padding[0], padding[0], padding[1], padding[1])
    return np.ascontiguousarray(_add_windows(grad_windows, in_hw, stride, pad4, (1, 1)))


# ---------------------------------------------------------------- batch normalization


def batch_norm(x, weight, bias, mean, var, eps, training):
    """(x - mean) / sqrt(var + eps) * weight + bias per channel of x (N, C, L);
    with training, mean and var are the batch's (two passes, in float64).
    Returns (out, mean, var)."""
    if training:
        wide = x.astype(np.float64)
        mean = wide.mean(axis=(0, 2))
        var = ((wide - mean[:, None]) ** 2).mean(axis=(0, 2))
    invstd = 1 / np.sqrt(var + eps)
    out = (x - mean[:, None]) * (invstd * weight)[:, None] + bias[:, None]
    return out.astype(x.dtype), np.array(mean, np.float64), np.array(var, np.float64)


def batch_norm_backward(x, grad_out, mean, var, weight, eps, training, want_grad_in):
    """(grad_in or None, grad_weight, grad_bias); with training the batch statistics'
    own dependence on x is differentiated too (in float64)."""
    invstd = 1 / np.sqrt(var + eps)
    g = grad_out.astype(np.float64)
    xhat = (x - mean[:, None]) * invstd[:, None]
    grad_bias = g.sum(axis=(0, 2))
    grad_weight = (g * xhat).sum(axis=(0, 2))
    grad_in = None
    if want_grad_in:
        if training:
            count = x.shape[0] * x.shape[2]
            g = g - grad_bias[:, None] / count - xhat * (grad_weight / count)[:, None]
        grad_in = (g * (weight * invstd)[:, None]).astype(x.dtype)
    return grad_in, grad_weight, grad_bias
