"""quasar.nn: Module bookkeeping, every layer, every loss, and the same
training run on both backends. (Finite-difference and backend checks of each
op on many shapes live in the op table, tests/optable_nn.py.)"""

import math

import numpy as np
import pytest

import quasar as qs
import quasar.nn.functional as F
from quasar import nn


@pytest.fixture
def rng():
    return np.random.default_rng(20240601)


def f64(array, requires_grad=False):
    return qs.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(3, 4)
        self.scale = nn.Parameter(np.array([2.0], np.float32))
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        return self.out(self.hidden(x).relu()) * self.scale


# ---------------------------------------------------------------- Parameter and Module


def test_parameter_is_a_tensor_that_requires_grad():
    p = nn.Parameter(np.array([1.5, -2.0]))
    assert isinstance(p, qs.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:\ntensor(")


def test_parameter_of_a_tensor_shares_its_memory():
    t = qs.tensor([1.0, 2.0])
    p = nn.Parameter(t)
    t.array[0] = 7.0
    assert p.array[0] == 7.0


def test_parameter_must_be_float():
    with pytest.raises(TypeError, match="float32 or float64"):
        nn.Parameter(np.array([1, 2]))


def test_module_registers_parameters_and_submodules_in_order():
    model = TwoLayer()
    names = [name for name, _ in model.named_parameters()]
    # as in PyTorch: a module's own parameters first, then each child's
    assert names == ["scale", "hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    assert [name for name, _ in model.named_children()] == ["hidden", "out"]
    assert len(list(model.parameters())) == 5
    assert [name for name, _ in model.named_modules()] == ["", "hidden", "out"]


def test_reassigning_an_attribute_unregisters_it():
    model = TwoLayer()
    model.scale = qs.tensor([1.0])  # a plain tensor is not a parameter
    model.out = None
    assert [name for name, _ in model.named_parameters()] == ["hidden.weight", "hidden.bias"]
    del model.hidden
    assert list(model.parameters()) == []


def test_a_shared_parameter_is_listed_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2


def test_assigning_before_init_says_to_call_super():
    class Forgetful(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\) first"):
        Forgetful()


def test_call_runs_forward(rng):
    model = TwoLayer()
    x = qs.tensor(rng.standard_normal((5, 3)).astype(np.float32))
    assert np.array_equal(model(x).array, model.forward(x).array)
    assert model(x).shape == (5, 2)


def test_forward_must_be_written():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(qs.ones(2))


def test_zero_grad(rng):
    model = TwoLayer()
    x = qs.tensor(rng.standard_normal((5, 3)).astype(np.float32))
    model(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.array.any() for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_train_and_eval_reach_every_module():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(0.5)))
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_repr_is_nested_and_readable():
    model = nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.GELU("tanh"), nn.Dropout(0.25)), nn.LayerNorm(4),
                          nn.Linear(4, 2, bias=False))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=3, out_features=4, bias=True)\n"
        "  (1): Sequential(\n"
        "    (0): GELU(approximate='tanh')\n"
        "    (1): Dropout(p=0.25)\n"
        "  )\n"
        "  (2): LayerNorm((4,), eps=1e-05, elementwise_affine=True)\n"
        "  (3): Linear(in_features=4, out_features=2, bias=False)\n"
        ")"
    )
    assert repr(nn.ReLU()) == "ReLU()"


def test_to_casts_every_parameter_in_place(rng):
    model = TwoLayer()
    model(qs.tensor(rng.standard_normal((2, 3)).astype(np.float32))).sum().backward()
    params = list(model.parameters())
    assert model.double() is model
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in params)
    assert all(a is b for a, b in zip(model.parameters(), params))  # the same Parameter objects
    assert model(qs.tensor(rng.standard_normal((2, 3)))).dtype == np.float64
    model.float()
    assert all(p.dtype == np.float32 for p in model.parameters())
    model.to(qs.float64)
    assert all(p.dtype == np.float64 for p in model.parameters())
    with pytest.raises(TypeError, match="float32 or float64"):
        model.to(qs.int64)


# ---------------------------------------------------------------- state_dict


