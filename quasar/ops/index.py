"""Indexing: ``t[key]``, gather, index_select, take_along_dim, masked_fill,
embedding and one_hot.

Reading numbers out of a tensor moves them without computing anything, so
the forward passes index with NumPy: a key of ints, slices and None gives a
*view* that shares memory, and the version counter, with the input (as in
PyTorch); integer arrays and bool masks give a copy. The backward passes are
where the work is: each selected element sends its gradient back to the
place it was read from, and a place read twice receives the sum. That
scatter-add is a backend kernel: ``index_add`` when whole slices were picked
along one dim (``x[idx]``, ``index_select``, ``embedding``), else
``scatter_add_flat`` on the C-order positions the key read.

Every index is validated here, before any kernel runs: the compiled kernels
do not check bounds. Errors name the op, the dim and the sizes.
"""

import math
import numbers

import numpy as np

from ..autograd import Function
from ..errors import ShapeError
from ..tensor import Tensor
from .common import FLOATS, backend, broadcast_shape, check_allocation, normalize_dim, require_float, require_tensor
from .elementwise import where
from .shape import _view_apply

INDEX_DTYPES = "iu"  # integer kinds accepted as indices (bool masks are handled apart)


# ---------------------------------------------------------------- reading keys


def _key_entry(op, entry):
    """One entry of a key as what NumPy reads: int, slice, None, Ellipsis,
    a Python bool, or an ndarray (integer or bool)."""
    if entry is None or entry is Ellipsis:
        return entry
    if isinstance(entry, (bool, np.bool_)):
        return bool(entry)
    if isinstance(entry, numbers.Integral):
        return int(entry)
    if isinstance(entry, slice):
        bounds = [None if b is None else _slice_bound(op, b) for b in (entry.start, entry.stop, entry.step)]
        if bounds[2] == 0:
            raise ValueError(f"{op}: slice step cannot be zero")
        return slice(*bounds)
    if isinstance(entry, Tensor):
        entry = entry.array
    elif isinstance(entry, (list, tuple)):
        entry = np.asarray(entry)
        if entry.size == 0 and entry.dtype.kind == "f":
            entry = entry.astype(np.int64)  # [] means "no indices", not a float array
    if isinstance(entry, np.ndarray):
        if entry.dtype == np.bool_ or entry.dtype.kind in INDEX_DTYPES:
            return entry
        raise IndexError(
            f"{op}: tensors used as indices must be integer (long, int) or bool, got dtype {entry.dtype}"
        )
    raise IndexError(
        f"{op}: only integers, slices, None, ..., and integer or bool tensors are valid indices, "
        f"got {type(entry).__name__}"
    )


def _slice_bound(op, bound):
    try:
        return int(bound.__index__())
    except (AttributeError, TypeError):
        raise IndexError(f"{op}: slice bounds must be integers or None, got {bound!r}") from None


def _dims_used(entry):
    """How many of the tensor's dims a key entry indexes: none for None, ``...``
    and bool scalars; k for a k-dim mask; one for everything else."""
    if entry is None or entry is Ellipsis or isinstance(entry, bool):
        return 0
    if isinstance(entry, np.ndarray) and entry.dtype == np.bool_:
        return entry.ndim
    return 1


def _out_of_range(op, bad, dim, size):
    return IndexError(f"{op}: index {bad} is out of range for dim {dim} with size {size}")


