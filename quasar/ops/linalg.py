"""Matrix products.

``matmul`` follows NumPy/PyTorch: 1-D operands are promoted to a row (left)
or a column (right) vector and the added dimension is dropped again; N-D
operands are stacks of matrices whose batch dimensions broadcast. The
products themselves go through the backend's ``matmul`` (BLAS in the
compiled backend).
"""

import numpy as np

from ..autograd import Function
from ..errors import ShapeError
from ..tensor import Tensor
from .common import backend, broadcast_shape, reduce_to_shape, require_float, swap_last_two, tensor_pair
from .elementwise import mul


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return backend().matmul(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        B = backend()
        # Work with matrices: a vector operand gets its unit dim back, so do the
        # gradient, and that dim is dropped again at the end.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = grad
        if b.ndim == 1:  # restore the column dim first, then the row dim (vector @ vector: 0-d grad)
            g2 = g2[..., None]
        if a.ndim == 1:
            g2 = g2[..., None, :]
        ga = gb = None
        if ctx.needs_input_grad[0]:  # dL/dA = dL/dC @ B^T, summed over broadcast batch dims
            ga = reduce_to_shape(B.matmul(g2, swap_last_two(b2)), a2.shape)
            if a.ndim == 1:  # reshape only when needed: a view would make the leaf copy it
                ga = ga.reshape(a.shape)
        if ctx.needs_input_grad[1]:  # dL/dB = A^T @ dL/dC
            gb = reduce_to_shape(B.matmul(swap_last_two(a2), g2), b2.shape)
            if b.ndim == 1:
                gb = gb.reshape(b.shape)
        return ga, gb


def matmul(a, b):
    """Matrix product ``a @ b``: (..., n, k) @ (..., k, m) -> (..., n, m).

    1-D operands act as a row (left) or column (right) vector; batch dims broadcast.
    """
    a, b = tensor_pair("matmul", a, b, broadcast=False)
    require_float("matmul", a, b)
    sa, sb = a.array.shape, b.array.shape
    if not sa or not sb:
        raise ShapeError(f"matmul: both operands need at least 1 dimension, got shapes {sa} and {sb}")
    inner_a = sa[-1]
    inner_b = sb[0] if len(sb) == 1 else sb[-2]
    if inner_a != inner_b:
        raise ShapeError(
            f"matmul: shapes {sa} and {sb} are not aligned: {inner_a} (dim -1 of the first) "
            f"!= {inner_b} (dim {0 if len(sb) == 1 else -2} of the second)"
        )
    if len(sa) > 2 or len(sb) > 2:
        broadcast_shape("matmul (batch dims)", sa[:-2], sb[:-2])
    return MatMul.apply(a, b)


class Linear(Function):
    """x @ weight.T + bias as one node, PyTorch's layout: weight is (out, in).

    One node instead of transpose, matmul and add: the weight's gradient is
    computed directly as grad.T @ x in the weight's own (out, in) layout, and
    the bias gradient is one column sum, so nothing is transposed or copied.
    """

    @staticmethod
    def forward(ctx, x, weight, *bias):
        ctx.save_for_backward(x, weight)
        B = backend()
        out = B.matmul(x, weight.T)
        return B.add(out, bias[0]) if bias else out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        B = backend()
        rows = grad.reshape(-1, grad.shape[-1])  # (batch, out): every leading dim is batch
        gx = B.matmul(grad, weight) if ctx.needs_input_grad[0] else None  # (..., in)
        gw = B.matmul(rows.T, x.reshape(-1, x.shape[-1])) if ctx.needs_input_grad[1] else None  # (out, in)
        if len(ctx.needs_input_grad) == 2:
            return gx, gw
        gb = B.sum(rows, (0,), False) if ctx.needs_input_grad[2] else None  # (out,)
        return gx, gw, gb


def linear(x, weight, bias=None):
    """``x @ weight.T + bias``: (..., in_features) -> (..., out_features).

    weight: (out_features, in_features); bias: (out_features,) or None.
    """
    tensors = (x, weight) if bias is None else (x, weight, bias)
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"linear: expected Tensors, got {type(t).__name__}")
    require_float("linear", *tensors)
    if weight.ndim != 2 or x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ShapeError(
            f"linear: input of shape {x.shape} does not fit a weight of shape {weight.shape}; "
            f"the input's last dim must be in_features = {weight.shape[1] if weight.ndim == 2 else '?'}"
        )
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ShapeError(f"linear: bias of shape {bias.shape} does not fit a weight of shape {weight.shape}")
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:  # promote like any binary op (float32 with float64 -> float64)
        tensors = tuple(t.to(np.float64) for t in tensors)
    return Linear.apply(*tensors)


# ---------------------------------------------------------------- part A: PyTorch's fixed-rank products
# Each checks the ranks PyTorch requires, then is a matmul (or, for outer, a
# broadcast product), so the gradients are those ops'.


def _require_ranks(op, a, b, rank_a, rank_b):
    for t in (a, b):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected Tensors, got {type(t).__name__}")
    if a.ndim != rank_a or b.ndim != rank_b:
        raise ShapeError(
            f"{op}: expected {rank_a}-D and {rank_b}-D tensors, got shapes {a.shape} and {b.shape}"
        )


def mm(input, mat2):
    """(n, k) @ (k, m) -> (n, m); both operands must be 2-D."""
    _require_ranks("mm", input, mat2, 2, 2)
    return matmul(input, mat2)


def bmm(input, mat2):
    """(b, n, k) @ (b, k, m) -> (b, n, m); same batch size, no broadcasting."""
    _require_ranks("bmm", input, mat2, 3, 3)
    if input.shape[0] != mat2.shape[0]:
        raise ShapeError(f"bmm: batch sizes differ: shapes {input.shape} and {mat2.shape}")
    return matmul(input, mat2)


def mv(input, vec):
    """(n, m) @ (m,) -> (n,)."""
    _require_ranks("mv", input, vec, 2, 1)
    return matmul(input, vec)


def dot(input, other):
    """The inner product of two 1-D tensors of one length (a 0-d tensor)."""
    _require_ranks("dot", input, other, 1, 1)
    if input.shape != other.shape:
        raise ShapeError(f"dot: the vectors have different lengths: shapes {input.shape} and {other.shape}")
    return matmul(input, other)


def outer(input, vec2):
    """(n,) x (m,) -> (n, m): input[i] * vec2[j]."""
    _require_ranks("outer", input, vec2, 1, 1)
    return mul(input.reshape(-1, 1), vec2.reshape(1, -1))