def test_state_dict_round_trip_copies_in_place():
    qs.manual_seed(1)
    source = TwoLayer()
    qs.manual_seed(2)
    target = TwoLayer()
    params_before = list(target.parameters())
    state = source.state_dict()
    assert list(state) == ["scale", "hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    assert not any(t.requires_grad for t in state.values())
    missing, unexpected = target.load_state_dict(state)
    assert missing == [] and unexpected == []
    for (name, a), (_, b) in zip(source.named_parameters(), target.named_parameters()):
        assert np.array_equal(a.array, b.array), name
        assert a.array is not b.array
    assert all(a is b for a, b in zip(params_before, target.parameters()))


def test_load_state_dict_accepts_numpy_arrays():
    model = nn.Linear(2, 3)
    model.load_state_dict({"weight": np.full((3, 2), 0.5), "bias": np.arange(3.0)})
    assert np.array_equal(model.bias.array, [0, 1, 2]) and model.weight.dtype == np.float32


def test_load_state_dict_names_missing_and_unexpected_keys():
    model = TwoLayer()
    state = dict(model.state_dict())
    del state["out.bias"]
    state["extra.weight"] = np.zeros(3)
    with pytest.raises(KeyError, match=r"missing keys \['out.bias'\].*unexpected keys \['extra.weight'\]"):
        model.load_state_dict(state)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert missing == ["out.bias"] and unexpected == ["extra.weight"]


def test_load_state_dict_names_a_shape_mismatch():
    model = TwoLayer()
    state = dict(model.state_dict())
    state["hidden.weight"] = np.zeros((3, 4))
    before = model.hidden.bias.array.copy()
    with pytest.raises(ValueError, match=r"'hidden.weight' has shape \(3, 4\).*\(4, 3\)"):
        model.load_state_dict(state)
    assert np.array_equal(model.hidden.bias.array, before)  # nothing was half-loaded


def test_load_state_dict_bumps_versions_so_stale_graphs_fail(rng):
    model = nn.Linear(3, 1)
    out = model(qs.tensor(rng.standard_normal((2, 3)).astype(np.float32))).sum()
    model.load_state_dict(nn.Linear(3, 1).state_dict())
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        out.backward()


# ---------------------------------------------------------------- layers


def test_linear_matches_numpy_and_has_pytorch_shapes(rng):
    layer = nn.Linear(3, 5)
    assert layer.weight.shape == (5, 3) and layer.bias.shape == (5,)
    assert layer.weight.dtype == np.float32
    x = rng.standard_normal((4, 3)).astype(np.float32)
    out = layer(qs.tensor(x))
    np.testing.assert_allclose(out.array, x @ layer.weight.array.T + layer.bias.array, rtol=1e-6)
    assert layer(qs.tensor(rng.standard_normal((2, 6, 3)).astype(np.float32))).shape == (2, 6, 5)


def test_linear_init_is_pytorch_default_from_quasar_generator():
    qs.manual_seed(3)
    layer = nn.Linear(4, 3, dtype=qs.float64)
    bound = 1 / math.sqrt(4)
    draws = np.random.default_rng(3)  # what manual_seed(3) starts from: weight first, then bias
    np.testing.assert_array_equal(layer.weight.array, draws.uniform(-bound, bound, (3, 4)))
    np.testing.assert_array_equal(layer.bias.array, draws.uniform(-bound, bound, 3))
    qs.manual_seed(3)
    again = nn.Linear(4, 3, dtype=qs.float64)
    assert np.array_equal(again.weight.array, layer.weight.array)


def test_linear_init_fills_the_kaiming_uniform_range():
    layer = nn.Linear(400, 100)
    bound = 1 / math.sqrt(400)
    w = layer.weight.array
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.mean()) < 0.05 * bound and abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound


def test_linear_without_bias_and_gradients(rng):
    layer = nn.Linear(3, 2, bias=False, dtype=qs.float64)
    assert layer.bias is None and [n for n, _ in layer.named_parameters()] == ["weight"]
    x = f64(rng.standard_normal((4, 3)), requires_grad=True)
    assert qs.gradcheck(lambda x, w: F.linear(x, w), [x, layer.weight.detach().requires_grad_(True)])
    layer(x).sum().backward()
    np.testing.assert_allclose(layer.weight.grad.array, np.ones((4, 2)).T @ x.array)


