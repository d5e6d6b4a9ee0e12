"""The differentiable backend: kernels made of quasar's own ops, for double backward.

Every op's backward formula calls named kernels on ``backend()``. In a first
order backward these are the compiled (or reference) kernels on ndarrays. With
``create_graph=True`` the engine runs the *same* formulas again, with Tensors
in place of the gradient and of the saved arrays, while ``backend()`` returns
this namespace: each kernel here computes its result with differentiable ops
(``relu_backward(x, g)`` becomes ``where(x > 0, g, 0)``), so the gradient it
returns carries a graph that a later backward differentiates, to any order.

Rules of this namespace:

* A kernel called with no Tensor among its arguments (constants, masks) is
  run by the array backend underneath and returns an ndarray, as usual.
* Inside a kernel, ``backend()`` is the array backend again: the ops it calls
  run their own forward on ndarrays as always.
* Comparisons return bool ndarrays (no gradient flows through a comparison).
* A kernel that has no differentiable version here raises
  :class:`NotDifferentiable`; so does turning a Tensor that requires grad into
  an ndarray (``np.asarray(t)``, ``t.item()``) inside a backward formula, which
  would silently cut the graph. The engine reports either as "double backward
  is not supported by this op", never as a wrong answer.

Besides the kernels: ``linear_backward(ctx, grad)`` serves ops that are
linear in their one input (views, a sort's gather, im2col/col2im, average
pooling): their backward is the op's transpose, whose own backward is the op
again (:class:`LinearBackward`), so such an op needs no formula of its own.

This module is not auto-discovered as a backend (its name is neither
``compiled*`` nor ``reference*``); the engine activates it per node.
"""

import contextlib
import functools
import math

import numpy as np

from . import _local, current
from ..autograd import Function
from ..tensor import Tensor


class NotDifferentiable(RuntimeError):
    """A backward formula did something the differentiable backend cannot record."""


def _array_backend():
    return _local.array_backend


class _Namespace:
    """``backend()`` during a differentiable backward: the kernels below by name."""

    name = "differentiable"

    def __getattr__(self, kernel):
        raise NotDifferentiable(f"the kernel {kernel!r} has no differentiable version yet")


namespace = _Namespace()


def is_active():
    """True while a backward formula runs on Tensors (the guard of Tensor.__array__ and item)."""
    return _local.module is namespace


@contextlib.contextmanager
def active():
    """Make this namespace the thread's backend for a block (a backward formula,
    or a forward replayed on tensors); the backend it replaces does the arithmetic."""
    outer = _local.module
    if outer is not namespace:
        _local.array_backend = current()
    _local.module = namespace
    try:
        yield namespace
    finally:
        _local.module = outer


def _kernel(fn):
    """Register fn as the differentiable kernel of its name.

    Without a Tensor argument the array backend's kernel runs instead; with
    one, fn runs with the array backend active, so the ops it calls work as
    in any forward pass.
    """
    name = fn.__name__

    @functools.wraps(fn)
    def run(*args, **kwargs):
        state = _local
        arrays = state.array_backend
        if not any(isinstance(a, Tensor) for a in args):
            return getattr(arrays, name)(*args, **kwargs)
        outer = state.module
        state.module = arrays
        try:
            return fn(*args, **kwargs)
        finally:
            state.module = outer

    setattr(_Namespace, name, staticmethod(run))
    return run


def _array(x):
    """The values of x (no gradient needed: a condition or a constant)."""
    return x.array if isinstance(x, Tensor) else np.asarray(x)


def _dtype(*values):
    return next(v.dtype for v in values if isinstance(v, Tensor))


def _ops():
    from .. import ops

    return ops


# ---------------------------------------------------------------- arithmetic and unary ops


def _binary(name):
    def kernel(a, b):
        return getattr(_ops(), name)(a, b)

    kernel.__name__ = name
    _kernel(kernel)


def _unary(name):
    def kernel(x):
        return getattr(_ops(), name)(x)

    kernel.__name__ = name
    _kernel(kernel)


for _name in ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "xlogy"):
    _binary(_name)
for _name in ("neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "sin", "cos", "erf",
              "rsqrt", "sinh", "cosh", "exp2", "tan", "log2", "expm1", "log1p", "reciprocal"):
    _unary(_name)


