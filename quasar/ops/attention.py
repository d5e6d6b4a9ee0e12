"""Attention: ``scaled_dot_product_attention`` and the fused masked softmax under it.

    scores = q @ k^T                             (BLAS, batched)
    P = softmax(scale * scores + mask)           (one kernel pass per row)
    out = dropout(P) @ v                         (BLAS, batched)

Only the middle step is a Function of its own (``AttentionSoftmax``): its
forward fuses the scaling, the mask (boolean, additive or causal) and the
softmax; its backward, ``scale * P * (dP - sum(dP * P))``, is one pass per
row as well. The products' gradients come from ``matmul``.
"""

import math

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from .common import FLOATS, backend, broadcast_shape, require_float
from .linalg import matmul
from .loss import dropout
from .shape import transpose


class AttentionSoftmax(Function):
    """P = softmax(scale * scores + mask) along the last axis; mask (an array
    option, no gradient) is None, bool (True = attend) or additive float."""

    @staticmethod
    def forward(ctx, scores, mask, scale, causal):
        probs = backend().attention_softmax(scores, mask, scale, causal)
        ctx.save_for_backward(probs)
        ctx.scale = scale
        return probs

    @staticmethod
    def backward(ctx, grad):
        (probs,) = ctx.saved_tensors
        return backend().attention_softmax_backward(probs, grad, ctx.scale)


def _check_attention(op, query, key, value, attn_mask, is_causal):
    """Validate SDPA's operands; returns the mask as an array (or None)."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
        if t.ndim < 2:
            raise ValueError(f"{op}: {name} must have at least 2 dims (..., length, features), got shape {t.shape}")
    require_float(op, query, key, value)
    if not query.dtype == key.dtype == value.dtype:
        raise TypeError(
            f"{op}: query, key and value must have one dtype, got {query.dtype}, {key.dtype} and {value.dtype}"
        )
    if key.shape[-1] != query.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(
            f"{op}: expected query (..., L, E), key (..., S, E), value (..., S, Ev); got shapes "
            f"{query.shape}, {key.shape}, {value.shape}"
        )
    if key.shape[-2] == 0:
        raise ValueError(f"{op}: key and value have length 0 (shape {key.shape}): there is nothing to attend to")
    batch = broadcast_shape(op, query.shape[:-2], key.shape[:-2], value.shape[:-2])
    if attn_mask is None:
        return None
    if is_causal:
        raise ValueError(f"{op}: give either attn_mask or is_causal=True, not both")
    mask = attn_mask.array if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
    if isinstance(attn_mask, Tensor) and attn_mask.requires_grad:
        raise ValueError(f"{op}: attn_mask must not require grad (quasar does not differentiate masks)")
    if mask.dtype != np.bool_ and mask.dtype != query.dtype:
        kind = "a float mask of another precision" if mask.dtype in FLOATS else f"dtype {mask.dtype}"
        raise TypeError(
            f"{op}: attn_mask must be bool (True = attend) or {query.dtype} (added to the scores), "
            f"got {kind}"
        )
    scores_shape = batch + (query.shape[-2], key.shape[-2])
    try:
        fits = broadcast_shape(op, mask.shape, scores_shape) == scores_shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{op}: attn_mask of shape {mask.shape} does not broadcast to the attention scores' shape "
            f"{scores_shape} (batch..., L, S)"
        )
    return mask


def attention(query, key, value, mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """(output, P): scaled dot-product attention and the attention weights it
    used (after dropout). Arguments as ``scaled_dot_product_attention``, the
    mask already an array (see ``_check_attention``)."""
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1]) if query.shape[-1] else 1.0
    scores = matmul(query, transpose(key, -2, -1))
    probs = AttentionSoftmax.apply(scores, mask=mask, scale=float(scale), causal=bool(is_causal))
    if dropout_p > 0:
        probs = dropout(probs, dropout_p)
    return matmul(probs, value), probs


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """softmax(query @ key^T * scale + mask) @ value, PyTorch's function.

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); the
    batch dims (..., e.g. batch and heads) broadcast. attn_mask: bool (True =
    take part in attention) or a float mask added to the scores, broadcastable
    to (..., L, S). is_causal: query i sees keys 0..i (not with attn_mask).
    scale: 1/sqrt(E) by default. dropout_p: dropout on the attention weights
    (applied whenever > 0, as in PyTorch: pass 0.0 when evaluating).
    A query that every key is masked out of gives NaN, as in PyTorch's math path.
    """
    if isinstance(dropout_p, bool) or not isinstance(dropout_p, (int, float)) or not 0 <= dropout_p <= 1:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1], got {dropout_p!r}")
    mask = _check_attention("scaled_dot_product_attention", query, key, value, attn_mask, is_causal)
    return attention(query, key, value, mask, dropout_p, is_causal, scale)[0]