def test_linear_rejects_bad_sizes_and_inputs():
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(-1, 2)
    with pytest.raises(ValueError, match="in_features = 3"):
        nn.Linear(3, 2)(qs.ones(4, 2))


def test_sequential_indexing_and_append():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    model.append(nn.Linear(3, 1))
    assert len(model) == 3 and isinstance(model[-1], nn.Linear) and isinstance(model[1], nn.ReLU)
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear"]
    assert isinstance(model[:2], nn.Sequential) and len(model[:2]) == 2
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    with pytest.raises(TypeError, match="must be a Module"):
        model.add_module("3", lambda x: x)


def test_mlp_is_micrograds(rng):
    model = nn.MLP(2, [16, 16, 1])
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert [(m.in_features, m.out_features) for m in model if isinstance(m, nn.Linear)] == [(2, 16), (16, 16), (16, 1)]
    out = model(qs.tensor(rng.standard_normal((50, 2)).astype(np.float32)))
    assert out.shape == (50, 1) and (out.array < 0).any()  # no ReLU after the last layer
    assert sum(p.numel() for p in model.parameters()) == 2 * 16 + 16 + 16 * 16 + 16 + 16 + 1


@pytest.mark.parametrize(
    "module, reference",
    [
        (nn.ReLU(), lambda x: np.maximum(x, 0)),
        (nn.Tanh(), np.tanh),
        (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
        (nn.GELU("tanh"), lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))),
        (nn.GELU(), lambda x: 0.5 * x * (1 + np.array([math.erf(v / math.sqrt(2)) for v in x.ravel()]).reshape(x.shape))),
    ],
    ids=["relu", "tanh", "sigmoid", "gelu-tanh", "gelu-erf"],
)
def test_activation_modules(module, reference, rng):
    x = rng.standard_normal((3, 7)) * 3
    np.testing.assert_allclose(module(f64(x)).array, reference(x), rtol=1e-12, atol=1e-15)


def test_gelu_tanh_approximation_is_close_to_the_exact_form(rng):
    x = np.linspace(-6, 6, 241)
    exact = 0.5 * x * (1 + np.array([math.erf(v / math.sqrt(2)) for v in x]))
    np.testing.assert_allclose(F.gelu(f64(x)).array, exact, rtol=1e-12, atol=1e-14)
    assert np.abs(F.gelu(f64(x), approximate="tanh").array - exact).max() < 1e-3


@pytest.mark.parametrize("backend_name", ["reference"] + (["compiled"] if qs.backends.compiled is not None else []))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_exact_gelu_at_its_edges(backend_name, dtype):
    # PyTorch's values: -inf * Phi(-inf) = -inf * 0 is nan; the gradient
    # Phi(x) + x phi(x) is nan at +-inf (inf * 0); 0 far left, 1 far right
    x = qs.tensor(np.array([-np.inf, -40.0, -0.0, 0.0, 40.0, np.inf, np.nan], dtype), requires_grad=True)
    with qs.backend(backend_name):
        y = F.gelu(x)
        y.backward(qs.ones_like(y))
    np.testing.assert_array_equal(y.array, np.array([np.nan, -0.0, -0.0, 0.0, 40.0, np.inf, np.nan], dtype))
    assert np.signbit(y.array[1]) and np.signbit(y.array[2])
    np.testing.assert_array_equal(x.grad.array, np.array([np.nan, 0.0, 0.5, 0.5, 1.0, np.nan, np.nan], dtype))


