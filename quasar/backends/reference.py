"""The reference backend: every kernel quasar needs, in plain NumPy.

This module is the *contract* of a backend. The compiled backend
(`quasar.backends.compiled`) implements exactly the same functions over the
Cython kernels; the test suite runs every op on both and compares.

It is written for clarity, not speed, and shares no code with the compiled
backend, so that a bug in one is caught by the other.

Conventions shared by both backends (the op layer guarantees them):

* Float kernels receive ``float32`` or ``float64`` arrays; binary kernels get
  two arrays of the *same* dtype whose shapes broadcast (NumPy rules). The
  op layer has already promoted dtypes and checked shapes.
* Arrays may be non-contiguous (transposed or sliced views) and 0-d.
* Every kernel returns a *new* array (never a view of an input), except the
  optimizer steps, which update their ``param``/state arguments in place.
* ``axes`` is a tuple of distinct, non-negative axis numbers, already
  normalised by the op layer.
"""

import numpy as np

name = "reference"

# ---------------------------------------------------------------- binary
# a, b: same float dtype, broadcastable shapes -> broadcast shape.


def add(a, b):
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf is nan, silently, as in the kernels
        return np.add(a, b)


def sub(a, b):
    with np.errstate(invalid="ignore", over="ignore"):
        return np.subtract(a, b)


def mul(a, b):
    with np.errstate(invalid="ignore", over="ignore"):  # inf * 0 is nan, silently, as in the kernels
        return np.multiply(a, b)


def div(a, b):
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return np.divide(a, b)


