"""quasar.optim: each optimizer against its textbook update written out in
NumPy, the one-kernel-per-parameter rule, state dicts, schedulers, errors."""

import math

import numpy as np
import pytest

import quasar as qs
from quasar import backends, nn, optim

STEPS = 20


def quadratic_problem(seed=0):
    """A loss with a gradient known in closed form, so the NumPy trajectory
    needs no autograd: L(p) = sum(scale * (p - center)**2) / 2 + sum(sin(p)),
    dL/dp = scale * (p - center) + cos(p)."""
    rng = np.random.default_rng(seed)
    start = rng.standard_normal((3, 4))
    center = rng.standard_normal((3, 4))
    scale = rng.uniform(0.5, 2.0, (3, 4))

    def loss_of(p):
        return ((p - qs.tensor(center)) ** 2 * qs.tensor(scale)).sum() * 0.5 + p.sin().sum()

    def grad_of(p):
        return scale * (p - center) + np.cos(p)

    return start, loss_of, grad_of


def run_quasar(make_optimizer, seed=0):
    start, loss_of, _ = quadratic_problem(seed)
    p = nn.Parameter(start.copy())
    optimizer = make_optimizer([p])
    trajectory = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss_of(p).backward()
        optimizer.step()
        trajectory.append(p.array.copy())
    return np.array(trajectory)


