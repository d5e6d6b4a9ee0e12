"""Writing into a copy of a tensor at indexed places: scatter, scatter_add,
scatter_reduce, index_add, index_copy, index_fill, index_put, and their
in-place forms (``scatter_``, ``index_add_``, ...).

Every op here first turns its index arguments into *flat positions*: for
each value written, its place in the target's C-order flattening. Two
Functions then do all the work on flat arrays:

* ``Scatter`` writes values at positions (the last write wins at a repeated
  position, as PyTorch leaves it unspecified). Backward: the target gets the
  gradient except where it was overwritten; each value gets the gradient of
  the place it went to.
* ``ScatterReduce`` reduces values into positions with sum, prod, mean, amax
  or amin, starting from the target's values (``include_self``) or from
  nothing. Its forward is the backend kernel ``scatter_reduce_flat``;
  backward follows PyTorch: prod divides out the one factor (handling zeros
  exactly), amax/amin split the gradient evenly among every element equal to
  the result.

Every index is validated here, before a kernel runs (IndexError naming the
op, the dim and the size); src must have the target's dtype, as in PyTorch.
"""

import numbers

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from .common import backend, normalize_dim
from .index import _index_array, flat_positions, getitem, masked_fill, normalize_key, wrap_indices
from .inplace import _update
from .shape import broadcast_to, reshape

REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def _identity(reduce, dtype):
    """The value a reduction starts from when include_self=False."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype == np.bool_:
        return reduce == "amin"
    if dtype.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    info = np.iinfo(dtype)
    return info.min if reduce == "amax" else info.max


def _same(a, b):
    """a == b elementwise, NaN equal to NaN (an amax that is NaN came from a NaN)."""
    same = a == b
    if a.dtype.kind == "f":
        same |= np.isnan(a) & np.isnan(b)
    return same


class Scatter(Function):
    """A copy of x with ``src`` written at the flat ``positions`` (src's shape)."""

    @staticmethod
    def forward(ctx, x, src, positions):
        ctx.positions, ctx.src_shape = positions.reshape(-1), src.shape
        out = x.copy()  # C order, so reshape(-1) is a view
        out.reshape(-1)[ctx.positions] = src.reshape(-1)
        return out

    @staticmethod
    def backward(ctx, grad):
        if isinstance(grad, Tensor):  # double backward: the same rule, with ops
            flat = grad.reshape(-1)
            grad_src = flat[ctx.positions].reshape(ctx.src_shape) if ctx.needs_input_grad[1] else None
            overwritten = _mask_at(grad.shape, ctx.positions)
            grad_x = backend().where(overwritten, np.zeros((), grad.dtype), grad) if ctx.needs_input_grad[0] else None
            return grad_x, grad_src
        flat = np.ascontiguousarray(grad).reshape(-1)
        grad_src = flat[ctx.positions].reshape(ctx.src_shape) if ctx.needs_input_grad[1] else None
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = flat.copy()
            grad_x[ctx.positions] = 0  # overwritten values don't reach the output
            grad_x = grad_x.reshape(grad.shape)
        return grad_x, grad_src


class ScatterReduce(Function):
    """x with every ``src`` value reduced into its flat position.

    x: any shape; src and positions: one shape, positions in [0, x.size).
    reduce: 'sum', 'prod', 'mean', 'amax' or 'amin'; include_self: whether x's
    own value takes part at the positions written (elsewhere x is kept).
    """

    @staticmethod
    def forward(ctx, x, src, positions, reduce, include_self):
        B = backend()
        pos, values = positions.reshape(-1), np.ascontiguousarray(src).reshape(-1)
        base = x.copy().reshape(-1)
        written = np.zeros(base.shape, bool)
        written[pos] = True
        if not include_self:
            base[written] = _identity(reduce, x.dtype)
        out = B.scatter_reduce_flat(base, pos, values, "sum" if reduce == "mean" else reduce)
        counts = None
        if reduce == "mean":  # how many values met at each place, x's own included
            counts = B.scatter_reduce_flat(np.full(base.shape, int(include_self), np.int64), pos,
                                           np.ones(pos.shape, np.int64), "sum")
            counts = np.maximum(counts, 1)  # places nothing was written to keep x: divide by 1
            out = out / counts if x.dtype.kind == "f" else out // counts
            out = out.astype(x.dtype, copy=False)
        ctx.reduce, ctx.include_self, ctx.counts = reduce, include_self, counts
        ctx.pos, ctx.written = pos, written
        out = out.reshape(x.shape)
        ctx.save_for_backward(x, src, out)  # the result itself: double backward maps it to the output
        return out

    @staticmethod
    def backward(ctx, grad):
        x, src, out = ctx.saved_tensors
        if isinstance(grad, Tensor):
            return _scatter_reduce_grads_on_tensors(ctx, grad, x, src, out)
        B = backend()
        pos, reduce = ctx.pos, ctx.reduce
        out = out.reshape(-1)
        grad = np.ascontiguousarray(grad).reshape(-1)
        x_flat, values = np.ascontiguousarray(x).reshape(-1), np.ascontiguousarray(src).reshape(-1)
        dropped = ctx.written if not ctx.include_self else np.zeros(grad.shape, bool)  # x's values left out
        if reduce == "sum":
            grad_x, grad_at = grad, grad[pos]
        elif reduce == "mean":
            grad_x = grad / ctx.counts
            grad_at = grad_x[pos]
        elif reduce == "prod":
            grad_x, grad_at = _prod_grads(B, grad, x_flat, values, out, pos, ctx.include_self)
        else:  # amax / amin: shared evenly by every element equal to the result
            from_x = _same(x_flat, out) & ~dropped
            from_src = _same(values, out[pos])
            ties = B.scatter_reduce_flat(from_x.astype(grad.dtype), pos, from_src.astype(grad.dtype), "sum")
            share = grad / ties
            grad_x, grad_at = share * from_x, share[pos] * from_src
        grad_x = np.where(dropped, 0, grad_x).astype(grad.dtype, copy=False).reshape(x.shape)
        return grad_x, grad_at.astype(grad.dtype, copy=False).reshape(src.shape)


def _scatter_reduce_grads_on_tensors(ctx, grad, x, src, out):
    """ScatterReduce's backward in double backward: the same rules, with ops.
    For amax/amin the gradient is linear in grad with constant coefficients
    (which elements tie with the result)."""
    B = backend()
    pos, reduce = ctx.pos, ctx.reduce
    flat = grad.reshape(-1)
    zero = np.zeros((), grad.dtype)
    if reduce == "sum":
        grad_x, grad_at = flat, flat[pos]
    elif reduce == "mean":
        grad_x = flat / ctx.counts.astype(grad.dtype)
        grad_at = grad_x[pos]
    elif reduce == "prod":
        grad_x, grad_at = _prod_grads_on_tensors(grad, x, src, pos, ctx.include_self)
    else:
        x_flat, values, out_flat = x.array.reshape(-1), src.array.reshape(-1), out.array.reshape(-1)
        dropped = ctx.written if not ctx.include_self else np.zeros(flat.shape, bool)
        from_x = (_same(x_flat, out_flat) & ~dropped).astype(grad.dtype)
        from_src = _same(values, out_flat[pos]).astype(grad.dtype)
        ties = B.scatter_reduce_flat(from_x, pos, from_src, "sum")  # arrays: the array kernel
        share = flat / ties
        grad_x, grad_at = share * from_x, share[pos] * from_src
    if not ctx.include_self:
        grad_x = B.where(ctx.written, zero, grad_x)
    return grad_x.reshape(x.shape), grad_at.reshape(src.shape)


def _prod_grads_on_tensors(grad, x, src, pos, include_self):
    """_prod_grads with ops, exact at zeros without division: every product of
    "the other factors" is a product over a masked (places, values) matrix
    (memory: x.size * src.size, double backward only)."""
    from .elementwise import where
    from .mathops import prod

    flat, values = grad.reshape(-1), src.reshape(-1).reshape(1, -1)
    one = np.ones((), grad.dtype)
    at_place = np.arange(flat.shape[0])[:, None] == pos[None, :]  # (places, values)
    others_of_x = prod(where(at_place, values, one), dim=1)
    same_place = pos[:, None] == pos[None, :]  # (values, values), each value left out of its own row
    np.fill_diagonal(same_place, False)
    others_of_value = prod(where(same_place, values, one), dim=1)
    if include_self:
        others_of_value = others_of_value * x.reshape(-1)[pos]
    return flat * others_of_x, flat[pos] * others_of_value


def _prod_grads(B, grad, x_flat, values, out, pos, include_self):
    """d(out)/dx and d(out)/dsrc of a scattered product, exact at zeros.

    x's value is multiplied by the product of the values written to its
    place, so its gradient is grad times that product (no division). A
    value's gradient is grad times the product of the *other* factors: the
    result divided by it where it is non-zero; where it is zero, the product
    of the non-zero factors if it is the only zero there, else 0.
    """
    others_of_x = B.scatter_reduce_flat(np.ones_like(x_flat), pos, values, "prod")
    grad_x = grad * others_of_x
    zero = values == 0
    start = x_flat if include_self else np.ones_like(x_flat)
    nonzero_product = B.scatter_reduce_flat(start, pos, np.where(zero, 1, values), "prod")
    zeros_there = B.scatter_reduce_flat(np.zeros(x_flat.shape, np.int64), pos, zero.astype(np.int64), "sum")
    with np.errstate(divide="ignore", invalid="ignore"):
        divided = out[pos] / np.where(zero, 1, values)
    lone_zero = np.where(zeros_there[pos] == 1, nonzero_product[pos], 0)
    return grad_x, grad[pos] * np.where(zero, lone_zero, divided)


# ---------------------------------------------------------------- positions


def _positions_along(shape, dim, index):
    """Flat positions, in a tensor of ``shape``, of the places ``index`` names:
    index[c] replaces coordinate ``dim`` of c (scatter's rule)."""
    positions = np.zeros(index.shape, np.int64)
    stride = 1
    for axis in range(len(shape) - 1, -1, -1):
        if axis == dim:
            coordinate = index
        else:
            coordinate = np.arange(index.shape[axis]).reshape((-1,) + (1,) * (index.ndim - 1 - axis))
        positions += coordinate * stride
        stride *= shape[axis]
    return positions


def _check_dtype(op, x, src):
    if src.dtype != x.dtype:
        raise TypeError(f"{op}: src has dtype {src.dtype} but the tensor written into has dtype {x.dtype}; "
                        "they must match")


def _scatter_args(op, x, dim, index, src_shape=None):
    """Validate scatter's arguments; return (x with >= 1 dim, dim, flat positions)."""
    index = _index_array(index)
    d = normalize_dim(op, dim, x.ndim)
    if x.ndim == 0:  # a 0-d tensor scatters like a one-element vector
        x = reshape(x, (1,))
        index = index.reshape(index.shape or (1,))
        src_shape = None if src_shape is None else (src_shape or (1,))
    if index.ndim != x.ndim or (src_shape is not None and len(src_shape) != x.ndim):
        srcs = "" if src_shape is None else f", src {tuple(src_shape)}"
        raise ValueError(f"{op}: index {index.shape}{srcs} and input {x.shape} must have the same number of dims")
    for axis, n in enumerate(index.shape):
        if axis != d and n > x.shape[axis]:
            raise ValueError(f"{op}: index shape {index.shape} is larger than input shape {x.shape} in dim {axis}")
        if src_shape is not None and n > src_shape[axis]:
            raise ValueError(f"{op}: index shape {index.shape} is larger than src shape {tuple(src_shape)} "
                             f"in dim {axis}")
    index = wrap_indices(op, index, d, x.shape[d])
    return x, d, _positions_along(x.shape, d, index)


def _source_part(src, shape):
    """The leading ``shape`` block of src (scatter reads only that much of it)."""
    if src.shape == tuple(shape):
        return src
    return getitem(src, tuple(slice(0, n) for n in shape))


def _mask_at(shape, positions):
    mask = np.zeros(int(np.prod(shape)), bool)
    mask[positions.reshape(-1)] = True
    return mask.reshape(shape)


def _shaped(t, shape):
    """t in ``shape`` (a differentiable reshape only when it isn't already)."""
    return t if t.shape == tuple(shape) else reshape(t, tuple(shape))


def _restore(result, input):
    return reshape(result, ()) if input.ndim == 0 else result


# ---------------------------------------------------------------- scatter


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """A copy of input with ``out[...][index[i][j]][...] = src[i][j]`` along ``dim``.

    index: integers with input's number of dims, ``index.size(d) <= src.size(d)``
    for every d and ``<= input.size(d)`` for d != dim, entries in
    [0, input.size(dim)). src: a tensor of input's dtype (only its leading
    index-shaped block is read), or a number (``value``) written everywhere
    index points. reduce='add' or 'multiply' combines with the present value
    instead of overwriting. Differentiable in input and src.
    """
    if src is not None and value is not None:
        raise TypeError("scatter: give src or value, not both")
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter: missing src (a tensor) or value (a number)")
    if reduce is not None:
        combine = {"add": "sum", "multiply": "prod"}.get(reduce)
        if combine is None:
            raise ValueError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
        if not isinstance(src, Tensor):
            src = Tensor._wrap(np.full(np.shape(_index_array(index)), src, input.dtype))
        return _scatter_reduce("scatter", input, dim, index, src, combine, True)
    if not isinstance(src, Tensor):
        if not isinstance(src, numbers.Number):
            raise TypeError(f"scatter: value must be a number, got {type(src).__name__}")
        x, _, positions = _scatter_args("scatter", input, dim, index)
        return _restore(masked_fill(x, _mask_at(x.shape, positions), src), input)
    _check_dtype("scatter", input, src)
    x, _, positions = _scatter_args("scatter", input, dim, index, src.shape)
    return _restore(Scatter.apply(x, _source_part(_shaped(src, src.shape or (1,)), positions.shape),
                                  positions=positions), input)


def scatter_add(input, dim, index, src):
    """``scatter`` that adds: ``out[...][index[i][j]][...] += src[i][j]`` (repeats add up)."""
    return _scatter_reduce("scatter_add", input, dim, index, src, "sum", True)


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """Reduce every src value into the place index names along ``dim``.

    reduce: 'sum', 'prod', 'mean', 'amax' or 'amin'; include_self: whether
    input's own value takes part at the places written (elsewhere it is
    kept). Argument rules as in :func:`scatter`; integer 'mean' floors.
    """
    if reduce not in REDUCTIONS:
        raise ValueError(f"scatter_reduce: reduce must be one of {', '.join(REDUCTIONS)}; got {reduce!r}")
    return _scatter_reduce("scatter_reduce", input, dim, index, src, reduce, include_self)


def _scatter_reduce(op, input, dim, index, src, reduce, include_self):
    if not isinstance(src, Tensor):
        raise TypeError(f"{op}: src must be a Tensor, got {type(src).__name__}")
    _check_dtype(op, input, src)
    x, _, positions = _scatter_args(op, input, dim, index, src.shape)
    part = _source_part(_shaped(src, src.shape or (1,)), positions.shape)
    return _restore(ScatterReduce.apply(x, part, positions=positions, reduce=reduce,
                                        include_self=bool(include_self)), input)


# ---------------------------------------------------------------- index_*


def _index_args(op, x, dim, index, source_shape=None):
    """Validate index_add/copy/fill's arguments; return (dim, flat positions of
    the source's elements, or of the whole selected slices)."""
    d = normalize_dim(op, dim, x.ndim)
    index = _index_array(index)
    if index.ndim > 1:
        raise ValueError(f"{op}: index must be 1-D (or 0-d), got shape {index.shape}")
    index = index.reshape(-1)
    shape = x.shape or (1,)
    picked = shape[:d] + (index.size,) + shape[d + 1:]
    if source_shape is not None and tuple(source_shape or (1,)) != picked:
        raise ValueError(f"{op}: source of shape {tuple(source_shape)} does not fit: expected {picked} "
                         f"(input {x.shape} with dim {d} of size len(index) = {index.size})")
    index = wrap_indices(op, index, d, shape[d])
    along = np.broadcast_to(index.reshape((-1,) + (1,) * (len(shape) - 1 - d)), picked)
    return d, _positions_along(shape, d, along)


def index_add(input, dim, index, source, *, alpha=1):
    """input with ``alpha * source`` added at positions ``index`` (1-D) along ``dim``.

    source: input's shape with dim of size len(index), input's dtype. Repeats add up.
    """
    _check_dtype("index_add", input, source)
    _, positions = _index_args("index_add", input, dim, index, source.shape)
    if alpha != 1:
        source = source * alpha
    x = _shaped(input, input.shape or (1,))
    out = ScatterReduce.apply(x, _shaped(source, positions.shape), positions=positions, reduce="sum",
                              include_self=True)
    return _restore(out, input)


def index_copy(input, dim, index, source):
    """input with the slices at ``index`` along ``dim`` replaced by source's slices."""
    _check_dtype("index_copy", input, source)
    _, positions = _index_args("index_copy", input, dim, index, source.shape)
    x = _shaped(input, input.shape or (1,))
    return _restore(Scatter.apply(x, _shaped(source, positions.shape), positions=positions), input)


def index_fill(input, dim, index, value):
    """input with the slices at ``index`` along ``dim`` set to ``value`` (a
    number, or a 0-d tensor, differentiable)."""
    _, positions = _index_args("index_fill", input, dim, index)
    return masked_fill(input, _mask_at(input.shape, positions), value)


def index_put(input, indices, values, accumulate=False):
    """``out = input.clone(); out[indices] = values`` (``+=`` with accumulate).

    indices: a tuple of integer or bool tensors, as in ``x[indices]``
    (negative indices count from the end); values: broadcastable to the
    selection, input's dtype. Without accumulate the last of repeated
    positions wins; with it, they add up.
    """
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put: indices must be a tuple of tensors, got {type(indices).__name__}")
    if not isinstance(values, Tensor):
        values = Tensor._wrap(np.asarray(values, input.dtype))
    _check_dtype("index_put", input, values)
    key, _ = normalize_key("index_put", input.shape, tuple(indices))
    positions = flat_positions(input.shape, key)
    try:
        values = values if values.shape == positions.shape else broadcast_to(values, positions.shape)
    except ValueError:
        raise ValueError(f"index_put: values of shape {values.shape} can't be broadcast to the "
                         f"indexed shape {positions.shape}") from None
    if accumulate:
        return ScatterReduce.apply(input, values, positions=positions, reduce="sum", include_self=True)
    return Scatter.apply(input, values, positions=positions)


# ---------------------------------------------------------------- in place


def _in_place(op, function):
    def inplace(input, *args, **kwargs):
        operands = [a for a in (*args, *kwargs.values()) if isinstance(a, Tensor)]
        return _update(op, input, lambda old: function(old, *args, **kwargs), operands)

    inplace.__name__ = op
    inplace.__doc__ = f"In-place :func:`{function.__name__}`: writes the result into input and returns it."
    return inplace


scatter_ = _in_place("scatter_", scatter)
scatter_add_ = _in_place("scatter_add_", scatter_add)
scatter_reduce_ = _in_place("scatter_reduce_", scatter_reduce)
index_add_ = _in_place("index_add_", index_add)
index_copy_ = _in_place("index_copy_", index_copy)
index_fill_ = _in_place("index_fill_", index_fill)
index_put_ = _in_place("index_put_", index_put)
