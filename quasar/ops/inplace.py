"""In-place ops: add_, sub_, mul_, div_, floor_divide_, remainder_, pow_,
the bitwise ``*_`` ops, zero_, fill_, clamp_, copy_, masked_fill_ and
``t[key] = value`` (setitem), with PyTorch's safety net. The in-place
operators ``+= -= *= /= //= %= **= &= |= ^= <<= >>=`` are these ops.

The dtype rule
--------------
The tensor keeps its dtype. A result of a higher category (bool < integer <
float) can't be stored: ``int_tensor += 0.5`` and ``int_tensor /= 2`` raise
PyTorch's "result type Float can't be cast to the desired output type Long";
within a category the result is cast (``float32 += float64`` stays float32).

The safety net
--------------
* Every in-place op bumps the tensor's version counter, which its views
  share. A node that saved the tensor for backward recorded its version; if
  it changed, backward raises a RuntimeError naming the node and the shape
  instead of computing a wrong gradient.
* A leaf that requires grad can't be changed in place (its gradient would
  describe values it no longer holds), except inside ``no_grad()``, which is
  how optimizers update parameters.

How an in-place op stays differentiable
---------------------------------------
When a graph must be recorded (grad mode on, and the tensor or an operand
requires grad), ``t.op_(...)`` runs the out-of-place op on a stand-in for
the old ``t``: a new Tensor holding a *copy* of the old values (backward may
need them) and taking over t's old ``grad_fn``. The result is copied into
``t.array`` in place, so views of t see it, and its node becomes
``t.grad_fn``: later uses of t backpropagate through the op into t's
history. Without a graph the new values are computed the same way, or
simply written, and copied in.

Limits (documented, raising a clear error or noted here):

* In-place on a *view* while recording raises "not supported": the view's
  base would not learn about the new node. Use ``no_grad()`` or an
  out-of-place op.
* Until autograd binds each edge to the parent's node when an op is
  recorded (it looks ``parent.grad_fn`` up when backward runs), an op that
  used ``t`` *before* ``t.op_()`` and saved nothing of t (so the safety net
  stays silent, e.g. ``y = t + 1``) backpropagates through the new node.
  Ops that need t's old values saved them, and raise instead. The strict
  xfail in tests/test_inplace.py turns into a failure once this is fixed.
"""

import numbers

import numpy as np

from ..autograd import Function, is_grad_enabled
from ..dtypes import CATEGORY, checked_cast, get_default_dtype, result_type
from ..errors import CastError, ShapeError
from ..tensor import Tensor, as_tensor
from . import arithmetic
from .common import FLOATS, broadcast_shape, reduce_to_shape, require_tensor
from .elementwise import abs, clamp, mul, neg, pow, where
from .index import _mask_array, masked_fill, normalize_key, torch_permutation
from .shape import broadcast_to

TRUE = np.asarray(True)  # a condition that selects the new values everywhere


def check_inplace(op, t):
    """In-place changes to a leaf that requires grad would corrupt its gradient."""
    if t.requires_grad and t.grad_fn is None and is_grad_enabled():
        raise RuntimeError(
            f"{op}: a leaf Variable that requires grad is being used in an in-place operation: "
            f"a leaf tensor that requires grad (shape {t.shape}) can't be changed in place; "
            "wrap the update in `with quasar.no_grad():`"
        )


def bump_version(t):
    t._version[0] += 1
    return t


def _records_graph(t, operands):
    return is_grad_enabled() and (
        t.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in operands)
    )


def _update(op, t, compute, operands=(), write=None):
    """The one recipe of every in-place op.

    compute(old) -> Tensor: the new values of t, by an out-of-place op on
    ``old`` (t's values). write() (optional): store the new values straight
    into ``t.array`` when no graph is recorded (a plain fill or copy).
    """
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(t).__name__}")
    check_inplace(op, t)
    if type(t.array) is not np.ndarray:
        # a 0-d result some NumPy routines return as a scalar, which can't be written:
        # the same value as a 0-d array (nothing can be viewing a scalar's memory)
        t.array = np.asarray(t.array)
    if not _records_graph(t, operands):
        if write is not None:
            write()
        else:
            t.array[...] = compute(Tensor._wrap(t.array)).array
        return bump_version(t)
    if t._is_view:
        raise RuntimeError(
            f"{op}: in-place changes to a view (shape {t.shape}) are not supported while recording "
            "gradients; use the out-of-place op, or wrap the update in `with quasar.no_grad():`"
        )
    old = Tensor._wrap(t.array.copy())  # t's values before the op, and its place in the graph
    old.grad_fn, old.requires_grad = t.grad_fn, t.requires_grad
    new = compute(old)
    if new.dtype != t.dtype:
        new = new.to(t.dtype)
    t.array[...] = new.array
    bump_version(t)
    t.grad_fn, t.requires_grad = new.grad_fn, new.requires_grad
    if new.grad_fn is not None and old.grad_fn is not None and old.grad_fn._retained is not None:
        # retain_grad() follows the tensor: t.grad now describes its new values
        new.grad_fn._retained, old.grad_fn._retained = old.grad_fn._retained, None
    return t