def sgd_textbook(lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    p, _, grad_of = quadratic_problem()
    p = p.copy()
    buf = None
    trajectory = []
    for _ in range(STEPS):
        g = grad_of(p) + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        trajectory.append(p)
    return np.array(trajectory)


def adam_textbook(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    p, _, grad_of = quadratic_problem()
    p = p.copy()
    m, v = np.zeros_like(p), np.zeros_like(p)
    b1, b2 = betas
    trajectory = []
    for t in range(1, STEPS + 1):
        g = grad_of(p)
        if decoupled:
            p = p * (1 - lr * weight_decay)  # AdamW: shrink the weights directly
        else:
            g = g + weight_decay * p  # Adam: L2 penalty through the gradient
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        trajectory.append(p)
    return np.array(trajectory)


@pytest.mark.parametrize(
    "options",
    [
        dict(lr=0.1),
        dict(lr=0.05, momentum=0.9),
        dict(lr=0.05, momentum=0.9, dampening=0.3),
        dict(lr=0.05, momentum=0.8, nesterov=True),
        dict(lr=0.1, weight_decay=0.1),
        dict(lr=0.03, momentum=0.5, weight_decay=0.01, nesterov=True),
    ],
    ids=["plain", "momentum", "dampening", "nesterov", "weight_decay", "all"],
)
def test_sgd_follows_the_textbook(options):
    got = run_quasar(lambda params: optim.SGD(params, **options))
    np.testing.assert_allclose(got, sgd_textbook(**options), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "options",
    [dict(lr=0.1), dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6), dict(lr=0.05, weight_decay=0.1)],
    ids=["defaults", "betas_eps", "weight_decay"],
)
def test_adam_follows_the_textbook(options):
    got = run_quasar(lambda params: optim.Adam(params, **options))
    # sqrt(v)/sqrt(1-b2^t) and sqrt(v/(1-b2^t)) round differently: a few ulps apart
    np.testing.assert_allclose(got, adam_textbook(**options), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("options", [dict(lr=0.1), dict(lr=0.05, weight_decay=0.2)], ids=["default_decay", "decay"])
def test_adamw_follows_the_textbook(options):
    got = run_quasar(lambda params: optim.AdamW(params, **options))
    expected = adam_textbook(weight_decay=options.get("weight_decay", 1e-2), decoupled=True, lr=options["lr"])
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_pytorch_defaults():
    p = [nn.Parameter(np.ones(2))]
    assert optim.SGD(p).defaults == dict(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False)
    assert optim.Adam(p).defaults == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    assert optim.AdamW(p).defaults["weight_decay"] == 1e-2


@pytest.mark.parametrize(
    "make, kernel",
    [(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), "sgd_step"), (lambda ps: optim.Adam(ps), "adam_step")],
    ids=["sgd", "adam"],
)
def test_one_kernel_call_per_parameter_in_place(make, kernel, monkeypatch):
    model = nn.MLP(3, [4, 2])
    params = list(model.parameters())
    optimizer = make(model.parameters())
    model(qs.randn(5, 3)).sum().backward()
    model[0].bias.grad = None  # no gradient: skipped
    arrays = [p.array for p in params]
    versions = [p._version[0] for p in params]
    calls = []

    def counted(name, kernel_fn):
        def run(*args, **kwargs):
            calls.append(name)
            return kernel_fn(*args, **kwargs)

        return run

    with qs.backend("reference"):
        namespace = backends.current()  # every kernel of the backend, counted
        for name, fn in list(vars(namespace).items()):
            if callable(fn):
                monkeypatch.setattr(namespace, name, counted(name, fn))
        optimizer.step()
    assert calls == [kernel] * (len(params) - 1)
    assert all(p.array is a for p, a in zip(params, arrays))  # updated in place
    bumped = [p._version[0] - v for p, v in zip(params, versions)]
    assert bumped == [1, 0, 1, 1]


def test_a_step_invalidates_graphs_that_saved_the_old_weights():
    layer = nn.Linear(2, 2)
    optimizer = optim.SGD(layer.parameters(), lr=0.1)
    layer(qs.randn(3, 2)).sum().backward()
    stale = (layer(qs.randn(3, 2)) ** 2).sum()  # its graph saved the weight
    optimizer.step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        stale.backward()


def test_zero_grad():
    p = nn.Parameter(np.ones(3))
    optimizer = optim.SGD([p], lr=0.1)
    (p * 2).sum().backward()
    optimizer.zero_grad(set_to_none=False)
    assert p.grad is not None and not p.grad.array.any()
    optimizer.zero_grad()
    assert p.grad is None
    optimizer.step()  # no gradients: nothing happens
    assert np.array_equal(p.array, np.ones(3))


def test_param_groups_have_their_own_learning_rates():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    optimizer = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    (a.sum() + b.sum()).backward()
    optimizer.step()
    assert np.allclose(a.array, 0.9) and np.allclose(b.array, 0.5)


def test_step_with_closure_returns_the_loss():
    p = nn.Parameter(np.array([3.0]))
    optimizer = optim.SGD([p], lr=0.25)

    def closure():
        optimizer.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    loss = optimizer.step(closure)
    assert loss.item() == 9.0 and p.array[0] == 3.0 - 0.25 * 6.0


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: optim.SGD([], lr=0.1), "empty parameter list"),
        (lambda: optim.Adam(iter([])), "empty parameter list"),
        (lambda: optim.SGD([nn.Parameter(np.ones(2))], lr=-0.1), r"invalid learning rate lr=-0.1"),
        (lambda: optim.Adam([nn.Parameter(np.ones(2))], lr=-1e-3), r"invalid learning rate"),
        (lambda: optim.SGD([nn.Parameter(np.ones(2))], lr=0.1, momentum=-0.5), "momentum"),
        (lambda: optim.SGD([nn.Parameter(np.ones(2))], lr=0.1, nesterov=True), "nesterov"),
        (lambda: optim.SGD([nn.Parameter(np.ones(2))], lr=0.1, weight_decay=-1), "weight_decay"),
        (lambda: optim.Adam([nn.Parameter(np.ones(2))], betas=(0.9, 1.0)), "beta2"),
        (lambda: optim.Adam([nn.Parameter(np.ones(2))], eps=-1.0), "eps"),
        (lambda: optim.SGD([qs.ones(2)], lr=0.1), "not a leaf tensor that requires grad"),
        (lambda: optim.SGD([qs.ones(2, requires_grad=True) * 2], lr=0.1), "not a leaf"),
        (lambda: optim.SGD(nn.Parameter(np.ones(2)), lr=0.1), "single Tensor"),
    ],
)
def test_bad_arguments_are_named(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_the_same_parameter_twice_is_an_error():
    p = nn.Parameter(np.ones(2))
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([p, p], lr=0.1)


def test_a_negative_lr_set_later_is_caught_at_step():
    p = nn.Parameter(np.ones(2))
    optimizer = optim.SGD([p], lr=0.1)
    optimizer.param_groups[0]["lr"] = -1.0
    p.sum().backward()
    with pytest.raises(ValueError, match="invalid learning rate"):
        optimizer.step()


# ---------------------------------------------------------------- state dicts


@pytest.mark.parametrize("make", [
    lambda ps: optim.Adam(ps, lr=0.05),
    lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9),
], ids=["adam", "sgd"])
def test_resuming_from_a_state_dict_continues_the_same_trajectory(make, tmp_path):
    uninterrupted = run_quasar(make)

    start, loss_of, _ = quadratic_problem()
    p = nn.Parameter(start.copy())
    optimizer = make([p])
    for _ in range(STEPS // 2):
        optimizer.zero_grad()
        loss_of(p).backward()
        optimizer.step()
    qs.save({"param": p, "optimizer": optimizer.state_dict()}, tmp_path / "ckpt.npz")

    checkpoint = qs.load(tmp_path / "ckpt.npz")
    q = nn.Parameter(np.zeros_like(start))
    q.array[...] = checkpoint["param"].array
    resumed = make([q])
    resumed.load_state_dict(checkpoint["optimizer"])
    for _ in range(STEPS // 2):
        resumed.zero_grad()
        loss_of(q).backward()
        resumed.step()
    np.testing.assert_array_equal(q.array, uninterrupted[-1])


def test_state_dict_layout_is_pytorchs():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))
    optimizer = optim.Adam([a, b], lr=0.01)
    (a.sum() + b.sum()).backward()
    optimizer.step()
    state = optimizer.state_dict()
    assert state["param_groups"][0]["params"] == [0, 1] and state["param_groups"][0]["lr"] == 0.01
    assert set(state["state"]) == {0, 1} and state["state"][1]["step"] == 1
    assert state["state"][1]["exp_avg"].shape == (3,)


