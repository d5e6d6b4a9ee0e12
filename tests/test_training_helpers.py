"""Training helpers: containers, Module.apply and the tree walks, weight tying,
gradient clipping, the lr_scheduler namespace (PyTorch's numbers), param
groups, RMSprop and Adagrad against their textbook updates."""

import math

import numpy as np
import pytest
from test_optim import STEPS, quadratic_problem, run_quasar

import quasar as qs
from quasar import nn, optim
from quasar.optim import lr_scheduler


# ---------------------------------------------------------------- containers and the module tree


def test_module_list_registers_indexes_and_renumbers():
    layers = nn.ModuleList([nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)])
    assert len(layers) == 3 and isinstance(layers[-1], nn.Linear) and isinstance(layers[1], nn.ReLU)
    assert [n for n, _ in layers.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    layers.append(nn.Tanh())
    layers.insert(0, nn.Identity())
    assert [type(m).__name__ for m in layers] == ["Identity", "Linear", "ReLU", "Linear", "Tanh"]
    del layers[0]
    assert [n for n, _ in layers.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    with pytest.raises(IndexError, match="ModuleList: index 9 is out of range for 4 modules"):
        layers[9]
    with pytest.raises(NotImplementedError, match="iterate over it"):
        layers(qs.ones(2))


def test_module_dict_registers_under_its_keys():
    heads = nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.Linear(2, 1)})
    assert list(heads) == ["a", "b"] and "a" in heads and len(heads) == 2
    assert [n for n, _ in heads.named_parameters()] == ["a.weight", "a.bias", "b.weight", "b.bias"]
    heads["c"] = nn.Identity()
    assert list(heads.keys()) == ["a", "b", "c"]
    assert isinstance(heads.pop("a"), nn.Linear) and list(heads) == ["b", "c"]
    with pytest.raises(TypeError, match="keys must be strings"):
        heads[1] = nn.ReLU()


def test_identity_returns_its_input_and_ignores_arguments():
    x = qs.randn(3)
    assert nn.Identity(54, unused="x")(x) is x


def test_apply_visits_children_before_parents_and_returns_self():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Linear(2, 1)))
    seen = []
    assert model.apply(lambda m: seen.append(type(m).__name__)) is model
    assert seen == ["Linear", "ReLU", "Linear", "Sequential", "Sequential"]

    def init(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)

    model.apply(init)
    assert not model[0].weight.array.any() and not model[1][1].weight.array.any()


def test_tree_walks_and_recurse():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Linear(2, 1)))
    model.scale = nn.Parameter(np.ones(1))
    assert [n for n, _ in model.named_modules()] == ["", "0", "1", "1.0", "1.1"]
    assert len(list(model.modules())) == 5 and len(list(model.children())) == 2
    assert [p.shape for p in model.parameters(recurse=False)] == [(1,)]
    assert len(list(model.parameters())) == 5
    assert [n for n, _ in model.named_parameters(prefix="net")][0] == "net.scale"


def test_a_tied_weight_is_one_parameter_counted_and_updated_once():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(5, 3)
            self.head = nn.Linear(3, 5, bias=False)
            self.head.weight = self.embed.weight  # weight tying, as GPT-2 does

        def forward(self, idx):
            return self.head(self.embed(idx))

    model = Tied()
    assert [n for n, _ in model.named_parameters()] == ["embed.weight"]
    assert len(list(model.named_parameters(remove_duplicate=False))) == 2
    weight = model.embed.weight
    before = weight.array.copy()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    idx = qs.tensor(np.array([0, 2]))
    loss = qs.nn.functional.cross_entropy(model(idx), qs.tensor(np.array([1, 4])))
    loss.backward()
    # the gradient sums both uses: the embedding rows and the output projection
    head_only = weight.grad.array.copy()
    optimizer.step()
    np.testing.assert_allclose(weight.array, before - 0.1 * head_only)
    assert model.head.weight is weight


# ---------------------------------------------------------------- clipping


def test_clip_grad_norm_scales_to_max_norm_and_returns_the_total_norm():
    a, b = nn.Parameter(np.zeros(3)), nn.Parameter(np.zeros((2, 2)))
    a.grad, b.grad = qs.tensor(np.array([3.0, 0.0, 4.0])), qs.tensor(np.array([[0.0, 12.0], [0.0, 0.0]]))
    total = nn.utils.clip_grad_norm_([a, b], max_norm=6.5)
    assert math.isclose(total.item(), 13.0)
    scale = 6.5 / (13.0 + 1e-6)
    np.testing.assert_allclose(a.grad.array, [3 * scale, 0, 4 * scale])
    np.testing.assert_allclose(b.grad.array, [[0, 12 * scale], [0, 0]])
    # below max_norm: the gradients stay as they were
    total = nn.utils.clip_grad_norm_([a, b], max_norm=100.0)
    np.testing.assert_allclose(b.grad.array, [[0, 12 * scale], [0, 0]])


