"""The neural-network op family: softmax, losses, GELU and dropout.

Each op is a Function with its forward and backward side by side, calling
named backend kernels. The losses share two small helpers: ``_reduce`` turns
per-element losses into what ``reduction`` asks for ('mean', 'sum' or
'none'), and ``_spread`` is its gradient, handing each element its share.

Cross-entropy is the one that matters most: log-softmax and the negative
log-likelihood are fused into a single kernel pass forward
(``cross_entropy``) and a single one backward (``cross_entropy_backward``),
so logits of +-1e4 neither overflow nor lose the answer to cancellation.
"""

import math

import numpy as np

from .. import creation
from ..autograd import Function
from ..tensor import Tensor, as_tensor
from .common import backend, expand_to, normalize_dim, require_float
from .elementwise import mul, sub
from .reduce import mean
from .reduce import sum as sum_

REDUCTIONS = ("mean", "sum", "none")


def _const(value, dtype):
    """A 0-d array of the kernels' dtype: kernels take two operands of one dtype."""
    return np.asarray(value, dtype)


def _check_reduction(op, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(values, reduction):
    """Per-element losses (any shape) -> the reduced loss (0-d), or themselves for 'none'."""
    if reduction == "none":
        return values
    B = backend()
    total = B.sum(values, tuple(range(values.ndim)), False) if values.ndim else values.copy()
    if reduction == "sum":
        return total
    count = math.prod(values.shape)
    scale = 1 / count if count else math.nan  # the mean of nothing is nan
    return B.mul(total, _const(scale, values.dtype))


def _spread(grad, shape, reduction):
    """The gradient of ``_reduce``: dL/d(each per-element loss), an array of ``shape``."""
    count = math.prod(shape)
    scale = 1.0 if reduction == "sum" else (1 / count if count else math.nan)
    if isinstance(grad, Tensor):  # double backward: the same rule, differentiable
        return grad if reduction == "none" else expand_to(grad * scale, shape)
    if reduction == "none":
        return grad if grad.flags.c_contiguous else grad.copy()  # kernels get plain arrays
    return np.full(shape, float(grad) * scale, dtype=grad.dtype)


def _float_input(op, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor as input, got {type(x).__name__}")
    require_float(op, x)
    return x


# ---------------------------------------------------------------- softmax family


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, axis):
        out = backend().softmax(x, axis)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return backend().softmax_backward(out, grad, ctx.axis)


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, axis):
        out = backend().log_softmax(x, axis)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return backend().log_softmax_backward(out, grad, ctx.axis)


def _along(function, op, x, dim):
    _float_input(op, x)
    if x.ndim == 0:  # a lone number is a distribution over one class
        return function.apply(x.reshape(1), axis=0).reshape(())
    return function.apply(x, axis=normalize_dim(op, dim, x.ndim))


def softmax(x, dim=-1):
    """exp(x) / sum(exp(x)) along ``dim``: each slice becomes probabilities. Same shape as x."""
    return _along(Softmax, "softmax", x, dim)


def log_softmax(x, dim=-1):
    """log(softmax(x)) along ``dim``, computed without ever taking log(0). Same shape as x."""
    return _along(LogSoftmax, "log_softmax", x, dim)


# ---------------------------------------------------------------- classification losses


def _class_problem(op, logits, target):
    """Check (N, C) or (C,) scores against integer class targets.

    Returns (scores as (N, C), targets as contiguous int64 (N,), unbatched?).
    """
    _float_input(op, logits)
    if logits.ndim not in (1, 2):
        raise ValueError(f"{op}: expected input of shape (N, C) or (C,), got shape {logits.shape}")
    labels = target.array if isinstance(target, Tensor) else np.asarray(target)
    if labels.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: target must hold integer class indices, got dtype {labels.dtype}; "
            "convert with .long() (float targets are not class indices)"
        )
    unbatched = logits.ndim == 1
    n, classes = (1, logits.shape[0]) if unbatched else logits.shape
    expected = () if unbatched else (n,)
    if labels.shape != expected:
        raise ValueError(
            f"{op}: target has shape {labels.shape} but input has shape {logits.shape}; "
            f"expected a target of shape {expected} (one class index per row)"
        )
    out_of_range = (labels < 0) | (labels >= classes)
    if out_of_range.any():
        where = np.argwhere(out_of_range)[0]
        raise IndexError(
            f"{op}: target {labels[tuple(where)]} at position {tuple(int(i) for i in where)} is out of "
            f"range for {classes} classes (expected 0 <= target < {classes})"
        )
    if unbatched:
        logits = logits.reshape(1, classes)
    return logits, np.ascontiguousarray(labels.reshape(n), dtype=np.int64), unbatched