def _piecewise_constant(name):
    """A kernel whose derivative is 0 wherever it exists (rounding, sign): its
    value enters a gradient formula as a constant, computed on the arrays."""

    def kernel(*args):
        return getattr(_array_backend(), name)(*[_array(a) if isinstance(a, Tensor) else a for a in args])

    kernel.__name__ = name
    _kernel(kernel)


for _name in ("sign", "trunc", "floor", "ceil", "floor_divide", "round"):
    _piecewise_constant(_name)


def _comparison(name):
    def kernel(a, b):
        return getattr(_array_backend(), name)(_array(a), _array(b))

    kernel.__name__ = name
    _kernel(kernel)


for _name in ("lt", "le", "gt", "ge", "eq", "ne"):
    _comparison(_name)


@_kernel
def where(cond, a, b):
    return _ops().where(_array(cond), a, b)


@_kernel
def clamp(x, lo, hi):
    return _ops().clamp(x, lo, hi)


@_kernel
def pow_scalar(x, p):
    return _ops().pow(x, float(p))


@_kernel
def masked_fill(x, mask, value):
    return _ops().masked_fill(x, mask, value)


# ---------------------------------------------------------------- reductions, products, scans


@_kernel
def sum(x, axes, keepdims=False):  # noqa: A001  (the kernel's name)
    return _ops().sum(x, dim=axes, keepdim=keepdims)


@_kernel
def max(x, axes, keepdims=False):  # noqa: A001
    return _ops().amax(x, dim=axes, keepdim=keepdims)


@_kernel
def min(x, axes, keepdims=False):  # noqa: A001
    return _ops().amin(x, dim=axes, keepdim=keepdims)


@_kernel
def prod(x, axis, keepdims=False):
    return _ops().prod(x, dim=axis, keepdim=keepdims)


@_kernel
def logsumexp(x, axes, keepdims=False):
    return _ops().logsumexp(x, dim=axes, keepdim=keepdims)


@_kernel
def matmul(a, b):
    return _ops().matmul(a, b)


@_kernel
def cumsum(x, axis):
    return _ops().cumsum(x, axis)


@_kernel
def softmax(x, axis):
    return _ops().softmax(x, axis)


@_kernel
def log_softmax(x, axis):
    return _ops().log_softmax(x, axis)


# ---------------------------------------------------------------- the fused backward kernels, composed


def _const(value, dtype):
    return np.asarray(value, dtype)


@_kernel
def relu_backward(x, g):
    """g where x > 0, else 0."""
    return _ops().where(_array(x) > 0, g, _const(0, _dtype(x, g)))


@_kernel
def abs_backward(x, g):
    """g * sign(x): sign is piecewise constant, so it enters as a constant."""
    return _ops().mul(g, np.sign(_array(x)).astype(_dtype(x, g)))


@_kernel
def tanh_backward(y, g):
    """g * (1 - y^2)."""
    return g * (1 - y * y)


@_kernel
def sigmoid_backward(y, g):
    """g * y * (1 - y)."""
    return g * y * (1 - y)


@_kernel
def clamp_backward(x, g, lo, hi):
    """g where lo <= x <= hi, else 0."""
    values = _array(x)
    keep = np.ones(values.shape, dtype=bool)
    if lo is not None:
        keep &= values >= lo
    if hi is not None:
        keep &= values <= hi
    return _ops().where(keep, g, _const(0, _dtype(x, g)))


@_kernel
def pow_scalar_backward(x, g, p):
    """g * p * x^(p - 1); for p == 1 just g (x^0 would give 0 * inf at x = 0 later)."""
    if p == 1:
        return g * 1.0
    return g * (x ** float(p - 1) * float(p))


@_kernel
def softmax_backward(y, g, axis):
    """y * (g - sum(g * y)) along axis."""
    return y * (g - (g * y).sum(dim=axis, keepdim=True))


@_kernel
def log_softmax_backward(y, g, axis):
    """g - exp(y) * sum(g) along axis."""
    total = g.sum(dim=axis, keepdim=True) if isinstance(g, Tensor) else _const(np.sum(g, axis, keepdims=True), _dtype(y))
    return g - _ops().exp(y) * total


@_kernel
def cross_entropy(logits, target):
    """(per-row loss, per-row logsumexp), both (N,), as tensors of logits."""
    ops = _ops()
    lse = ops.logsumexp(logits, dim=1)
    picked = ops.gather(logits, 1, target[:, None]).reshape(-1)
    return lse - picked, lse


