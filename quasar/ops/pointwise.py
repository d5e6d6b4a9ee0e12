"""The rest of the pointwise math library, with PyTorch's names, signatures
and gradients: trigonometric and hyperbolic functions and their inverses,
logarithms and exponentials in other bases, rounding, erfinv and logit, the
binary functions atan2 ... xlogy, lerp, clamp with tensor bounds, nan_to_num,
and the predicates isnan ... equal (no gradient).

Most unary and binary ops are rows of a table: the backend kernel that
computes the op, and beside it the rule that turns the upstream gradient
into the input's (PyTorch's derivatives.yaml formulas), composed of backend
kernels. One Function class runs each table, so adding an op is adding a row.
"""

import math
import numbers

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from .common import (
    FLOATS, backend, broadcast_shape, expand_to, reduce_to_shape, require_float, tensor_pair, zeros_for,
)
from .elementwise import clamp as _clamp_scalar
from .elementwise import eq, pow
from .reductions import all as _all

LN2 = math.log(2.0)
LN10 = math.log(10.0)


def _c(value, like):
    """A 0-d constant in ``like``'s dtype (a bare Python float would promote float32)."""
    return np.asarray(value, like.dtype)


def _float_tensor(op, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    require_float(op, x)
    return x


# ---------------------------------------------------------------- unary ops
# name -> dL/dx as a function of (B, g, x, y): the backend, the upstream
# gradient, the input and the output. None: the op is piecewise constant and
# its gradient is 0 (PyTorch's zeros_like(grad)).

UNARY_GRADIENTS = {
    "tan": lambda B, g, x, y: B.mul(g, B.add(_c(1, g), B.mul(y, y))),
    "asin": lambda B, g, x, y: B.mul(g, B.rsqrt(B.sub(_c(1, x), B.mul(x, x)))),
    "acos": lambda B, g, x, y: B.neg(B.mul(g, B.rsqrt(B.sub(_c(1, x), B.mul(x, x))))),
    "atan": lambda B, g, x, y: B.div(g, B.add(B.mul(x, x), _c(1, x))),
    "sinh": lambda B, g, x, y: B.mul(g, B.cosh(x)),
    "cosh": lambda B, g, x, y: B.mul(g, B.sinh(x)),
    "asinh": lambda B, g, x, y: B.mul(g, B.rsqrt(B.add(B.mul(x, x), _c(1, x)))),
    "acosh": lambda B, g, x, y: B.mul(g, B.rsqrt(B.sub(B.mul(x, x), _c(1, x)))),
    "atanh": lambda B, g, x, y: B.div(g, B.sub(_c(1, x), B.mul(x, x))),
    "log2": lambda B, g, x, y: B.div(g, B.mul(x, _c(LN2, x))),
    "log10": lambda B, g, x, y: B.div(g, B.mul(x, _c(LN10, x))),
    "exp2": lambda B, g, x, y: B.mul(B.mul(g, y), _c(LN2, y)),
    "expm1": lambda B, g, x, y: B.mul(g, B.add(y, _c(1, y))),
    "log1p": lambda B, g, x, y: B.div(g, B.add(x, _c(1, x))),
    "rsqrt": lambda B, g, x, y: B.mul(B.mul(g, _c(-0.5, g)), B.mul(y, B.mul(y, y))),
    "reciprocal": lambda B, g, x, y: B.neg(B.mul(g, B.mul(y, y))),
    "frac": lambda B, g, x, y: g,
    "erfinv": lambda B, g, x, y: B.mul(B.mul(g, _c(0.5 * math.sqrt(math.pi), g)), B.exp(B.mul(y, y))),
    "sign": None,
    "floor": None,
    "ceil": None,
    "trunc": None,
}


class Unary(Function):
    """One op of UNARY_GRADIENTS: ``op`` names its kernel and its gradient rule."""

    @staticmethod
    def forward(ctx, x, op):
        out = getattr(backend(), op)(x)
        ctx.op = op
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        rule = UNARY_GRADIENTS[ctx.op]
        if rule is None:
            return zeros_for(grad, x.shape, x.dtype)
        return rule(backend(), grad, x, out)

    def __repr__(self):  # grad_fn=<TanBackward>, not <UnaryBackward>
        return f"<{self.op.capitalize()}Backward>"


def _unary(op, doc):
    def apply(input):
        return Unary.apply(_float_tensor(op, input), op=op)

    apply.__name__ = op
    apply.__doc__ = doc
    return apply


tan = _unary("tan", "Tangent.")
asin = _unary("asin", "Arcsine (nan outside [-1, 1]).")
acos = _unary("acos", "Arccosine (nan outside [-1, 1]).")
atan = _unary("atan", "Arctangent.")
sinh = _unary("sinh", "Hyperbolic sine.")
cosh = _unary("cosh", "Hyperbolic cosine.")
asinh = _unary("asinh", "Inverse hyperbolic sine.")
acosh = _unary("acosh", "Inverse hyperbolic cosine (nan below 1).")
atanh = _unary("atanh", "Inverse hyperbolic tangent (nan outside [-1, 1]).")
log2 = _unary("log2", "Base-2 logarithm.")
log10 = _unary("log10", "Base-10 logarithm.")
exp2 = _unary("exp2", "2 ** x.")
expm1 = _unary("expm1", "exp(x) - 1, accurate near 0.")
log1p = _unary("log1p", "log(1 + x), accurate near 0.")
rsqrt = _unary("rsqrt", "1 / sqrt(x).")
reciprocal = _unary("reciprocal", "1 / x.")
frac = _unary("frac", "x - trunc(x): the fractional part, with x's sign.")
erfinv = _unary("erfinv", "The inverse of erf on (-1, 1); +-inf at +-1, nan outside.")
sign = _unary("sign", "-1, 0 or 1 by the sign of x; gradient 0. NaN gives 0, as PyTorch's sign.")
floor = _unary("floor", "Largest integer <= x (as a float); gradient 0.")
ceil = _unary("ceil", "Smallest integer >= x (as a float); gradient 0.")
trunc = _unary("trunc", "x rounded toward zero; gradient 0.")
fix = trunc


def sgn(input):
    """sign(x) for real tensors (PyTorch's sgn also covers complex ones); gradient 0."""
    return sign(input)


def square(input):
    """x * x (a power of 2: the gradient is 2x)."""
    return pow(_float_tensor("square", input), 2)


class Round(Function):
    """Round half to even, to ``decimals`` places (negative: tens, hundreds, ...); gradient 0."""

    @staticmethod
    def forward(ctx, x, decimals):
        ctx.shape, ctx.dtype = x.shape, x.dtype
        return backend().round(x, decimals)

    @staticmethod
    def backward(ctx, grad):
        return zeros_for(grad, ctx.shape, ctx.dtype)


def round(input, *, decimals=0):
    """Round to the nearest integer (ties to even), or to ``decimals`` decimal places."""
    _float_tensor("round", input)
    if isinstance(decimals, bool) or not isinstance(decimals, numbers.Integral):
        raise TypeError(f"round: decimals must be an int, got {decimals!r}")
    return Round.apply(input, decimals=int(decimals))


class Logit(Function):
    """log(z / (1 - z)) with z = x clamped to [eps, 1 - eps] when eps is given."""

    @staticmethod
    def forward(ctx, x, eps):
        ctx.save_for_backward(x)
        ctx.eps = eps
        return backend().logit(x, eps)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        B = backend()
        slope = B.div(grad, B.mul(x, B.sub(_c(1, x), x)))
        # outside [lo, hi] the gradient is nan without eps and 0 with it (PyTorch's logit_backward)
        lo, hi = (0.0, 1.0) if ctx.eps is None else (ctx.eps, 1.0 - ctx.eps)
        outside = _c(math.nan if ctx.eps is None else 0.0, x)
        return B.where(B.lt(x, _c(lo, x)), outside, B.where(B.gt(x, _c(hi, x)), outside, slope))


def logit(input, eps=None):
    """The inverse of sigmoid: log(x / (1 - x)); with ``eps``, x is first clamped to [eps, 1 - eps]."""
    _float_tensor("logit", input)
    if eps is not None:
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
            raise TypeError(f"logit: eps must be a number or None, got {eps!r}")
        eps = float(eps)
    return Logit.apply(input, eps=eps)


# ---------------------------------------------------------------- binary ops
# name -> (dL/da, dL/db) as functions of (B, g, a, b, y), before reduce_to_shape.


def _copysign_grad_a(B, g, a, b, y):
    ratio = B.where(B.eq(a, _c(0, a)), _c(0, a), B.div(y, a))  # +-1, and 0 at a == 0
    return B.mul(g, ratio)


def _xlogy_grad_a(B, g, a, b, y):
    # xlogy(g, b), but 0 where a == 0 and b <= 0 (PyTorch's directional choice)
    slope = B.xlogy(g, b)
    zero = _c(0, g)
    return B.where(B.eq(a, zero), B.where(B.le(b, zero), zero, slope), slope)


def _atan2_grads(B, g, a, b, y):
    scale = B.div(g, B.add(B.mul(a, a), B.mul(b, b)))
    return B.mul(scale, b), B.neg(B.mul(scale, a))


BINARY_GRADIENTS = {
    "atan2": _atan2_grads,
    "copysign": lambda B, g, a, b, y: (_copysign_grad_a(B, g, a, b, y), zeros_for(g, b.shape, b.dtype)),
    "hypot": lambda B, g, a, b, y: (B.mul(g, B.div(a, y)), B.mul(g, B.div(b, y))),
    "fmod": lambda B, g, a, b, y: (g, B.neg(B.mul(g, B.trunc(B.div(a, b))))),
    "logaddexp": lambda B, g, a, b, y: (
        B.div(g, B.add(_c(1, g), B.exp(B.sub(b, a)))),
        B.div(g, B.add(_c(1, g), B.exp(B.sub(a, b)))),
    ),
    "logaddexp2": lambda B, g, a, b, y: (
        B.div(g, B.add(_c(1, g), B.exp2(B.sub(b, a)))),
        B.div(g, B.add(_c(1, g), B.exp2(B.sub(a, b)))),
    ),
    "xlogy": lambda B, g, a, b, y: (_xlogy_grad_a(B, g, a, b, y), B.div(B.mul(g, a), b)),
}


class Binary(Function):
    """One op of BINARY_GRADIENTS, broadcasting; each gradient is summed back to its input's shape."""

    @staticmethod
    def forward(ctx, a, b, op):
        out = getattr(backend(), op)(a, b)
        ctx.op = op
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        ga, gb = BINARY_GRADIENTS[ctx.op](backend(), grad, a, b, out)
        ga = reduce_to_shape(expand_to(ga, grad.shape), a.shape) if ctx.needs_input_grad[0] else None
        gb = reduce_to_shape(expand_to(gb, grad.shape), b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb

    def __repr__(self):
        return f"<{self.op.capitalize()}Backward>"


def _binary(op, doc):
    def apply(input, other):
        a, b = tensor_pair(op, input, other)
        require_float(op, a, b)
        return Binary.apply(a, b, op=op)

    apply.__name__ = op
    apply.__doc__ = doc
    return apply


atan2 = _binary("atan2", "The angle of the point (other, input): atan(input / other) in the right quadrant.")
arctan2 = atan2
copysign = _binary("copysign", "|input| with the sign of other (the sign bit: -0.0 counts as negative).")
hypot = _binary("hypot", "sqrt(input**2 + other**2) without overflow.")
fmod = _binary("fmod", "C's fmod: input - trunc(input / other) * other; the result has input's sign.")
logaddexp = _binary("logaddexp", "log(exp(input) + exp(other)) without overflow.")
logaddexp2 = _binary("logaddexp2", "log2(2**input + 2**other) without overflow.")
xlogy = _binary("xlogy", "input * log(other); 0 where input == 0 (unless other is NaN).")


# ---------------------------------------------------------------- lerp


class Lerp(Function):
    """start + weight * (end - start), in PyTorch's two-sided form (exact at weight 0 and 1)."""

    @staticmethod
    def forward(ctx, start, end, weight):
        B = backend()
        ctx.save_for_backward(start, end, weight)
        diff = B.sub(end, start)
        near_start = B.add(start, B.mul(weight, diff))
        near_end = B.sub(end, B.mul(diff, B.sub(_c(1, weight), weight)))
        return B.where(B.lt(B.abs(weight), _c(0.5, weight)), near_start, near_end)

    @staticmethod
    def backward(ctx, grad):
        start, end, weight = ctx.saved_tensors
        B = backend()
        shape = grad.shape
        grads = [None, None, None]
        if ctx.needs_input_grad[0]:
            grads[0] = reduce_to_shape(expand_to(B.mul(grad, B.sub(_c(1, weight), weight)), shape), start.shape)
        if ctx.needs_input_grad[1]:
            grads[1] = reduce_to_shape(expand_to(B.mul(grad, weight), shape), end.shape)
        if ctx.needs_input_grad[2]:
            grads[2] = reduce_to_shape(expand_to(B.mul(grad, B.sub(end, start)), shape), weight.shape)
        return tuple(grads)


def lerp(input, end, weight):
    """input + weight * (end - input); weight is a number or a tensor (all three broadcast)."""
    start, end = tensor_pair("lerp", input, end)
    require_float("lerp", start, end)
    if isinstance(weight, Tensor):
        require_float("lerp", weight)
        weight = weight.to(start.dtype)
    elif isinstance(weight, numbers.Real) and not isinstance(weight, bool):
        weight = Tensor._wrap(np.asarray(weight, start.dtype))
    else:
        raise TypeError(f"lerp: weight must be a number or a float tensor, got {type(weight).__name__}")
    broadcast_shape("lerp", start.shape, end.shape, weight.shape)
    return Lerp.apply(start, end, weight)


# ---------------------------------------------------------------- clamp with tensor bounds


class ClampTensor(Function):
    """min(max(x, lo), hi) with tensor bounds (either may be absent), broadcasting.
    NaN in x or a bound gives NaN. Gradients as PyTorch's clamp_backward and
    clamp_backward_min_max: x gets grad where lo <= x <= hi; lo where x < lo
    (and lo < hi); hi where x > hi (or hi < lo)."""

    @staticmethod
    def forward(ctx, x, *bounds, has_lo, has_hi):
        B = backend()
        lo = bounds[0] if has_lo else None
        hi = bounds[-1] if has_hi else None
        ctx.save_for_backward(x, *bounds)
        ctx.has_lo, ctx.has_hi = has_lo, has_hi
        out = x if lo is None else B.maximum(x, lo)
        out = out if hi is None else B.minimum(out, hi)
        return out if out is not x else x.copy()

    @staticmethod
    def backward(ctx, grad):
        x, *bounds = ctx.saved_tensors
        B = backend()
        lo = bounds[0] if ctx.has_lo else None
        hi = bounds[-1] if ctx.has_hi else None
        zero, shape = _c(0, grad), grad.shape
        inside = grad
        if lo is not None:
            inside = B.where(B.ge(x, lo), inside, zero)
        if hi is not None:
            inside = B.where(B.le(x, hi), inside, zero)
        grads = [reduce_to_shape(expand_to(inside, shape), x.shape) if ctx.needs_input_grad[0] else None]
        if lo is not None:
            below = B.where(B.lt(x, lo), grad, zero)
            if hi is not None:
                below = B.where(B.lt(lo, hi), below, zero)
            grads.append(reduce_to_shape(expand_to(below, shape), lo.shape) if ctx.needs_input_grad[1] else None)
        if hi is not None:
            above = B.where(B.gt(x, hi), grad, zero)
            if lo is not None:
                above = B.where(B.lt(hi, lo), grad, above)
            grads.append(reduce_to_shape(expand_to(above, shape), hi.shape) if ctx.needs_input_grad[-1] else None)
        return tuple(grads)


def clamp(input, min=None, max=None):
    """Clip input to [min, max]; each bound None, a number or a tensor (broadcasting).

    With number bounds the gradient is 1 inside (bounds included) and 0
    outside; with a tensor bound, the bound gets the gradient where it was
    chosen. If min > max, every element becomes max, as in PyTorch.
    """
    if not isinstance(min, Tensor) and not isinstance(max, Tensor):
        return _clamp_scalar(input, min, max)
    x = _float_tensor("clamp", input)
    bounds = []
    for bound in (min, max):
        if bound is None:
            continue
        if not isinstance(bound, Tensor):
            bound = Tensor._wrap(np.asarray(bound, x.dtype))
        require_float("clamp", bound)
        bounds.append(bound.to(x.dtype))
    broadcast_shape("clamp", x.shape, *[b.shape for b in bounds])
    return ClampTensor.apply(x, *bounds, has_lo=min is not None, has_hi=max is not None)


clip = clamp


# ---------------------------------------------------------------- nan_to_num


class NanToNum(Function):
    """NaN, +inf and -inf replaced by numbers; the gradient passes where x is finite."""

    @staticmethod
    def forward(ctx, x, nan, posinf, neginf):
        B = backend()
        ctx.save_for_backward(x)
        out = B.where(B.eq(x, _c(math.inf, x)), _c(posinf, x), x)
        out = B.where(B.eq(x, _c(-math.inf, x)), _c(neginf, x), out)
        return B.where(B.ne(x, x), _c(nan, x), out)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        B = backend()
        finite = B.lt(B.abs(x), _c(math.inf, x))  # false for inf and NaN
        return B.where(finite, grad, _c(0, grad))


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """NaN -> ``nan``, +inf -> ``posinf`` (default: the dtype's largest finite
    value), -inf -> ``neginf`` (default: the most negative finite value)."""
    x = _float_tensor("nan_to_num", input)
    info = np.finfo(x.dtype)
    posinf = float(info.max) if posinf is None else float(posinf)
    neginf = float(info.min) if neginf is None else float(neginf)
    return NanToNum.apply(x, nan=float(nan), posinf=posinf, neginf=neginf)


# ---------------------------------------------------------------- predicates (no gradient)


def _as_tensor(op, value):
    if isinstance(value, Tensor):
        return value
    raise TypeError(f"{op}: expected a Tensor, got {type(value).__name__}")


def isnan(input):
    """Where input is NaN (bool; all False for integer tensors)."""
    x = _as_tensor("isnan", input)
    return Tensor._wrap(backend().ne(x.array, x.array))


def isinf(input):
    """Where input is +inf or -inf (bool)."""
    x = _as_tensor("isinf", input)
    if x.dtype not in FLOATS:
        return Tensor._wrap(np.zeros(x.shape, np.bool_))
    return Tensor._wrap(backend().eq(backend().abs(x.array), _c(math.inf, x.array)))


def isfinite(input):
    """Where input is neither NaN nor infinite (bool)."""
    x = _as_tensor("isfinite", input)
    if x.dtype not in FLOATS:
        return Tensor._wrap(np.ones(x.shape, np.bool_))
    return Tensor._wrap(backend().lt(backend().abs(x.array), _c(math.inf, x.array)))


def isposinf(input):
    x = _as_tensor("isposinf", input)
    return Tensor._wrap(backend().eq(x.array, _c(math.inf, x.array)) if x.dtype in FLOATS else np.zeros(x.shape, bool))


def isneginf(input):
    x = _as_tensor("isneginf", input)
    return Tensor._wrap(backend().eq(x.array, _c(-math.inf, x.array)) if x.dtype in FLOATS else np.zeros(x.shape, bool))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|input - other| <= atol + rtol * |other| elementwise (bool, broadcasting).
    Equal values are close (also equal infinities); NaNs are close to each
    other only with ``equal_nan``."""
    a, b = tensor_pair("isclose", input, other)
    if a.dtype not in FLOATS:
        a, b = a.to(np.float64), b.to(np.float64)
    if rtol < 0 or atol < 0:
        raise ValueError(f"isclose: rtol and atol must be non-negative, got rtol={rtol}, atol={atol}")
    B = backend()
    x, y = a.array, b.array
    one, zero = _c(1, x), _c(0, x)
    tolerance = B.add(_c(atol, x), B.mul(_c(rtol, x), B.abs(y)))
    close = B.where(B.le(B.abs(B.sub(x, y)), tolerance), one, zero)
    close = B.where(B.eq(x, y), one, close)
    if equal_nan:
        close = B.where(B.ne(x, x), B.where(B.ne(y, y), one, zero), close)
    return Tensor._wrap(B.eq(close, one))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True if every element of isclose(input, other, ...) is True."""
    return bool(_all(isclose(input, other, rtol, atol, equal_nan)).item())


def equal(input, other):
    """True if both tensors have the same shape and the same values (NaN is never equal)."""
    a, b = _as_tensor("equal", input), _as_tensor("equal", other)
    if a.shape != b.shape:
        return False
    return bool(_all(eq(a, b)).item())
