"""More math: logsumexp, var, std, norm, prod, cumsum, argmax, argmin and the
activations leaky_relu, elu, softplus and erf.

Where composing existing kernels reads well, the ops do that (var, std,
the norms, each its own node for PyTorch's gradients at the edges: a
constant row's std, a zero vector's norm); where composition would be slow or lose precision,
they call a kernel of their own: logsumexp (shift by the max in one pass),
prod (its gradient must survive zeros, so no division by x), cumsum, the
arg-extrema, and the activations (each a forward and a backward kernel).

Reductions take ``dim`` as an int, a tuple or None (all dims), like ``sum``;
a 0-d tensor reduces like a one-element vector and gives a 0-d result.
"""

import math
import numbers
import warnings

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from .common import (
    backend, keepdim_shape, normalize_dim, normalize_dims, require_bool, require_float, with_reduced_dims,
)
from .elementwise import abs, ne
from .reduce import amax, amin, sum
from .shape import reshape


def _float_input(op, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    require_float(op, x)
    return x


def _const(value, dtype):
    return np.asarray(value, dtype)


# ---------------------------------------------------------------- logsumexp


class LogSumExp(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        out = backend().logsumexp(x, axes, keepdim)
        ctx.save_for_backward(x, out)
        ctx.axes, ctx.keepdim = axes, keepdim
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        B = backend()
        out, grad = with_reduced_dims(x.shape, ctx.axes, ctx.keepdim, out, grad)
        # d/dx log(sum(exp(x))) = exp(x) / sum(exp(x)) = exp(x - out): softmax over the dims
        return B.mul(grad, B.exp(B.sub(x, out)))


def logsumexp(x, dim=None, keepdim=False):
    """log(sum(exp(x))) over ``dim``, computed without overflow (shifted by the max).

    An empty reduction gives -inf, as in PyTorch.
    """
    _float_input("logsumexp", x)
    require_bool("logsumexp", "keepdim", keepdim)
    axes = normalize_dims("logsumexp", dim, x.ndim)
    return LogSumExp.apply(x, axes=axes, keepdim=bool(keepdim))


# ---------------------------------------------------------------- variance, std, norm


class Var(Function):
    """sum((x - mean)^2) / (n - correction) over axes.

    float32 input is reduced in float64 and the result rounded once, as
    PyTorch accumulates such statistics in a wider type: the squares of
    deviations past ~1e19 would overflow float32. Backward recomputes
    x - mean from the saved x: one array kept, and a formula of the input
    alone, which double backward can differentiate.
    """

    @staticmethod
    def forward(ctx, x, axes, keepdim, correction):
        wide, ctx.scale = _variance(x, axes, keepdim, correction)
        ctx.save_for_backward(x)
        ctx.axes, ctx.keepdim = axes, keepdim
        with np.errstate(over="ignore"):  # past float32's range the variance is inf, as in PyTorch
            return wide.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        B = backend()
        if not ctx.keepdim:
            grad = grad.reshape(keepdim_shape(x.shape, ctx.axes))
        # d/dx_i sum((x - mean)^2) = 2 (x_i - mean): the mean's own gradient sums to zero
        return B.mul(B.mul(grad, _const(2 * ctx.scale, grad.dtype)), _centered(x, ctx.axes))


class Std(Function):
    """sqrt(var): its own node, so that a zero deviation gives gradient 0, not
    nan (PyTorch's std_backward masks result == 0)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, correction):
        variance, ctx.scale = _variance(x, axes, keepdim, correction)
        # the root before rounding to float32: a variance past float32's range may have a root inside it
        out = backend().sqrt(variance).astype(x.dtype, copy=False)
        ctx.save_for_backward(x, out)
        ctx.axes, ctx.keepdim = axes, keepdim
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        B = backend()
        grad, out = with_reduced_dims(x.shape, ctx.axes, ctx.keepdim, grad, out)
        zero = _const(0, grad.dtype)
        # d std = d var / (2 std) = scale * (x - mean) / std, and 0 where std == 0
        per_std = B.where(B.eq(out, zero), zero, B.div(grad, out))
        return B.mul(B.mul(per_std, _const(ctx.scale, grad.dtype)), _centered(x, ctx.axes))


def _centered(x, axes):
    """x - mean(x) over axes (kept), computed from x alone."""
    B = backend()
    count = math.prod(x.shape[a] for a in axes)
    return B.sub(x, B.mul(B.sum(x, axes, True), _const(1 / count if count else math.nan, x.dtype)))


def _variance(x, axes, keepdim, correction):
    """(variance in float64, 1 / dof) for Var and Std."""
    B = backend()
    wide = x if x.dtype == np.float64 else x.astype(np.float64)
    count = math.prod(x.shape[a] for a in axes)
    dof = count - correction
    centered = B.sub(wide, B.mul(B.sum(wide, axes, True), _const(1 / count if count else math.nan, wide.dtype)))
    squares = B.sum(B.mul(centered, centered), axes, keepdim)
    if dof > 0:
        return B.mul(squares, _const(1 / dof, wide.dtype)), 1 / dof
    # no degrees of freedom: the sum divided by zero, as PyTorch gives (inf, or nan for 0 / 0)
    zero = _const(0, wide.dtype)
    return B.where(B.eq(squares, zero), _const(math.nan, wide.dtype), _const(math.inf, wide.dtype)), math.nan


def _var_args(op, x, dim, correction, unbiased):
    """Validate; return (axes, correction), warning when no degrees of freedom remain.

    PyTorch's three spellings: ``correction=``, ``unbiased=`` (True is 1,
    False 0), and a bool in dim's place (``x.var(False)``: unbiased).
    """
    _float_input(op, x)
    if isinstance(dim, bool):
        if unbiased is not None:
            raise TypeError(f"{op}: unbiased given twice (a bool in dim's place is unbiased)")
        dim, unbiased = None, dim
    if unbiased is not None:
        if correction is not None:
            raise TypeError(f"{op}: pass correction or unbiased, not both")
        correction = 1 if unbiased else 0
    if correction is None:
        correction = 1
    if isinstance(correction, bool) or not isinstance(correction, numbers.Real):
        raise TypeError(f"{op}: correction must be a number, got {correction!r}")
    axes = normalize_dims(op, dim, x.ndim)
    count = math.prod(x.shape[a] for a in axes)
    if count - correction <= 0:
        warnings.warn(f"{op}: degrees of freedom <= 0 ({count} elements, correction {correction})", stacklevel=3)
    return axes, correction


def var(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance over ``dim``: sum((x - mean)^2) / (n - correction).

    correction=1 (the default) is Bessel's unbiased estimate, 0 the
    population variance; ``unbiased=True/False`` is the older spelling of 1/0
    (also positional, PyTorch's ``var(x, dim, unbiased, keepdim)`` and ``var(x, unbiased)``).
    A 0-d tensor reduces like a one-element vector.
    """
    require_bool("var", "keepdim", keepdim)
    if isinstance(x, Tensor) and x.ndim == 0:  # a one-element vector: same numbers, 0-d result
        unbiased = dim if isinstance(dim, bool) else unbiased
        return reshape(var(reshape(x, 1), 0, unbiased, correction=correction), ())
    axes, correction = _var_args("var", x, dim, correction, unbiased)
    return Var.apply(x, axes=axes, keepdim=bool(keepdim), correction=correction)


def std(x, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation over ``dim``: ``sqrt(var(x, dim, correction=...))``;
    its gradient is 0 where the deviation is 0 (a constant row), as in PyTorch."""
    require_bool("std", "keepdim", keepdim)
    if isinstance(x, Tensor) and x.ndim == 0:
        unbiased = dim if isinstance(dim, bool) else unbiased
        return reshape(std(reshape(x, 1), 0, unbiased, correction=correction), ())
    axes, correction = _var_args("std", x, dim, correction, unbiased)
    return Std.apply(x, axes=axes, keepdim=bool(keepdim), correction=correction)


class Norm2(Function):
    """sqrt(sum(x^2)) over axes; its gradient x / norm is 0 (not nan) where the norm is 0."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        B = backend()
        out = B.sqrt(B.sum(B.mul(x, x), axes, keepdim))
        ctx.save_for_backward(x, out)
        ctx.axes, ctx.keepdim = axes, keepdim
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        B = backend()
        out, grad = with_reduced_dims(x.shape, ctx.axes, ctx.keepdim, out, grad)
        # a zero norm means x is all zeros there: divide by 1 instead, the gradient is 0
        safe = B.where(B.eq(out, _const(0, out.dtype)), _const(1, out.dtype), out)
        return B.mul(B.div(grad, safe), x)


class NormP(Function):
    """(sum |x|^p)^(1/p) over axes for a finite p other than 0, 1 and 2 (also
    negative, for vector_norm). The gradient is PyTorch's norm_backward:
    sign(x) |x|^(p-1) * grad / norm^(p-1), and 0 where the norm is 0; for
    p < 1 it is sign(x) |x|^(p-1) * grad * norm^(1-p) with |x|^(p-1) taken as 0
    at x == 0 (where it would be inf)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, p):
        B = backend()
        total = B.sum(B.pow_scalar(B.abs(x), p), axes, keepdim)
        out = B.pow_scalar(total, 1.0 / p)
        ctx.save_for_backward(x, out)
        ctx.axes, ctx.keepdim, ctx.p = axes, keepdim, p
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        B = backend()
        out, grad = with_reduced_dims(x.shape, ctx.axes, ctx.keepdim, out, grad)
        p, zero = ctx.p, _const(0, x.dtype)
        magnitude = B.pow_scalar(B.abs(x), p - 1)
        if p < 1:
            magnitude = B.where(B.eq(x, zero), zero, magnitude)
            scale = B.mul(grad, B.pow_scalar(out, 1 - p))
        else:
            scale = B.where(B.eq(out, zero), zero, B.div(grad, B.pow_scalar(out, p - 1)))
        return B.mul(B.mul(B.sign(x), magnitude), scale)


def norm(x, p=2, dim=None, keepdim=False):
    """The vector p-norm over ``dim`` (all elements when None): (sum |x|^p)^(1/p).

    p: a positive number, ``inf``/``-inf`` (max/min of |x|), 0 (the count of
    non-zeros, no gradient) or 'fro' (= 2). The gradient is 0 at a zero
    vector, as in PyTorch.
    """
    _float_input("norm", x)
    require_bool("norm", "keepdim", keepdim)
    if p == "fro":
        p = 2
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or (p < 0 and p != -math.inf):
        raise ValueError(f"norm: p must be a non-negative number, inf, -inf or 'fro', got {p!r}")
    if x.ndim == 0:
        return reshape(norm(reshape(x, 1), p, 0), ())
    axes = normalize_dims("norm", dim, x.ndim)
    if p == 2:
        return Norm2.apply(x, axes=axes, keepdim=bool(keepdim))
    if p == math.inf:
        return amax(abs(x), axes, keepdim)
    if p == -math.inf:
        return amin(abs(x), axes, keepdim)
    if p == 0:
        return sum(ne(x, 0).to(x.dtype), axes, keepdim)
    if p == 1:
        return sum(abs(x), axes, keepdim)
    return NormP.apply(x, axes=axes, keepdim=bool(keepdim), p=float(p))


# ---------------------------------------------------------------- prod and cumsum


class Prod(Function):
    @staticmethod
    def forward(ctx, x, axis, keepdim):
        ctx.save_for_backward(x)
        ctx.axis, ctx.keepdim = axis, keepdim
        return backend().prod(x, axis, keepdim)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        if not ctx.keepdim:
            grad = grad.reshape(keepdim_shape(x.shape, (ctx.axis,)))
        # each element's gradient is the product of all the others (exact with zeros)
        return backend().prod_backward(x, grad, ctx.axis)


def prod(x, dim=None, keepdim=False):
    """Product of the elements along ``dim`` (an int), or of all of them (None).
    Integer and bool tensors give int64 (no gradient), as in PyTorch."""
    if isinstance(x, Tensor) and x.array.dtype.kind in "iub":
        axes = tuple(range(x.ndim)) if dim is None else (normalize_dim("prod", dim, x.ndim),) if x.ndim else ()
        return Tensor._wrap(backend().int_prod(x.array, axes, bool(keepdim)))
    _float_input("prod", x)
    require_bool("prod", "keepdim", keepdim)
    if dim is None:
        total = Prod.apply(reshape(x, -1), axis=0, keepdim=False)
        return reshape(total, (1,) * x.ndim) if keepdim else total
    d = normalize_dim("prod", dim, x.ndim)
    if x.ndim == 0:
        return reshape(Prod.apply(reshape(x, 1), axis=0, keepdim=False), ())
    return Prod.apply(x, axis=d, keepdim=bool(keepdim))


class CumSum(Function):
    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        return backend().cumsum(x, axis)

    @staticmethod
    def backward(ctx, grad):
        # x[k] is part of out[k], out[k+1], ...: its gradient is the running sum from the far end
        axis = ctx.axis
        return np.flip(backend().cumsum(np.flip(grad, axis), axis), axis)


def cumsum(x, dim):
    """Running sum along ``dim``: out[..., k, ...] = x[..., 0, ...] + ... + x[..., k, ...]."""
    _float_input("cumsum", x)
    d = normalize_dim("cumsum", dim, x.ndim)
    if x.ndim == 0:
        return reshape(CumSum.apply(reshape(x, 1), axis=0), ())
    return CumSum.apply(x, axis=d)


# ---------------------------------------------------------------- argmax and argmin (no gradient)


def _arg_extreme(op, x, dim, keepdim):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    require_bool(op, "keepdim", keepdim)
    kernel = getattr(backend(), op)
    if dim is None:
        if x.array.size == 0:
            raise ValueError(f"{op}: cannot take the {op} of an empty tensor (shape {x.shape})")
        index = kernel(x.array, None)
        return Tensor._wrap(index.reshape((1,) * x.ndim) if keepdim else index)
    d = normalize_dim(op, dim, x.ndim)
    if x.ndim == 0:
        return Tensor._wrap(np.zeros((), np.int64))
    if x.shape[d] == 0:
        raise ValueError(f"{op}: cannot reduce the empty dim {d} (shape {x.shape})")
    index = kernel(x.array, d)
    return Tensor._wrap(np.expand_dims(index, d) if keepdim else index)


def argmax(x, dim=None, keepdim=False):
    """Index (int64) of the largest value along ``dim``, or in the flattened
    tensor (dim=None). The first of equal values wins; NaN counts as largest."""
    return _arg_extreme("argmax", x, dim, keepdim)


def argmin(x, dim=None, keepdim=False):
    """Index (int64) of the smallest value; same conventions as :func:`argmax`."""
    return _arg_extreme("argmin", x, dim, keepdim)


# ---------------------------------------------------------------- activations
# Each is one forward kernel and one backward kernel, given the input x and
# the op's constants.


class LeakyRelu(Function):
    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        return backend().leaky_relu(x, slope)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return backend().leaky_relu_backward(x, grad, ctx.slope)


class Elu(Function):
    @staticmethod
    def forward(ctx, x, alpha):
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return backend().elu(x, alpha)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return backend().elu_backward(x, grad, ctx.alpha)


class Softplus(Function):
    @staticmethod
    def forward(ctx, x, beta, threshold):
        ctx.save_for_backward(x)
        ctx.beta, ctx.threshold = beta, threshold
        return backend().softplus(x, beta, threshold)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return backend().softplus_backward(x, grad, ctx.beta, ctx.threshold)


class Erf(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return backend().erf(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return backend().erf_backward(x, grad)


def _number(op, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {name} must be a number, got {value!r}")
    return float(value)


def leaky_relu(x, negative_slope=0.01):
    """x where x > 0, else negative_slope * x."""
    _float_input("leaky_relu", x)
    return LeakyRelu.apply(x, slope=_number("leaky_relu", "negative_slope", negative_slope))


def elu(x, alpha=1.0):
    """x where x > 0, else alpha * (exp(x) - 1)."""
    _float_input("elu", x)
    return Elu.apply(x, alpha=_number("elu", "alpha", alpha))


def softplus(x, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta, a smooth relu; x itself where beta * x > threshold."""
    _float_input("softplus", x)
    beta = _number("softplus", "beta", beta)
    if beta == 0:
        raise ValueError("softplus: beta must be non-zero")
    return Softplus.apply(x, beta=beta, threshold=_number("softplus", "threshold", threshold))


def erf(x):
    """The error function: 2/sqrt(pi) * integral of exp(-t^2) from 0 to x."""
    _float_input("erf", x)
    return Erf.apply(x)
