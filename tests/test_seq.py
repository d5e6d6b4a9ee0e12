"""Recurrent layers, attention and the transformer encoder: hand-checked
steps, PyTorch's parameter names and layouts, equivalences between the
modules and the plain formulas, state-dict round trips, and bad input.
(Gradients: the op table, tests/optable_seq.py.)"""

import math

import numpy as np
import pytest

import quasar as qs
import quasar.nn.functional as F
from quasar import nn


def set_weights(module, **arrays):
    for name, value in arrays.items():
        getattr(module, name).array[...] = value


# ---------------------------------------------------------------- hand-checked steps


def test_one_lstm_step_by_hand():
    # input_size = hidden_size = 1, x = 1, h0 = 0.5, c0 = -1, biases 0; gates (i, f, g, o):
    #   pre = W_ih * 1 + W_hh * 0.5 = (0.55, -0.4, 0.85, 0.45)
    #   i = sigmoid(0.55) = 0.634136, f = sigmoid(-0.4) = 0.401312, g = tanh(0.85) = 0.691069,
    #   o = sigmoid(0.45) = 0.610639;  c = f * -1 + i * g = 0.036919;  h = o * tanh(c) = 0.022534
    for cell in (nn.LSTMCell(1, 1, dtype=qs.float64), nn.LSTM(1, 1, dtype=qs.float64)):
        suffix = "" if isinstance(cell, nn.LSTMCell) else "_l0"
        set_weights(cell, **{"weight_ih" + suffix: [[0.5], [-0.5], [1.0], [0.25]],
                             "weight_hh" + suffix: [[0.1], [0.2], [-0.3], [0.4]],
                             "bias_ih" + suffix: 0, "bias_hh" + suffix: 0})
        x = qs.tensor([[1.0]], dtype=qs.float64)
        state = (qs.tensor([[0.5]], dtype=qs.float64), qs.tensor([[-1.0]], dtype=qs.float64))
        if isinstance(cell, nn.LSTMCell):
            h, c = cell(x, state)
        else:
            _, (h, c) = cell(x[None], (state[0][None], state[1][None]))
        assert math.isclose(c.item(), 0.03691940679447814, rel_tol=1e-12)
        assert math.isclose(h.item(), 0.022534200854514384, rel_tol=1e-12)


def test_one_gru_step_by_hand():
    # gates (r, z, n): W_ih = (0.5, -0.5, 1.0), W_hh = (0.1, 0.2, -0.3), b_ih = (0, 0, 0.1),
    # b_hh = (0, 0, 0.2), x = 1, h0 = 0.5:
    #   r = sigmoid(0.5 + 0.05) = 0.634136, z = sigmoid(-0.5 + 0.1) = 0.401312,
    #   n = tanh(1.0 + 0.1 + r * (-0.15 + 0.2)) = 0.811603 (b_hn inside r * (...), as PyTorch),
    #   h = (1 - z) * n + z * 0.5 = 0.686553
    cell = nn.GRUCell(1, 1, dtype=qs.float64)
    set_weights(cell, weight_ih=[[0.5], [-0.5], [1.0]], weight_hh=[[0.1], [0.2], [-0.3]],
                bias_ih=[0, 0, 0.1], bias_hh=[0, 0, 0.2])
    h = cell(qs.tensor([1.0], dtype=qs.float64), qs.tensor([0.5], dtype=qs.float64))
    assert h.shape == (1,) and math.isclose(h.item(), 0.6865526288070034, rel_tol=1e-12)


# ---------------------------------------------------------------- PyTorch's names, layouts and init


def test_lstm_parameter_names_shapes_and_init():
    lstm = nn.LSTM(5, 3, num_layers=2, bidirectional=True)
    shapes = {name: p.shape for name, p in lstm.named_parameters()}
    assert list(shapes)[:8] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l0_reverse",
                                "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse"]
    assert shapes["weight_ih_l0"] == (12, 5) and shapes["weight_hh_l0"] == (12, 3)
    assert shapes["weight_ih_l1_reverse"] == (12, 6) and shapes["bias_hh_l1"] == (12,)
    assert len(shapes) == 16
    bound = 1 / math.sqrt(3)
    assert all(np.abs(p.array).max() <= bound for p in lstm.parameters())
    assert nn.GRU(4, 2, bias=False).state_dict().keys() == {"weight_ih_l0", "weight_hh_l0"}
    assert nn.GRU(4, 2).weight_ih_l0.shape == (6, 4) and nn.RNN(4, 2).weight_hh_l0.shape == (2, 2)
    assert [n for n, _ in nn.LSTMCell(2, 3).named_parameters()] == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]