class CrossEntropy(Function):
    """Softmax and negative log-likelihood fused: logits (N, C), target (N,) int64."""

    @staticmethod
    def forward(ctx, logits, target, reduction):
        # per row: loss = logsumexp(row) - row[target]; lse is kept for backward
        rows, lse = backend().cross_entropy(logits, target)
        ctx.save_for_backward(logits, lse)
        ctx.target, ctx.reduction = target, reduction
        return _reduce(rows, reduction)

    @staticmethod
    def backward(ctx, grad):
        logits, lse = ctx.saved_tensors
        row_grad = _spread(grad, lse.shape, ctx.reduction)
        # softmax(row) - one_hot(target), times each row's gradient
        return backend().cross_entropy_backward(logits, ctx.target, lse, row_grad)


def cross_entropy(input, target, reduction="mean"):
    """The classification loss: -log softmax(input)[target], reduced.

    input: logits (N, C) or (C,), float; target: class indices (N,) or ()
    with 0 <= target < C. Returns a 0-d tensor, or (N,) for reduction='none'
    ((C,) input: a 0-d tensor whatever the reduction). Stable for any logits.
    """
    _check_reduction("cross_entropy", reduction)
    logits, labels, unbatched = _class_problem("cross_entropy", input, target)
    loss = CrossEntropy.apply(logits, target=labels, reduction=reduction)
    return loss.reshape(()) if unbatched else loss


class NLLLoss(Function):
    """Negative log-likelihood of log-probabilities (N, C) at target (N,)."""

    @staticmethod
    def forward(ctx, log_probs, target, reduction):
        B = backend()
        # one_hot[i, c] = (c == target[i]): picks each row's target entry with kernels only
        one_hot = B.eq(target[:, None], np.arange(log_probs.shape[1], dtype=np.int64)[None, :])
        zero = _const(0, log_probs.dtype)
        rows = B.neg(B.sum(B.where(one_hot, log_probs, zero), (1,), False))
        ctx.one_hot, ctx.reduction = one_hot, reduction
        return _reduce(rows, reduction)

    @staticmethod
    def backward(ctx, grad):
        B = backend()
        row_grad = _spread(grad, ctx.one_hot.shape[:1], ctx.reduction)
        zero = _const(0, grad.dtype)
        return B.where(ctx.one_hot, B.neg(row_grad)[:, None], zero)


def nll_loss(input, target, reduction="mean"):
    """-input[i, target[i]], reduced: the loss to put after ``log_softmax``.

    input: log-probabilities (N, C) or (C,); target: class indices (N,) or ().
    ``nll_loss(log_softmax(x, 1), t)`` equals ``cross_entropy(x, t)``.
    """
    _check_reduction("nll_loss", reduction)
    log_probs, labels, unbatched = _class_problem("nll_loss", input, target)
    loss = NLLLoss.apply(log_probs, target=labels, reduction=reduction)
    return loss.reshape(()) if unbatched else loss


class BCEWithLogits(Function):
    """Binary cross-entropy of sigmoid(x) against y, computed from x directly."""

    @staticmethod
    def forward(ctx, x, y, reduction):
        B = backend()
        # -[y log s(x) + (1-y) log(1-s(x))] = max(x, 0) - x*y + log(1 + exp(-|x|)):
        # exp never sees a positive argument, so nothing overflows
        softplus = B.log(B.add(_const(1, x.dtype), B.exp(B.neg(B.abs(x)))))
        values = B.add(B.sub(B.relu(x), B.mul(x, y)), softplus)
        ctx.save_for_backward(x, y)
        ctx.reduction = reduction
        return _reduce(values, reduction)

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        B = backend()
        each = _spread(grad, x.shape, ctx.reduction)
        gx = B.mul(each, B.sub(B.sigmoid(x), y)) if ctx.needs_input_grad[0] else None
        gy = B.neg(B.mul(each, x)) if ctx.needs_input_grad[1] else None
        return gx, gy


