"""Joining, splitting and rearranging: cat, stack, split, chunk, narrow,
repeat, tile, flip, roll, pad, tril and triu.

Like the shape ops, these move numbers without computing any, so the
forward passes use NumPy's copying routines (concatenate, tile, flip, roll)
and the backward passes route each gradient element back to where its value
came from. Two need a kernel: ``repeat``/``tile``, where every input element
appears several times and its gradient is the ``sum`` of the copies', and
``tril``/``triu``, which zero a triangle with ``masked_fill``.

``split``, ``chunk`` and ``narrow`` return views (basic slicing), sharing
memory and the version counter with their input, as in PyTorch.
"""

import functools
import math
import numbers

import numpy as np

from ..autograd import Function
from ..dtypes import promote_types
from ..errors import ShapeError
from ..tensor import Tensor
from .common import backend, check_allocation, normalize_dim, normalize_dims, require_tensor
from .index import MaskedFill, getitem
from .shape import reshape, unsqueeze


def _check_int(op, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    return int(value)


def _int_tuple(op, name, values):
    """An int or a sequence of ints (also given as varargs) -> a tuple of ints."""
    if len(values) == 1 and isinstance(values[0], (tuple, list)):
        values = values[0]
    return tuple(_check_int(op, name, v) for v in values)


# ---------------------------------------------------------------- cat and stack


class Cat(Function):
    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.dim = dim
        ctx.ends = np.cumsum([a.shape[dim] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        # each input gets back its own stretch of the gradient along dim (slices: views,
        # and the same code runs on a Tensor gradient in double backward)
        bounds = [0, *ctx.ends.tolist(), grad.shape[ctx.dim]]
        lead = (slice(None),) * ctx.dim
        return tuple(grad[lead + (slice(start, stop),)] for start, stop in zip(bounds, bounds[1:]))


def _common_dtype(tensors):
    """The dtype the joined tensors share: PyTorch's promotion (the widest float
    present, else the widest integer, else bool)."""
    return functools.reduce(promote_types, [t.dtype for t in tensors])


def _tensor_list(op, tensors):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of tensors, got {type(tensors).__name__}")
    if len(tensors) == 0:
        raise ShapeError(f"{op}: expected a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: element {i} is a {type(t).__name__}, not a Tensor")
    return list(tensors)


def cat(tensors, dim=0):
    """Join tensors along an existing dim. Every other dim must match.

    tensors: a non-empty list of tensors with the same number of dims (1-D
    empty tensors are skipped, as in PyTorch); mixed dtypes promote (float64
    over float32 over integers). Returns shape with ``dim`` = the sum of sizes.
    """
    tensors = _tensor_list("cat", tensors)
    shaped = [t for t in tensors if t.shape != (0,)]
    if shaped and shaped[0].ndim != 1:  # PyTorch's legacy rule: 1-D empty tensors join anything
        tensors = shaped
    first = tensors[0]
    if first.ndim == 0:
        raise ShapeError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    d = normalize_dim("cat", dim, first.ndim)
    for i, t in enumerate(tensors[1:], 1):
        if t.ndim != first.ndim:
            raise ShapeError(
                f"cat: tensor {i} has {t.ndim} dims (shape {t.shape}) but tensor 0 has {first.ndim} "
                f"(shape {first.shape}); all tensors need the same number of dims"
            )
        for axis in range(first.ndim):
            if axis != d and t.shape[axis] != first.shape[axis]:
                raise ShapeError(
                    f"cat: sizes must match except in dim {d}: tensor {i} has size {t.shape[axis]} "
                    f"in dim {axis} (shape {t.shape}) but tensor 0 has size {first.shape[axis]} (shape {first.shape})"
                )
    dtype = _common_dtype(tensors)
    return Cat.apply(*[t.to(dtype) for t in tensors], dim=d)


concat = cat


def stack(tensors, dim=0):
    """Join tensors of one shape along a new dim ``dim`` (-ndim-1 <= dim <= ndim)."""
    tensors = _tensor_list("stack", tensors)
    first = tensors[0]
    for i, t in enumerate(tensors[1:], 1):
        if t.shape != first.shape:
            raise ShapeError(f"stack: tensor {i} has shape {t.shape} but tensor 0 has shape {first.shape}; "
                             "stack needs tensors of equal shape")
    d = normalize_dim("stack", dim, first.ndim + 1)
    return cat([unsqueeze(t, d) for t in tensors], d)


# ---------------------------------------------------------------- split, chunk, narrow


def narrow(x, dim, start, length):
    """The view ``x[..., start:start+length, ...]`` along ``dim`` (start may be negative)."""
    d = normalize_dim("narrow", dim, x.ndim)
    size = x.shape[d]
    start, length = _check_int("narrow", "start", start), _check_int("narrow", "length", length)
    if not -size <= start <= size:
        raise IndexError(f"narrow: start {start} is out of range for dim {d} with size {size}")
    start %= size if size else 1
    if length < 0 or start + length > size:
        raise ShapeError(f"narrow: start {start} + length {length} exceeds dim {d} of size {size}")
    return getitem(x, (slice(None),) * d + (slice(start, start + length),))


def split(x, split_size_or_sections, dim=0):
    """Cut x along ``dim`` into views.

    An int gives pieces of that size (the last may be smaller); a list gives
    the size of each piece and must add up to the dim's size.
    """
    require_tensor("split", x)
    if x.ndim == 0:
        raise ShapeError("split: a 0-d tensor cannot be split")
    d = normalize_dim("split", dim, x.ndim)
    size = x.shape[d]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [_check_int("split", "split sizes", s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes) or sum(sizes) != size:
            raise ShapeError(
                f"split: split sizes {sizes} add up to {sum(sizes)}, but dim {d} has size {size} "
                f"(shape {x.shape}); the sizes must be non-negative and add up to {size}"
            )
    else:
        step = _check_int("split", "split_size", split_size_or_sections)
        if step <= 0 and not (step == 0 and size == 0):
            raise ShapeError(f"split: split_size must be positive, got {step} (dim {d} has size {size})")
        sizes = [min(step, size - start) for start in range(0, size, step)] if size else [0]
    starts = np.cumsum([0] + sizes[:-1])
    return tuple(narrow(x, d, int(s), n) for s, n in zip(starts, sizes))


def chunk(x, chunks, dim=0):
    """Cut x along ``dim`` into ``chunks`` views of equal size (the last may
    be smaller, and there may be fewer pieces, as in PyTorch)."""
    chunks = _check_int("chunk", "chunks", chunks)
    if chunks <= 0:
        raise ShapeError(f"chunk: chunks must be positive, got {chunks}")
    if x.ndim == 0:
        raise ShapeError("chunk: a 0-d tensor cannot be chunked")
    size = x.shape[normalize_dim("chunk", dim, x.ndim)]
    return split(x, math.ceil(size / chunks), dim)


# ---------------------------------------------------------------- repeat and tile


class Tile(Function):
    """NumPy's tile: x (already given ``len(reps)`` dims) repeated ``reps[i]`` times along dim i."""

    @staticmethod
    def forward(ctx, x, reps):
        ctx.shape, ctx.reps = x.shape, reps
        return np.tile(x, reps)

    @staticmethod
    def backward(ctx, grad):
        if not ctx.reps:
            return grad
        # out dim i is (reps[i], n_i) laid end to end: every copy of an element adds its gradient
        split_dims = [n for pair in zip(ctx.reps, ctx.shape) for n in pair]
        copies = tuple(range(0, 2 * len(ctx.reps), 2))
        return backend().sum(grad.reshape(split_dims), copies, False).reshape(ctx.shape)


def _tile(op, x, reps):
    if any(r < 0 for r in reps):
        raise ShapeError(f"{op}: repeats must be non-negative, got {reps}")
    lead = len(reps) - x.ndim
    check_allocation(op, tuple(r * n for r, n in zip(reps, (1,) * lead + x.shape)), x.dtype)
    if lead:
        x = reshape(x, (1,) * lead + x.shape)  # missing leading dims have size 1
    return Tile.apply(x, reps=reps)


def repeat(x, *sizes):
    """PyTorch's ``Tensor.repeat``: x repeated ``sizes[i]`` times along dim i.

    len(sizes) >= x.ndim; extra sizes add leading dims. (This is NumPy's
    tile, not NumPy's repeat.)
    """
    require_tensor("repeat", x)
    sizes = _int_tuple("repeat", "sizes", sizes)
    if len(sizes) < x.ndim:
        raise ShapeError(f"repeat: got {len(sizes)} sizes {sizes} for a tensor of {x.ndim} dims (shape {x.shape}); "
                         "give at least one size per dim")
    return _tile("repeat", x, sizes)


def tile(x, dims):
    """x repeated ``dims[i]`` times along dim i; a short ``dims`` is padded with
    leading 1s (so ``tile(x, (2,))`` repeats the last dim), a long one adds dims."""
    require_tensor("tile", x)
    dims = _int_tuple("tile", "dims", (dims,) if isinstance(dims, numbers.Integral) else tuple(dims))
    dims = (1,) * (x.ndim - len(dims)) + dims
    return _tile("tile", x, dims)


# ---------------------------------------------------------------- flip and roll


class Flip(Function):
    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return np.flip(x, axes).copy()  # a copy, as in PyTorch (NumPy's flip is a view)

    @staticmethod
    def backward(ctx, grad):
        return np.flip(grad, ctx.axes)


def flip(x, dims):
    """x with the order of elements reversed along each dim in ``dims``. A copy."""
    require_tensor("flip", x)
    axes = normalize_dims("flip", dims, x.ndim)
    return Flip.apply(x, axes=axes)


class Roll(Function):
    @staticmethod
    def forward(ctx, x, shifts, axes):
        ctx.shifts, ctx.axes = shifts, axes
        return np.roll(x, shifts, axes)

    @staticmethod
    def backward(ctx, grad):
        # the element that moved forward by s gets its gradient from s places ahead
        back = tuple(-s for s in ctx.shifts) if ctx.axes is not None else -ctx.shifts[0]
        if isinstance(grad, Tensor):  # double backward: the same roll, as an op
            return grad.roll(back, ctx.axes)
        return np.roll(grad, back, ctx.axes)


def roll(x, shifts, dims=None):
    """Shift elements along ``dims`` by ``shifts`` places, wrapping around.

    shifts and dims: ints or tuples of equal length; ``dims=None`` rolls the
    flattened tensor and restores the shape.
    """
    shifts = _int_tuple("roll", "shifts", (shifts,) if isinstance(shifts, numbers.Integral) else (tuple(shifts),))
    if dims is None:
        if len(shifts) != 1:
            raise ShapeError(f"roll: {len(shifts)} shifts {shifts} need as many dims, got dims=None")
        return Roll.apply(x, shifts=shifts, axes=None)
    dims = _int_tuple("roll", "dims", (dims,) if isinstance(dims, numbers.Integral) else (tuple(dims),))
    if len(dims) != len(shifts):
        raise ShapeError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    axes = tuple(normalize_dim("roll", d, x.ndim) for d in dims)
    return Roll.apply(x, shifts=shifts, axes=axes)


# ---------------------------------------------------------------- pad


class Pad(Function):
    """x placed inside a larger array filled with ``value``; negative widths crop."""

    @staticmethod
    def forward(ctx, x, widths, value):
        out_shape, inner, source = _pad_regions(x.shape, widths)
        ctx.shape, ctx.inner, ctx.source, ctx.widths = x.shape, inner, source, widths
        out = np.full(out_shape, value, x.dtype)
        out[inner] = x[source]
        return out

    @staticmethod
    def backward(ctx, grad):
        if isinstance(grad, Tensor):  # double backward: padding by the opposite widths crops back, and vice versa
            return Pad.apply(grad, widths=tuple((-before, -after) for before, after in ctx.widths), value=0)
        full = np.zeros(ctx.shape, grad.dtype)  # cropped elements get no gradient
        full[ctx.source] = grad[ctx.inner]
        return full


def _pad_regions(shape, widths):
    """(out shape, where x lands in out, which part of x lands) for per-dim (before, after) widths."""
    out_shape, inner, source = [], [], []
    for n, (before, after) in zip(shape, widths):
        size = n + before + after
        drop_front, drop_back = max(-before, 0), max(-after, 0)
        kept = max(n - drop_front - drop_back, 0)
        out_shape.append(size)
        inner.append(slice(max(before, 0), max(before, 0) + kept))
        source.append(slice(drop_front, drop_front + kept))
    return tuple(out_shape), tuple(inner), tuple(source)


def pad(x, pad, mode="constant", value=0.0):
    """PyTorch's ``nn.functional.pad`` in constant mode.

    pad: (before_last, after_last, before_second_last, after_second_last, ...)
    -- pairs from the last dim backwards; negative widths crop. value: the fill.
    """
    require_tensor("pad", x)
    if mode != "constant":
        raise ShapeError(f"pad: mode {mode!r} is not supported; only 'constant'")
    widths = _int_tuple("pad", "pad", (tuple(pad),))
    if len(widths) % 2 or len(widths) // 2 > x.ndim:
        raise ShapeError(f"pad: pad {widths} must hold one (before, after) pair per padded dim, "
                         f"at most {x.ndim} pairs for shape {x.shape}")
    pairs = [(0, 0)] * (x.ndim - len(widths) // 2) + [
        (widths[i], widths[i + 1]) for i in range(len(widths) - 2, -1, -2)
    ]
    for d, (n, (before, after)) in enumerate(zip(x.shape, pairs)):
        if n + before + after < 0:
            raise ShapeError(f"pad: widths ({before}, {after}) would give dim {d} of size {n} a negative size")
    if not isinstance(value, numbers.Number):
        raise TypeError(f"pad: value must be a number, got {type(value).__name__}")
    check_allocation("pad", tuple(n + before + after for n, (before, after) in zip(x.shape, pairs)), x.dtype)
    return Pad.apply(x, widths=tuple(pairs), value=value)


# ---------------------------------------------------------------- triangles


def _triangle(op, x, diagonal, upper):
    require_tensor(op, x)
    if x.ndim < 2:
        raise ShapeError(f"{op}: input must have at least 2 dims, got shape {x.shape}")
    diagonal = _check_int(op, "diagonal", diagonal)
    rows, cols = x.shape[-2:]
    # np.tri(k) is True where col <= row + k: what tril keeps and triu drops
    below = np.tri(rows, cols, diagonal - 1 if upper else diagonal, dtype=bool)
    return MaskedFill.apply(x, mask=below if upper else ~below, value=0)


def tril(x, diagonal=0):
    """The lower triangle of the last two dims (col <= row + diagonal); zeros above."""
    return _triangle("tril", x, diagonal, upper=False)


def triu(x, diagonal=0):
    """The upper triangle of the last two dims (col >= row + diagonal); zeros below."""
    return _triangle("triu", x, diagonal, upper=True)