@_kernel
def cross_entropy_backward(logits, target, lse, g):
    """(softmax(logits) - one_hot(target)) * g[:, None]."""
    dtype = _dtype(logits, lse, g)
    one_hot = _const(np.arange(logits.shape[1])[None, :] == target[:, None], dtype)
    probs = _ops().exp(logits - lse.reshape(-1, 1))
    return (probs - one_hot) * g.reshape(-1, 1)


@_kernel
def erf_backward(x, g):
    """g * 2/sqrt(pi) * exp(-x^2)."""
    return g * (_ops().exp(-(x * x)) * (2 / math.sqrt(math.pi)))


@_kernel
def gelu_backward(x, g):
    """g * (Phi(x) + x * phi(x)): Phi(x) = (1 + erf(x / sqrt 2)) / 2, phi(x) = exp(-x^2 / 2) / sqrt(2 pi)."""
    ops = _ops()
    cdf = (ops.erf(x * (1 / math.sqrt(2))) + 1) * 0.5
    pdf = ops.exp(x * x * -0.5) * (1 / math.sqrt(2 * math.pi))
    return g * (cdf + x * pdf)


@_kernel
def leaky_relu_backward(x, g, slope):
    """g where x > 0, else slope * g."""
    return _ops().where(_array(x) > 0, g, g * slope)


@_kernel
def elu_backward(x, g, alpha):
    """g where x > 0, else g * alpha * exp(x); exp sees min(x, 0), so never overflows."""
    return _ops().where(_array(x) > 0, g, g * (_ops().exp(_ops().clamp(x, max=0.0)) * alpha))


@_kernel
def softplus_backward(x, g, beta, threshold):
    """g * sigmoid(beta * x), and g where beta * x > threshold."""
    bx = x * beta
    return _ops().where(_array(bx) > threshold, g, g * _ops().sigmoid(bx))


# ---------------------------------------------------------------- scatter-adds (the backward of gathers)


class IndexAdd(Function):
    """Zeros (outer, size, inner) with values (outer, m, inner) added at ``index``
    along the middle dim: the backward of every gather, as an op of its own so
    that it is differentiable too. Its backward is the gather ``grad[:, index]``,
    whose backward is this op again: gradients of any order."""

    @staticmethod
    def forward(ctx, values, index, size):
        ctx.index = index
        return current().index_add(values, index, size)

    @staticmethod
    def backward(ctx, grad):
        return grad[:, ctx.index]


@_kernel
def index_add(values, index, size):
    return IndexAdd.apply(values, index=index, size=size)


@_kernel
def scatter_add_flat(values, flat_index, size):
    rows = values.reshape(1, -1, 1)
    return IndexAdd.apply(rows, index=flat_index.reshape(-1), size=size).reshape(size)


@_kernel
def scatter_reduce_flat(base, positions, values, reduce):
    """Registered so that backward formulas can count with it on arrays (the
    array kernel runs then); on tensors the ops compose it themselves."""
    raise NotDifferentiable(f"scatter_reduce_flat (reduce={reduce!r}) on tensors has no differentiable version")


@_kernel
def max_pool2d_backward(grad_out, indices, in_hw):
    """Each output's gradient added at its window's winning position: indices
    (N, C, OH, OW) count within one (H, W) plane, so each plane is offset to
    its place in the flattened (N, C, H, W) result."""
    n, c = grad_out.shape[:2]
    plane = in_hw[0] * in_hw[1]
    flat = np.asarray(indices, np.int64).reshape(n * c, -1) + (np.arange(n * c, dtype=np.int64) * plane)[:, None]
    return scatter_add_flat(grad_out, flat, n * c * plane).reshape(n, c, *in_hw)


@_kernel
def prod_backward(x, g, axis):
    """g times the product of the other elements along axis, exact with zeros:
    row k of a (..., n, n) spread is x with x_k replaced by 1, and its product
    is what x_k is multiplied by (n^2 memory per slice: double backward only)."""
    ops = _ops()
    dtype = _dtype(x, g)
    x = x if isinstance(x, Tensor) else Tensor._wrap(np.asarray(x))
    if x.shape[axis] == 0:
        return Tensor._wrap(np.zeros(x.shape, dtype))
    last = x.transpose(axis, -1)  # (..., n)
    n = last.shape[-1]
    spread = ops.where(np.eye(n, dtype=bool), _const(1, dtype), last.unsqueeze(-2))  # (..., n, n)
    others = ops.prod(spread, dim=-1).transpose(axis, -1)  # back to x's layout
    return g * others