def pow(a, b):
    """a ** b elementwise (NaN for a negative base with a fractional power)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.power(a, b)


def maximum(a, b):
    return np.maximum(a, b)


def minimum(a, b):
    return np.minimum(a, b)


# ---------------------------------------------------------------- compare
# a, b: same dtype (float or integer or bool), broadcastable -> bool array.


def lt(a, b):
    return np.less(a, b)


def le(a, b):
    return np.less_equal(a, b)


def gt(a, b):
    return np.greater(a, b)


def ge(a, b):
    return np.greater_equal(a, b)


def eq(a, b):
    return np.equal(a, b)


def ne(a, b):
    return np.not_equal(a, b)


def where(cond, a, b):
    """cond: bool array; a, b: same float dtype; all three broadcast together."""
    return np.where(cond, a, b)


def copy(x):
    """An owned C-contiguous copy of x (any dtype), as ``x.copy()``."""
    return np.array(x, order="C", copy=True)


# ---------------------------------------------------------------- unary
# x: float array -> same shape and dtype.


def neg(x):
    return np.negative(x)


def exp(x):
    with np.errstate(over="ignore"):
        return np.exp(x)


def log(x):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log(x)


def sqrt(x):
    with np.errstate(invalid="ignore"):
        return np.sqrt(x)


def abs(x):
    return np.abs(x)


def tanh(x):
    return np.tanh(x)


def sigmoid(x):
    """1 / (1 + exp(-x)), computed without overflow for large |x|."""
    x = np.asarray(x)
    with np.errstate(over="ignore"):
        e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def relu(x):
    """max(x, 0); NaN stays NaN (PyTorch's clamp_min)."""
    return np.where(x <= 0, np.zeros((), x.dtype), x)


def sin(x):
    return np.sin(x)


def cos(x):
    return np.cos(x)


def clamp(x, lo, hi):
    """Clip x to [lo, hi]; lo or hi may be None (no bound). NaN stays NaN."""
    out = np.array(x, copy=True)
    if lo is not None:
        out = np.where(out < lo, np.asarray(lo, x.dtype), out)
    if hi is not None:
        out = np.where(out > hi, np.asarray(hi, x.dtype), out)
    return out


def pow_scalar(x, p):
    """x ** p for a Python float p."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.power(x, np.asarray(p, x.dtype))


# ---------------------------------------------------------------- backward helpers
# Fused rules for the unary ops: each takes the forward input x (or output y)
# and the upstream gradient g (same shape) and returns dL/dx.


def relu_backward(x, g):
    """0 where x <= 0, else g: a NaN x passes g (PyTorch's threshold_backward)."""
    return np.where(x <= 0, np.zeros((), g.dtype), g)


def abs_backward(x, g):
    """g * sign(x); 0 at x == 0."""
    return g * np.sign(x)


def tanh_backward(y, g):
    """g * (1 - y**2), y = tanh(x)."""
    return g * (1 - y * y)


def sigmoid_backward(y, g):
    """g * y * (1 - y), y = sigmoid(x)."""
    return g * y * (1 - y)


def clamp_backward(x, g, lo, hi):
    """g where lo <= x <= hi, else 0 (lo/hi None means unbounded)."""
    keep = np.ones(x.shape, dtype=bool)
    if lo is not None:
        keep &= x >= lo
    if hi is not None:
        keep &= x <= hi
    return np.where(keep, g, np.zeros((), g.dtype))


def pow_scalar_backward(x, g, p):
    """g * p * x**(p-1)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return g * (np.asarray(p, x.dtype) * np.power(x, np.asarray(p - 1, x.dtype)))


# ---------------------------------------------------------------- reductions
# x: float array; axes: tuple of normalised axes (may be all of them).


def sum(x, axes, keepdims=False):
    return np.sum(x, axis=axes, keepdims=keepdims)


def max(x, axes, keepdims=False):
    """Largest value over axes. The op layer rejects empty reductions."""
    return np.max(x, axis=axes, keepdims=keepdims)


def min(x, axes, keepdims=False):
    return np.min(x, axis=axes, keepdims=keepdims)


# ---------------------------------------------------------------- linear algebra


def matmul(a, b):
    """NumPy matmul semantics (1-D, 2-D, batched with broadcast batch dims).

    Written with einsum rather than np.matmul so the reference does not share
    the compiled backend's BLAS call.
    """
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    out = np.einsum("...ij,...jk->...ik", a2, b2)
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    return np.array(out, order="C")  # (ascontiguousarray would turn a 0-d result into 1-d)


# ---------------------------------------------------------------- softmax family
# Along one axis; subtract the max first so exp never overflows.


def softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True, initial=-np.inf)  # initial: an empty x is fine
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax_backward(y, g, axis):
    """dL/dx for y = softmax(x): y * (g - sum(g * y))."""
    return y * (g - np.sum(g * y, axis=axis, keepdims=True))


def log_softmax_backward(y, g, axis):
    """dL/dx for y = log_softmax(x): g - exp(y) * sum(g)."""
    return g - np.exp(y) * np.sum(g, axis=axis, keepdims=True)


def cross_entropy(logits, target):
    """Per-row negative log-likelihood of integer targets.

    logits: (N, C) float; target: (N,) int64 with 0 <= target < C (checked by
    the op layer). Returns (loss, lse), both (N,): loss[i] = lse[i] -
    logits[i, target[i]], lse = logsumexp of each row (kept for backward).
    """
    row_max = np.max(logits, axis=1, keepdims=True)
    lse = (row_max + np.log(np.sum(np.exp(logits - row_max), axis=1, keepdims=True)))[:, 0]
    picked = logits[np.arange(logits.shape[0]), target]
    return lse - picked, lse


def cross_entropy_backward(logits, target, lse, g):
    """dL/dlogits = g[:, None] * (softmax(logits) - one_hot(target)); (N, C)."""
    grad = np.exp(logits - lse[:, None])
    grad[np.arange(logits.shape[0]), target] -= 1
    return grad * g[:, None]


# ---------------------------------------------------------------- optimizers
# In place on param (and on the state arrays). All arrays one dtype, one shape.


def sgd_step(param, grad, buf, lr, momentum, dampening, weight_decay, nesterov, first):
    """PyTorch's SGD for one parameter. buf is the momentum buffer (or None
    when momentum == 0); first says whether buf is still uninitialised."""
    d = grad + weight_decay * param if weight_decay else grad.copy()
    if momentum:
        if first:
            buf[...] = d
        else:
            buf *= momentum
            buf += (1 - dampening) * d
        d = d + momentum * buf if nesterov else buf.copy()
    param -= lr * d


def adam_step(param, grad, m, v, step, lr, beta1, beta2, eps, weight_decay, decoupled):
    """PyTorch's Adam (decoupled=False) / AdamW (decoupled=True); step >= 1."""
    if weight_decay and decoupled:
        param *= 1 - lr * weight_decay
    d = grad + weight_decay * param if (weight_decay and not decoupled) else grad
    m *= beta1
    m += (1 - beta1) * d
    v *= beta2
    v += (1 - beta2) * d * d
    bias1 = 1 - beta1**step
    bias2 = 1 - beta2**step
    denom = np.sqrt(v) / np.sqrt(bias2) + eps
    param -= (lr / bias1) * m / denom


def rmsprop_step(param, grad, square_avg, grad_avg, buf, lr, alpha, eps, weight_decay, momentum):
    """PyTorch's RMSprop for one parameter. grad_avg is None unless centered;
    buf is None unless momentum > 0."""
    d = grad + weight_decay * param if weight_decay else grad
    square_avg *= alpha
    square_avg += (1 - alpha) * d * d
    if grad_avg is not None:  # centered: divide by the estimated standard deviation
        grad_avg *= alpha
        grad_avg += (1 - alpha) * d
        avg = np.sqrt(square_avg - grad_avg * grad_avg) + eps
    else:
        avg = np.sqrt(square_avg) + eps
    if buf is not None:
        buf *= momentum
        buf += d / avg
        param -= lr * buf
    else:
        param -= lr * (d / avg)


def adagrad_step(param, grad, total, clr, eps, weight_decay):
    """PyTorch's Adagrad for one parameter; total is the running sum of
    squared gradients, clr this step's decayed learning rate."""
    d = grad + weight_decay * param if weight_decay else grad
    total += d * d
    param -= clr * (d / (np.sqrt(total) + eps))