def test_exact_gelu_float32_is_close_to_float64_on_a_large_tensor(rng):
    # the float32 kernel computes erf in float32 (vector erff: a few ulp), as PyTorch does;
    # enough elements that the threaded, vectorized loop and its scalar tail both run
    a = rng.standard_normal(100_003) * 4
    x32, x64 = qs.tensor(a.astype(np.float32), requires_grad=True), qs.tensor(a, requires_grad=True)
    for x in (x32, x64):
        F.gelu(x).sum().backward()
    np.testing.assert_allclose(F.gelu(x32).array, F.gelu(x64).array, rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(x32.grad.array, x64.grad.array, rtol=1e-5, atol=2e-6)


def test_gelu_rejects_unknown_forms():
    with pytest.raises(ValueError, match="'none' or 'tanh'"):
        F.gelu(qs.ones(2), approximate="exact")
    with pytest.raises(ValueError, match="'none' or 'tanh'"):
        nn.GELU(approximate="erf")


def test_dropout_drops_and_rescales_in_training_only():
    qs.manual_seed(0)
    layer = nn.Dropout(0.25)
    x = qs.ones(200, 100)
    out = layer(x).array
    assert set(np.unique(out)) == {0.0, np.float32(1 / 0.75)}
    assert abs((out == 0).mean() - 0.25) < 0.01
    assert abs(out.mean() - 1) < 0.02  # the rescaling keeps the expected value
    layer.eval()
    assert layer(x) is x


def test_dropout_gradient_uses_the_same_mask():
    qs.manual_seed(5)
    x = qs.ones(10, 10, dtype=qs.float64, requires_grad=True)
    out = F.dropout(x, 0.5)
    out.sum().backward()
    assert np.array_equal(x.grad.array, out.array)  # d(x * mask)/dx = mask, and x is all ones


def test_dropout_is_reproducible_and_handles_the_extremes():
    x = qs.ones(4, 4)
    qs.manual_seed(9)
    first = F.dropout(x, 0.5).array
    qs.manual_seed(9)
    assert np.array_equal(F.dropout(x, 0.5).array, first)
    assert F.dropout(x, 0.0) is x and not F.dropout(x, 1.0).array.any()
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        F.dropout(x, -0.1)


def test_layer_norm_normalizes_each_sample(rng):
    layer = nn.LayerNorm(6, dtype=qs.float64)
    x = rng.standard_normal((4, 6)) * 5 + 3
    out = layer(f64(x)).array
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=1), 1, rtol=1e-5)
    expected = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    assert not list(nn.LayerNorm(6, elementwise_affine=False).parameters())


def test_layer_norm_gradcheck_and_shape_errors(rng):
    x = f64(rng.standard_normal((3, 2, 4)), requires_grad=True)
    w, b = f64(rng.standard_normal((2, 4)), True), f64(rng.standard_normal((2, 4)), True)
    assert qs.gradcheck(lambda x, w, b: F.layer_norm(x, (2, 4), w, b), [x, w, b])
    with pytest.raises(ValueError, match="normalized_shape"):
        nn.LayerNorm(5)(x)


# ---------------------------------------------------------------- losses


def log_softmax_np(x):
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_matches_numpy(reduction, rng):
    logits = rng.standard_normal((6, 4))
    target = rng.integers(0, 4, 6)
    per_row = -log_softmax_np(logits)[np.arange(6), target]
    expected = {"mean": per_row.mean(), "sum": per_row.sum(), "none": per_row}[reduction]
    got = F.cross_entropy(f64(logits), qs.tensor(target), reduction=reduction)
    np.testing.assert_allclose(got.array, expected, rtol=1e-12)
    assert got.shape == np.shape(expected)


def test_cross_entropy_gradient_is_softmax_minus_one_hot(rng):
    logits = f64(rng.standard_normal((5, 3)), requires_grad=True)
    target = rng.integers(0, 3, 5)
    F.cross_entropy(logits, qs.tensor(target)).backward()
    probs = np.exp(log_softmax_np(logits.array))
    np.testing.assert_allclose(logits.grad.array, (probs - np.eye(3)[target]) / 5, rtol=1e-12, atol=1e-15)


def test_cross_entropy_is_stable_for_huge_logits():
    logits = f64([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], requires_grad=True)
    loss = F.cross_entropy(logits, qs.tensor([0, 0]), reduction="none")
    np.testing.assert_allclose(loss.array, [0.0, 2e4 + math.log(2)], rtol=1e-15)
    loss.sum().backward()
    np.testing.assert_allclose(logits.grad.array, [[0, 0, 0], [-1, 0.5, 0.5]], atol=1e-15)
    x32 = qs.tensor(np.array([[1e4, -1e4], [3e4, -3e4]], np.float32), requires_grad=True)
    loss32 = F.cross_entropy(x32, qs.tensor([1, 0]))
    assert loss32.dtype == np.float32 and np.isfinite(loss32.item()) and loss32.item() == 1e4