def normalize_key(op, shape, key):
    """Check an index expression against ``shape``; return ``(key, advanced)``.

    The returned key is a tuple NumPy reads exactly like the original: the
    Ellipsis is spelled out as full slices (kept only where it covers no dims
    between advanced indices), integer arrays are int64 with
    negative entries wrapped, and bool masks are replaced by the integer
    arrays of their True positions (``mask.nonzero()``). ``advanced`` says
    whether it holds arrays (a copying gather) or only ints, slices and None
    (a view).
    """
    entries = [_key_entry(op, e) for e in (key if isinstance(key, tuple) else (key,))]
    consumed = sum(_dims_used(e) for e in entries)
    ellipses = [i for i, e in enumerate(entries) if e is Ellipsis]  # by identity: arrays don't compare
    if len(ellipses) > 1:
        raise IndexError(f"{op}: an index can only have a single ellipsis ('...')")
    if consumed > len(shape):
        raise IndexError(f"{op}: too many indices for a tensor of dimension {len(shape)} (shape {tuple(shape)})")
    if ellipses:
        at, width = ellipses[0], len(shape) - consumed
        # An Ellipsis that covers no dims still separates two advanced indices for
        # NumPy (their result dims then go first): keep it where that can matter.
        separates = width == 0 and any(isinstance(e, (np.ndarray, bool)) for e in entries)
        entries[at : at + 1] = [Ellipsis] if separates else [slice(None)] * width

    canonical, arrays, dim = [], [], 0
    for e in entries:
        if isinstance(e, int) and not isinstance(e, bool):
            size = shape[dim]
            if not -size <= e < size:
                raise _out_of_range(op, e, dim, size)
            canonical.append(e)
            dim += 1
        elif isinstance(e, np.ndarray) and e.dtype == np.bool_:
            covered = tuple(shape[dim : dim + e.ndim])
            if e.shape != covered:
                raise IndexError(
                    f"{op}: the bool mask of shape {e.shape} does not match the shape {covered} of dims "
                    f"{dim}..{dim + e.ndim - 1} of the indexed tensor (shape {tuple(shape)})"
                )
            if e.ndim == 0:
                canonical.append(bool(e))  # a 0-d mask adds a dim of length 1 (True) or 0 (False)
                arrays.append(e)
                continue
            positions = e.nonzero()
            canonical.extend(positions)
            arrays.extend(positions)
            dim += e.ndim
        elif isinstance(e, np.ndarray):
            positions = wrap_indices(op, e, dim, shape[dim], allow_negative=True)
            canonical.append(positions)
            arrays.append(positions)
            dim += 1
        else:  # slice, None or a bool scalar
            canonical.append(e)
            if isinstance(e, slice):
                dim += 1
            elif isinstance(e, bool):
                arrays.append(np.asarray(e))
    if len(arrays) > 1:
        try:
            np.broadcast_shapes(*[a.shape for a in arrays])
        except ValueError:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise IndexError(f"{op}: index arrays of shapes {shapes} cannot be broadcast together") from None
    return tuple(canonical), bool(arrays)


def wrap_indices(op, index, dim, size, allow_negative=False):
    """Integer indices along a dim of ``size`` as int64 in [0, size).

    Negative indices count from the end when ``allow_negative`` (Python's
    rule, used by ``t[...]``); gather, index_select and embedding reject them,
    as PyTorch does. Raises IndexError naming the op, the dim and the size.
    """
    if index.dtype.kind not in INDEX_DTYPES:
        raise IndexError(f"{op}: index must be an integer (long or int) tensor, got dtype {index.dtype}")
    index = index.astype(np.int64, copy=False)
    if index.size:
        low, high = int(index.min()), int(index.max())
        if high >= size or low < (-size if allow_negative else 0):
            raise _out_of_range(op, high if high >= size else low, dim, size)
        if low < 0:
            index = np.where(index < 0, index + size, index)
    return index


def flat_positions(shape, key):
    """For every element ``x[key]`` reads, its position in x's C-order
    flattening: an int64 array of the shape of ``x[key]``.

    Built one dim at a time: ``coordinate`` holds each element's index along
    ``axis`` as a broadcast (zero-copy) array of ``shape``, so indexing it
    with the same key reads off the coordinates of the selected elements.
    """
    flat = np.broadcast_to(np.int64(0), shape)[key].astype(np.int64)
    stride = 1
    for axis in range(len(shape) - 1, -1, -1):
        along = np.arange(shape[axis], dtype=np.int64).reshape((-1,) + (1,) * (len(shape) - 1 - axis))
        coordinate = np.broadcast_to(along, shape)[key]
        flat += coordinate * stride
        stride *= shape[axis]
    return flat


def _single_array(key):
    """(dim, index) when the key picks whole slices along one dim with one
    integer array (``x[idx]``, ``x[:, idx]``, ``x[..., idx]``), else None."""
    arrays = [i for i, e in enumerate(key) if isinstance(e, np.ndarray)]
    if len(arrays) != 1:
        return None
    if any(e != slice(None) for i, e in enumerate(key) if i != arrays[0]):
        return None
    return arrays[0], key[arrays[0]]


