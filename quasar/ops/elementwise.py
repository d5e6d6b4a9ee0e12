"""Elementwise ops: arithmetic, activations, comparisons.

Each op is a Function whose forward and backward sit together. Arrays in,
arrays out; every computation is a named backend kernel. Binary ops
broadcast; their backward sums each gradient back to its input's shape
with ``reduce_to_shape``.
"""

import numpy as np

from ..autograd import Function
from ..dtypes import get_default_dtype, result_type
from ..errors import ConversionError, IntegerDivisionByZero
from ..tensor import Tensor
from .common import FLOATS, backend, broadcast_shape, float_operands, reduce_to_shape, tensor_pair

# ---------------------------------------------------------------- binary


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return backend().add(a, b)

    @staticmethod
    def backward(ctx, grad):
        sa, sb = ctx.shapes
        if sa == sb:  # no broadcasting (the common case): grad is each input's gradient
            return grad, grad
        return reduce_to_shape(grad, sa), reduce_to_shape(grad, sb)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return backend().sub(a, b)

    @staticmethod
    def backward(ctx, grad):
        sa, sb = ctx.shapes
        gb = reduce_to_shape(backend().neg(grad), sb) if ctx.needs_input_grad[1] else None
        return reduce_to_shape(grad, sa), gb


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return backend().mul(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        B = backend()
        ga = B.mul(grad, b) if ctx.needs_input_grad[0] else None
        gb = B.mul(grad, a) if ctx.needs_input_grad[1] else None
        if a.shape != b.shape:  # broadcast in forward: sum each gradient back to its input's shape
            ga = None if ga is None else reduce_to_shape(ga, a.shape)
            gb = None if gb is None else reduce_to_shape(gb, b.shape)
        return ga, gb


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return backend().div(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        B = backend()
        grad_over_b = B.div(grad, b)  # d(a/b)/da = 1/b; d(a/b)/db = -a/b^2
        ga = reduce_to_shape(grad_over_b, a.shape) if ctx.needs_input_grad[0] else None
        gb = None
        if ctx.needs_input_grad[1]:
            gb = reduce_to_shape(B.neg(B.mul(grad_over_b, B.div(a, b))), b.shape)
        return ga, gb


class Pow(Function):
    """a ** b with both operands tensors (see PowScalar for a constant exponent).

    Gradients at the edges as PyTorch defines them: d/da is 0 where b == 0
    (also at a == 0, where b * a^(b-1) would be 0 * inf); d/db is 0 where
    a == 0 and b >= 0 (a^b * log(a) would be 0 * -inf).
    """

    @staticmethod
    def forward(ctx, a, b):
        out = backend().pow(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        B = backend()
        zero = np.zeros((), a.dtype)
        ga = gb = None
        if ctx.needs_input_grad[0]:  # b * a^(b-1) = b * out / a would fail at a = 0
            one = np.ones((), a.dtype)
            slope = B.where(B.eq(b, zero), zero, B.mul(b, B.pow(a, B.sub(b, one))))
            ga = reduce_to_shape(B.mul(grad, slope), a.shape)
        if ctx.needs_input_grad[1]:  # a^b * log(a)
            slope = B.mul(out, B.log(a))
            slope = B.where(B.eq(a, zero), B.where(B.ge(b, zero), zero, slope), slope)
            gb = reduce_to_shape(B.mul(grad, slope), b.shape)
        return ga, gb


class Maximum(Function):
    """Elementwise max, NaN if either input is NaN. Gradient as PyTorch's: the
    larger input gets it, ties split it in halves, and where either input is
    NaN both get all of it (no comparison holds)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return backend().maximum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return _select_backward(ctx, grad, a, b, backend().lt)


class Minimum(Function):
    """Elementwise min; NaN and gradients as :class:`Maximum`, mirrored."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return backend().minimum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return _select_backward(ctx, grad, a, b, backend().gt)


def _select_backward(ctx, grad, a, b, loses):
    """PyTorch's rule: where(a == b, grad / 2, grad), zeroed where an input
    loses (``loses(a, b)``: a < b for maximum). NaN loses no comparison."""
    B = backend()
    zero = np.zeros((), grad.dtype)
    shared = B.where(B.eq(a, b), B.mul(grad, np.asarray(0.5, grad.dtype)), grad)
    ga = gb = None
    if ctx.needs_input_grad[0]:
        ga = reduce_to_shape(B.where(loses(a, b), zero, shared), a.shape)
    if ctx.needs_input_grad[1]:
        gb = reduce_to_shape(B.where(loses(b, a), zero, shared), b.shape)
    return ga, gb


def _binary(function, op, integer_kernel):
    """The op function of a binary Function: PyTorch's promotion, then the
    Function on floats, or the backend's ``integer_kernel`` on integer and
    bool operands (no gradient; ``None``: true division, ints compute in the
    default float dtype)."""
    record = function._apply_binary  # apply(a, b), spelled out for two tensors

    def apply(a, b):
        # The common case, two float tensors of one dtype and shape, goes straight
        # to the op; anything else (numbers, mixed dtypes, broadcasting) is prepared.
        if type(a) is type(b) is Tensor:
            a_array, b_array = a.array, b.array
            dtype = a_array.dtype
            if dtype is b_array.dtype and dtype in FLOATS and a_array.shape == b_array.shape:
                return record(a, b)
        a, b = tensor_pair(op, a, b) if integer_kernel else float_operands(op, a, b)
        if a.array.dtype in FLOATS:
            return record(a, b)
        return integer_binary(op, integer_kernel, a, b)

    apply.__name__ = op
    return apply


def integer_binary(op, kernel, a, b):
    """``kernel`` on two integer or bool tensors of one dtype (already promoted)."""
    if a.array.dtype == np.bool_ and op in ("sub", "rsub"):
        raise TypeError(
            f"{op}: subtraction of two bool tensors is not supported; use the ^ operator or logical_xor"
        )
    if a.array.dtype == np.bool_ and op in _NONZERO_DIVISOR:
        raise TypeError(f"{op}: not implemented for bool tensors (as PyTorch); convert with .long() first")
    if op in _NONZERO_DIVISOR and (b.array == 0).any():
        raise IntegerDivisionByZero(f"{op}: integer division by zero (shapes {a.shape} and {b.shape})")
    return Tensor._wrap(getattr(backend(), kernel)(a.array, b.array))


_NONZERO_DIVISOR = ("floor_divide", "remainder", "trunc_divide")


# add, sub and div with PyTorch's keywords (alpha=, rounding_mode=) live in
# ops/arithmetic.py; these are the plain forms the operators are bound to.
add = _add = _binary(Add, "add", "int_add")
sub = _sub = _binary(Sub, "sub", "int_sub")
mul = _binary(Mul, "mul", "int_mul")
div = _div = _binary(Div, "div", None)
maximum = _binary(Maximum, "maximum", "int_maximum")
minimum = _binary(Minimum, "minimum", "int_minimum")
add.__doc__ = "a + b with broadcasting and PyTorch's type promotion (ints stay ints)."
sub.__doc__ = "a - b with broadcasting and PyTorch's type promotion."
mul.__doc__ = "a * b with broadcasting and PyTorch's type promotion."
div.__doc__ = "a / b with broadcasting: true division (int / int gives the default float dtype)."
maximum.__doc__ = "Elementwise max of a and b (broadcasting); NaN propagates; ties split the gradient; ints keep their dtype."
minimum.__doc__ = "Elementwise min of a and b (broadcasting); NaN propagates; ties split the gradient; ints keep their dtype."


# ---------------------------------------------------------------- unary


class Neg(Function):
    @staticmethod
    def forward(ctx, x):
        return backend().neg(x)

    @staticmethod
    def backward(ctx, grad):
        return backend().neg(grad)


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        out = backend().exp(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return backend().mul(grad, out)


class Log(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return backend().log(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return backend().div(grad, x)


class Sqrt(Function):
    @staticmethod
    def forward(ctx, x):
        out = backend().sqrt(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        B = backend()
        return B.div(B.mul(grad, np.asarray(0.5, grad.dtype)), out)


class Abs(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return backend().abs(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return backend().abs_backward(x, grad)


class Tanh(Function):
    @staticmethod
    def forward(ctx, x):
        out = backend().tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return backend().tanh_backward(out, grad)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, x):
        out = backend().sigmoid(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return backend().sigmoid_backward(out, grad)


class Relu(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return backend().relu(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return backend().relu_backward(x, grad)


class Sin(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return backend().sin(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return backend().mul(grad, backend().cos(x))


class Cos(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return backend().cos(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        B = backend()
        return B.neg(B.mul(grad, B.sin(x)))


class Clamp(Function):
    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.bounds = lo, hi
        return backend().clamp(x, lo, hi)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return backend().clamp_backward(x, grad, *ctx.bounds)


class PowScalar(Function):
    """x ** p for a constant Python number p."""

    @staticmethod
    def forward(ctx, x, p):
        ctx.save_for_backward(x)
        ctx.p = p
        return backend().pow_scalar(x, p)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        if ctx.p == 0:  # x ** 0 is 1 everywhere: gradient 0, also at x = 0 (as PyTorch)
            return np.zeros(x.shape, x.dtype)
        return backend().pow_scalar_backward(x, grad, ctx.p)


def _unary(function, op, doc, integer=None):
    """The op function of a unary Function. Integer and bool inputs: ``integer(x)``
    when the op keeps integers (neg, abs, relu), else computed in the default
    float dtype, as PyTorch does for exp, log, sin, ..."""

    def apply(x):
        if not isinstance(x, Tensor):
            raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
        if x.array.dtype not in FLOATS:
            if integer is not None:
                return integer(x)
            x = x.to(get_default_dtype())
        return function.apply(x)

    apply.__name__ = op
    apply.__doc__ = doc
    return apply


def _integer_neg(x):
    if x.array.dtype == np.bool_:
        raise TypeError(
            "neg: negation, the `-` operator, on a bool tensor is not supported; "
            "to invert a mask use the `~` operator or logical_not()"
        )
    return Tensor._wrap(backend().int_neg(x.array))


neg = _unary(Neg, "neg", "-x.", _integer_neg)
exp = _unary(Exp, "exp", "e ** x.")
log = _unary(Log, "log", "Natural logarithm (nan below 0, -inf at 0).")
sqrt = _unary(Sqrt, "sqrt", "Square root (nan below 0).")
def _integer_abs(x):
    if x.array.dtype == np.bool_:
        raise TypeError("abs: not implemented for bool tensors (as PyTorch)")
    return Tensor._wrap(backend().int_abs(x.array))


abs = _unary(Abs, "abs", "|x|; its gradient at 0 is 0.", _integer_abs)
tanh = _unary(Tanh, "tanh", "Hyperbolic tangent.")
sigmoid = _unary(Sigmoid, "sigmoid", "1 / (1 + e ** -x), stable for large |x|.")
relu = _unary(Relu, "relu", "max(x, 0); NaN stays NaN; its gradient at 0 is 0.", lambda x: maximum(x, 0))
sin = _unary(Sin, "sin", "Sine.")
cos = _unary(Cos, "cos", "Cosine.")


def clamp(x, min=None, max=None):
    """Clip x to [min, max] (either bound may be None). Gradient 1 inside, 0 outside.
    Integer tensors with integer bounds stay integer (PyTorch's promotion)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"clamp: expected a Tensor, got {type(x).__name__}")
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    for bound in (min, max):
        if bound is not None and not isinstance(bound, (int, float)):
            raise TypeError(f"clamp: bounds must be Python numbers, got {type(bound).__name__}")
    if x.array.dtype not in FLOATS:
        dtype = result_type("clamp", x, *[b for b in (min, max) if b is not None])
        if dtype not in FLOATS:
            out = x if min is None else maximum(x, min)
            return out if max is None else minimum(out, max)
        x = x.to(dtype)
    return Clamp.apply(x, lo=min, hi=max)


clip = clamp


def pow(a, b):
    """a ** b: tensor ** number, number ** tensor or tensor ** tensor (broadcasting).
    Integer ** non-negative integer stays integer (wrapping on overflow)."""
    if isinstance(a, Tensor) and isinstance(b, (int, float)) and not isinstance(b, bool):
        if a.array.dtype in FLOATS:
            return PowScalar.apply(a, p=float(b))
        if isinstance(b, float):
            return PowScalar.apply(a.to(get_default_dtype()), p=b)
    a, b = tensor_pair("pow", a, b)
    if a.array.dtype in FLOATS:
        return Pow.apply(a, b)
    if a.array.dtype == np.bool_:  # PyTorch keeps bool: a ** b is a or not b
        B = backend()
        return Tensor._wrap(B.bitwise_or(a.array, B.bitwise_not(b.array)))
    if (b.array < 0).any():
        raise ValueError("pow: integers to negative integer powers are not allowed")
    return Tensor._wrap(backend().int_pow(a.array, b.array))


# ---------------------------------------------------------------- comparisons (no gradient)


def _comparison(op):
    def compare(a, b):
        if not isinstance(a, Tensor) or not isinstance(b, Tensor) or a.array.dtype != b.array.dtype:
            a, b = _comparable(op, a, b)
        broadcast_shape(op, a.array.shape, b.array.shape)
        return Tensor._wrap(getattr(backend(), op)(a.array, b.array))

    compare.__name__ = op
    compare.__doc__ = f"Elementwise {op} as a bool tensor (broadcasting; no gradient)."
    return compare


def _comparable(op, a, b):
    """Bring both operands to their promoted dtype without building a graph."""
    if isinstance(a, np.ndarray):
        a = Tensor._wrap(a)
    if isinstance(b, np.ndarray):
        b = Tensor._wrap(b)
    common = result_type(op, a, b)
    try:
        return [
            Tensor._wrap(v.array.astype(common, copy=False) if isinstance(v, Tensor) else np.asarray(v, common))
            for v in (a, b)
        ]
    except OverflowError:  # NumPy refuses a Python int outside the tensor's integer range
        number = a if not isinstance(a, Tensor) else b
        raise ConversionError(f"{op}: {number} is out of range for the tensor's dtype {common}") from None


lt = _comparison("lt")
le = _comparison("le")
gt = _comparison("gt")
ge = _comparison("ge")
eq = _comparison("eq")
ne = _comparison("ne")


class Where(Function):
    @staticmethod
    def forward(ctx, a, b, cond):
        ctx.cond = cond
        ctx.shapes = a.shape, b.shape
        return backend().where(cond, a, b)

    @staticmethod
    def backward(ctx, grad):
        B = backend()
        zero = np.zeros((), grad.dtype)
        sa, sb = ctx.shapes
        ga = reduce_to_shape(B.where(ctx.cond, grad, zero), sa) if ctx.needs_input_grad[0] else None
        gb = reduce_to_shape(B.where(ctx.cond, zero, grad), sb) if ctx.needs_input_grad[1] else None
        return ga, gb


def where(cond, a=None, b=None):
    """a where cond is True, else b (all three broadcast; a and b may be Python
    numbers); differentiable in a and b. ``where(cond)`` alone is
    ``nonzero(cond, as_tuple=True)``."""
    if a is None and b is None:
        from .sorting import nonzero  # sorting builds on index, which builds on this module

        return nonzero(cond, as_tuple=True)
    cond = cond.array if isinstance(cond, Tensor) else np.asarray(cond)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {cond.dtype}")
    a, b = tensor_pair("where", a, b)
    broadcast_shape("where", cond.shape, a.array.shape, b.array.shape)
    if a.array.dtype not in FLOATS:
        return Tensor._wrap(backend().int_where(cond, a.array, b.array))
    return Where.apply(a, b, cond=cond)