def _tensor(x):
    """x as a Tensor (a constant when it was an ndarray), for the Tensor methods below."""
    return x if isinstance(x, Tensor) else Tensor._wrap(np.asarray(x))


def _scan_pairs(n):
    """The (n, n) mask of pairs (k, i) with i >= k: output i of a scan depends
    on input k (n^2 memory per slice: double backward only)."""
    return np.triu(np.ones((n, n), dtype=bool))


@_kernel
def cumprod_backward(x, g, axis):
    """sum over i >= k of g_i * prod_{j <= i, j != k} x_j, exact with zeros: row k
    of a (..., n, n) spread is x with x_k replaced by 1, and its running product
    along the last dim gives every such product at once."""
    ops = _ops()
    dtype = _dtype(x, g)
    x, g = _tensor(x), _tensor(g)
    last = x.transpose(axis, -1)  # (..., n)
    n = last.shape[-1]
    if n == 0:
        return Tensor._wrap(np.zeros(x.shape, dtype))
    spread = ops.where(np.eye(n, dtype=bool), _const(1, dtype), last.unsqueeze(-2))  # (..., k, j)
    products = ops.cumprod(spread, -1)  # (..., k, i)
    products = ops.where(_scan_pairs(n), products, _const(0, dtype))
    summed = (products * g.transpose(axis, -1).unsqueeze(-2)).sum(dim=-1)  # (..., k)
    return summed.transpose(axis, -1)


@_kernel
def logcumsumexp_backward(x, out, g, axis):
    """sum over i >= k of g_i * exp(x_k - out_i): each exponent is <= 0 (out_i is
    the log of a sum that holds exp(x_k)), and the pairs i < k get exp(-inf) = 0,
    whose derivative is 0 too (masking after exp would give 0 * inf there)."""
    ops = _ops()
    dtype = _dtype(x, out, g)
    x, out, g = _tensor(x), _tensor(out), _tensor(g)
    xs, outs, gs = (t.transpose(axis, -1) for t in (x, out, g))  # (..., n)
    n = xs.shape[-1]
    if n == 0:
        return Tensor._wrap(np.zeros(x.shape, dtype))
    exponent = ops.where(_scan_pairs(n), xs.unsqueeze(-1) - outs.unsqueeze(-2), _const(-np.inf, dtype))
    summed = (ops.exp(exponent) * gs.unsqueeze(-2)).sum(dim=-1)  # (..., k)
    return summed.transpose(axis, -1)


# ---------------------------------------------------------------- the backward of a linear op


class LinearBackward(Function):
    """The backward of an op that is linear in its one tensor input (a view, a
    gather at fixed positions, window extraction, average pooling) as an op of
    its own. Such an op's backward is the transpose of the op, and the
    transpose of that is the op again: so this node's forward runs the op's
    backward (on arrays), and its backward runs the op's forward, as the op
    itself when the gradient is a Tensor, which differentiates again."""

    @staticmethod
    def forward(ctx, grad, node):
        ctx.node = node
        return type(node).backward(node, grad)

    @staticmethod
    def backward(ctx, grad):
        node = ctx.node
        op, options = type(node), node.__dict__.get("forward_options") or {}
        if isinstance(grad, Tensor):
            with _array_kernels():  # the op's forward runs on arrays, as in any forward pass
                return op.apply(grad, **options)
        scratch = object.__new__(op)  # forward records its geometry there, unused
        return np.array(op.forward(scratch, grad, **options))  # a copy: forward may return a view


def linear_backward(node, grad):
    """``node``'s backward applied to the Tensor ``grad``, differentiably (see
    :class:`LinearBackward`); node's op must be linear in its one input."""
    with _array_kernels():
        return LinearBackward.apply(grad, node=node)


@contextlib.contextmanager
def _array_kernels():
    """The array backend active for a block (as inside a differentiable kernel)."""
    outer = _local.module
    _local.module = _local.array_backend
    try:
        yield
    finally:
        _local.module = outer


