"""Resampling ops built from differentiable primitives: adaptive pooling,
``interpolate``, ``pixel_shuffle``, ``max_unpool2d`` and ``pad``'s
reflect/replicate/circular modes.

Average pooling over adaptive bins and linear interpolation are separable
linear maps, so each is a constant (out, in) matrix applied along one axis
with ``matmul`` (BLAS); nearest-neighbour resampling and the index-based pad
modes are ``index_select`` along each axis; adaptive max pooling picks its
winners with NumPy and gathers them with ``take_along_dim`` (so the gradient
goes to the one winning element, as in PyTorch). Their gradients come from
those primitives; only ``MaxUnpool2d`` is a Function of its own.
"""

import math
import numbers

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from .common import require_float
from .conv import _image, _pair
from .index import index_select, take_along_dim
from .join import pad as constant_pad
from .linalg import matmul


def _output_sizes(op, output_size, in_size):
    """output_size as an int, or a tuple whose None entries keep the input's size."""
    dims = len(in_size)
    if 0 in in_size:  # an empty bin has no mean or max (PyTorch refuses too)
        raise RuntimeError(f"{op}: expected input to have non-zero size for non-batch dimensions, "
                           f"got spatial size {tuple(in_size)}")
    sizes = (output_size,) * dims if isinstance(output_size, numbers.Integral) else tuple(output_size)
    if len(sizes) != dims:
        raise ValueError(f"{op}: output_size must be an int or a tuple of {dims}, got {output_size!r}")
    sizes = tuple(n if s is None else s for s, n in zip(sizes, in_size))
    if any(isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in sizes):
        raise ValueError(f"{op}: output_size must hold positive ints (or None), got {output_size!r}")
    return tuple(int(s) for s in sizes)