def test_clip_grad_norm_inf_norm_and_nonfinite():
    a = nn.Parameter(np.zeros(3))
    a.grad = qs.tensor(np.array([1.0, -5.0, 2.0]))
    assert nn.utils.clip_grad_norm_(a, 2.0, norm_type="inf" if False else math.inf).item() == 5.0
    np.testing.assert_allclose(a.grad.array, np.array([1.0, -5.0, 2.0]) * 2.0 / (5.0 + 1e-6))
    a.grad = qs.tensor(np.array([1.0, np.nan, 2.0]))
    with pytest.raises(RuntimeError, match="clip_grad_norm_: the total norm of order 2.0 .* is nan"):
        nn.utils.clip_grad_norm_([a], 1.0, error_if_nonfinite=True)


def test_clip_grad_value_clamps_in_place():
    a = nn.Parameter(np.zeros(4))
    a.grad = qs.tensor(np.array([-3.0, -0.5, 0.2, 9.0]))
    grad = a.grad
    nn.utils.clip_grad_value_([a], 1.0)
    assert a.grad is grad
    np.testing.assert_allclose(a.grad.array, [-1.0, -0.5, 0.2, 1.0])


# ---------------------------------------------------------------- schedulers


def make_optimizer(lr=0.05, **options):
    return optim.SGD([nn.Parameter(np.ones(2))], lr=lr, **options)


def lrs(optimizer, scheduler, steps):
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


def test_namespace_holds_every_scheduler():
    for name in ("StepLR", "CosineAnnealingLR", "LambdaLR", "LinearLR", "OneCycleLR", "SequentialLR",
                 "ReduceLROnPlateau", "LRScheduler"):
        assert hasattr(lr_scheduler, name)
    assert optim.StepLR is lr_scheduler.StepLR


def test_linear_lr_matches_pytorch_docs_example():
    # torch.optim.lr_scheduler.LinearLR's docstring: lr=0.05, start_factor=0.5, total_iters=4
    optimizer = make_optimizer(0.05)
    got = lrs(optimizer, lr_scheduler.LinearLR(optimizer, start_factor=0.5, total_iters=4), 6)
    np.testing.assert_allclose(got, [0.025, 0.03125, 0.0375, 0.04375, 0.05, 0.05], rtol=1e-12)


def test_lambda_lr_per_group():
    a, b = nn.Parameter(np.ones(1)), nn.Parameter(np.ones(1))
    optimizer = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    scheduler = lr_scheduler.LambdaLR(optimizer, [lambda e: 0.5**e, lambda e: 1 / (e + 1)])
    for _ in range(3):
        optimizer.step()
        scheduler.step()
    np.testing.assert_allclose(scheduler.get_last_lr(), [0.1 * 0.125, 0.25])
    with pytest.raises(ValueError, match="expected 2 lr_lambdas"):
        lr_scheduler.LambdaLR(optimizer, [lambda e: 1.0])


def test_one_cycle_lr_phases_and_momentum():
    optimizer = make_optimizer(0.01, momentum=0.9)
    scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=10)
    assert optimizer.param_groups[0]["momentum"] == 0.95  # momentum starts at max_momentum
    lrs(optimizer, scheduler, 2)
    assert math.isclose(optimizer.param_groups[0]["momentum"], 0.85)  # and is lowest at the peak lr
    optimizer = make_optimizer(0.01, momentum=0.9)
    scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=10)
    got = lrs(optimizer, scheduler, 10)
    # warmup ends at step pct_start * total_steps - 1 = 2, then cosine down to max_lr / 25 / 1e4
    assert math.isclose(got[0], 0.1 / 25) and math.isclose(got[2], 0.1)
    assert math.isclose(got[1], 0.1 / 25 + (0.1 - 0.1 / 25) / 2)  # halfway along the cosine
    assert math.isclose(got[9], 0.1 / 25 / 1e4)
    assert all(x > y for x, y in zip(got[2:], got[3:]))
    with pytest.raises(ValueError, match="total_steps=10"):
        scheduler.step()  # the 11th step: PyTorch allows total_steps steps after the first
    adam = optim.Adam([nn.Parameter(np.ones(1))])
    lr_scheduler.OneCycleLR(adam, max_lr=1.0, epochs=2, steps_per_epoch=5, anneal_strategy="linear")
    assert adam.param_groups[0]["betas"] == (0.95, 0.999)


def test_sequential_lr_warmup_then_cosine():
    optimizer = make_optimizer(1.0)
    warmup = lr_scheduler.LinearLR(optimizer, start_factor=0.25, total_iters=2)
    cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=4)
    scheduler = lr_scheduler.SequentialLR(optimizer, [warmup, cosine], milestones=[2])
    got = lrs(optimizer, scheduler, 7)
    cos = [(1 + math.cos(math.pi * e / 4)) / 2 for e in range(5)]
    np.testing.assert_allclose(got, [0.25, 0.625] + cos, rtol=1e-12)


