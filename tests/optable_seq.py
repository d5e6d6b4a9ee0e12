"""The op table of the sequence family: attention, the recurrent layers and
cells, the transformer encoder layer, in the format of tests/optable.py.

Modules enter through ``with_weights``: the module is built in the inputs'
dtype and its parameters replaced by the case's tensors, so finite
differences and the backend comparison see every weight's gradient. Masks
are fixed arrays (they take no gradient) with at least one visible key per
query (a fully masked row is NaN by definition).
"""

import numpy as np
from optable import case, normal, strided, transposed

import quasar as qs
import quasar.nn.functional as F
from quasar import nn

BOOL_MASK = np.array([[True, False, True, True, False], [False, True, True, False, True],
                      [True, True, False, False, False]])  # (L=3, S=5), True = attend
FLOAT_MASK = np.array([[0.0, -1.5, 0.3, -np.inf, 2.0], [1.0, 0.0, -0.7, 0.2, -np.inf],
                       [-np.inf, 0.5, 0.0, 1.2, -0.4]])
PADDING = np.array([[False, False, False, True, True], [False, False, False, False, False]])  # (N=2, S=5)


def with_weights(module, names, tensors, *args, **kwargs):
    """module(*args, **kwargs) with the parameters ``names`` (dotted) replaced by ``tensors``."""
    for name, tensor in zip(names, tensors):
        *path, leaf = name.split(".")
        owner = module
        for part in path:
            owner = getattr(owner, part)
        object.__setattr__(owner, leaf, tensor)
    return module(*args, **kwargs)


def flat(*tensors):
    """Several outputs as one tensor (the op table's functions return one)."""
    return qs.cat([t.reshape(-1) for t in tensors])


def sdpa(**options):
    return lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **options)


def sdpa_dropout(q, k, v):
    qs.manual_seed(99)  # the same dropout mask on every call
    return F.scaled_dot_product_attention(q, k, v, dropout_p=0.4)


def mha_dropout_training(q, k, v, *weights):
    qs.manual_seed(99)
    module = nn.MultiheadAttention(4, 2, dropout=0.3, dtype=q.dtype)  # training mode: dropout is on
    return with_weights(module, [n for n, _ in weight_shapes(module)], weights, q, k, v, need_weights=False)[0]


def sdpa_float_mask(q, k, v):
    return F.scaled_dot_product_attention(q, k, v, attn_mask=qs.tensor(FLOAT_MASK.astype(q.dtype)))


def qkv(batch_q, batch_k, L=3, S=5, E=4, Ev=3):
    return case(normal(batch_q + (L, E)), normal(batch_k + (S, E)), normal(batch_k + (S, Ev)))


def weight_shapes(module):
    return [(name, p.shape) for name, p in module.named_parameters()]


def module_case(module, *leading):
    """Inputs: the ``leading`` makers, then every parameter of the module."""
    return case(*leading, *[normal(shape) for _, shape in weight_shapes(module)])


def recurrent(make, *state_names):
    """fn(x, states..., weights...) for a module made by make(dtype): the output and final states, flattened."""
    names = [name for name, _ in weight_shapes(make(np.float64))]

    def fn(x, *rest):
        states, weights = rest[: len(state_names)], rest[len(state_names) :]
        module = make(x.dtype)
        hx = None if not states else (tuple(states) if len(states) == 2 else states[0])
        output, final = with_weights(module, names, weights, x, hx)
        return flat(output, *(final if isinstance(final, tuple) else (final,)))

    return fn


def lstm2(dtype):
    return nn.LSTM(2, 2, num_layers=2, bidirectional=True, dtype=dtype)


def lstm1(dtype):
    return nn.LSTM(2, 3, batch_first=True, bias=False, dtype=dtype)


def gru2(dtype):
    return nn.GRU(2, 2, num_layers=2, bidirectional=True, batch_first=True, dtype=dtype)


def rnn_relu(dtype):
    return nn.RNN(2, 3, nonlinearity="relu", bias=False, dtype=dtype)


def rnn_tanh(dtype):
    return nn.RNN(2, 3, num_layers=2, dtype=dtype)


def cell(make):
    names = [name for name, _ in weight_shapes(make(np.float64))]

    def fn(x, h, *rest):
        module = make(x.dtype)
        lstm = isinstance(module, nn.LSTMCell)
        hx = (h, rest[0]) if lstm else h
        result = with_weights(module, names, rest[1:] if lstm else rest, x, hx)
        return flat(*result) if lstm else result

    return fn


CONSTRUCTOR_OPTIONS = ("kdim", "vdim", "batch_first", "bias")


def mha(**options):
    """(fn, module): fn(q, k, v, *weights) calls MultiheadAttention(4, 2) with options."""
    built = {k: v for k, v in options.items() if k in CONSTRUCTOR_OPTIONS}
    call = {k: v for k, v in options.items() if k not in CONSTRUCTOR_OPTIONS}

    def make(dtype):
        return nn.MultiheadAttention(4, 2, dtype=dtype, **built)

    names = [name for name, _ in weight_shapes(make(np.float64))]

    def fn(q, k, v, *weights):
        masks = {key: (qs.tensor(value.astype(q.dtype)) if value.dtype.kind == "f" else qs.tensor(value))
                 for key, value in call.items() if isinstance(value, np.ndarray)}
        flags = {key: value for key, value in call.items() if not isinstance(value, np.ndarray)}
        out, weights_out = with_weights(make(q.dtype), names, weights, q, k, v, **masks, **flags)
        return out if weights_out is None else flat(out, weights_out)

    return fn, make(np.float64)