def test_cross_entropy_unbatched_and_batch_of_one(rng):
    logits = rng.standard_normal(5)
    one = F.cross_entropy(f64(logits), qs.tensor(2))
    batched = F.cross_entropy(f64(logits[None]), qs.tensor([2]))
    assert one.shape == () and np.isclose(one.item(), batched.item())
    assert F.cross_entropy(f64(logits), qs.tensor(2), reduction="none").shape == ()


def test_cross_entropy_module_and_float32(rng):
    logits = qs.tensor(rng.standard_normal((3, 4)).astype(np.float32))
    target = qs.tensor(rng.integers(0, 4, 3))
    loss = nn.CrossEntropyLoss()(logits, target)
    assert loss.dtype == np.float32 and np.isclose(loss.item(), F.cross_entropy(logits, target).item())
    assert repr(nn.CrossEntropyLoss(reduction="sum")) == "CrossEntropyLoss(reduction='sum')"


def test_cross_entropy_bad_targets_are_named():
    logits = qs.randn(3, 4)
    with pytest.raises(IndexError, match=r"target 4 at position \(1,\) is out of range for 4 classes"):
        F.cross_entropy(logits, qs.tensor([0, 4, 1]))
    with pytest.raises(IndexError, match=r"target -1 at position \(2,\)"):
        F.cross_entropy(logits, qs.tensor([0, 1, -1]))
    with pytest.raises(TypeError, match="integer class indices, got dtype float32"):
        F.cross_entropy(logits, qs.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"target has shape \(2,\).*expected a target of shape \(3,\)"):
        F.cross_entropy(logits, qs.tensor([0, 1]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(logits, qs.tensor([0, 1, 2]), reduction="avg")
    with pytest.raises(ValueError, match=r"\(N, C\) or \(C,\)"):
        F.cross_entropy(qs.randn(2, 3, 4), qs.tensor([0, 1]))
    with pytest.raises(TypeError, match="float32/float64"):
        F.cross_entropy(qs.tensor([[1, 2]]), qs.tensor([0]))


def test_nll_loss_after_log_softmax_is_cross_entropy(rng):
    logits = rng.standard_normal((7, 5))
    target = qs.tensor(rng.integers(0, 5, 7))
    for reduction in ("mean", "sum", "none"):
        a = F.nll_loss(F.log_softmax(f64(logits), dim=1), target, reduction=reduction)
        b = F.cross_entropy(f64(logits), target, reduction=reduction)
        np.testing.assert_allclose(a.array, b.array, rtol=1e-12)
    log_probs = f64(rng.standard_normal((3, 2)), requires_grad=True)
    F.nll_loss(log_probs, qs.tensor([1, 0, 1]), reduction="sum").backward()
    assert np.array_equal(log_probs.grad.array, [[0, -1], [-1, 0], [0, -1]])
    assert isinstance(nn.NLLLoss()(log_probs, qs.tensor([1, 0, 1])), qs.Tensor)
    with pytest.raises(IndexError, match="out of range for 2 classes"):
        F.nll_loss(log_probs, qs.tensor([1, 2, 0]))


def test_mse_loss(rng):
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    np.testing.assert_allclose(F.mse_loss(f64(x), f64(y)).item(), ((x - y) ** 2).mean(), rtol=1e-14)
    np.testing.assert_allclose(F.mse_loss(f64(x), f64(y), reduction="sum").item(), ((x - y) ** 2).sum(), rtol=1e-14)
    np.testing.assert_allclose(nn.MSELoss(reduction="none")(f64(x), f64(y)).array, (x - y) ** 2, rtol=1e-14)
    with pytest.raises(ValueError, match=r"input shape \(4, 1\) and target shape \(4,\) differ"):
        F.mse_loss(qs.randn(4, 1), qs.randn(4))


def test_bce_with_logits_matches_the_naive_formula_and_survives_extremes(rng):
    x, y = rng.standard_normal((5, 2)) * 3, rng.uniform(0, 1, (5, 2))
    s = 1 / (1 + np.exp(-x))
    naive = -(y * np.log(s) + (1 - y) * np.log(1 - s))
    np.testing.assert_allclose(
        nn.BCEWithLogitsLoss(reduction="none")(f64(x), f64(y)).array, naive, rtol=1e-12)
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(f64(x), f64(y)).item(), naive.mean(), rtol=1e-12)
    extreme = f64([100.0, -100.0, 800.0, -800.0], requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(extreme, f64([0.0, 1.0, 1.0, 0.0]), reduction="none")
    np.testing.assert_allclose(loss.array, [100.0, 100.0, 0.0, 0.0], atol=1e-40)
    loss.sum().backward()
    np.testing.assert_allclose(extreme.grad.array, [1.0, -1.0, 0.0, 0.0], atol=1e-40)


def test_bce_with_logits_errors():
    with pytest.raises(TypeError, match="target must be float"):
        F.binary_cross_entropy_with_logits(qs.randn(3), qs.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match=r"target shape \(3, 1\) differs from input shape \(3,\)"):
        F.binary_cross_entropy_with_logits(qs.randn(3), qs.randn(3, 1))


def test_softmax_and_log_softmax(rng):
    x = rng.standard_normal((3, 4)) * 50
    p = F.softmax(f64(x), dim=1).array
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-14)
    np.testing.assert_allclose(F.log_softmax(f64(x)).array, log_softmax_np(x), rtol=1e-12)
    np.testing.assert_allclose(F.softmax(f64(x), dim=0).array.sum(axis=0), 1, rtol=1e-14)
    huge = F.log_softmax(f64([[1e4, 0.0]])).array
    assert np.isfinite(huge).all() and huge[0, 1] == -1e4
    with pytest.raises(IndexError, match="dim 2 is out of range"):
        F.softmax(f64(x), dim=2)


def test_functional_matches_modules(rng):
    x = f64(rng.standard_normal((2, 3)))
    assert np.array_equal(F.relu(x).array, nn.ReLU()(x).array)
    assert np.array_equal(F.tanh(x).array, nn.Tanh()(x).array)
    assert np.array_equal(F.sigmoid(x).array, nn.Sigmoid()(x).array)


# ---------------------------------------------------------------- one training run, both backends


def _train_losses(backend_name, optimizer_name):
    """50 steps of a small classifier; the data, initial weights and dropout
    masks all come from fixed seeds, so both backends see the same numbers."""
    data = np.random.default_rng(0)
    x = qs.tensor(data.standard_normal((32, 6)))
    y = qs.tensor(data.integers(0, 3, 32))
    with qs.backend(backend_name):
        qs.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 16, dtype=qs.float64), nn.LayerNorm(16, dtype=qs.float64), nn.GELU(),
                              nn.Dropout(0.1), nn.Linear(16, 16, dtype=qs.float64), nn.Tanh(),
                              nn.Linear(16, 3, dtype=qs.float64))
        if optimizer_name == "adamw":
            optimizer = qs.optim.AdamW(model.parameters(), lr=1e-2)
        else:
            optimizer = qs.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)
        losses = []
        for _ in range(50):
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return np.array(losses)


@pytest.mark.parametrize("optimizer_name", ["adamw", "sgd"])
def test_training_is_the_same_on_both_backends(optimizer_name):
    reference = _train_losses("reference", optimizer_name)
    compiled = _train_losses("compiled", optimizer_name)
    assert reference[-1] < reference[0]  # it did learn something
    np.testing.assert_allclose(compiled, reference, rtol=1e-10, atol=0)


def test_embedding_module_looks_up_rows_and_skips_padding():
    qs.manual_seed(3)
    table = nn.Embedding(5, 3, padding_idx=0)
    assert repr(table) == "Embedding(5, 3, padding_idx=0)"
    np.testing.assert_array_equal(table.weight.array[0], 0)
    index = qs.tensor([[1, 0], [4, 1]])
    out = table(index)
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.array[1, 0], table.weight.array[4])
    out.sum().backward()
    np.testing.assert_array_equal(table.weight.grad.array[:, 0], [0, 2, 0, 0, 1])
    with pytest.raises(IndexError, match="embedding"):
        table(qs.tensor([5]))