def torch_permutation(key, ndim):
    """The permutation from NumPy's result layout of ``x[key]`` to PyTorch's, or None.

    NumPy counts an int in a key with index arrays as one more advanced index;
    PyTorch applies it first as a basic index. They disagree when ints are all
    that separate the arrays (``x[1, :, idx]``): NumPy then puts the broadcast
    index dims first, PyTorch where the arrays stand (``(B, len(idx))``).
    """
    arrays = [i for i, e in enumerate(key) if isinstance(e, (np.ndarray, bool))]
    ints = [i for i, e in enumerate(key) if isinstance(e, int) and not isinstance(e, bool)]
    if not arrays or not ints:
        return None
    advanced = sorted(arrays + ints)
    if advanced[-1] - advanced[0] + 1 == len(advanced):
        return None  # NumPy sees them adjacent: the dims stay in place, as in PyTorch
    if any(i not in ints for i in range(arrays[0], arrays[-1] + 1) if i not in arrays):
        return None  # a slice or None between the arrays: both put the index dims first
    # the index dims: the arrays' broadcast shape (a bool scalar indexes like a mask of one element)
    k = len(np.broadcast_shapes(*[(1,) if isinstance(key[i], bool) else key[i].shape for i in arrays]))
    p = sum(1 for e in key[: arrays[0]] if isinstance(e, slice) or e is None)
    return tuple(range(k, k + p)) + tuple(range(k)) + tuple(range(k + p, ndim))


# ---------------------------------------------------------------- t[key]


class BasicIndex(Function):
    """x[key] for a key of ints, slices and None: a view of x."""

    @staticmethod
    def forward(ctx, x, key):
        ctx.shape, ctx.key = x.shape, key
        return x[key + (Ellipsis,)]  # the Ellipsis keeps an all-int key from returning a NumPy scalar

    @staticmethod
    def backward(ctx, grad):
        if isinstance(grad, Tensor):  # double backward: the scatter-add, a differentiable kernel
            return AdvancedIndex.backward(ctx, grad)
        # every selected element was read once: write the gradient through the same view
        full = np.zeros(ctx.shape, grad.dtype)
        full[ctx.key] = grad
        return full


class AdvancedIndex(Function):
    """x[key] with integer arrays or masks (a copy). Backward adds each
    gradient element into the position it was read from; repeats add up."""

    @staticmethod
    def forward(ctx, x, key):
        ctx.shape, ctx.key = x.shape, key
        return x[key]

    @staticmethod
    def backward(ctx, grad):
        positions = flat_positions(ctx.shape, ctx.key)
        return backend().scatter_add_flat(grad, positions, math.prod(ctx.shape)).reshape(ctx.shape)