def encoder_layer(**options):
    def fn(x):
        qs.manual_seed(7)  # the same weights on every call (finite differences, both backends)
        layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, dtype=x.dtype, **options)
        return layer(x, src_mask=qs.tensor(~BOOL_MASK[:, :3]))

    return fn


MHA_SELF, MHA_SELF_MODULE = mha(key_padding_mask=PADDING, batch_first=True)
MHA_MASKED, MHA_MASKED_MODULE = mha(attn_mask=FLOAT_MASK, average_attn_weights=False)
MHA_KV, MHA_KV_MODULE = mha(kdim=3, vdim=2, need_weights=False)


def mha_inputs(module, q, k, v):
    return module_case(module, normal(q), normal(k), normal(v))


OPS = [
    # ------------------------------------------------------------ attention
    dict(name="scaled_dot_product_attention", fn=sdpa(), cases=[
        qkv((), ()), qkv((2,), (2,)), qkv((2, 1), (1, 2)), qkv((2,), (2,), L=1, S=1),
        case(transposed((3, 4)), strided((5, 4)), normal((5, 2))),
        qkv((2,), (2,), L=0),
    ]),
    dict(name="sdpa causal", fn=sdpa(is_causal=True), cases=[qkv((2, 2), (2, 2)), qkv((), (), L=5, S=3)]),
    dict(name="sdpa bool mask", fn=sdpa(attn_mask=qs.tensor(BOOL_MASK)), cases=[qkv((2,), (2,)), qkv((), ())]),
    dict(name="sdpa float mask", fn=sdpa_float_mask, cases=[qkv((2, 3), (1, 3))]),
    dict(name="sdpa scale", fn=sdpa(scale=0.3), cases=[qkv((2,), (2,))]),
    dict(name="sdpa dropout", fn=sdpa_dropout, cases=[qkv((2,), (2,))]),
    dict(name="MultiheadAttention dropout", fn=mha_dropout_training,
         cases=[mha_inputs(nn.MultiheadAttention(4, 2), (3, 2, 4), (5, 2, 4), (5, 2, 4))]),
    dict(name="MultiheadAttention key_padding_mask", fn=MHA_SELF,
         cases=[mha_inputs(MHA_SELF_MODULE, (2, 3, 4), (2, 5, 4), (2, 5, 4))]),
    dict(name="MultiheadAttention attn_mask per head", fn=MHA_MASKED,
         cases=[mha_inputs(MHA_MASKED_MODULE, (3, 2, 4), (5, 2, 4), (5, 2, 4)),
                mha_inputs(MHA_MASKED_MODULE, (3, 4), (5, 4), (5, 4))]),
    dict(name="MultiheadAttention kdim vdim", fn=MHA_KV,
         cases=[mha_inputs(MHA_KV_MODULE, (3, 2, 4), (5, 2, 3), (5, 2, 2))]),
    dict(name="TransformerEncoderLayer", fn=encoder_layer(batch_first=True), cases=[case(normal((2, 3, 4)))]),
    dict(name="TransformerEncoderLayer norm_first gelu", fn=encoder_layer(norm_first=True, activation="gelu"),
         cases=[case(normal((3, 2, 4))), case(normal((3, 4)))]),
    # ------------------------------------------------------------ recurrent
    dict(name="LSTM 2 layers bidirectional", fn=recurrent(lstm2, "h0", "c0"),
         cases=[module_case(lstm2(np.float64), normal((3, 2, 2)), normal((4, 2, 2)), normal((4, 2, 2))),
                module_case(lstm2(np.float64), normal((2, 2)), normal((4, 2)), normal((4, 2)))]),
    dict(name="LSTM zero state no bias", fn=recurrent(lstm1),
         cases=[module_case(lstm1(np.float64), normal((2, 3, 2))), module_case(lstm1(np.float64), normal((1, 1, 2)))]),
    dict(name="GRU 2 layers bidirectional batch_first", fn=recurrent(gru2, "h0"),
         cases=[module_case(gru2(np.float64), normal((2, 3, 2)), normal((4, 2, 2))),
                module_case(gru2(np.float64), transposed((2, 3, 2)), normal((4, 2, 2)))]),
    dict(name="RNN relu no bias", fn=recurrent(rnn_relu, "h0"),
         cases=[module_case(rnn_relu(np.float64), normal((3, 2, 2), low=0.1), normal((1, 2, 3), low=0.1))]),
    dict(name="RNN tanh 2 layers", fn=recurrent(rnn_tanh),
         cases=[module_case(rnn_tanh(np.float64), normal((3, 2, 2)))]),
    dict(name="LSTMCell", fn=cell(lambda d: nn.LSTMCell(2, 3, dtype=d)),
         cases=[module_case(nn.LSTMCell(2, 3), normal((4, 2)), normal((4, 3)), normal((4, 3))),
                module_case(nn.LSTMCell(2, 3), normal((2,)), normal((3,)), normal((3,)))]),
    dict(name="GRUCell", fn=cell(lambda d: nn.GRUCell(2, 3, dtype=d)),
         cases=[module_case(nn.GRUCell(2, 3), normal((4, 2)), normal((4, 3)))]),
    dict(name="RNNCell", fn=cell(lambda d: nn.RNNCell(2, 3, dtype=d)),
         cases=[module_case(nn.RNNCell(2, 3), normal((4, 2)), normal((4, 3)))]),
    dict(name="pad_sequence", fn=lambda a, b: nn.utils.rnn.pad_sequence([a, b], batch_first=True),
         cases=[case(normal((3, 2)), normal((1, 2))), case(normal((2,)), normal((4,)))]),
]