def test_multihead_attention_parameters_and_init():
    mha = nn.MultiheadAttention(8, 2)
    assert [(n, p.shape) for n, p in mha.named_parameters()] == [
        ("in_proj_weight", (24, 8)), ("in_proj_bias", (24,)), ("out_proj.weight", (8, 8)), ("out_proj.bias", (8,))]
    assert not mha.in_proj_bias.array.any() and not mha.out_proj.bias.array.any()
    assert np.abs(mha.in_proj_weight.array).max() <= math.sqrt(6 / (24 + 8))  # xavier-uniform
    kv = nn.MultiheadAttention(8, 2, kdim=3, vdim=5, bias=False)
    assert [(n, p.shape) for n, p in kv.named_parameters()] == [
        ("q_proj_weight", (8, 8)), ("k_proj_weight", (8, 3)), ("v_proj_weight", (8, 5)), ("out_proj.weight", (8, 8))]


def test_transformer_encoder_names_and_independent_layers():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    assert [n for n, _ in layer.named_parameters()] == [
        "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
        "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
        "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"]
    encoder = nn.TransformerEncoder(layer, num_layers=3, norm=nn.LayerNorm(8))
    params = list(encoder.parameters())
    assert len(params) == 3 * 12 + 2 and len({id(p) for p in params}) == len(params)
    assert "layers.2.linear2.bias" in encoder.state_dict()
    assert encoder.layers[0].linear1.weight is not encoder.layers[1].linear1.weight


@pytest.mark.parametrize("make, args", [
    (lambda: nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True), (2, 5, 3)),
    (lambda: nn.GRU(3, 4, num_layers=2), (5, 2, 3)),
    (lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0), 2), (5, 2, 8)),
    (lambda: nn.MultiheadAttention(8, 4), None),
], ids=["lstm", "gru", "encoder", "mha"])
def test_state_dict_round_trip(make, args, tmp_path):
    qs.manual_seed(1)
    source = make()
    qs.manual_seed(2)
    target = make()
    qs.save(source.state_dict(), tmp_path / "model.npz")
    target.load_state_dict(qs.load(tmp_path / "model.npz"))
    x = qs.randn(*(args or (5, 2, 8)))
    run = (lambda m: m(x, x, x)[0]) if args is None else (lambda m: m(x)[0] if isinstance(m(x), tuple) else m(x))
    np.testing.assert_array_equal(run(source.eval()).array, run(target.eval()).array)


# ---------------------------------------------------------------- what the modules compute


def test_lstm_equals_its_cells_and_h_n_orders_layers_and_directions():
    qs.manual_seed(0)
    lstm = nn.LSTM(3, 4, bidirectional=True, dtype=qs.float64)
    x = qs.randn(5, 2, 3).double()
    output, (h_n, c_n) = lstm(x)
    assert output.shape == (5, 2, 8) and h_n.shape == c_n.shape == (2, 2, 4)
    for direction, steps in ((0, range(5)), (1, range(4, -1, -1))):
        cell = nn.LSTMCell(3, 4, dtype=qs.float64)
        suffix = "_l0" + ("_reverse" if direction else "")
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).array[...] = getattr(lstm, name + suffix).array
        h = c = qs.zeros(2, 4).double()
        for t in steps:
            h, c = cell(x[t], (h, c))
            np.testing.assert_allclose(output[t, :, 4 * direction : 4 * direction + 4].array, h.array, rtol=1e-12)
        np.testing.assert_allclose(h_n[direction].array, h.array, rtol=1e-12)
        np.testing.assert_allclose(c_n[direction].array, c.array, rtol=1e-12)


def test_batch_first_and_unbatched_agree_with_the_default_layout():
    qs.manual_seed(0)
    gru = nn.GRU(3, 4, num_layers=2)
    x = qs.randn(6, 2, 3)
    out, h_n = gru(x)
    gru.batch_first = True
    out_bf, h_n_bf = gru(x.transpose(0, 1))
    np.testing.assert_allclose(out_bf.transpose(0, 1).array, out.array, rtol=1e-6)
    np.testing.assert_allclose(h_n_bf.array, h_n.array, rtol=1e-6)  # h_n is never batch-first
    single, h_single = gru(x[:, 0])  # unbatched: (T, I)
    assert single.shape == (6, 4) and h_single.shape == (2, 4)
    np.testing.assert_allclose(single.array, out[:, 0].array, rtol=1e-5, atol=1e-6)


def test_an_empty_batch_gives_empty_outputs_and_gradients():
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    x = qs.randn(5, 0, 3).requires_grad_()
    output, (h_n, c_n) = lstm(x)
    assert output.shape == (5, 0, 8) and h_n.shape == c_n.shape == (4, 0, 4)
    (output.sum() + h_n.sum()).backward()
    assert x.grad.shape == (5, 0, 3) and not lstm.weight_hh_l1.grad.array.any()
    assert "RNN(2, 3, nonlinearity=relu, bidirectional=True)" == repr(nn.RNN(2, 3, nonlinearity="relu",
                                                                        bidirectional=True))