class IndexSelect(Function):
    """Whole slices of x picked along ``dim``: ``out = np.take(x, index, dim)``.

    index: int64 of any shape, entries in [0, x.shape[dim]); the output's
    shape is ``x.shape[:dim] + index.shape + x.shape[dim+1:]``. ``padding_idx``
    names a slice that receives no gradient (embedding's padding row).
    """

    @staticmethod
    def forward(ctx, x, dim, index, padding_idx=None):
        ctx.shape, ctx.dim, ctx.index, ctx.padding_idx = x.shape, dim, index, padding_idx
        return np.take(x, index, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        shape, dim = ctx.shape, ctx.dim
        outer, inner = math.prod(shape[:dim]), math.prod(shape[dim + 1 :])
        rows = grad.reshape(outer, ctx.index.size, inner)
        full = backend().index_add(rows, ctx.index.reshape(-1), shape[dim])
        if ctx.padding_idx is not None:
            full[:, ctx.padding_idx, :] = 0
        return full.reshape(shape)


def getitem(x, key):
    """``x[key]``, with NumPy's (and PyTorch's) rules.

    key: an int, slice (any start/stop/step, negative included), None,
    ``...``, an integer array/tensor/list or a bool mask, or a tuple of these
    in any combination NumPy allows. Ints, slices and None give a view of x
    (shared memory and version counter); arrays and masks give a copy whose
    gradient adds up over repeated indices. Out-of-range indices, float
    index tensors and masks of the wrong shape raise IndexError.
    """
    require_tensor("index", x)
    key, advanced = normalize_key("index", x.shape, key)
    if not advanced:
        return _view_apply(BasicIndex, x, key=key)
    picked = _single_array(key)
    if picked is not None:
        dim, index = picked
        return IndexSelect.apply(x, dim=dim, index=index)
    out = AdvancedIndex.apply(x, key=key)
    order = torch_permutation(key, out.ndim)
    return out if order is None else out.permute(order)


# ---------------------------------------------------------------- picking along one dim


def _index_array(index):
    """An index argument (tensor, array or list) as an ndarray, not yet checked."""
    return index.array if isinstance(index, Tensor) else np.asarray(index)


def index_select(x, dim, index):
    """The slices of x at positions ``index`` (1-D, or 0-d) along ``dim``.

    x: (..., n, ...); index: (m,) integers in [0, n). Returns x's shape with
    ``dim`` of size m. Repeated indices are allowed; their gradients add up.
    """
    d = normalize_dim("index_select", dim, x.ndim)
    index = _index_array(index)
    if index.ndim > 1:
        raise ValueError(f"index_select: index must be 1-D (or 0-d), got shape {index.shape}")
    if x.ndim == 0:
        x = x.reshape(1)  # a 0-d tensor selects like a one-element vector
    index = wrap_indices("index_select", index.reshape(-1), d, x.shape[d])
    return IndexSelect.apply(x, dim=d, index=index)


def embedding(index, weight, padding_idx=None):
    """Rows of ``weight`` looked up by ``index``: ``weight[index]``.

    index: integers of any shape, in [0, num_embeddings); weight: float
    (num_embeddings, embedding_dim). Returns ``index.shape + (embedding_dim,)``.
    The row ``padding_idx`` (if given; negative counts from the end) gets no
    gradient, as in PyTorch's ``nn.functional.embedding``.
    """
    require_float("embedding", weight)
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {weight.shape}")
    rows = weight.shape[0]
    if padding_idx is not None:
        if not -rows <= padding_idx < rows:
            raise _out_of_range("embedding (padding_idx)", padding_idx, 0, rows)
        padding_idx %= rows
    index = wrap_indices("embedding", _index_array(index), 0, rows)
    return IndexSelect.apply(weight, dim=0, index=index, padding_idx=padding_idx)


def _along_dim_key(op, x, dim, index, out_shape):
    """The advanced-index key that reads ``x`` at ``index`` along ``dim`` and
    at the output's own position along every other dim (broadcast dims of
    size 1 in x read position 0)."""
    size = x.shape[dim]
    index = wrap_indices(op, index, dim, size)
    key = []
    for axis, n in enumerate(out_shape):
        if axis == dim:
            key.append(index)
        else:
            shape = [1] * len(out_shape)
            shape[axis] = n
            along = np.arange(n) if x.shape[axis] != 1 else np.zeros(n, np.int64)
            key.append(along.reshape(shape))
    return tuple(key)


def gather(x, dim, index):
    """``out[i][j][k] = x[index[i][j][k]][j][k]`` for dim = 0 (likewise for other dims).

    index: integers with x's number of dims, ``index.shape[d] <= x.shape[d]``
    for every d != dim, entries in [0, x.shape[dim]). The output has index's
    shape; repeated indices add up in the gradient.
    """
    index = _index_array(index)
    d = normalize_dim("gather", dim, x.ndim)
    if x.ndim == 0 and index.ndim == 0:  # a 0-d tensor gathers like a one-element vector
        return gather(x.reshape(1), 0, index.reshape(1)).reshape(())
    if index.ndim != x.ndim:
        raise ValueError(
            f"gather: index has {index.ndim} dims (shape {index.shape}) but input has {x.ndim} (shape {x.shape})"
        )
    for axis in range(x.ndim):
        if axis != d and index.shape[axis] > x.shape[axis]:
            raise ValueError(
                f"gather: index shape {index.shape} is larger than input shape {x.shape} in dim {axis} "
                f"({index.shape[axis]} > {x.shape[axis]})"
            )
    key = _along_dim_key("gather", x, d, index, index.shape)
    return AdvancedIndex.apply(x, key=key)


def take_along_dim(x, indices, dim=None):
    """x at ``indices`` along ``dim``, with indices and x broadcast over the other dims
    (NumPy's ``take_along_axis``). ``dim=None`` reads the flattened x with
    flattened indices and returns a 1-D tensor. Entries in [0, size)."""
    require_tensor("take_along_dim", x)
    indices = _index_array(indices)
    if dim is None:
        flat = x.reshape(-1)
        index = wrap_indices("take_along_dim", indices.reshape(-1), 0, flat.shape[0])
        return IndexSelect.apply(flat, dim=0, index=index)
    d = normalize_dim("take_along_dim", dim, x.ndim)
    if x.ndim == 0 and indices.ndim == 0:
        return take_along_dim(x.reshape(1), indices.reshape(1), 0).reshape(())
    if indices.ndim != x.ndim:
        raise ValueError(
            f"take_along_dim: indices have {indices.ndim} dims (shape {indices.shape}) "
            f"but input has {x.ndim} (shape {x.shape})"
        )
    others = [s for a, s in enumerate(x.shape) if a != d], [s for a, s in enumerate(indices.shape) if a != d]
    out_shape = list(broadcast_shape("take_along_dim", *others))
    out_shape.insert(d, indices.shape[d])
    return AdvancedIndex.apply(x, key=_along_dim_key("take_along_dim", x, d, indices, out_shape))


# ---------------------------------------------------------------- masks


class MaskedFill(Function):
    """``value`` where mask is True, else x; the filled places get no gradient."""

    @staticmethod
    def forward(ctx, x, mask, value):
        ctx.mask = mask
        return backend().masked_fill(x, mask, value)

    @staticmethod
    def backward(ctx, grad):
        return backend().masked_fill(grad, ctx.mask, 0)


def _mask_array(op, mask, shape):
    mask = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"{op}: mask must be a bool tensor, got dtype {mask.dtype}")
    if broadcast_shape(op, mask.shape, shape) != tuple(shape):
        raise ShapeError(f"{op}: mask of shape {mask.shape} cannot be broadcast to the input's shape {tuple(shape)}")
    return mask


