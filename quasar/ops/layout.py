"""More shape ops: unflatten, unfold (sliding windows), movedim, swapaxes,
diagonal, diag, diag_embed, trace, meshgrid, hstack/vstack/dstack,
atleast_1d/2d/3d, tensor_split, unbind, select and repeat_interleave.

Most are compositions of the ops in ``shape.py``, ``join.py`` and
``index.py`` (reshape, permute, cat, slicing, index_select), so their
gradients come from there. Two are new nodes because they are *strided
views* no basic slice can express: ``Tensor.unfold`` (overlapping windows)
and ``diagonal``; like PyTorch's, they share memory and the version counter
with their input. ``diag_embed`` writes a diagonal into zeros.
"""

import numbers

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..autograd import Function
from ..backends.differentiable import linear_backward
from ..tensor import Tensor
from .common import normalize_dim, require_tensor
from .index import IndexSelect, _index_array, getitem
from .join import _check_int, _tensor_list, cat
from .shape import _shape_arg, _view_apply, broadcast_to, permute, reshape, transpose


# ---------------------------------------------------------------- reshaping


def unflatten(input, dim, sizes):
    """Split dim ``dim`` into ``sizes`` (their product must be its size; one may be -1)."""
    d = normalize_dim("unflatten", dim, input.ndim)
    sizes = _shape_arg("unflatten", (sizes,) if isinstance(sizes, (tuple, list)) else (sizes,))
    if not sizes:
        raise ValueError("unflatten: sizes must not be empty")
    size = input.shape[d]
    known = int(np.prod([n for n in sizes if n != -1]))
    fits = known == size if -1 not in sizes else (sizes.count(-1) == 1 and known and size % known == 0)
    if not fits:
        raise ValueError(f"unflatten: sizes {sizes} don't multiply to the size {size} of dim {d} (shape {input.shape})")
    return reshape(input, input.shape[:d] + sizes + input.shape[d + 1 :])


def movedim(input, source, destination):
    """Move dims ``source`` (int or tuple) to positions ``destination``; the
    other dims keep their order. A view."""
    src = (source,) if isinstance(source, numbers.Integral) else tuple(source)
    dst = (destination,) if isinstance(destination, numbers.Integral) else tuple(destination)
    if len(src) != len(dst):
        raise ValueError(f"movedim: source {src} and destination {dst} must have the same length")
    ndim = input.ndim
    src = [normalize_dim("movedim", d, ndim) for d in src]
    dst = [normalize_dim("movedim", d, ndim) for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"movedim: repeated dim in source {tuple(src)} or destination {tuple(dst)}")
    order = [None] * ndim
    for s, t in zip(src, dst):
        order[t] = s
    rest = iter(d for d in range(ndim) if d not in src)
    order = [next(rest) if o is None else o for o in order]
    return permute(input, order)


moveaxis = movedim


def swapaxes(input, axis0, axis1):
    """Swap two dims: ``transpose``. A view."""
    return transpose(input, axis0, axis1)


swapdims = swapaxes


def select(input, dim, index):
    """The slice at ``index`` along ``dim`` (that dim removed). A view."""
    d = normalize_dim("select", dim, input.ndim)
    return getitem(input, (slice(None),) * d + (_check_int("select", "index", index),))


def unbind(input, dim=0):
    """Every slice along ``dim``, as a tuple of views without that dim."""
    require_tensor("unbind", input)
    d = normalize_dim("unbind", dim, input.ndim)
    if input.ndim == 0:
        raise ValueError("unbind: a 0-d tensor has no dim to unbind")
    return tuple(select(input, d, i) for i in range(input.shape[d]))