def test_dropout_between_layers_only_while_training():
    qs.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = qs.randn(4, 2, 3)
    a, b = lstm(x)[0], lstm(x)[0]
    assert not np.allclose(a.array, b.array)
    lstm.eval()
    np.testing.assert_array_equal(lstm(x)[0].array, lstm(x)[0].array)


def reference_attention(q, k, v, allowed=None, scale=None):
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q @ k.mT) * scale
    if allowed is not None:
        scores = qs.where(qs.tensor(allowed), scores, qs.tensor(-np.inf))
    return F.softmax(scores, dim=-1) @ v


def test_sdpa_equals_the_formula_with_bool_causal_and_float_masks():
    qs.manual_seed(0)
    q, k, v = qs.randn(2, 3, 4, 8).double(), qs.randn(2, 3, 6, 8).double(), qs.randn(2, 3, 6, 5).double()
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v).array, reference_attention(q, k, v).array)
    allowed = np.random.default_rng(0).random((3, 4, 6)) > 0.4
    allowed[..., 0] = True
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v, attn_mask=qs.tensor(allowed)).array,
                               reference_attention(q, k, v, allowed).array)
    additive = qs.tensor(np.where(allowed, 0.0, -np.inf))
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v, attn_mask=additive).array,
                               reference_attention(q, k, v, allowed).array)
    causal = np.tril(np.ones((4, 6), bool))
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.2).array,
                               reference_attention(q, k, v, causal, scale=0.2).array)


def test_sdpa_fully_masked_query_is_nan_as_in_pytorch():
    q = qs.randn(1, 2, 4)
    mask = qs.tensor(np.array([[True, False], [False, False]]))
    out = F.scaled_dot_product_attention(q, q, q, attn_mask=mask)
    assert np.isfinite(out[0, 0].array).all() and np.isnan(out[0, 1].array).all()


def test_multihead_attention_equals_heads_by_hand():
    qs.manual_seed(0)
    mha = nn.MultiheadAttention(6, 2, batch_first=True, dtype=qs.float64)
    x = qs.randn(2, 4, 6).double()
    padding = np.array([[False, False, True, True], [False] * 4])
    out, weights = mha(x, x, x, key_padding_mask=qs.tensor(padding), average_attn_weights=False)
    q, k, v = (F.linear(x, w, b) for w, b in zip(mha.in_proj_weight.split(6), mha.in_proj_bias.split(6)))
    heads = [t.reshape(2, 4, 2, 3).transpose(1, 2) for t in (q, k, v)]
    allowed = ~padding[:, None, None, :]
    by_hand = reference_attention(*heads, allowed).transpose(1, 2).reshape(2, 4, 6)
    np.testing.assert_allclose(out.array, mha.out_proj(by_hand).array, rtol=1e-10)
    assert weights.shape == (2, 2, 4, 4) and not weights[0, :, :, 2:].array.any()
    _, averaged = mha(x, x, x, key_padding_mask=qs.tensor(padding))
    np.testing.assert_allclose(averaged.array, weights.mean(dim=1).array)
    assert mha(x, x, x, need_weights=False)[1] is None


def test_encoder_layer_post_norm_by_hand():
    qs.manual_seed(0)
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.0, activation="gelu")
    x = qs.randn(3, 2, 4)
    attended = layer.self_attn(x, x, x)[0]
    h = layer.norm1(x + attended)
    expected = layer.norm2(h + layer.linear2(F.gelu(layer.linear1(h))))
    np.testing.assert_allclose(layer(x).array, expected.array, rtol=1e-6)