def test_load_state_dict_errors_name_the_problem():
    a = nn.Parameter(np.ones(2))
    optimizer = optim.Adam([a])
    a.sum().backward()
    optimizer.step()
    state = optimizer.state_dict()
    with pytest.raises(ValueError, match="param group 0 saved 1 parameters, this optimizer has 2"):
        optim.Adam([nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))]).load_state_dict(state)
    with pytest.raises(ValueError, match=r"state 'exp_avg' of parameter 0 has shape \(2,\).*\(5,\)"):
        optim.Adam([nn.Parameter(np.ones(5))]).load_state_dict(state)
    with pytest.raises(KeyError, match="missing key 'state'"):
        optim.Adam([nn.Parameter(np.ones(2))]).load_state_dict({"param_groups": state["param_groups"]})
    with pytest.raises(KeyError, match="unexpected keys"):
        optim.Adam([nn.Parameter(np.ones(2))]).load_state_dict({**state, "epoch": 3})


# ---------------------------------------------------------------- schedulers


def test_step_lr():
    optimizer = optim.SGD([nn.Parameter(np.ones(1))], lr=1.0)
    scheduler = optim.StepLR(optimizer, step_size=3, gamma=0.5)
    lrs = [scheduler.get_last_lr()[0]]
    for _ in range(7):
        optimizer.step()
        scheduler.step()
        lrs.append(optimizer.param_groups[0]["lr"])
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]


def test_cosine_annealing_lr():
    optimizer = optim.Adam([nn.Parameter(np.ones(1))], lr=0.1)
    scheduler = optim.CosineAnnealingLR(optimizer, T_max=10, eta_min=0.001)
    lrs = [scheduler.get_last_lr()[0]]
    for _ in range(10):
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    expected = [0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(11)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-15)
    assert lrs[0] == 0.1 and math.isclose(lrs[5], (0.1 + 0.001) / 2) and math.isclose(lrs[10], 0.001)


def test_scheduler_state_dict_and_errors():
    optimizer = optim.SGD([nn.Parameter(np.ones(1))], lr=1.0)
    scheduler = optim.StepLR(optimizer, step_size=2)
    for _ in range(5):
        scheduler.step()
    fresh_optimizer = optim.SGD([nn.Parameter(np.ones(1))], lr=1.0)
    fresh = optim.StepLR(fresh_optimizer, step_size=2)
    fresh.load_state_dict(scheduler.state_dict())
    assert fresh.last_epoch == 5 and math.isclose(fresh_optimizer.param_groups[0]["lr"], 0.01)
    with pytest.raises(ValueError, match="step_size"):
        optim.StepLR(optimizer, step_size=0)
    with pytest.raises(ValueError, match="T_max"):
        optim.CosineAnnealingLR(optimizer, T_max=0)
    with pytest.raises(TypeError, match="expected an Optimizer"):
        optim.StepLR("sgd", step_size=1)