def tensor_split(input, indices_or_sections, dim=0):
    """Views of input cut along ``dim``.

    An int n: n pieces, the first ``size % n`` one element longer. A list of
    indices: cut before each (indices past the end give empty pieces).
    """
    require_tensor("tensor_split", input)
    if input.ndim == 0:
        raise ValueError("tensor_split: a 0-d tensor cannot be split")
    d = normalize_dim("tensor_split", dim, input.ndim)
    size = input.shape[d]
    if isinstance(indices_or_sections, Tensor):
        indices_or_sections = indices_or_sections.tolist()
    if isinstance(indices_or_sections, numbers.Integral):
        sections = _check_int("tensor_split", "sections", indices_or_sections)
        if sections <= 0:
            raise ValueError(f"tensor_split: sections must be positive, got {sections}")
        small, extra = divmod(size, sections)
        lengths = [small + 1] * extra + [small] * (sections - extra)
        cuts = list(np.cumsum(lengths)[:-1])
    else:
        cuts = [_check_int("tensor_split", "indices", i) for i in indices_or_sections]
    bounds = [0] + [min(max(c if c >= 0 else c + size, 0), size) for c in cuts] + [size]
    lead = (slice(None),) * d
    return tuple(getitem(input, lead + (slice(a, max(a, b)),)) for a, b in zip(bounds[:-1], bounds[1:]))


# ---------------------------------------------------------------- joining


def atleast_1d(*tensors):
    """Each tensor with at least 1 dim (a 0-d one becomes shape (1,))."""
    out = tuple(t if t.ndim >= 1 else reshape(t, (1,)) for t in _tensors_arg(tensors))
    return out[0] if len(out) == 1 else out


def atleast_2d(*tensors):
    """Each tensor with at least 2 dims: 0-d -> (1, 1), (n,) -> (1, n)."""
    out = tuple(t if t.ndim >= 2 else reshape(t, (1,) * (2 - t.ndim) + t.shape) for t in _tensors_arg(tensors))
    return out[0] if len(out) == 1 else out


def atleast_3d(*tensors):
    """Each tensor with at least 3 dims: (n,) -> (1, n, 1), (m, n) -> (m, n, 1)."""
    def lift(t):
        if t.ndim >= 3:
            return t
        shape = {0: (1, 1, 1), 1: (1,) + t.shape + (1,), 2: t.shape + (1,)}[t.ndim]
        return reshape(t, shape)

    out = tuple(lift(t) for t in _tensors_arg(tensors))
    return out[0] if len(out) == 1 else out