def test_reduce_lr_on_plateau_waits_patience_then_cools_down():
    optimizer = make_optimizer(1.0)
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, patience=1, factor=0.5, cooldown=1, min_lr=0.2)
    history = []
    for metric in [5.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0]:
        scheduler.step(metric)
        history.append(optimizer.param_groups[0]["lr"])
    assert history == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2]
    mode_max = lr_scheduler.ReduceLROnPlateau(make_optimizer(1.0), mode="max", threshold_mode="abs", threshold=0.5)
    assert mode_max.is_better(2.0, 1.4) and not mode_max.is_better(1.8, 1.4)


# ---------------------------------------------------------------- RMSprop and Adagrad


def rmsprop_textbook(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    p, _, grad_of = quadratic_problem()
    p = p.copy()
    square, mean, buf, trajectory = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p), []
    for _ in range(STEPS):
        g = grad_of(p) + weight_decay * p
        square = alpha * square + (1 - alpha) * g * g
        if centered:
            mean = alpha * mean + (1 - alpha) * g
            avg = np.sqrt(square - mean * mean) + eps
        else:
            avg = np.sqrt(square) + eps
        if momentum:
            buf = momentum * buf + g / avg
            p = p - lr * buf
        else:
            p = p - lr * g / avg
        trajectory.append(p)
    return np.array(trajectory)


def adagrad_textbook(lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
    p, _, grad_of = quadratic_problem()
    p = p.copy()
    total, trajectory = np.full_like(p, initial_accumulator_value), []
    for step in range(1, STEPS + 1):
        g = grad_of(p) + weight_decay * p
        total = total + g * g
        p = p - lr / (1 + (step - 1) * lr_decay) * g / (np.sqrt(total) + eps)
        trajectory.append(p)
    return np.array(trajectory)


RMSPROP_OPTIONS = [dict(), dict(lr=0.05, alpha=0.9), dict(lr=0.01, momentum=0.8), dict(lr=0.01, centered=True),
                   dict(lr=0.02, weight_decay=0.1, momentum=0.5, centered=True)]
ADAGRAD_OPTIONS = [dict(), dict(lr=0.5, lr_decay=0.1), dict(lr=0.1, weight_decay=0.2, initial_accumulator_value=0.3)]


@pytest.mark.parametrize("backend", ["compiled", "reference"])
@pytest.mark.parametrize("options", RMSPROP_OPTIONS, ids=["defaults", "alpha", "momentum", "centered", "all"])
def test_rmsprop_follows_the_textbook(options, backend):
    with qs.backend(backend):
        got = run_quasar(lambda params: optim.RMSprop(params, **options))
    np.testing.assert_allclose(got, rmsprop_textbook(**options), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backend", ["compiled", "reference"])
@pytest.mark.parametrize("options", ADAGRAD_OPTIONS, ids=["defaults", "lr_decay", "decay_accumulator"])
def test_adagrad_follows_the_textbook(options, backend):
    with qs.backend(backend):
        got = run_quasar(lambda params: optim.Adagrad(params, **options))
    np.testing.assert_allclose(got, adagrad_textbook(**options), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("make", [lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.9, centered=True),
                                  lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01)], ids=["rmsprop", "adagrad"])
def test_float32_backends_agree_bit_for_bit(make):
    results = []
    for name in ("compiled", "reference"):
        p = nn.Parameter(np.linspace(-2, 2, 5000).astype(np.float32).reshape(50, 100))
        optimizer = make([p])
        with qs.backend(name):
            for _ in range(3):
                p.grad = qs.tensor(np.cos(p.array * 3))
                optimizer.step()
        results.append(p.array.copy())
    np.testing.assert_array_equal(results[0], results[1])


def test_pytorch_defaults_of_rmsprop_and_adagrad():
    p = [nn.Parameter(np.ones(2))]
    assert optim.RMSprop(p).defaults == dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                                             centered=False)
    assert optim.Adagrad(p).defaults == dict(lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                                             eps=1e-10)


def test_param_groups_take_their_own_options():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    optimizer = optim.RMSprop([{"params": [a]}, {"params": [b], "momentum": 0.9, "lr": 0.1}], lr=0.01)
    assert optimizer.param_groups[0]["momentum"] == 0.0 and optimizer.param_groups[1]["momentum"] == 0.9
    for _ in range(2):
        (a.sum() + b.sum()).backward()
        optimizer.step()
        optimizer.zero_grad()
    assert "momentum_buffer" in optimizer.state[b] and "momentum_buffer" not in optimizer.state[a]
    assert not np.allclose(a.array, b.array)