# PyTorch's names of the dtypes, for its error messages
TORCH_NAMES = {
    "float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int", "int16": "Short",
    "int8": "Char", "uint8": "Byte", "bool": "Bool",
}


def _operand(op, t, other, true_division=False):
    """Check that ``t op= other`` keeps t's shape and that its result dtype can be
    stored in t's (PyTorch: a result of a higher category can't: int += 0.5,
    bool *= 2, int /= 2); return other as the out-of-place op accepts it."""
    if isinstance(other, np.ndarray):
        other = Tensor._wrap(other)
    if isinstance(other, Tensor):
        if broadcast_shape(op, t.shape, other.shape) != t.shape:
            raise ShapeError(
                f"{op}: the result would have shape {broadcast_shape(op, t.shape, other.shape)}, "
                f"but the tensor changed in place has shape {t.shape}"
            )
    elif not isinstance(other, numbers.Number) or isinstance(other, complex):
        raise TypeError(f"{op}: unsupported operand of type {type(other).__name__}")
    result = result_type(op, t, other)
    if true_division and result not in FLOATS:
        result = get_default_dtype()
    if CATEGORY[result.kind] > CATEGORY[t.dtype.kind]:
        raise CastError(
            f"{op}: result type {TORCH_NAMES[result.name]} can't be cast to the desired output type "
            f"{TORCH_NAMES[t.dtype.name]} (the tensor changed in place has dtype {t.dtype}, the result {result})"
        )
    return other


def _arithmetic(op, t, other, combine, true_division=False):
    require_tensor(op, t)
    other = _operand(op, t, other, true_division)
    return _update(op, t, lambda old: combine(old, other), (other,))


def add_(t, other, alpha=1):
    """t += alpha * other (other broadcasts to t's shape); returns t."""
    return _arithmetic("add_", t, other, lambda old, o: arithmetic.add(old, o, alpha=alpha))


def sub_(t, other, alpha=1):
    """t -= alpha * other; returns t."""
    return _arithmetic("sub_", t, other, lambda old, o: arithmetic.sub(old, o, alpha=alpha))


def mul_(t, other):
    """t *= other; returns t."""
    return _arithmetic("mul_", t, other, mul)


def div_(t, other, *, rounding_mode=None):
    """t /= other; returns t. Without rounding_mode the result is float, so an
    integer t raises (as in PyTorch)."""
    return _arithmetic(
        "div_", t, other, lambda old, o: arithmetic.div(old, o, rounding_mode=rounding_mode),
        true_division=rounding_mode is None,
    )


# part A: the remaining in-place forms of the arithmetic and bitwise operators,
# behind ``//= %= **= &= |= ^= <<= >>=`` (and ``+= -= *= /=`` are add_, ...)


def floor_divide_(t, other):
    """t //= other; returns t."""
    return _arithmetic("floor_divide_", t, other, arithmetic.floor_divide)


def remainder_(t, other):
    """t %= other (the sign of other); returns t."""
    return _arithmetic("remainder_", t, other, arithmetic.remainder)


def pow_(t, exponent):
    """t **= exponent; returns t."""
    return _arithmetic("pow_", t, exponent, pow)


def neg_(t):
    """t = -t in place; returns t."""
    return _update("neg_", t, neg)


def abs_(t):
    """t = |t| in place; returns t."""
    return _update("abs_", t, abs)


def bitwise_not_(t):
    """t = ~t in place (integer or bool t); returns t."""
    return _update("bitwise_not_", t, arithmetic.bitwise_not)


def bitwise_and_(t, other):
    return _arithmetic("bitwise_and_", t, other, arithmetic.bitwise_and)


def bitwise_or_(t, other):
    return _arithmetic("bitwise_or_", t, other, arithmetic.bitwise_or)


def bitwise_xor_(t, other):
    return _arithmetic("bitwise_xor_", t, other, arithmetic.bitwise_xor)


def bitwise_left_shift_(t, other):
    return _arithmetic("bitwise_left_shift_", t, other, arithmetic.bitwise_left_shift)


def bitwise_right_shift_(t, other):
    return _arithmetic("bitwise_right_shift_", t, other, arithmetic.bitwise_right_shift)


def clamp_(t, min=None, max=None):
    """Clip t to [min, max] in place; returns t. Integer t needs integer bounds."""
    require_tensor("clamp_", t)
    for bound in (min, max):
        if bound is not None:
            _operand("clamp_", t, bound)  # the dtype rule: int_tensor.clamp_(0.5) raises
    return _update("clamp_", t, lambda old: clamp(old, min, max))


clip_ = clamp_


def _fill_value(op, t, value):
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(f"{op}: value must be a number or a 0-d tensor, got shape {value.shape}")
        if not value.requires_grad:
            value = value.item()
    elif not isinstance(value, numbers.Number):
        raise TypeError(f"{op}: value must be a number or a 0-d tensor, got {type(value).__name__}")
    if t.dtype not in FLOATS and not isinstance(value, Tensor):
        checked_cast(np.asarray(value), t.dtype, op)  # nan, inf or out of range raise, as in PyTorch
    return value


