"""``MultiheadAttention``: PyTorch's module, its parameter names and its masks.

Parameters (an interface: state dicts travel by these names):
``in_proj_weight`` (3E, E) and ``in_proj_bias`` (3E,) hold the query, key
and value projections stacked, or, when kdim/vdim differ from embed_dim,
``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim), ``v_proj_weight``
(E, vdim); ``out_proj`` is a Linear(E, E). Initialisation as PyTorch's:
xavier-uniform projection weights, zero biases.

Masks follow PyTorch's meaning for this module: a *bool* ``attn_mask`` or
``key_padding_mask`` is True where attention is NOT allowed; a float one is
added to the scores. (``F.scaled_dot_product_attention``'s bool masks mean
the opposite: True = attend.)
"""

import numpy as np

from .. import ops
from ..ops.attention import attention
from ..tensor import Tensor
from . import init
from .layers import Linear, _float_dtype
from .module import Module, Parameter


class MultiheadAttention(Module):
    """Attention from num_heads heads of embed_dim // num_heads features each.

    forward(query, key, value, key_padding_mask=None, need_weights=True,
    attn_mask=None, average_attn_weights=True, is_causal=False) ->
    (output, weights or None). Shapes with batch_first=False: query (L, N, E),
    key (S, N, kdim), value (S, N, vdim) -> output (L, N, E); batch_first:
    (N, L, E) ...; unbatched: (L, E) ... Weights (N, L, S) averaged over heads,
    or (N, num_heads, L, S). attn_mask: (L, S) or (N * num_heads, L, S);
    key_padding_mask: (N, S).
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, dtype=None):
        super().__init__()
        for name, n in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"MultiheadAttention: {name} must be a positive int, got {n!r}")
        if embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim {embed_dim} is not divisible by num_heads {num_heads}"
            )
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not supported")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1], got {dropout!r}")
        dtype = _float_dtype(dtype)
        self.embed_dim, self.num_heads, self.dropout = int(embed_dim), int(num_heads), dropout
        self.head_dim = self.embed_dim // self.num_heads
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.batch_first = batch_first
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * E, E), dtype))
            self.q_proj_weight = self.k_proj_weight = self.v_proj_weight = None
        else:
            self.q_proj_weight = Parameter(np.empty((E, E), dtype))
            self.k_proj_weight = Parameter(np.empty((E, self.kdim), dtype))
            self.v_proj_weight = Parameter(np.empty((E, self.vdim), dtype))
            self.in_proj_weight = None
        self.in_proj_bias = Parameter(np.zeros(3 * E, dtype)) if bias else None
        self.out_proj = Linear(E, E, bias=bias, dtype=dtype)
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for weight in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _projections(self):
        """(weight, bias) of the query, key and value projections."""
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            weights = (w[:E], w[E : 2 * E], w[2 * E :])
        else:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        b = self.in_proj_bias
        biases = (None, None, None) if b is None else (b[:E], b[E : 2 * E], b[2 * E :])
        return zip(weights, biases)

    def _check_inputs(self, query, key, value):
        name = "MultiheadAttention"
        for label, t, width in (("query", query, self.embed_dim), ("key", key, self.kdim), ("value", value, self.vdim)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{name}: {label} must be a Tensor, got {type(t).__name__}")
            if t.dtype.kind != "f":
                raise TypeError(f"{name}: {label} must be float32 or float64, got {t.dtype} (shape {t.shape})")
            if t.ndim not in (2, 3) or t.ndim != query.ndim:
                raise ValueError(
                    f"{name}: query, key and value must all be 3-D (batched) or 2-D (unbatched), got shapes "
                    f"{query.shape}, {key.shape}, {value.shape}"
                )
            if t.shape[-1] != width:
                raise ValueError(f"{name}: {label} of shape {t.shape} must end in {width} features")
        length_dim = 1 if (self.batch_first and query.ndim == 3) else 0
        batch_dim = 1 - length_dim
        if key.shape[:-1] != value.shape[:-1] or (query.ndim == 3 and query.shape[batch_dim] != key.shape[batch_dim]):
            raise ValueError(
                f"{name}: query {query.shape}, key {key.shape} and value {value.shape} disagree in batch size "
                f"or key/value length (batch_first={self.batch_first})"
            )
        if key.shape[length_dim] == 0:
            raise ValueError(f"{name}: key and value have length 0 (shape {key.shape}): nothing to attend to")

    def _additive_mask(self, attn_mask, key_padding_mask, N, L, S, dtype):
        """Both masks as one float array broadcastable to (N, heads, L, S), or None."""
        name = "MultiheadAttention"
        total = None
        for label, mask, shapes in (
            ("attn_mask", attn_mask, {(L, S): (1, 1, L, S), (N * self.num_heads, L, S): (N, self.num_heads, L, S)}),
            ("key_padding_mask", key_padding_mask, {(N, S): (N, 1, 1, S)}),
        ):
            if mask is None:
                continue
            array = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
            if label == "key_padding_mask" and N == 1 and array.shape == (S,):
                array = array[None]  # unbatched
            if array.shape not in shapes:
                raise ValueError(
                    f"{name}: {label} must have shape {' or '.join(map(str, shapes))}, got {array.shape}"
                )
            if array.dtype == np.bool_:
                array = np.where(array, dtype.type(-np.inf), dtype.type(0))  # True = not allowed
            elif array.dtype.kind == "f":
                array = array.astype(dtype, copy=False)
            else:
                raise TypeError(f"{name}: {label} must be bool (True = masked) or float, got dtype {array.dtype}")
            array = array.reshape(shapes[array.shape])
            total = array if total is None else total + array
        return total

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        self._check_inputs(query, key, value)
        if is_causal and attn_mask is None:
            raise ValueError("MultiheadAttention: is_causal=True is a hint; it needs the causal attn_mask too")
        batched = query.ndim == 3
        if not batched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        elif self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        # now (length, N, features), PyTorch's native layout
        L, N, E = query.shape
        S = key.shape[0]
        heads, head_dim = self.num_heads, self.head_dim
        mask = self._additive_mask(attn_mask, key_padding_mask, N, L, S, query.dtype)
        projected = []
        for x, (weight, bias), length in zip((query, key, value), self._projections(), (L, S, S)):
            y = ops.linear(x, weight, bias)  # (length, N, E)
            projected.append(y.reshape(length, N * heads, head_dim).transpose(0, 1).reshape(N, heads, length, head_dim))
        q, k, v = projected
        dropout_p = self.dropout if self.training else 0.0
        out, weights = attention(q, k, v, mask, dropout_p)
        out = out.permute(2, 0, 1, 3).reshape(L, N, E)  # (L, N, heads, head_dim) -> (L, N, E)
        out = self.out_proj(out)
        if not batched:
            out = out.squeeze(1)
        elif self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not batched:
            weights = weights.squeeze(0)
        return out, weights

    def extra_repr(self):
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"