# ---------------------------------------------------------------- convolutions and batch normalization
# A convolution is a matrix product with the input's windows (im2col, the
# conv Unfold op); its input gradient is the transposed product folded back
# (col2im, the Fold op). Unfold and Fold are each other's backward, so all
# three kernels differentiate to any order.


def _conv_ops():
    from ..ops import conv

    return conv


@_kernel
def conv2d(x, weight, bias, stride, padding, dilation, groups, out_hw):
    """(N, C_in, H, W) x (C_out, C_in / groups, KH, KW) -> (N, C_out, OH, OW):
    per group, weight (O_g, C_g * KH * KW) @ the windows (C_g * KH * KW, OH * OW)."""
    x, weight = _tensor(x), _tensor(weight)
    n, c_out = x.shape[0], weight.shape[0]
    cols = _conv_ops().Unfold.apply(x, kernel=tuple(weight.shape[2:]), stride=stride, padding=padding,
                                    dilation=dilation, out_hw=out_hw)
    cols = cols.reshape(n, groups, -1, cols.shape[-1])  # (N, G, C_g * K, L)
    out = _ops().matmul(weight.reshape(groups, c_out // groups, -1), cols)  # (N, G, O_g, L)
    out = out.reshape(n, c_out, *out_hw)
    return out if bias is None else out + _tensor(bias).reshape(-1, 1, 1)


@_kernel
def conv2d_backward_input(grad_out, weight, in_hw, stride, padding, dilation, groups):
    """The adjoint of conv2d in its input: per group weight^T @ grad_out, folded back."""
    grad_out, weight = _tensor(grad_out), _tensor(weight)
    n, c_out = grad_out.shape[:2]
    kernel = tuple(weight.shape[2:])
    w = weight.reshape(groups, c_out // groups, -1).transpose(-1, -2)  # (G, C_g * K, O_g)
    cols = _ops().matmul(w, grad_out.reshape(n, groups, c_out // groups, -1))  # (N, G, C_g * K, L)
    cols = cols.reshape(n, -1, cols.shape[-1])
    return _conv_ops().Fold.apply(cols, channels=weight.shape[1] * groups, in_hw=tuple(in_hw), kernel=kernel,
                                  stride=stride, padding=padding, dilation=dilation,
                                  out_hw=tuple(grad_out.shape[2:]))


@_kernel
def conv2d_backward_weight(x, grad_out, kernel, stride, padding, dilation, groups):
    """dL/dweight of conv2d: per group, grad_out @ windows^T summed over the batch."""
    x, grad_out = _tensor(x), _tensor(grad_out)
    n, c_out = grad_out.shape[:2]
    cols = _conv_ops().Unfold.apply(x, kernel=tuple(kernel), stride=stride, padding=padding, dilation=dilation,
                                    out_hw=tuple(grad_out.shape[2:]))
    cols = cols.reshape(n, groups, -1, cols.shape[-1]).transpose(-1, -2)  # (N, G, L, C_g * K)
    g = grad_out.reshape(n, groups, c_out // groups, -1)  # (N, G, O_g, L)
    grad = _ops().matmul(g, cols).sum(dim=0)  # (G, O_g, C_g * K)
    return grad.reshape(c_out, x.shape[1] // groups, *kernel)


def _per_channel(v):
    """A (C,) vector as (C, 1), to broadcast along the channels of (N, C, L)."""
    return v.reshape(-1, 1)


@_kernel
def batch_norm(x, weight, bias, mean, var, eps, training):
    """(out, mean, var) of the array kernel, with ops (statistics in float64)."""
    wide = _tensor(x).to(np.float64)
    if training:
        mean = _ops().mean(wide, dim=(0, 2))
        var = _ops().mean((wide - _per_channel(mean)) ** 2, dim=(0, 2))
    invstd = _ops().rsqrt(_tensor(var) + eps)
    out = (wide - _per_channel(mean)) * _per_channel(invstd * weight) + _per_channel(bias)
    return out.to(x.dtype), mean, var


@_kernel
def batch_norm_backward(x, grad_out, mean, var, weight, eps, training, want_grad_in):
    """(grad_in or None, grad_weight, grad_bias) of the array kernel, with ops (in float64)."""
    invstd = _ops().rsqrt(_tensor(var) + eps)
    g = _tensor(grad_out).to(np.float64)
    xhat = (_tensor(x).to(np.float64) - _per_channel(mean)) * _per_channel(invstd)
    grad_bias = g.sum(dim=(0, 2))
    grad_weight = (g * xhat).sum(dim=(0, 2))
    grad_in = None
    if want_grad_in:
        if training:
            count = x.shape[0] * x.shape[2]
            g = g - _per_channel(grad_bias) / count - xhat * _per_channel(grad_weight / count)
        grad_in = (g * _per_channel(invstd * weight)).to(x.dtype)
    return grad_in, grad_weight, grad_bias


# ---------------------------------------------------------------- attention


@_kernel
def attention_softmax(scores, mask, scale, causal):
    """softmax(scale * scores + mask) along the last axis, with ops: a bool mask
    (True = attend) and the causal mask hide keys with -inf, a float mask is added."""
    ops = _ops()
    dtype = _dtype(scores)
    z = _tensor(scores) * float(scale)
    if mask is not None and mask.dtype == np.bool_:
        z = ops.where(mask, z, _const(-np.inf, dtype))
    elif mask is not None:
        z = z + _const(mask, dtype)
    if causal:
        length, keys = scores.shape[-2:]
        z = ops.where(np.tril(np.ones((length, keys), dtype=bool)), z, _const(-np.inf, dtype))
    return ops.softmax(z, -1)


@_kernel
def attention_softmax_backward(probs, grad, scale):
    """scale * P * (g - sum(g * P)) along the last axis: softmax's backward, scaled."""
    return softmax_backward(probs, grad, -1) * float(scale)


# ---------------------------------------------------------------- recurrent cells
# The fused gate kernels of quasar/ops/recurrent.py, with ops: the gates are
# column blocks of one (B, G*H) tensor, each its own slice.


def _gates(x, count):
    """The count column blocks (B, H) of x (B, count*H)."""
    size = x.shape[1] // count
    return [x[:, k * size:(k + 1) * size] for k in range(count)]


@_kernel
def lstm_cell(x_gates, h_gates, c_prev):
    """(acts (B, 4H) = (i, f, g, o) after their nonlinearities, c, h = o * tanh(c))."""
    ops = _ops()
    i, f, g, o = _gates(_tensor(x_gates) + _tensor(h_gates), 4)
    i, f, g, o = ops.sigmoid(i), ops.sigmoid(f), ops.tanh(g), ops.sigmoid(o)
    c = f * _tensor(c_prev) + i * g
    return ops.cat([i, f, g, o], 1), c, o * ops.tanh(c)


@_kernel
def lstm_cell_backward(acts, c_prev, c, dh, dc):
    """(dgates (B, 4H) w.r.t. the pre-activations, dc_prev (B, H))."""
    ops = _ops()
    i, f, g, o = _gates(_tensor(acts), 4)
    c_prev, dh = _tensor(c_prev), _tensor(dh)
    tanh_c = ops.tanh(_tensor(c))
    dc = _tensor(dc) + dh * o * (1 - tanh_c * tanh_c)
    dgates = ops.cat([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
                      dh * tanh_c * o * (1 - o)], 1)
    return dgates, dc * f


@_kernel
def gru_cell(gi, gh, h_prev):
    """(acts (B, 4H) = (r, z, n, gh_n), h = (1 - z) * n + z * h_prev), PyTorch's formula."""
    ops = _ops()
    gi_r, gi_z, gi_n = _gates(_tensor(gi), 3)
    gh_r, gh_z, gh_n = _gates(_tensor(gh), 3)
    r, z = ops.sigmoid(gi_r + gh_r), ops.sigmoid(gi_z + gh_z)
    n = ops.tanh(gi_n + r * gh_n)
    return ops.cat([r, z, n, gh_n], 1), (1 - z) * n + z * _tensor(h_prev)


@_kernel
def gru_cell_backward(acts, h_prev, dh):
    """(dgi, dgh (B, 3H), dh_direct (B, H)): dL/dh_prev is dh_direct + dgh @ W_hh."""
    ops = _ops()
    r, z, n, gh_n = _gates(_tensor(acts), 4)
    dh = _tensor(dh)
    dn = dh * (1 - z) * (1 - n * n)
    dz = dh * (_tensor(h_prev) - n) * z * (1 - z)
    dr = dn * gh_n * r * (1 - r)
    return ops.cat([dr, dz, dn], 1), ops.cat([dr, dz, dn * r], 1), dh * z
