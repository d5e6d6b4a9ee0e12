"""Elementwise ops: arithmetic, activations, comparisons.

Each op is a Function whose forward and backward sit together. Arrays in,
arrays out; every computation is a named backend kernel. Binary ops
broadcast; their backward sums each gradient back to its input's shape
with ``reduce_to_shape``.
"""

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from .common import FLOATS, backend, broadcast_shape, reduce_to_shape, require_float, tensor_pair

# ---------------------------------------------------------------- binary


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return backend().add(a, b)

    @staticmethod
    def backward(ctx, grad):
        sa, sb = ctx.shapes
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
        ga = reduce_to_shape(B.mul(grad, b), a.shape) if ctx.needs_input_grad[0] else None
        gb = reduce_to_shape(B.mul(grad, a), b.shape) if ctx.needs_input_grad[1] else None
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
    """a ** b with both operands tensors (see PowScalar for a constant exponent)."""

    @staticmethod
    def forward(ctx, a, b):
        out = backend().pow(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        B = backend()
        ga = gb = None
        if ctx.needs_input_grad[0]:  # b * a^(b-1) = b * out / a would fail at a = 0
            one = np.ones((), a.dtype)
            ga = reduce_to_shape(B.mul(grad, B.mul(b, B.pow(a, B.sub(b, one)))), a.shape)
        if ctx.needs_input_grad[1]:  # a^b * log(a)
            gb = reduce_to_shape(B.mul(grad, B.mul(out, B.log(a))), b.shape)
        return ga, gb


class Maximum(Function):
    """Elementwise max; at ties each input gets half the gradient (as in PyTorch)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return backend().maximum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return _select_backward(ctx, grad, a, b, backend().gt)


class Minimum(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return backend().minimum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return _select_backward(ctx, grad, a, b, backend().lt)


def _select_backward(ctx, grad, a, b, wins):
    """Route grad to whichever of a, b was selected; split it at ties."""
    B = backend()
    zero = np.zeros((), grad.dtype)
    half = B.mul(grad, np.asarray(0.5, grad.dtype))
    tie = B.eq(a, b)
    ga = gb = None
    if ctx.needs_input_grad[0]:
        ga = reduce_to_shape(B.where(wins(a, b), grad, B.where(tie, half, zero)), a.shape)
    if ctx.needs_input_grad[1]:
        gb = reduce_to_shape(B.where(wins(b, a), grad, B.where(tie, half, zero)), b.shape)
    return ga, gb


def _binary(function, op):
    record = function.apply

    def apply(a, b):
        # The common case, two float tensors of one dtype and shape, goes straight
        # to the op; anything else (numbers, mixed dtypes, broadcasting) is prepared.
        if type(a) is type(b) is Tensor and a.array.dtype is b.array.dtype and a.array.shape == b.array.shape:
            if a.array.dtype in FLOATS:
                return record(a, b)
        a, b = tensor_pair(op, a, b)
        return record(a, b)

    apply.__name__ = op
    return apply


add = _binary(Add, "add")
sub = _binary(Sub, "sub")
mul = _binary(Mul, "mul")
div = _binary(Div, "div")
maximum = _binary(Maximum, "maximum")
minimum = _binary(Minimum, "minimum")
add.__doc__ = "a + b with broadcasting."
sub.__doc__ = "a - b with broadcasting."
mul.__doc__ = "a * b with broadcasting."
div.__doc__ = "a / b with broadcasting (true division)."
maximum.__doc__ = "Elementwise max of a and b (broadcasting); ties split the gradient."
minimum.__doc__ = "Elementwise min of a and b (broadcasting); ties split the gradient."


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
        return backend().pow_scalar_backward(x, grad, ctx.p)


def _unary(function, op, doc):
    def apply(x):
        if not isinstance(x, Tensor):
            raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
        require_float(op, x)
        return function.apply(x)

    apply.__name__ = op
    apply.__doc__ = doc
    return apply


neg = _unary(Neg, "neg", "-x.")
exp = _unary(Exp, "exp", "e ** x.")
log = _unary(Log, "log", "Natural logarithm (nan below 0, -inf at 0).")
sqrt = _unary(Sqrt, "sqrt", "Square root (nan below 0).")
abs = _unary(Abs, "abs", "|x|; its gradient at 0 is 0.")
tanh = _unary(Tanh, "tanh", "Hyperbolic tangent.")
sigmoid = _unary(Sigmoid, "sigmoid", "1 / (1 + e ** -x), stable for large |x|.")
relu = _unary(Relu, "relu", "max(x, 0); its gradient at 0 is 0.")
sin = _unary(Sin, "sin", "Sine.")
cos = _unary(Cos, "cos", "Cosine.")


def clamp(x, min=None, max=None):
    """Clip x to [min, max] (either bound may be None). Gradient 1 inside, 0 outside."""
    require_float("clamp", x)
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    for bound in (min, max):
        if bound is not None and not isinstance(bound, (int, float)):
            raise TypeError(f"clamp: bounds must be Python numbers, got {type(bound).__name__}")
    return Clamp.apply(x, lo=min, hi=max)


clip = clamp


def pow(a, b):
    """a ** b: tensor ** number, number ** tensor or tensor ** tensor (broadcasting)."""
    if isinstance(a, Tensor) and isinstance(b, (int, float)) and not isinstance(b, bool):
        require_float("pow", a)
        return PowScalar.apply(a, p=float(b))
    a, b = tensor_pair("pow", a, b)
    return Pow.apply(a, b)


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
    """Bring both operands to one dtype without building a graph."""
    arrays = []
    for value in (a, b):
        if isinstance(value, Tensor):
            arrays.append(value.array)
        elif isinstance(value, (int, float, bool, np.ndarray, np.generic)):
            arrays.append(np.asarray(value))
        else:
            raise TypeError(f"{op}: unsupported operand of type {type(value).__name__}")
    x, y = arrays
    if isinstance(a, Tensor) and not isinstance(b, Tensor) and y.ndim == 0:
        common = x.dtype if x.dtype in FLOATS or y.dtype.kind in "iub" else np.result_type(x, y)
    elif isinstance(b, Tensor) and not isinstance(a, Tensor) and x.ndim == 0:
        common = y.dtype if y.dtype in FLOATS or x.dtype.kind in "iub" else np.result_type(x, y)
    else:
        common = np.result_type(x, y)
    return Tensor._wrap(x.astype(common, copy=False)), Tensor._wrap(y.astype(common, copy=False))


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
    """a where cond is True, else b (all three broadcast); differentiable in a and b.
    ``where(cond)`` alone is ``nonzero(cond, as_tuple=True)``."""
    if a is None and b is None:
        from .sorting import nonzero  # sorting builds on index, which builds on this module

        return nonzero(cond, as_tuple=True)
    cond = cond.array if isinstance(cond, Tensor) else np.asarray(cond)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {cond.dtype}")
    a, b = tensor_pair("where", a, b)
    broadcast_shape("where", cond.shape, a.array.shape, b.array.shape)
    return Where.apply(a, b, cond=cond)