def masked_fill(x, mask, value):
    """A copy of x with ``value`` where ``mask`` is True.

    mask: bool; mask and x broadcast together, as in PyTorch (the result has
    the broadcast shape); value: a number, or a 0-d tensor (differentiable if
    it requires grad). Works on every dtype.
    """
    mask_shape = mask.shape if isinstance(mask, (Tensor, np.ndarray)) else np.shape(mask)
    shape = broadcast_shape("masked_fill", x.shape, mask_shape)
    if shape != x.shape:
        x = x.expand(*shape)
    mask = _mask_array("masked_fill", mask, x.shape)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
        if value.requires_grad:
            return where(mask, value.to(x.dtype), x)
        value = value.item()
    if not isinstance(value, numbers.Number):
        raise TypeError(f"masked_fill: value must be a number or a 0-d tensor, got {type(value).__name__}")
    if x.dtype not in FLOATS and isinstance(value, float) and not float(value).is_integer():
        raise TypeError(f"masked_fill: can't fill a {x.dtype} tensor with the non-integer {value}")
    return MaskedFill.apply(x, mask=mask, value=value)


def one_hot(index, num_classes=-1):
    """``out[..., c] = 1 if index[...] == c else 0``, int64 of shape ``index.shape + (num_classes,)``.

    index: non-negative integers; num_classes=-1 means ``index.max() + 1``. No gradient.
    """
    index = _index_array(index)
    if index.dtype.kind not in INDEX_DTYPES:
        raise TypeError(f"one_hot: index must be an integer tensor, got dtype {index.dtype}")
    if num_classes == -1:
        if index.size == 0:
            raise ValueError("one_hot: can't infer num_classes from an empty index; pass num_classes")
        num_classes = int(index.max()) + 1
    check_allocation("one_hot", index.shape + (max(num_classes, 1),), np.int64)
    index = wrap_indices("one_hot", index, -1, num_classes)
    hot = backend().eq(index[..., None], np.arange(num_classes, dtype=np.int64))
    return Tensor._wrap(hot.astype(np.int64))