def fill_(t, value):
    """Set every element of t to ``value`` (a number, or a 0-d tensor); returns t."""
    value = _fill_value("fill_", t, value)

    def write():
        t.array[...] = value.array if isinstance(value, Tensor) else value

    return _update("fill_", t, lambda old: where(TRUE, value, old), (value,), write)


def zero_(t):
    """Fill t with zeros in place; returns t."""
    require_tensor("zero_", t)
    return fill_(t, 0)


def copy_(t, src):
    """Copy ``src`` (broadcast to t's shape, cast to t's dtype) into t; returns t.
    The gradient flows to src; t's old values get none."""
    require_tensor("copy_", t)
    src = Tensor._wrap(np.asarray(src)) if not isinstance(src, Tensor) else src
    if broadcast_shape("copy_", t.shape, src.shape) != t.shape:
        raise RuntimeError(f"copy_: source of shape {src.shape} cannot be broadcast to the tensor's shape {t.shape}")

    def write():
        t.array[...] = src.array

    return _update("copy_", t, lambda old: where(TRUE, src.to(t.dtype), old), (src,), write)


def masked_fill_(t, mask, value):
    """Set t to ``value`` where ``mask`` (bool, broadcastable to t) is True; returns t."""
    mask = _mask_array("masked_fill_", mask, t.shape)
    value = _fill_value("masked_fill_", t, value)
    return _update("masked_fill_", t, lambda old: masked_fill(old, mask, value), (value,))


# ---------------------------------------------------------------- t[key] = value


class IndexPut(Function):
    """A copy of x with x[key] = value (value broadcast to the selection).

    Backward: the overwritten places give x no gradient; value gets the
    gradient of the places it was written to, summed where it was broadcast.
    """

    @staticmethod
    def forward(ctx, x, value, key):
        ctx.key, ctx.value_shape = key, value.shape
        out = x.copy()
        out[key] = value
        return out

    @staticmethod
    def backward(ctx, grad):
        gx = gv = None
        if isinstance(grad, Tensor):  # double backward: the same rule with ops
            if ctx.needs_input_grad[0]:  # the overwritten places get zeros written over them
                gx = IndexPut.apply(grad, Tensor._wrap(np.zeros((), grad.dtype)), key=ctx.key)
            if ctx.needs_input_grad[1]:
                gv = reduce_to_shape(grad[ctx.key], ctx.value_shape)
            return gx, gv
        if ctx.needs_input_grad[0]:
            gx = np.array(grad)  # a writable copy (grad may arrive as a NumPy scalar)
            gx[ctx.key] = 0
        if ctx.needs_input_grad[1]:
            selected = np.asarray(grad[ctx.key])
            gv = reduce_to_shape(selected, ctx.value_shape)
        return gx, gv


def setitem(t, key, value):
    """``t[key] = value``: write value (a number or a tensor broadcastable to
    ``t[key]``'s shape) into the selected elements, in place.

    The key follows the rules of ``t[key]`` (see ``quasar.ops.index.getitem``)
    and is checked before anything is written. Differentiable in t's other
    elements and in value; with repeated indices the last write wins.
    """
    key, _ = normalize_key("setitem", t.shape, key)
    selected_shape = np.broadcast_to(np.empty((), np.int8), t.shape)[key].shape
    order = torch_permutation(key, len(selected_shape))
    if order is not None:  # the value comes in PyTorch's layout of t[key]: bring it to NumPy's
        torch_shape = tuple(selected_shape[i] for i in order)
        value = value if isinstance(value, (Tensor, np.ndarray)) else np.asarray(value)
        value = as_tensor(value) if isinstance(value, np.ndarray) else value
        value = broadcast_to(value, torch_shape).permute(tuple(np.argsort(order)))
    if isinstance(value, np.ndarray):
        value = Tensor._wrap(value)
    if isinstance(value, Tensor):
        extra = value.ndim - len(selected_shape)
        if extra > 0 and all(n == 1 for n in value.shape[:extra]):
            value = value.reshape(value.shape[extra:])  # leading 1s, which NumPy drops too
        if value.ndim > len(selected_shape) or any(
            v not in (1, s) for v, s in zip(value.shape[::-1], selected_shape[::-1])
        ):
            raise ValueError(
                f"setitem: a value of shape {value.shape} cannot be assigned to the selection of shape "
                f"{selected_shape}"
            )
    elif not isinstance(value, numbers.Number):
        raise TypeError(f"setitem: value must be a number or a tensor, got {type(value).__name__}")

    def write():
        t.array[key] = value.array if isinstance(value, Tensor) else value

    def compute(old):
        written = value.to(old.dtype) if isinstance(value, Tensor) else Tensor._wrap(np.asarray(value, old.dtype))
        return IndexPut.apply(old, written, key=key)

    return _update("setitem", t, compute, (value,), write)