def _bins(n, out):
    """PyTorch's adaptive bins: bin i covers [floor(i * n / out), ceil((i + 1) * n / out))."""
    return [((i * n) // out, -((-(i + 1) * n) // out)) for i in range(out)]


def _along(x, matrix, axis):
    """Apply a constant (out, in) matrix along ``axis`` (-1 or -2) of x."""
    m = Tensor._wrap(matrix.astype(x.dtype))
    return matmul(x, m.T) if axis == -1 else matmul(m, x)


def _average_matrix(n, out):
    matrix = np.zeros((out, n))
    for i, (start, end) in enumerate(_bins(n, out)):
        matrix[i, start:end] = 1 / (end - start)
    return matrix


def adaptive_avg_pool1d(input, output_size):
    """Mean over ``output_size`` adaptive bins of (N, C, L) or (C, L)."""
    x, unbatched = _image("adaptive_avg_pool1d", input, 1)
    (size,) = _output_sizes("adaptive_avg_pool1d", output_size, x.shape[2:])
    out = _along(x, _average_matrix(x.shape[2], size), -1)
    return out.squeeze(0) if unbatched else out


def adaptive_avg_pool2d(input, output_size):
    """Mean over adaptive bins of (N, C, H, W) or (C, H, W) -> (N, C, *output_size);
    output_size an int, a pair, or a pair with None (keep that dim)."""
    x, unbatched = _image("adaptive_avg_pool2d", input, 2)
    oh, ow = _output_sizes("adaptive_avg_pool2d", output_size, x.shape[2:])
    out = _along(_along(x, _average_matrix(x.shape[2], oh), -2), _average_matrix(x.shape[3], ow), -1)
    return out.squeeze(0) if unbatched else out


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over adaptive bins of (N, C, H, W) or (C, H, W); return_indices: also the
    flat position h * W + w of each maximum (the first in row-major order on ties)."""
    x, unbatched = _image("adaptive_max_pool2d", input, 2)
    n, c, h, w = x.shape
    oh, ow = _output_sizes("adaptive_max_pool2d", output_size, (h, w))
    values = x.array
    # first the best column of each row within each column bin, then the best row within each row bin
    columns = np.stack([values[..., s:e].argmax(axis=-1) + s for s, e in _bins(w, ow)], axis=-1)  # (n, c, h, ow)
    column_best = np.take_along_axis(values, columns, axis=-1)
    rows = np.stack([column_best[..., s:e, :].argmax(axis=-2) + s for s, e in _bins(h, oh)], axis=-2)  # (n, c, oh, ow)
    flat = rows * w + np.take_along_axis(columns, rows, axis=-2)
    out = take_along_dim(x.reshape(n, c, h * w), flat.reshape(n, c, oh * ow), dim=2).reshape(n, c, oh, ow)
    if unbatched:
        out, flat = out.squeeze(0), flat[0]
    return (out, Tensor._wrap(flat.astype(np.int64))) if return_indices else out


class MaxUnpool2d(Function):
    """Each input value placed at its index in a zero (N, C, OH * OW) output: the
    inverse of max_pool2d(return_indices=True); the gradient reads those places back."""

    @staticmethod
    def forward(ctx, x, indices, out_hw):
        n, c, h, w = x.shape
        flat = indices.reshape(n, c, h * w)
        out = np.zeros((n, c, out_hw[0] * out_hw[1]), x.dtype)
        np.put_along_axis(out, flat, x.reshape(n, c, h * w), axis=2)
        ctx.flat, ctx.shape = flat, x.shape
        return out.reshape(n, c, *out_hw)

    @staticmethod
    def backward(ctx, grad):
        n, c = ctx.shape[:2]
        plane = grad.shape[2] * grad.shape[3]
        return np.take_along_axis(grad.reshape(n, c, plane), ctx.flat, axis=2).reshape(ctx.shape)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Undo max_pool2d: (N, C, H, W) values and their int64 indices -> (N, C, OH, OW)
    zeros with each value at its index. OH = (H - 1) * stride - 2 * padding + kernel_size
    unless output_size says otherwise."""
    op = "max_unpool2d"
    x, unbatched = _image(op, input, 2)
    idx = np.asarray(indices.array if isinstance(indices, Tensor) else indices)
    if idx.dtype.kind not in "iu" or idx.shape != tuple(input.shape):
        raise ValueError(f"{op}: indices must be integers of the input's shape {input.shape}, got "
                         f"{idx.dtype} {idx.shape}")
    kernel = _pair(op, "kernel_size", kernel_size, 2, 1)
    stride = kernel if stride is None else _pair(op, "stride", stride, 2, 1)
    pad = _pair(op, "padding", padding, 2, 0)
    if output_size is None:
        out_hw = tuple((n - 1) * s - 2 * p + k for n, s, p, k in zip(x.shape[2:], stride, pad, kernel))
    else:
        out_hw = _pair(op, "output_size", tuple(output_size)[-2:], 2, 1)
    if idx.size and (idx.min() < 0 or idx.max() >= out_hw[0] * out_hw[1]):
        raise ValueError(f"{op}: indices must be in [0, {out_hw[0] * out_hw[1]}) for output size {out_hw}, "
                         f"got values in [{idx.min()}, {idx.max()}]")
    idx = idx.astype(np.int64).reshape(x.shape)
    out = MaxUnpool2d.apply(x, indices=idx, out_hw=out_hw)
    return out.squeeze(0) if unbatched else out


# ---------------------------------------------------------------- interpolate


def _source_scale(in_size, out_size, scale_factor, recompute_scale_factor):
    """PyTorch's rule: the given scale_factor maps coordinates unless the size
    was given or recompute_scale_factor asks for in / out."""
    if scale_factor is not None and not recompute_scale_factor:
        return 1.0 / scale_factor
    return in_size / out_size


def _nearest_index(in_size, out_size, scale):
    return np.minimum(np.floor(np.arange(out_size) * scale).astype(np.int64), in_size - 1)


def _linear_matrix(in_size, out_size, scale, align_corners):
    """The (out, in) matrix of linear interpolation with PyTorch's source coordinates."""
    dst = np.arange(out_size, dtype=np.float64)
    if align_corners:
        src = dst * ((in_size - 1) / (out_size - 1) if out_size > 1 else 0.0)
    else:
        src = np.maximum((dst + 0.5) * scale - 0.5, 0.0)
    low = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    high = np.minimum(low + 1, in_size - 1)
    frac = src - low
    matrix = np.zeros((out_size, in_size))
    np.add.at(matrix, (np.arange(out_size), low), 1 - frac)
    np.add.at(matrix, (np.arange(out_size), high), frac)
    return matrix


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None):
    """Resize (N, C, L) or (N, C, H, W) input to ``size`` or by ``scale_factor``.

    mode: 'nearest' (src = floor(dst * scale)), 'linear' (3-D) or 'bilinear'
    (4-D), with PyTorch's coordinate rules: align_corners maps the corner
    pixels' centres onto each other; otherwise src = (dst + 0.5) * scale - 0.5.
    """
    op = "interpolate"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor as input, got {type(input).__name__}")
    require_float(op, input)
    modes = {"nearest": (3, 4), "linear": (3,), "bilinear": (4,)}
    if mode not in modes:
        raise ValueError(f"{op}: mode must be one of {sorted(modes)}, got {mode!r}")
    if input.ndim not in modes[mode]:
        raise ValueError(f"{op}: mode {mode!r} expects a {' or '.join(f'{d}-D' for d in modes[mode])} input, "
                         f"got shape {input.shape}")
    if mode == "nearest" and align_corners is not None:
        raise ValueError(f"{op}: align_corners can only be set with the interpolating modes (linear, bilinear)")
    dims = input.ndim - 2
    in_size = input.shape[2:]
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor")
    if size is not None:
        out_size = _output_sizes(op, size, in_size)
        scales = [None] * dims
    else:
        scales = list(scale_factor) if isinstance(scale_factor, (tuple, list)) else [scale_factor] * dims
        if len(scales) != dims or any(not isinstance(s, numbers.Real) or s <= 0 for s in scales):
            raise ValueError(f"{op}: scale_factor must be a positive number or {dims} of them, got {scale_factor!r}")
        out_size = tuple(int(math.floor(n * s)) for n, s in zip(in_size, scales))
        if any(s < 1 for s in out_size):
            raise ValueError(f"{op}: scale_factor {scale_factor} gives an empty output for input shape {input.shape}")
    out = input
    for axis, n, o, s in zip(range(-dims, 0), in_size, out_size, scales):
        scale = _source_scale(n, o, s, recompute_scale_factor)
        if mode == "nearest":
            out = index_select(out, axis, _nearest_index(n, o, scale))
        else:
            out = _along(out, _linear_matrix(n, o, scale, bool(align_corners)), axis)
    return out


def pixel_shuffle(input, upscale_factor):
    """(N, C * r * r, H, W) -> (N, C, H * r, W * r): channel blocks become r x r pixel blocks."""
    r = upscale_factor
    if isinstance(r, bool) or not isinstance(r, numbers.Integral) or r < 1:
        raise ValueError(f"pixel_shuffle: upscale_factor must be a positive int, got {r!r}")
    if not isinstance(input, Tensor) or input.ndim < 3 or input.shape[-3] % (r * r):
        shape = input.shape if isinstance(input, Tensor) else type(input).__name__
        raise ValueError(f"pixel_shuffle: input of shape {shape} needs at least 3 dims and channels divisible "
                         f"by upscale_factor**2 = {r * r}")
    *batch, c, h, w = input.shape
    x = input.reshape(-1, c // (r * r), r, r, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(*batch, c // (r * r), h * r, w * r)


# ---------------------------------------------------------------- pad modes


def _pad_index(op, n, before, after, mode):
    positions = np.arange(-before, n + after)
    if mode == "replicate":
        return np.clip(positions, 0, n - 1)
    if mode == "circular":
        if before > n or after > n:
            raise ValueError(f"{op}: circular padding ({before}, {after}) must not exceed the dim's size {n}")
        return positions % n
    if before >= n or after >= n:  # reflect: the edge is not repeated
        raise ValueError(f"{op}: reflect padding ({before}, {after}) must be smaller than the dim's size {n}")
    return np.where(positions < 0, -positions, np.where(positions >= n, 2 * (n - 1) - positions, positions))


def pad(input, pad, mode="constant", value=None):
    """PyTorch's ``F.pad``: pad = (before_last, after_last, before_second_last, ...).

    mode 'constant' fills with ``value`` (0 by default; negative widths crop);
    'reflect' mirrors without repeating the edge, 'replicate' repeats the edge,
    'circular' wraps around. The last three pad at most all but the first dim
    and take non-negative widths."""
    if mode == "constant":
        return constant_pad(input, pad, value=0.0 if value is None else value)
    op = "pad"
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"{op}: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor as input, got {type(input).__name__}")
    widths = tuple(pad)
    if len(widths) % 2 or not widths or len(widths) // 2 > input.ndim - 1:
        raise ValueError(f"{op}: {mode} pad {widths} must hold 1 to {input.ndim - 1} (before, after) pairs for "
                         f"input shape {input.shape} (the first dim is never padded)")
    if any(isinstance(p, bool) or not isinstance(p, numbers.Integral) or p < 0 for p in widths):
        raise ValueError(f"{op}: {mode} padding takes non-negative ints, got {widths}")
    out = input
    for i in range(len(widths) // 2):
        axis = input.ndim - 1 - i
        before, after = widths[2 * i], widths[2 * i + 1]
        if before or after:
            out = index_select(out, axis, _pad_index(op, input.shape[axis], before, after, mode))
    return out
