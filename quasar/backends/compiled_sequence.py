"""The sequence family on the Cython kernels of ``quasar/_sequence.pxi`` (in the ``quasar._kernels`` module).

Exactly the names, arguments and results of ``reference_sequence.py`` (read
its docstring for the contract). The wrappers shape the data for the
kernels: attention's scores as (N, L, S) with a per-pair offset into a
compact mask, a time step's arrays as C-contiguous (B, k*H) blocks.
"""

import numpy as np

from .. import _kernels as _k  # the _sequence.pxi family
from ..parallel import _settings
from ..parallel import threads_for as _threads_for

name = "compiled"

_NO_MASK, _BOOL_MASK, _FLOAT_MASK = (int(_k.MaskKind[n]) for n in ("NO_MASK", "BOOL_MASK", "FLOAT_MASK"))
_LSTM_FORWARD, _LSTM_BACKWARD, _GRU_FORWARD, _GRU_BACKWARD = (
    int(_k.CellOp[n]) for n in ("LSTM_FORWARD", "LSTM_BACKWARD", "GRU_FORWARD", "GRU_BACKWARD"))


def _compact_mask(mask, batch_shape, L, S):
    """The mask as a C-contiguous (M, L, S) block without its broadcast batch
    copies, and for each of the prod(batch_shape) (L, S) problems the element
    offset of its mask in that block."""
    mask = mask.reshape((1,) * (len(batch_shape) + 2 - mask.ndim) + mask.shape)
    own_batch = mask.shape[:-2]  # the mask's own batch dims (1 where it broadcasts)
    block = np.ascontiguousarray(np.broadcast_to(mask, own_batch + (L, S)))
    index = np.arange(int(np.prod(own_batch)), dtype=np.int64).reshape(own_batch)
    offsets = np.ascontiguousarray(np.broadcast_to(index, batch_shape)).reshape(-1) * (L * S)
    return block, offsets


def attention_softmax(scores, mask, scale, causal):
    """softmax(scale * scores + mask) along the last axis, in one pass per row
    (see reference_sequence.attention_softmax)."""
    batch_shape, (L, S) = scores.shape[:-2], scores.shape[-2:]
    flat = scores.reshape((int(np.prod(batch_shape)), L, S))
    if mask is None:
        kind, block, offsets = _NO_MASK, None, None
    else:
        kind = _BOOL_MASK if mask.dtype == np.bool_ else _FLOAT_MASK
        block, offsets = _compact_mask(mask, batch_shape, L, S)
    out = _k.attention_softmax(flat, block, kind, offsets, scale, causal, _settings.threshold, _threads_for)
    return out.reshape(scores.shape)


def attention_softmax_backward(probs, grad, scale):
    """dL/dscores = scale * P * (g - sum(g * P)) along the last axis."""
    return _k.attention_softmax_backward(probs, grad, scale, _settings.threshold, _threads_for)


def _empty(like, width):
    return np.empty((like.shape[0], width), like.dtype)


def lstm_cell(x_gates, h_gates, c_prev):
    """One LSTM step after the matrix products (see reference_sequence.lstm_cell)."""
    x_gates, h_gates, c_prev = (np.ascontiguousarray(a) for a in (x_gates, h_gates, c_prev))
    H = c_prev.shape[1]
    acts, c, h = _empty(c_prev, 4 * H), _empty(c_prev, H), _empty(c_prev, H)
    _k.cell(_LSTM_FORWARD, (x_gates, h_gates, c_prev, acts, c, h), _settings.threshold, _threads_for)
    return acts, c, h


def lstm_cell_backward(acts, c_prev, c, dh, dc):
    """Backward of lstm_cell: (dgates, dc_prev)."""
    dc = np.array(dc, order="C")  # updated in place into dc_prev
    dgates = _empty(acts, acts.shape[1])
    arrays = tuple(np.ascontiguousarray(a) for a in (acts, c_prev, c, dh)) + (dc, dgates)
    _k.cell(_LSTM_BACKWARD, arrays, _settings.threshold, _threads_for)
    return dgates, dc


def gru_cell(gi, gh, h_prev):
    """One GRU step after the matrix products (see reference_sequence.gru_cell)."""
    gi, gh, h_prev = (np.ascontiguousarray(a) for a in (gi, gh, h_prev))
    H = h_prev.shape[1]
    acts, h = _empty(h_prev, 4 * H), _empty(h_prev, H)
    _k.cell(_GRU_FORWARD, (gi, gh, h_prev, acts, h), _settings.threshold, _threads_for)
    return acts, h


def gru_cell_backward(acts, h_prev, dh):
    """Backward of gru_cell: (dgi, dgh, dh_direct)."""
    acts, h_prev, dh = (np.ascontiguousarray(a) for a in (acts, h_prev, dh))
    H = h_prev.shape[1]
    dgi, dgh, dh_direct = _empty(h_prev, 3 * H), _empty(h_prev, 3 * H), _empty(h_prev, H)
    _k.cell(_GRU_BACKWARD, (acts, h_prev, dh, dgi, dgh, dh_direct), _settings.threshold, _threads_for)
    return dgi, dgh, dh_direct