def test_pad_sequence_values():
    a, b = qs.tensor([[1.0], [2.0], [3.0]]), qs.tensor([[4.0]])
    padded = nn.utils.rnn.pad_sequence([a, b], padding_value=-1.0)
    assert padded.shape == (3, 2, 1)
    np.testing.assert_array_equal(padded.array[:, :, 0], [[1, 4], [2, -1], [3, -1]])
    left = nn.utils.rnn.pad_sequence([a, b], batch_first=True, padding_side="left")
    np.testing.assert_array_equal(left.array[:, :, 0], [[1, 2, 3], [0, 0, 4]])


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("call, error, message", [
    (lambda: nn.LSTM(3, 4)(qs.randn(5, 2, 3), (qs.zeros(1, 3, 4), qs.zeros(1, 2, 4))), ValueError,
     r"LSTM: expected h_0 of shape \(1, 2, 4\), got \(1, 3, 4\)"),
    (lambda: nn.LSTM(3, 4)(qs.randn(5, 2, 3), qs.zeros(1, 2, 4)), TypeError, "LSTM: hx must be a tuple"),
    (lambda: nn.GRU(3, 4, num_layers=2)(qs.randn(5, 2, 3), qs.zeros(1, 2, 4)), ValueError,
     r"GRU: expected h_0 of shape \(2, 2, 4\)"),
    (lambda: nn.GRU(3, 4)(qs.randn(5, 2, 3), qs.zeros(1, 2, 4).double()), TypeError, "GRU: h_0 is float64"),
    (lambda: nn.GRU(3, 4)(qs.randn(0, 2, 3)), ValueError,
     r"GRU: the input sequence has length 0 \(shape \(0, 2, 3\)\)"),
    (lambda: nn.RNN(3, 4)(qs.randn(5, 2, 7)), ValueError,
     r"RNN: expected input .* input_size=3, got \(5, 2, 7\)"),
    (lambda: nn.LSTM(3, 4)(qs.tensor(np.ones((5, 2, 3), np.int64))), TypeError,
     "LSTM: input must be float32 or float64, got int64"),
    (lambda: nn.LSTM(3, 4)(qs.randn(5, 2, 3).double()), TypeError,
     "LSTM: the input is float64 but the parameters are float32"),
    (lambda: nn.GRUCell(3, 4)(qs.randn(2, 3).double()), TypeError, "GRUCell: the input is float64"),
    (lambda: nn.LSTMCell(3, 4)(qs.randn(2, 3), (qs.zeros(2, 5), qs.zeros(2, 4))), ValueError,
     r"LSTMCell: expected h of shape \(2, 4\), got \(2, 5\)"),
    (lambda: nn.MultiheadAttention(10, 3), ValueError, "embed_dim 10 is not divisible by num_heads 3"),
    (lambda: nn.MultiheadAttention(4, 2)(*[qs.tensor(np.ones((3, 2, 4), np.int64))] * 3), TypeError,
     r"MultiheadAttention: query must be float32 or float64, got int64 \(shape \(3, 2, 4\)\)"),
    (lambda: nn.TransformerEncoderLayer(4, 2, 8)(qs.tensor(np.ones((3, 2, 4), np.int64))), TypeError,
     "MultiheadAttention: query must be float32 or float64"),
    (lambda: nn.MultiheadAttention(8, 2)(qs.randn(3, 2, 8), qs.randn(4, 2, 8), qs.randn(4, 2, 8),
                                         attn_mask=qs.zeros(3, 5)), ValueError,
     r"attn_mask must have shape \(3, 4\) or \(4, 3, 4\)"),
    (lambda: nn.MultiheadAttention(8, 2)(qs.randn(3, 2, 8), qs.randn(4, 2, 8), qs.randn(4, 2, 8),
                                         key_padding_mask=qs.tensor(np.zeros((2, 4), np.int64))), TypeError,
     "key_padding_mask must be bool"),
    (lambda: nn.MultiheadAttention(8, 2)(qs.randn(3, 2, 8), qs.randn(0, 2, 8), qs.randn(0, 2, 8)), ValueError,
     "length 0"),
    (lambda: nn.MultiheadAttention(8, 2)(qs.randn(3, 2, 6), qs.randn(4, 2, 8), qs.randn(4, 2, 8)), ValueError,
     r"query of shape \(3, 2, 6\) must end in 8 features"),
    (lambda: F.scaled_dot_product_attention(qs.randn(2, 3, 4), qs.randn(2, 5, 4), qs.randn(2, 5, 4),
                                            attn_mask=qs.zeros(3, 4)), ValueError,
     r"attn_mask of shape \(3, 4\) does not broadcast to .* \(2, 3, 5\)"),
    (lambda: F.scaled_dot_product_attention(qs.randn(3, 4), qs.randn(5, 4), qs.randn(5, 4),
                                            attn_mask=qs.tensor(np.zeros((3, 5), np.int64))), TypeError,
     "attn_mask must be bool"),
    (lambda: F.scaled_dot_product_attention(qs.randn(3, 4), qs.randn(5, 4), qs.randn(5, 4),
                                            attn_mask=qs.ones(3, 5).bool(), is_causal=True), ValueError, "not both"),
    (lambda: F.scaled_dot_product_attention(qs.randn(3, 4), qs.randn(5, 3), qs.randn(5, 4)), ValueError,
     "expected query"),
], ids=["lstm_h0", "lstm_hx", "gru_layers", "gru_dtype", "length0", "input_size", "int_input", "lstm_mixed_dtype",
        "cell_mixed_dtype", "cell_h", "heads", "mha_int_input", "encoder_int_input",
        "attn_mask_shape", "padding_dtype", "mha_length0", "mha_features", "sdpa_mask_shape", "sdpa_mask_dtype",
        "sdpa_causal_and_mask", "sdpa_features"])
def test_bad_input_names_the_module_and_shapes(call, error, message):
    with pytest.raises(error, match=message):
        call()
