"""Recurrent layers: one layer, one direction, a whole sequence per Function.

Each Function runs its time loop inside ``forward`` and ``backward`` on
arrays, so the graph gets one node per layer and direction, not one per
step. Per step, forward is one BLAS product (h @ W_hh^T), one add and one
fused cell kernel (all gate nonlinearities and the state update); backward
is one fused cell kernel and one product (dgates @ W_hh). The input
projection of all steps is a single product before the loop, and every
weight gradient a single product after it:

    dW_ih = dgates_all^T @ x_all        dW_hh = dgates_all^T @ h_prev_all

Shapes: x (T, N, I), h0 and c0 (N, H); weights as PyTorch's
(``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), biases (G*H,), G = 4 for
LSTM (gates i, f, g, o), 3 for GRU (r, z, n), 1 for the plain RNN).
``reverse`` runs the steps from T-1 down to 0 (a bidirectional layer's
second direction); outputs stay in time order.

For double backward (create_graph=True) the same forward and backward run
on Tensors over the differentiable cell kernels: the per-step buffers are
then lists, stacked with ops at the end (``_buffer`` / ``_stacked``).
"""

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from .common import backend
from .join import cat, stack


def _steps(T, reverse):
    return range(T - 1, -1, -1) if reverse else range(T)


def _previous(states, first, reverse):
    """For each step t, the state before it: ``first`` at the first step, else
    ``states`` at the step before (t-1, or t+1 in reverse); (T, N, H)."""
    join = cat if isinstance(states, Tensor) else np.concatenate
    if reverse:
        return join([states[1:], first[None]], 0)
    return join([first[None], states[:-1]], 0)


def _transposed(weight):
    """weight^T laid out in rows: the time loop multiplies by it T times, and
    BLAS is about twice as fast on a C-contiguous operand as on a transposed view."""
    return weight.T if isinstance(weight, Tensor) else np.ascontiguousarray(weight.T)


def _buffer(like, shape, dtype):
    """Per-step results of shape ``shape`` (T, ...), filled step by step: an
    array; a list of T tensors when the time loop runs on tensors."""
    return [None] * shape[0] if isinstance(like, Tensor) else np.empty(shape, dtype)


def _stacked(buffer):
    """A filled ``_buffer`` as one (T, ...) array or tensor."""
    return stack(buffer) if isinstance(buffer, list) else buffer


def _zeros(like):
    """Zeros of like's shape and dtype (a constant tensor when like is a Tensor)."""
    zeros = np.zeros(like.shape, like.dtype)
    return Tensor._wrap(zeros) if isinstance(like, Tensor) else zeros


def _input_projection(B, x, w_ih, bias):
    """x (T, N, D) @ w_ih^T + bias as one product: (T, N, G*H)."""
    T, N, D = x.shape
    return B.add(B.matmul(x.reshape(T * N, D), _transposed(w_ih)), bias).reshape(T, N, w_ih.shape[0])


def _input_gradients(B, ctx, x, w_ih, d_proj, h_prev, d_hidden_proj):
    """dx, dW_ih, db (input side) and dW_hh, db (hidden side) from the per-step
    gradients of the input projection (T, N, G*H) and of the hidden projection."""
    T, N, D = x.shape
    flat = d_proj.reshape(T * N, d_proj.shape[2])
    flat_hidden = d_hidden_proj.reshape(T * N, d_hidden_proj.shape[2])
    need = ctx.needs_input_grad
    dx = B.matmul(flat, w_ih).reshape(x.shape) if need[0] else None
    dw_ih = B.matmul(flat.T, x.reshape(T * N, D)) if need[-4] else None
    dw_hh = B.matmul(flat_hidden.T, h_prev.reshape(T * N, h_prev.shape[2])) if need[-3] else None
    db_ih = B.sum(flat, (0,), False) if need[-2] else None
    db_hh = B.sum(flat_hidden, (0,), False) if need[-1] else None
    return dx, dw_ih, dw_hh, db_ih, db_hh


