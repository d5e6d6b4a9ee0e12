"""More math: logsumexp, var, std, norm, prod, cumsum, argmax, argmin and the
activations leaky_relu, elu, softplus and erf.

Where composing existing kernels reads well, the ops do that (var, norm,
and std = sqrt(var)); where composition would be slow or lose precision,
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
from .common import backend, keepdim_shape, normalize_dim, normalize_dims, require_float
from .elementwise import abs, ne, pow, sqrt
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
        if not ctx.keepdim:
            shape = keepdim_shape(x.shape, ctx.axes)
            out, grad = out.reshape(shape), grad.reshape(shape)
        # d/dx log(sum(exp(x))) = exp(x) / sum(exp(x)) = exp(x - out): softmax over the dims
        return B.mul(grad, B.exp(B.sub(x, out)))


def logsumexp(x, dim=None, keepdim=False):
    """log(sum(exp(x))) over ``dim``, computed without overflow (shifted by the max).

    An empty reduction gives -inf, as in PyTorch.
    """
    _float_input("logsumexp", x)
    axes = normalize_dims("logsumexp", dim, x.ndim)
    return LogSumExp.apply(x, axes=axes, keepdim=bool(keepdim))


# ---------------------------------------------------------------- variance, std, norm


class Var(Function):
    """sum((x - mean)^2) / (n - correction) over axes."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, correction):
        B = backend()
        count = math.prod(x.shape[a] for a in axes)
        dof = count - correction
        mean = B.mul(B.sum(x, axes, True), _const(1 / count if count else math.nan, x.dtype))
        centered = B.sub(x, mean)
        squares = B.sum(B.mul(centered, centered), axes, keepdim)
        # backward recomputes x - mean from x: one array kept, and a formula of the
        # saved input only, which double backward can differentiate
        ctx.save_for_backward(x)
        ctx.axes, ctx.keepdim, ctx.mean_scale = axes, keepdim, 1 / count if count else math.nan
        if dof > 0:
            ctx.scale = 1 / dof
            return B.mul(squares, _const(ctx.scale, x.dtype))
        # no degrees of freedom: the sum divided by zero, as PyTorch gives (inf, or nan for 0 / 0)
        ctx.scale = math.nan
        zero = _const(0, x.dtype)
        return B.where(B.eq(squares, zero), _const(math.nan, x.dtype), _const(math.inf, x.dtype))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        B = backend()
        if not ctx.keepdim:
            grad = grad.reshape(keepdim_shape(x.shape, ctx.axes))
        centered = B.sub(x, B.mul(B.sum(x, ctx.axes, True), _const(ctx.mean_scale, x.dtype)))
        # d/dx_i sum((x - mean)^2) = 2 (x_i - mean): the mean's own gradient sums to zero
        return B.mul(B.mul(grad, _const(2 * ctx.scale, grad.dtype)), centered)


def var(x, dim=None, *, correction=1, keepdim=False, unbiased=None):
    """Variance over ``dim``: sum((x - mean)^2) / (n - correction).

    correction=1 (the default) is Bessel's unbiased estimate, 0 the
    population variance; ``unbiased=True/False`` is the older spelling of 1/0.
    """
    _float_input("var", x)
    if unbiased is not None:
        correction = 1 if unbiased else 0
    if isinstance(correction, bool) or not isinstance(correction, numbers.Real):
        raise TypeError(f"var: correction must be a number, got {correction!r}")
    if x.ndim == 0:  # a one-element vector: same numbers, 0-d result
        return reshape(var(reshape(x, 1), 0, correction=correction), ())
    axes = normalize_dims("var", dim, x.ndim)
    count = math.prod(x.shape[a] for a in axes)
    if count - correction <= 0:
        warnings.warn(f"var: degrees of freedom <= 0 ({count} elements, correction {correction})", stacklevel=2)
    return Var.apply(x, axes=axes, keepdim=bool(keepdim), correction=correction)


def std(x, dim=None, *, correction=1, keepdim=False, unbiased=None):
    """Standard deviation over ``dim``: ``sqrt(var(x, dim, correction=...))``."""
    return sqrt(var(x, dim, correction=correction, keepdim=keepdim, unbiased=unbiased))


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
        if not ctx.keepdim:
            shape = keepdim_shape(x.shape, ctx.axes)
            out, grad = out.reshape(shape), grad.reshape(shape)
        # a zero norm means x is all zeros there: divide by 1 instead, the gradient is 0
        safe = B.where(B.eq(out, _const(0, out.dtype)), _const(1, out.dtype), out)
        return B.mul(B.div(grad, safe), x)


def norm(x, p=2, dim=None, keepdim=False):
    """The vector p-norm over ``dim`` (all elements when None): (sum |x|^p)^(1/p).

    p: a positive number, ``inf``/``-inf`` (max/min of |x|), 0 (the count of
    non-zeros, no gradient) or 'fro' (= 2). The 2-norm's gradient is 0 at a
    zero vector, as in PyTorch.
    """
    _float_input("norm", x)
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
    return pow(sum(pow(abs(x), float(p)), axes, keepdim), 1.0 / p)


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
    """Product of the elements along ``dim`` (an int), or of all of them (None)."""
    _float_input("prod", x)
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