def binary_cross_entropy_with_logits(input, target, reduction="mean"):
    """Binary cross-entropy on raw scores: sigmoid and log fused, stable for any x.

    input: logits, any shape; target: probabilities (usually 0. or 1.) of the
    same shape, float. Returns a 0-d tensor, or input's shape for 'none'.
    """
    op = "binary_cross_entropy_with_logits"
    _check_reduction(op, reduction)
    _float_input(op, input)
    target = as_tensor(target)
    if target.dtype.kind != "f":
        raise TypeError(f"{op}: target must be float (0./1. or probabilities), got dtype {target.dtype}; use .float()")
    if target.shape != input.shape:
        raise ValueError(f"{op}: target shape {target.shape} differs from input shape {input.shape}")
    return BCEWithLogits.apply(input, target.to(input.dtype), reduction=reduction)


def mse_loss(input, target, reduction="mean"):
    """Mean squared error (input - target)**2, reduced; the result has input's dtype.

    Shapes must match exactly: (N, 1) against (N,) would broadcast to (N, N), a
    classic silent bug. Returns a 0-d tensor, or input's shape for 'none'.
    """
    _check_reduction("mse_loss", reduction)
    _float_input("mse_loss", input)
    target = as_tensor(target)
    if target.shape != input.shape:
        raise ValueError(
            f"mse_loss: input shape {input.shape} and target shape {target.shape} differ; "
            "reshape one so they match (broadcasting here is almost always a bug)"
        )
    diff = sub(input, target.to(input.dtype))  # the loss keeps the model's precision
    squared = mul(diff, diff)
    if reduction == "none":
        return squared
    return sum_(squared) if reduction == "sum" else mean(squared)


# ---------------------------------------------------------------- activations and dropout

SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
GELU_CUBIC = 0.044715


class GeluTanh(Function):
    """GELU, tanh approximation: 0.5 x (1 + tanh(inner)), inner = c (x + k x^3),
    c = sqrt(2/pi), k = 0.044715."""

    @staticmethod
    def forward(ctx, x):
        B = backend()
        c, k, half, one = (_const(v, x.dtype) for v in (SQRT_2_OVER_PI, GELU_CUBIC, 0.5, 1))
        cubic = B.mul(k, B.mul(x, B.mul(x, x)))
        t = B.tanh(B.mul(c, B.add(x, cubic)))
        ctx.save_for_backward(x, t)
        return B.mul(B.mul(half, x), B.add(one, t))

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.saved_tensors
        B = backend()
        c, k3, half, one = (_const(v, x.dtype) for v in (SQRT_2_OVER_PI, 3 * GELU_CUBIC, 0.5, 1))
        # d/dx = 0.5 (1 + t)  +  0.5 x (1 - t^2) d(inner)/dx,   d(inner)/dx = c (1 + 3k x^2)
        direct = B.mul(grad, B.mul(half, B.add(one, t)))
        through_tanh = B.tanh_backward(t, B.mul(grad, B.mul(half, x)))
        d_inner = B.mul(c, B.add(one, B.mul(k3, B.mul(x, x))))
        return B.add(direct, B.mul(through_tanh, d_inner))


class GeluErf(Function):
    """GELU, exact: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)); one fused kernel
    each way (the activations of a transformer's MLP are its largest tensors)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return backend().gelu(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        # d/dx x Phi(x) = Phi(x) + x phi(x),  phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
        return backend().gelu_backward(x, grad)


def gelu(x, approximate="none"):
    """GELU activation: x * Phi(x). ``approximate='none'`` (the default, as in
    PyTorch) uses erf; ``'tanh'`` is GPT-2's tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    _float_input("gelu", x)
    return GeluErf.apply(x) if approximate == "none" else GeluTanh.apply(x)


class Dropout(Function):
    """x * mask, where mask holds 0 (dropped) or 1/(1-p) (kept), fixed in forward."""

    @staticmethod
    def forward(ctx, x, mask):
        ctx.mask = mask
        return backend().mul(x, mask)

    @staticmethod
    def backward(ctx, grad):
        return backend().mul(grad, ctx.mask)


def dropout(x, p=0.5, training=True):
    """Zero each element with probability p and scale the rest by 1/(1-p), so the
    expected value is unchanged; identity when not training or p == 0. The mask
    comes from quasar's generator (``qs.manual_seed`` makes it repeatable)."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"dropout: probability p must be a number in [0, 1], got {p!r}")
    _float_input("dropout", x)
    if not training or p == 0:
        return x
    keep = np.asarray(creation.generator().random(x.shape) >= p)  # an array even when x is 0-d
    kept_scale = 0.0 if p == 1 else 1 / (1 - p)
    mask = backend().where(keep, _const(kept_scale, x.dtype), _const(0, x.dtype))
    return Dropout.apply(x, mask=mask)