def _tensors_arg(tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    return _tensor_list("atleast_nd", tensors)


def hstack(tensors):
    """Join along dim 1 (dim 0 for 1-D tensors), after ``atleast_1d``."""
    tensors = [atleast_1d(t) for t in _tensor_list("hstack", tensors)]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    """Join along dim 0 after ``atleast_2d`` (1-D tensors become rows)."""
    return cat([atleast_2d(t) for t in _tensor_list("vstack", tensors)], 0)


row_stack = vstack


def dstack(tensors):
    """Join along dim 2 after ``atleast_3d``."""
    return cat([atleast_3d(t) for t in _tensor_list("dstack", tensors)], 2)


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D (or 0-d) tensors: output k holds tensors[k]'s
    values repeated along every other dim. ``indexing='ij'`` (PyTorch's
    default): shape (len0, len1, ...); ``'xy'`` swaps the first two dims.
    The outputs are broadcast views, differentiable.
    """
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    tensors = _tensor_list("meshgrid", list(tensors[0]) if len(tensors) == 1 and isinstance(tensors[0], (list, tuple))
                           else list(tensors))
    for i, t in enumerate(tensors):
        if t.ndim > 1:
            raise ValueError(f"meshgrid: expected 0-d or 1-D tensors, tensor {i} has shape {t.shape}")
    lengths = [t.numel() for t in tensors]
    swap = indexing == "xy" and len(tensors) > 1
    if swap:
        lengths[0], lengths[1] = lengths[1], lengths[0]
    grids = []
    for k, t in enumerate(tensors):
        axis = {0: 1, 1: 0}.get(k, k) if swap else k
        shape = [1] * len(tensors)
        shape[axis] = lengths[axis]
        grids.append(broadcast_to(reshape(t, tuple(shape)), tuple(lengths)))
    return tuple(grids)


# ---------------------------------------------------------------- repeat_interleave


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Each element (each slice along ``dim``) repeated ``repeats`` times in a row.

    repeats: an int, or an integer tensor with one count per slice. dim=None
    works on the flattened input. ``repeat_interleave(counts)`` alone gives
    ``arange(len(counts))`` repeated by counts. Gradients add up over copies.
    """
    require_tensor("repeat_interleave", input)
    if repeats is None:  # the one-argument form: the index of each count, repeated
        counts = _index_array(input)
        if counts.ndim > 1 or counts.dtype.kind not in "iu":
            raise ValueError(f"repeat_interleave: expected a 1-D integer tensor of counts, got {counts.dtype} "
                             f"of shape {counts.shape}")
        return repeat_interleave(Tensor._wrap(np.arange(counts.size)), Tensor._wrap(counts.reshape(-1)), 0)
    if dim is None:
        input, d = reshape(input, (-1,)), 0
    else:
        d = normalize_dim("repeat_interleave", dim, input.ndim)
        if input.ndim == 0:
            input = reshape(input, (1,))
    size = input.shape[d]
    if isinstance(repeats, numbers.Integral) and not isinstance(repeats, bool):
        counts = np.full(size, int(repeats), np.int64)
    else:
        counts = _index_array(repeats)
        if counts.dtype.kind not in "iu" or counts.ndim > 1:
            raise TypeError(f"repeat_interleave: repeats must be an int or a 1-D integer tensor, got "
                            f"{counts.dtype} of shape {counts.shape}")
        counts = counts.reshape(-1)
        if counts.size == 1:
            counts = np.full(size, counts[0], np.int64)
        if counts.size != size:
            raise ValueError(f"repeat_interleave: {counts.size} repeats for dim {d} of size {size}; "
                             "give one per slice (or a single one)")
    if (counts < 0).any():
        raise ValueError(f"repeat_interleave: repeats must be non-negative, got {counts.tolist()}")
    index = np.repeat(np.arange(size, dtype=np.int64), counts)
    if output_size is not None and output_size != index.size:
        raise ValueError(f"repeat_interleave: output_size={output_size} but the repeats give {index.size}")
    return IndexSelect.apply(input, dim=d, index=index)


# ---------------------------------------------------------------- strided views


class Unfold(Function):
    """Windows of ``size`` elements, ``step`` apart, along ``dim``: a strided
    view with dim replaced by the window count and a new last dim of ``size``."""

    @staticmethod
    def forward(ctx, x, dim, size, step):
        count = (x.shape[dim] - size) // step + 1
        ctx.shape, ctx.dim, ctx.size, ctx.step, ctx.count = x.shape, dim, size, step, count
        shape = x.shape[:dim] + (count,) + x.shape[dim + 1 :] + (size,)
        strides = x.strides[:dim] + (x.strides[dim] * step,) + x.strides[dim + 1 :] + (x.strides[dim],)
        return as_strided(x, shape, strides, writeable=x.flags.writeable)

    @staticmethod
    def backward(ctx, grad):
        if isinstance(grad, Tensor):  # double backward: this linear op's transpose, as an op
            return linear_backward(ctx, grad)
        # element j of every window came from positions j, j + step, ...: one strided add per j
        full = np.zeros(ctx.shape, grad.dtype)
        lead = (slice(None),) * ctx.dim
        end = ctx.step * (ctx.count - 1) + 1
        for j in range(ctx.size):
            full[lead + (slice(j, j + end, ctx.step),)] += grad[..., j]
        return full


def unfold(input, dimension, size, step):
    """``Tensor.unfold``: every window of ``size`` elements along ``dimension``,
    starting ``step`` apart. Shape: dimension becomes the window count
    ``(n - size) // step + 1``, and a last dim of ``size`` is added. A view
    (windows overlap when step < size); differentiable."""
    d = normalize_dim("unfold", dimension, input.ndim)
    size, step = _check_int("unfold", "size", size), _check_int("unfold", "step", step)
    x = input if input.ndim else reshape(input, (1,))
    if step <= 0 or size < 0 or size > x.shape[d]:
        raise ValueError(f"unfold: need 0 <= size <= {x.shape[d]} (the size of dim {d}) and step > 0; "
                         f"got size={size}, step={step}")
    out = _view_apply(Unfold, x, dim=d, size=size, step=step)
    return reshape(out, (out.shape[-1],)) if input.ndim == 0 else out


def _diagonal_view(array, offset, dim1, dim2):
    """The diagonal of dims (dim1, dim2) as a strided view, dims removed and
    the diagonal last (NumPy's layout, but writable like PyTorch's)."""
    rows, cols = array.shape[dim1], array.shape[dim2]
    length = max(0, min(rows, cols - offset) if offset >= 0 else min(rows + offset, cols))
    keep = [a for a in range(array.ndim) if a not in (dim1, dim2)]
    shape = tuple(array.shape[a] for a in keep) + (length,)
    strides = tuple(array.strides[a] for a in keep) + (array.strides[dim1] + array.strides[dim2],)
    start = [slice(None)] * array.ndim  # the diagonal's first element: slicing moves there, strides kept
    start[dim2 if offset >= 0 else dim1] = slice(min(abs(offset), array.shape[dim2 if offset >= 0 else dim1]), None)
    base = array[tuple(start)]
    return as_strided(base, shape, strides, writeable=array.flags.writeable)


class Diagonal(Function):
    @staticmethod
    def forward(ctx, x, offset, dim1, dim2):
        ctx.shape, ctx.args = x.shape, (offset, dim1, dim2)
        return _diagonal_view(x, offset, dim1, dim2)

    @staticmethod
    def backward(ctx, grad):
        if isinstance(grad, Tensor):  # double backward: this linear op's transpose, as an op
            return linear_backward(ctx, grad)
        full = np.zeros(ctx.shape, grad.dtype)
        _diagonal_view(full, *ctx.args)[...] = grad
        return full


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal of the dims (dim1, dim2), ``offset`` above (> 0) or below
    (< 0) the main one; those dims are removed and the diagonal is the last
    dim. A view."""
    require_tensor("diagonal", input)
    if input.ndim < 2:
        raise ValueError(f"diagonal: input must have at least 2 dims, got shape {input.shape}")
    a, b = normalize_dim("diagonal", dim1, input.ndim), normalize_dim("diagonal", dim2, input.ndim)
    if a == b:
        raise ValueError(f"diagonal: dim1 and dim2 must differ, both are {a}")
    return _view_apply(Diagonal, input, offset=_check_int("diagonal", "offset", offset), dim1=a, dim2=b)


class DiagEmbed(Function):
    """Zeros of the output shape with x's last dim written on a diagonal."""

    @staticmethod
    def forward(ctx, x, shape, offset, dim1, dim2):
        ctx.args = (offset, dim1, dim2)
        out = np.zeros(shape, x.dtype)
        _diagonal_view(out, offset, dim1, dim2)[...] = x
        return out

    @staticmethod
    def backward(ctx, grad):
        if isinstance(grad, Tensor):  # double backward: this linear op's transpose, as an op
            return linear_backward(ctx, grad)
        return _diagonal_view(np.ascontiguousarray(grad), *ctx.args).copy()


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """A tensor whose diagonals (over the new dims dim1, dim2 of the output)
    hold input's last dim; zeros elsewhere. Output: input.ndim + 1 dims, each
    new dim of size ``n + |offset|``."""
    require_tensor("diag_embed", input)
    offset = _check_int("diag_embed", "offset", offset)
    ndim = input.ndim + 1
    a, b = normalize_dim("diag_embed", dim1, ndim), normalize_dim("diag_embed", dim2, ndim)
    if a == b:
        raise ValueError(f"diag_embed: dim1 and dim2 must differ, both are {a}")
    x = input if input.ndim else reshape(input, (1,))
    n = x.shape[-1] + abs(offset)
    rest = iter(x.shape[:-1])
    shape = tuple(n if axis in (a, b) else next(rest) for axis in range(max(ndim, 2)))
    return DiagEmbed.apply(x, shape=shape, offset=offset, dim1=a, dim2=b)


_diagonal_of = diagonal  # diag's argument is named ``diagonal``, as in PyTorch


def diag(input, diagonal=0):
    """1-D input: a square matrix with input on the ``diagonal``-th diagonal.
    2-D input: that diagonal of it, as a 1-D tensor."""
    require_tensor("diag", input)
    if input.ndim == 1:
        return diag_embed(input, diagonal)
    if input.ndim == 2:
        return _diagonal_of(input, diagonal)
    raise ValueError(f"diag: input must be 1-D or 2-D, got shape {input.shape}")


def trace(input):
    """The sum of the main diagonal of a 2-D tensor."""
    require_tensor("trace", input)
    if input.ndim != 2:
        raise ValueError(f"trace: input must be 2-D, got shape {input.shape}")
    return diagonal(input).sum()
