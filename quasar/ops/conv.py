"""Convolution, pooling and batch normalization: PyTorch's ``F.conv2d``,
``F.max_pool2d``, ``F.batch_norm`` and their relatives.

Every op works on (N, C, H, W) images; the 1-D ops add an H = 1 axis and take
it off again, and an unbatched (C, H, W) input gets a batch axis of one, as in
PyTorch. The Python layer checks every argument and computes every output
size (``_output_size``, ``_pool_output_size``) before a kernel runs: the
kernels do no bounds checks. Forward and backward of each op sit side by side
and call the kernels of ``backends/*_conv.py``.
"""

import math
import numbers

import numpy as np

from ..autograd import Function, no_grad
from ..backends.differentiable import linear_backward
from ..tensor import Tensor
from .common import backend, require_float

# ---------------------------------------------------------------- argument checks


def _pair(op, name, value, dims, minimum):
    """An int or a tuple of ``dims`` ints, each >= minimum -> a tuple of ``dims`` ints."""
    values = (value,) * dims if isinstance(value, numbers.Integral) and not isinstance(value, bool) else value
    if not isinstance(values, (tuple, list)) or len(values) != dims or not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values
    ):
        raise TypeError(f"{op}: {name} must be an int or a tuple of {dims} ints, got {value!r}")
    values = tuple(int(v) for v in values)
    if any(v < minimum for v in values):
        kind = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{op}: {name} must be {kind}, got {value!r}")
    return values


def _image(op, x, dims):
    """x as a batched (N, C, *spatial) tensor of ``dims`` spatial dims, and
    whether it was unbatched (C, *spatial), as PyTorch accepts."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor as input, got {type(x).__name__}")
    require_float(op, x)
    if x.ndim not in (dims + 1, dims + 2):
        layout = "(N, C, L) or (C, L)" if dims == 1 else "(N, C, H, W) or (C, H, W)"
        raise ValueError(f"{op}: expected a {dims + 1}-D or {dims + 2}-D input {layout}, got shape {x.shape}")
    unbatched = x.ndim == dims + 1
    return (x.unsqueeze(0) if unbatched else x), unbatched


def _as_2d(x, dims):
    """A 1-D op's (N, C, L) tensor as an (N, C, 1, L) image."""
    return x.unsqueeze(2) if dims == 1 else x


def _from_2d(out, dims, unbatched):
    if dims == 1:
        out = out.squeeze(2)
    return out.squeeze(0) if unbatched else out