class LSTMLayer(Function):
    """One LSTM layer and direction. Returns (T+1, N, H): the hidden states
    of every step, then the last cell state c_n (one array, so one node)."""

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse):
        B = backend()
        T, N, _ = x.shape
        H = h0.shape[1]
        projected = _input_projection(B, x, w_ih, B.add(b_ih, b_hh))
        w_hh_t = _transposed(w_hh)
        out = _buffer(x, (T + 1, N, H), x.dtype)
        acts = _buffer(x, (T, N, 4 * H), x.dtype)
        cells = _buffer(x, (T, N, H), x.dtype)
        h, c = h0, c0
        for t in _steps(T, reverse):
            acts[t], c, h = B.lstm_cell(projected[t], B.matmul(h, w_hh_t), c)
            cells[t] = c
            out[t] = h
        out[T] = c
        out, acts, cells = _stacked(out), _stacked(acts), _stacked(cells)
        ctx.save_for_backward(x, h0, c0, w_ih, w_hh, out, acts, cells)
        ctx.reverse = reverse
        return out

    @staticmethod
    def backward(ctx, grad):
        x, h0, c0, w_ih, w_hh, out, acts, cells = ctx.saved_tensors
        B = backend()
        T = x.shape[0]
        dgates = _buffer(grad, acts.shape, acts.dtype)
        dh = _zeros(h0)
        dc = grad[T]
        reverse = ctx.reverse
        c_prev_all = _previous(cells, c0, reverse)
        for t in reversed(_steps(T, reverse)):
            dgates[t], dc = B.lstm_cell_backward(acts[t], c_prev_all[t], cells[t], B.add(grad[t], dh), dc)
            dh = B.matmul(dgates[t], w_hh)
        h_prev = _previous(out[:T], h0, reverse)
        dgates = _stacked(dgates)
        dx, dw_ih, dw_hh, db_ih, db_hh = _input_gradients(B, ctx, x, w_ih, dgates, h_prev, dgates)
        return dx, dh, dc, dw_ih, dw_hh, db_ih, db_hh


class GRULayer(Function):
    """One GRU layer and direction (PyTorch's formula, b_hn inside r * (...)).
    Returns the hidden states of every step, (T, N, H)."""

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, reverse):
        B = backend()
        T, N, _ = x.shape
        H = h0.shape[1]
        projected = _input_projection(B, x, w_ih, b_ih)
        w_hh_t = _transposed(w_hh)
        out = _buffer(x, (T, N, H), x.dtype)
        acts = _buffer(x, (T, N, 4 * H), x.dtype)
        h = h0
        for t in _steps(T, reverse):
            acts[t], h = B.gru_cell(projected[t], B.add(B.matmul(h, w_hh_t), b_hh), h)
            out[t] = h
        out, acts = _stacked(out), _stacked(acts)
        ctx.save_for_backward(x, h0, w_ih, w_hh, out, acts)
        ctx.reverse = reverse
        return out

    @staticmethod
    def backward(ctx, grad):
        x, h0, w_ih, w_hh, out, acts = ctx.saved_tensors
        B = backend()
        T = x.shape[0]
        reverse = ctx.reverse
        h_prev = _previous(out, h0, reverse)
        d_input = _buffer(grad, (T, h0.shape[0], 3 * h0.shape[1]), x.dtype)
        d_hidden = _buffer(grad, (T, h0.shape[0], 3 * h0.shape[1]), x.dtype)
        dh = _zeros(h0)
        for t in reversed(_steps(T, reverse)):
            d_input[t], d_hidden[t], direct = B.gru_cell_backward(acts[t], h_prev[t], B.add(grad[t], dh))
            dh = B.add(direct, B.matmul(d_hidden[t], w_hh))
        d_input, d_hidden = _stacked(d_input), _stacked(d_hidden)
        dx, dw_ih, dw_hh, db_ih, db_hh = _input_gradients(B, ctx, x, w_ih, d_input, h_prev, d_hidden)
        return dx, dh, dw_ih, dw_hh, db_ih, db_hh


class RNNLayer(Function):
    """One Elman RNN layer and direction: h = act(x W_ih^T + b_ih + h W_hh^T + b_hh),
    act = tanh or relu. Returns the hidden states of every step, (T, N, H)."""

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, reverse, nonlinearity):
        B = backend()
        T, N, _ = x.shape
        projected = _input_projection(B, x, w_ih, B.add(b_ih, b_hh))
        activation = B.tanh if nonlinearity == "tanh" else B.relu
        w_hh_t = _transposed(w_hh)
        out = _buffer(x, (T,) + h0.shape, x.dtype)
        h = h0
        for t in _steps(T, reverse):
            h = out[t] = activation(B.add(projected[t], B.matmul(h, w_hh_t)))
        out = _stacked(out)
        ctx.save_for_backward(x, h0, w_ih, w_hh, out)
        ctx.reverse, ctx.nonlinearity = reverse, nonlinearity
        return out

    @staticmethod
    def backward(ctx, grad):
        x, h0, w_ih, w_hh, out = ctx.saved_tensors
        B = backend()
        T = x.shape[0]
        # relu's derivative from its output: h > 0 exactly where the input was > 0
        derivative = B.tanh_backward if ctx.nonlinearity == "tanh" else B.relu_backward
        d_pre = _buffer(grad, out.shape, x.dtype)
        dh = _zeros(h0)
        for t in reversed(_steps(T, ctx.reverse)):
            d_pre[t] = derivative(out[t], B.add(grad[t], dh))
            dh = B.matmul(d_pre[t], w_hh)
        d_pre = _stacked(d_pre)
        h_prev = _previous(out, h0, ctx.reverse)
        dx, dw_ih, dw_hh, db_ih, db_hh = _input_gradients(B, ctx, x, w_ih, d_pre, h_prev, d_pre)
        return dx, dh, dw_ih, dw_hh, db_ih, db_hh
