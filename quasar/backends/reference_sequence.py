"""The sequence family in plain NumPy: attention's masked softmax and the
LSTM/GRU time-step updates (the contract; ``compiled_sequence.py`` runs the
same functions on ``quasar/_sequence.pxi``).

Written for clarity, sharing no code with the kernels. Gate orders are
PyTorch's: LSTM (i, f, g, o), GRU (r, z, n).
"""

import numpy as np

name = "reference"


# ---------------------------------------------------------------- attention


def attention_softmax(scores, mask, scale, causal):
    """softmax(scale * scores + mask) along the last axis.

    scores: (..., L, S) float. mask: None; bool broadcastable to scores
    (True = attend, False = the score becomes -inf); or float of scores'
    dtype broadcastable to scores (added). causal: key j hidden from query i
    when j > i. A row with every key hidden is NaN. Returns scores' shape.
    """
    z = scores * scores.dtype.type(scale)
    if mask is not None and mask.dtype == np.bool_:
        z = np.where(mask, z, -np.inf)
    elif mask is not None:
        z = z + mask
    if causal:
        L, S = scores.shape[-2:]
        z = np.where(np.tril(np.ones((L, S), dtype=bool)), z, -np.inf)
    with np.errstate(invalid="ignore"):  # all -inf rows: NaN, as documented
        e = np.exp(z - np.max(z, axis=-1, keepdims=True))
        return (e / np.sum(e, axis=-1, keepdims=True)).astype(scores.dtype)


def attention_softmax_backward(probs, grad, scale):
    """dL/dscores = scale * P * (g - sum(g * P)) along the last axis."""
    dot = np.sum(grad * probs, axis=-1, keepdims=True)
    return probs.dtype.type(scale) * (probs * (grad - dot))


# ---------------------------------------------------------------- recurrent cells


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def lstm_cell(x_gates, h_gates, c_prev):
    """One LSTM step after the matrix products.

    x_gates: (B, 4H) the input projection x W_ih^T + b_ih + b_hh; h_gates:
    (B, 4H) the hidden projection h W_hh^T; c_prev: (B, H). Returns (acts, c, h):
    acts (B, 4H) = (i, f, g, o) after their nonlinearities, c = f * c_prev + i * g,
    h = o * tanh(c).
    """
    i, f, g, o = np.split(x_gates + h_gates, 4, axis=1)
    i, f, g, o = _sigmoid(i), _sigmoid(f), np.tanh(g), _sigmoid(o)
    c = f * c_prev + i * g
    return np.concatenate([i, f, g, o], axis=1), c, o * np.tanh(c)


def lstm_cell_backward(acts, c_prev, c, dh, dc):
    """Backward of lstm_cell. dh, dc: dL/dh and dL/dc of this step (B, H).
    Returns (dgates (B, 4H) w.r.t. the pre-activations, dc_prev (B, H))."""
    i, f, g, o = np.split(acts, 4, axis=1)
    tanh_c = np.tanh(c)
    dc = dc + dh * o * (1 - tanh_c**2)
    dgates = np.concatenate(
        [dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g**2), dh * tanh_c * o * (1 - o)], axis=1
    )
    return dgates, dc * f


def gru_cell(gi, gh, h_prev):
    """One GRU step after the matrix products, PyTorch's formula.

    gi = x W_ih^T + b_ih, gh = h W_hh^T + b_hh: (B, 3H); h_prev: (B, H).
    r = sigmoid(gi_r + gh_r); z = sigmoid(gi_z + gh_z); n = tanh(gi_n + r * gh_n);
    h = (1 - z) * n + z * h_prev. Returns (acts (B, 4H) = (r, z, n, gh_n), h).
    """
    gi_r, gi_z, gi_n = np.split(gi, 3, axis=1)
    gh_r, gh_z, gh_n = np.split(gh, 3, axis=1)
    r, z = _sigmoid(gi_r + gh_r), _sigmoid(gi_z + gh_z)
    n = np.tanh(gi_n + r * gh_n)
    return np.concatenate([r, z, n, gh_n], axis=1), (1 - z) * n + z * h_prev


def gru_cell_backward(acts, h_prev, dh):
    """Backward of gru_cell. dh: dL/dh of this step (B, H). Returns
    (dgi, dgh (B, 3H), dh_direct (B, H)): dL/dh_prev is dh_direct + dgh @ W_hh."""
    r, z, n, gh_n = np.split(acts, 4, axis=1)
    dn = dh * (1 - z) * (1 - n**2)
    dz = dh * (h_prev - n) * z * (1 - z)
    dr = dn * gh_n * r * (1 - r)
    return np.concatenate([dr, dz, dn], axis=1), np.concatenate([dr, dz, dn * r], axis=1), dh * z