def _output_size(op, in_size, kernel, stride, padding, dilation, shape):
    """Convolution output sizes: (n + before + after - d * (k - 1) - 1) // s + 1 per dim."""
    sizes = []
    for n, k, s, (before, after), d in zip(in_size, kernel, stride, padding, dilation):
        span = d * (k - 1) + 1
        if n + before + after < span:
            raise ValueError(
                f"{op}: the kernel (size {k}, dilation {d}, spanning {span}) is larger than the padded input "
                f"(size {n} + padding {before + after}); input shape {shape}"
            )
        sizes.append((n + before + after - span) // s + 1)
    return tuple(sizes)


def _conv_padding(op, padding, kernel, stride, dilation, dims):
    """padding as an int, a tuple, 'valid' or 'same' -> ((before, after), ...) per spatial dim."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * dims
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions (stride {stride})")
            # as PyTorch: an odd total puts the extra row/column after
            totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in totals)
        raise ValueError(f"{op}: padding must be an int, a tuple, 'valid' or 'same', got {padding!r}")
    return tuple((p, p) for p in _pair(op, "padding", padding, dims, 0))


# ---------------------------------------------------------------- convolution


class Conv2d(Function):
    """out = conv2d(x, weight) (+ bias); x (N, C, H, W), weight (C_out, C / groups, KH, KW)."""

    @staticmethod
    def forward(ctx, x, weight, bias=None, *, stride, padding, dilation, groups, out_hw):
        ctx.save_for_backward(x, weight)
        ctx.geometry = (stride, padding, dilation, groups)
        ctx.has_bias = bias is not None
        return backend().conv2d(x, weight, bias, stride, padding, dilation, groups, out_hw)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        B = backend()
        stride, padding, dilation, groups = ctx.geometry
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = B.conv2d_backward_input(grad, weight, x.shape[2:], stride, padding, dilation, groups)
        if ctx.needs_input_grad[1]:
            grad_w = B.conv2d_backward_weight(x, grad, weight.shape[2:], stride, padding, dilation, groups)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = B.sum(grad, (0, 2, 3), False)
        return grad_x, grad_w, grad_b


def _check_conv_operands(op, x, weight, bias, groups, in_channels_of_weight):
    """Dtypes, ranks and channel counts of a convolution's operands."""
    if not isinstance(weight, Tensor) or (bias is not None and not isinstance(bias, Tensor)):
        raise TypeError(f"{op}: weight and bias must be Tensors")
    require_float(op, weight, *([bias] if bias is not None else []))
    if weight.dtype != x.dtype or (bias is not None and bias.dtype != x.dtype):
        raise TypeError(
            f"{op}: input ({x.dtype}), weight ({weight.dtype})"
            + (f" and bias ({bias.dtype})" if bias is not None else "")
            + " must have the same dtype"
        )
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    channels = x.shape[1]
    if channels % groups or weight.shape[0] % groups:
        raise ValueError(
            f"{op}: groups={groups} must divide both the input channels ({channels}, input shape {x.shape}) "
            f"and the weight's first dim ({weight.shape[0]}, weight shape {weight.shape})"
        )
    if in_channels_of_weight * groups != channels:
        raise ValueError(
            f"{op}: input shape {x.shape} has {channels} channels, but weight of shape {weight.shape} "
            f"with groups={groups} expects {in_channels_of_weight * groups}"
        )


def _conv(op, x, weight, bias, stride, padding, dilation, groups, dims):
    x, unbatched = _image(op, x, dims)
    if not isinstance(weight, Tensor) or weight.ndim != dims + 2:
        shape = weight.shape if isinstance(weight, Tensor) else type(weight).__name__
        raise ValueError(f"{op}: weight must be a {dims + 2}-D tensor (C_out, C_in / groups, *kernel), got {shape}")
    _check_conv_operands(op, x, weight, bias, groups, weight.shape[1])
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"{op}: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    kernel = tuple(weight.shape[2:])
    if 0 in weight.shape:
        raise ValueError(f"{op}: weight of shape {weight.shape} is empty (no output channels or an empty kernel)")
    stride = _pair(op, "stride", stride, dims, 1)
    dilation = _pair(op, "dilation", dilation, dims, 1)
    pads = _conv_padding(op, padding, kernel, stride, dilation, dims)
    out_size = _output_size(op, x.shape[2:], kernel, stride, pads, dilation, x.shape)
    if dims == 1:  # the 2-D kernels with a height of one
        stride, dilation, pads, out_size = (1, *stride), (1, *dilation), ((0, 0), *pads), (1, *out_size)
        x, weight = x.unsqueeze(2), weight.unsqueeze(2)
    padding4 = (*pads[0], *pads[1])
    inputs = (x, weight) if bias is None else (x, weight, bias)
    out = Conv2d.apply(*inputs, stride=stride, padding=padding4, dilation=dilation, groups=int(groups),
                       out_hw=out_size)
    return _from_2d(out, dims, unbatched)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (cross-correlation, as PyTorch): input (N, C_in, L) or (C_in, L),
    weight (C_out, C_in / groups, K), bias (C_out,) -> (N, C_out, L_out).
    padding: int, (p,), 'valid' or 'same'."""
    return _conv("conv1d", input, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as PyTorch): input (N, C_in, H, W) or (C_in, H, W),
    weight (C_out, C_in / groups, KH, KW), bias (C_out,) -> (N, C_out, H_out, W_out).
    stride, padding, dilation: int or pair; padding may be 'valid' or 'same' (stride 1).
    groups: the channels split into groups convolved separately (groups = C_in: depthwise)."""
    return _conv("conv2d", input, weight, bias, stride, padding, dilation, groups, 2)


class ConvTranspose2d(Function):
    """The adjoint of Conv2d in its input: x (N, C_in, H, W), weight (C_in, C_out / groups, KH, KW)."""

    @staticmethod
    def forward(ctx, x, weight, bias=None, *, stride, padding, dilation, groups, out_hw):
        ctx.save_for_backward(x, weight)
        ctx.geometry = (stride, padding, dilation, groups)
        ctx.has_bias = bias is not None
        out = backend().conv2d_backward_input(x, weight, out_hw, stride, padding, dilation, groups)
        if bias is not None:
            out = backend().add(out, bias.reshape(-1, 1, 1))
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        B = backend()
        stride, padding, dilation, groups = ctx.geometry
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = B.conv2d(grad, weight, None, stride, padding, dilation, groups, x.shape[2:])
        if ctx.needs_input_grad[1]:  # the "input" of the adjoint convolution is grad, its "output" x
            grad_w = B.conv2d_backward_weight(grad, x, weight.shape[2:], stride, padding, dilation, groups)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = B.sum(grad, (0, 2, 3), False)
        return grad_x, grad_w, grad_b


def _conv_transpose(op, x, weight, bias, stride, padding, output_padding, groups, dilation, dims):
    x, unbatched = _image(op, x, dims)
    if not isinstance(weight, Tensor) or weight.ndim != dims + 2:
        shape = weight.shape if isinstance(weight, Tensor) else type(weight).__name__
        raise ValueError(f"{op}: weight must be a {dims + 2}-D tensor (C_in, C_out / groups, *kernel), got {shape}")
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    if weight.shape[0] != x.shape[1]:
        raise ValueError(f"{op}: input shape {x.shape} has {x.shape[1]} channels, but weight of shape "
                         f"{weight.shape} expects {weight.shape[0]}")
    _check_conv_operands(op, x, weight, bias, groups, x.shape[1] // groups)
    out_channels = weight.shape[1] * groups
    if bias is not None and bias.shape != (out_channels,):
        raise ValueError(f"{op}: bias must have shape ({out_channels},), got {bias.shape}")
    kernel = tuple(weight.shape[2:])
    stride = _pair(op, "stride", stride, dims, 1)
    dilation = _pair(op, "dilation", dilation, dims, 1)
    pad = _pair(op, "padding", padding, dims, 0)
    extra = _pair(op, "output_padding", output_padding, dims, 0)
    for e, s, d in zip(extra, stride, dilation):
        if e >= max(s, d):
            raise ValueError(f"{op}: output_padding {extra} must be smaller than stride {stride} or dilation "
                             f"{dilation}")
    out_size = tuple((n - 1) * s - 2 * p + d * (k - 1) + e + 1
                     for n, s, p, d, k, e in zip(x.shape[2:], stride, pad, dilation, kernel, extra))
    if any(n <= 0 for n in out_size):
        raise ValueError(f"{op}: input shape {x.shape} with weight {weight.shape} gives an empty output {out_size}")
    if dims == 1:
        stride, dilation, pad, out_size = (1, *stride), (1, *dilation), (0, *pad), (1, *out_size)
        x, weight = x.unsqueeze(2), weight.unsqueeze(2)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    out = ConvTranspose2d.apply(*inputs, stride=stride, padding=(pad[0], pad[0], pad[1], pad[1]),
                                dilation=dilation, groups=int(groups), out_hw=out_size)
    return _from_2d(out, dims, unbatched)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 1-D convolution: (N, C_in, L) with weight (C_in, C_out / groups, K) ->
    (N, C_out, (L - 1) * stride - 2 * padding + dilation * (K - 1) + output_padding + 1)."""
    return _conv_transpose("conv_transpose1d", input, weight, bias, stride, padding, output_padding, groups,
                           dilation, 1)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution (the gradient of conv2d with respect to its input):
    (N, C_in, H, W) with weight (C_in, C_out / groups, KH, KW) -> (N, C_out, H_out, W_out)."""
    return _conv_transpose("conv_transpose2d", input, weight, bias, stride, padding, output_padding, groups,
                           dilation, 2)


# ---------------------------------------------------------------- unfold / fold (im2col / col2im)


class Unfold(Function):
    """im2col: (N, C, H, W) -> (N, C * KH * KW, L), one column per window."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, dilation, out_hw):
        ctx.geometry = (x.shape[1], x.shape[2:], kernel, stride, padding, dilation, out_hw)
        return backend().im2col(x, kernel, stride, padding, dilation, out_hw)

    @staticmethod
    def backward(ctx, grad):
        if isinstance(grad, Tensor):  # double backward: this linear op's transpose, as an op
            return linear_backward(ctx, grad)
        return backend().col2im(grad, *ctx.geometry)


class Fold(Function):
    """col2im: (N, C * KH * KW, L) -> (N, C, H, W), overlapping windows summed."""

    @staticmethod
    def forward(ctx, cols, channels, in_hw, kernel, stride, padding, dilation, out_hw):
        ctx.geometry = (kernel, stride, padding, dilation, out_hw)
        return backend().col2im(cols, channels, in_hw, kernel, stride, padding, dilation, out_hw)

    @staticmethod
    def backward(ctx, grad):
        if isinstance(grad, Tensor):  # double backward: this linear op's transpose, as an op
            return linear_backward(ctx, grad)
        return backend().im2col(grad, *ctx.geometry)


def _unfold_geometry(op, kernel_size, dilation, padding, stride):
    kernel = _pair(op, "kernel_size", kernel_size, 2, 1)
    dilation = _pair(op, "dilation", dilation, 2, 1)
    padding = _pair(op, "padding", padding, 2, 0)
    stride = _pair(op, "stride", stride, 2, 1)
    return kernel, dilation, ((padding[0], padding[0]), (padding[1], padding[1])), stride


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extract sliding windows (im2col): (N, C, H, W) -> (N, C * KH * KW, L), L the
    number of windows; column l holds window l's values, rows in (channel,
    kernel row, kernel column) order. ``conv2d`` is ``weight.view(C_out, -1) @ unfold(x)``."""
    x, unbatched = _image("unfold", input, 2)
    kernel, dilation, pads, stride = _unfold_geometry("unfold", kernel_size, dilation, padding, stride)
    out_hw = _output_size("unfold", x.shape[2:], kernel, stride, pads, dilation, x.shape)
    out = Unfold.apply(x, kernel=kernel, stride=stride, padding=(*pads[0], *pads[1]), dilation=dilation,
                       out_hw=out_hw)
    return out.squeeze(0) if unbatched else out


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Combine sliding windows into an image (col2im), summing where they overlap:
    (N, C * KH * KW, L) -> (N, C, *output_size). The adjoint of ``unfold``."""
    if not isinstance(input, Tensor):
        raise TypeError(f"fold: expected a Tensor as input, got {type(input).__name__}")
    require_float("fold", input)
    if input.ndim not in (2, 3):
        raise ValueError(f"fold: expected a 2-D or 3-D input (N, C * KH * KW, L), got shape {input.shape}")
    unbatched = input.ndim == 2
    cols = input.unsqueeze(0) if unbatched else input
    in_hw = _pair("fold", "output_size", output_size, 2, 1)
    kernel, dilation, pads, stride = _unfold_geometry("fold", kernel_size, dilation, padding, stride)
    per_window = kernel[0] * kernel[1]
    if cols.shape[1] % per_window:
        raise ValueError(f"fold: input shape {input.shape}: dim 1 ({cols.shape[1]}) must be divisible by the "
                         f"kernel's size {kernel[0]} * {kernel[1]}")
    out_hw = _output_size("fold", in_hw, kernel, stride, pads, dilation, in_hw)
    if cols.shape[2] != out_hw[0] * out_hw[1]:
        raise ValueError(f"fold: input shape {input.shape} has {cols.shape[2]} windows, but output_size "
                         f"{in_hw} with kernel {kernel} gives {out_hw[0]} * {out_hw[1]}")
    out = Fold.apply(cols, channels=cols.shape[1] // per_window, in_hw=in_hw, kernel=kernel, stride=stride,
                     padding=(*pads[0], *pads[1]), dilation=dilation, out_hw=out_hw)
    return out.squeeze(0) if unbatched else out


# ---------------------------------------------------------------- pooling


def _pool_output_size(op, in_size, kernel, stride, padding, dilation, ceil_mode, shape):
    """PyTorch's pooling output size: floor (or ceil) of (n + 2p - d(k-1) - 1) / s + 1,
    where a ceil_mode window must still start inside the input or its left padding."""
    sizes = []
    for n, k, s, p, d in zip(in_size, kernel, stride, padding, dilation):
        span = d * (k - 1) + 1
        if p > span // 2:
            raise ValueError(f"{op}: padding {padding} must be at most half the kernel size {kernel} "
                             f"(dilation {dilation})")
        if n + 2 * p < span:
            raise ValueError(f"{op}: the kernel {kernel} (dilation {dilation}) is larger than the padded input "
                             f"of shape {shape} with padding {padding}")
        size = (n + 2 * p - span + ((s - 1) if ceil_mode else 0)) // s + 1
        if ceil_mode and (size - 1) * s >= n + p:
            size -= 1
        sizes.append(size)
    return tuple(sizes)


def _pool_geometry(op, x, dims, kernel_size, stride, padding, dilation, ceil_mode):
    """Checked pooling arguments and output size, as the 2-D kernels take them (a 1-D op gets height 1)."""
    kernel = _pair(op, "kernel_size", kernel_size, dims, 1)
    stride = kernel if stride is None or stride == () or stride == [] else _pair(op, "stride", stride, dims, 1)
    padding = _pair(op, "padding", padding, dims, 0)
    dilation = _pair(op, "dilation", dilation, dims, 1)
    out_size = _pool_output_size(op, x.shape[2:], kernel, stride, padding, dilation, ceil_mode, x.shape)
    if dims == 1:  # the 2-D kernels with a height of one
        kernel, stride, dilation, out_size = (1, *kernel), (1, *stride), (1, *dilation), (1, *out_size)
        padding = (0, *padding)
    return kernel, stride, padding, dilation, out_size


class MaxPool2d(Function):
    """The largest value of each window; the gradient goes to where it was."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, dilation, out_hw, indices_out):
        out, indices = backend().max_pool2d(x, kernel, stride, padding, dilation, out_hw)
        ctx.indices, ctx.in_hw = indices, x.shape[2:]
        indices_out.append(indices)  # handed back to max_pool2d for return_indices
        return out

    @staticmethod
    def backward(ctx, grad):
        return backend().max_pool2d_backward(grad, ctx.indices, ctx.in_hw)


def _max_pool(op, input, dims, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x, unbatched = _image(op, input, dims)
    kernel, stride, padding, dilation, out_hw = _pool_geometry(op, x, dims, kernel_size, stride, padding, dilation,
                                                               ceil_mode)
    sink = []
    out = MaxPool2d.apply(_as_2d(x, dims), kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                          out_hw=out_hw, indices_out=sink)
    out = _from_2d(out, dims, unbatched)
    if not return_indices:
        return out
    indices = sink[0]
    if dims == 1:
        indices = indices[:, :, 0]
    return out, Tensor._wrap(indices[0] if unbatched else indices)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over sliding windows of (N, C, L) or (C, L); stride defaults to kernel_size.
    return_indices: also the int64 position of each maximum in its row."""
    return _max_pool("max_pool1d", input, 1, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over sliding windows of (N, C, H, W) or (C, H, W); stride defaults to kernel_size;
    padding (at most half the kernel) never wins. return_indices: also the int64
    flat position h * W + w of each maximum in its plane (for max_unpool2d)."""
    return _max_pool("max_pool2d", input, 2, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


class AvgPool2d(Function):
    """The mean of each window (by PyTorch's divisor rule); the gradient is spread back evenly."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, out_hw, count_include_pad, divisor_override):
        ctx.options = (x.shape[2:], kernel, stride, padding, count_include_pad, divisor_override)
        return backend().avg_pool2d(x, kernel, stride, padding, out_hw, count_include_pad, divisor_override)

    @staticmethod
    def backward(ctx, grad):
        if isinstance(grad, Tensor):  # double backward: this linear op's transpose, as an op
            return linear_backward(ctx, grad)
        return backend().avg_pool2d_backward(grad, *ctx.options)


def _avg_pool(op, input, dims, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    x, unbatched = _image(op, input, dims)
    kernel, stride, padding, _, out_hw = _pool_geometry(op, x, dims, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and (
        isinstance(divisor_override, bool) or not isinstance(divisor_override, numbers.Integral)
        or divisor_override < 1
    ):
        raise ValueError(f"{op}: divisor_override must be a positive int or None, got {divisor_override!r}")
    out = AvgPool2d.apply(_as_2d(x, dims), kernel=kernel, stride=stride, padding=padding, out_hw=out_hw,
                          count_include_pad=bool(count_include_pad),
                          divisor_override=int(divisor_override) if divisor_override else None)
    return _from_2d(out, dims, unbatched)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over sliding windows of (N, C, L) or (C, L); stride defaults to kernel_size;
    count_include_pad: padded zeros count in the divisor."""
    return _avg_pool("avg_pool1d", input, 1, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over sliding windows of (N, C, H, W) or (C, H, W); stride defaults to kernel_size;
    count_include_pad: padded zeros count in the divisor; divisor_override: divide by this instead."""
    return _avg_pool("avg_pool2d", input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


# ---------------------------------------------------------------- batch normalization


class BatchNorm(Function):
    """(x - mean) / sqrt(var + eps) * weight + bias per channel of x (N, C, L), with
    the batch's statistics (training) or given ones. Inputs: x, then weight
    and bias where the caller has them (``affine`` says which)."""

    @staticmethod
    def forward(ctx, x, *affine, has_weight, has_bias, mean, var, eps, training, stats_out):
        # (double backward replays this on tensors: casts go through _as_dtype, and
        # a missing weight is kept as None, not as an array of ones)
        channels = x.shape[1]
        weight = _as_dtype(affine[0], np.float64) if has_weight else None
        bias = _as_dtype(affine[-1], np.float64) if has_bias else np.zeros(channels)
        shape = x.shape
        x3 = x.reshape(shape[0], channels, math.prod(shape[2:]))
        out, mean, var = backend().batch_norm(x3, np.ones(channels) if weight is None else weight, bias, mean, var,
                                              eps, training)
        ctx.save_for_backward(x)
        ctx.stats = (mean, var, weight, eps, training, has_weight, has_bias)
        stats_out.append((mean, var))  # the batch statistics, for the running averages
        return out.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        mean, var, weight, eps, training, has_weight, has_bias = ctx.stats
        x3 = x.reshape(x.shape[:2] + (math.prod(x.shape[2:]),))
        grad_in, grad_weight, grad_bias = backend().batch_norm_backward(
            x3, grad.reshape(x3.shape), mean, var, np.ones(x.shape[1]) if weight is None else weight, eps, training,
            ctx.needs_input_grad[0]
        )
        grads = [None if grad_in is None else grad_in.reshape(x.shape)]
        if has_weight:
            grads.append(_as_dtype(grad_weight, x.dtype))
        if has_bias:
            grads.append(_as_dtype(grad_bias, x.dtype))
        return tuple(grads)


def _as_dtype(a, dtype):
    """a cast to dtype: an ndarray, or a Tensor (differentiably) when forward is
    replayed or backward runs on tensors for double backward."""
    return a.to(dtype) if isinstance(a, Tensor) else a.astype(dtype)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalise each channel of (N, C, *) input to mean 0 and variance 1, then
    scale by weight (C,) and shift by bias (C,).

    training: use the batch's statistics (biased variance) and, where given,
    update running_mean and running_var in place:
    running = (1 - momentum) * running + momentum * batch value, the variance
    unbiased (n / (n - 1)), as PyTorch. Otherwise use running_mean/running_var.
    """
    op = "batch_norm"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor as input, got {type(input).__name__}")
    require_float(op, input)
    if input.ndim < 2:
        raise ValueError(f"{op}: expected an input of at least 2 dims (N, C, *), got shape {input.shape}")
    channels = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and (not isinstance(t, Tensor) or t.shape != (channels,)):
            got = t.shape if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(f"{op}: {name} must be a tensor of shape ({channels},) for input shape "
                             f"{input.shape}, got {got}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != input.dtype:
            raise TypeError(f"{op}: input ({input.dtype}) and {name} ({t.dtype}) must have the same dtype")
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real):
        raise TypeError(f"{op}: momentum must be a number (the module's momentum=None is its own rule), "
                        f"got {momentum!r}")
    count = input.numel() // max(channels, 1)
    if training and count <= 1:
        raise ValueError(f"{op}: expected more than 1 value per channel when training, got input shape "
                         f"{input.shape}")
    if not training and (running_mean is None or running_var is None):
        raise ValueError(f"{op}: running_mean and running_var are needed when training=False")
    mean = np.zeros(channels) if running_mean is None else running_mean.array.astype(np.float64)
    var = np.ones(channels) if running_var is None else running_var.array.astype(np.float64)
    affine = [t for t in (weight, bias) if t is not None]
    sink = []
    out = BatchNorm.apply(input, *affine, has_weight=weight is not None, has_bias=bias is not None, mean=mean,
                          var=var, eps=float(eps), training=bool(training), stats_out=sink)
    if training and (running_mean is not None or running_var is not None):
        batch_mean, batch_var = sink[0]
        with no_grad():
            for running, batch in ((running_mean, batch_mean), (running_var, batch_var * count / (count - 1))):
                if running is not None:
                    updated = (1 - momentum) * running.array.astype(np.float64) + momentum * batch
                    running.array[...] = updated
                    running._version[0] += 1
    return out


# ---------------------------------------------------------------- group, instance and vector normalization
# Each is batch normalization of a reshaped input, on the same fused kernels:
# the groups (or instances) become the channels of a batch of one.


def _affine(out, weight, bias):
    """out * weight + bias with (C,) weight and bias along dim 1 of out."""
    shape = (1, out.shape[1]) + (1,) * (out.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each sample's channels in ``num_groups`` groups (over the group's
    channels and all positions), then scale and shift per channel: (N, C, *)."""
    op = "group_norm"
    if not isinstance(input, Tensor) or input.ndim < 2:
        shape = input.shape if isinstance(input, Tensor) else type(input).__name__
        raise ValueError(f"{op}: expected an input of at least 2 dims (N, C, *), got {shape}")
    if isinstance(num_groups, bool) or not isinstance(num_groups, numbers.Integral) or num_groups < 1 or (
        input.shape[1] % num_groups
    ):
        raise ValueError(f"{op}: num_groups={num_groups!r} must be a positive int dividing the channels of input "
                         f"shape {input.shape}")
    n = input.shape[0]
    grouped = input.reshape(1, n * num_groups, -1)
    out = batch_norm(grouped, None, None, training=True, eps=eps).reshape(input.shape)
    return _affine(out, weight, bias)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalise each channel of each sample over its positions: (N, C, *).

    use_input_stats=False uses running_mean/running_var instead; with
    use_input_stats and running statistics given, they are updated with the
    mean over the batch of the instances' statistics, as in PyTorch."""
    op = "instance_norm"
    if not isinstance(input, Tensor) or input.ndim < 3:
        shape = input.shape if isinstance(input, Tensor) else type(input).__name__
        raise ValueError(f"{op}: expected an input of at least 3 dims (N, C, *), got {shape}")
    n, c = input.shape[:2]
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    repeated = [None if t is None else Tensor._wrap(np.tile(t.array, n)) for t in (running_mean, running_var)]
    out = batch_norm(input.reshape(1, n * c, -1), *repeated, training=True, momentum=momentum, eps=eps)
    for running, updated in zip((running_mean, running_var), repeated):
        if running is not None:  # the update is linear: averaging the instances' updates is PyTorch's
            running.array[...] = updated.array.reshape(n, c).mean(axis=0)
            running._version[0] += 1
    return _affine(out.reshape(input.shape), weight, bias)


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """input / max(||input||_p over dim, eps): unit vectors along ``dim``."""
    from .mathops import norm

    return input / norm(input, p, dim, keepdim=True).clamp(min=eps)
