"""A graph keeps only what its backward needs (issue 12: lean graphs)."""

import gc
import weakref

import numpy as np
import pytest

import quasar as qs


def params(seed=0):
    rng = np.random.default_rng(seed)
    x = qs.tensor(rng.standard_normal((8, 5)))
    w = qs.tensor(rng.standard_normal((5, 4)), requires_grad=True)
    return x, w


def test_an_intermediate_nobody_needs_is_freed_while_the_graph_lives():
    x, w = params()
    y = x @ w
    values = weakref.ref(y.array)
    out = qs.tanh(y).sum()  # tanh's backward needs its output, not y
    del y
    gc.collect()
    assert values() is None
    out.backward()  # and the graph still works
    t = np.tanh(x.numpy() @ w.detach().numpy())
    np.testing.assert_allclose(w.grad.numpy(), x.numpy().T @ (1 - t * t), rtol=1e-5)


def test_an_intermediate_backward_needs_is_kept_until_backward():
    x, w = params()
    y = x @ w
    values = weakref.ref(y.array)
    out = (y * y).sum()  # mul saves its inputs
    del y
    gc.collect()
    assert values() is not None
    out.backward()
    gc.collect()
    assert values() is None  # freed by backward


def test_kept_losses_hold_only_saved_values():
    # a list of losses kept for a plot: each graph holds tanh's output, not x @ w too
    x, w = params()
    kept, arrays = [], []
    for _ in range(5):
        y = x @ w
        arrays.append(weakref.ref(y.array))
        kept.append(qs.tanh(y).sum())
    del y
    gc.collect()
    assert all(a() is None for a in arrays)


def test_in_place_change_of_a_freed_intermediate_view_is_still_caught():
    x, w = params()
    y = x @ w
    out = (y.exp() * y).sum()
    y.mul_(2)  # the mul node saved y: backward must refuse
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        out.backward()


def test_double_backward_rebuilds_the_saved_inputs():
    x, w = params()
    w2 = qs.tensor(np.ones((4, 3)), requires_grad=True)
    y = x @ w
    out = ((y @ w2) ** 2).sum()
    del y  # the pow node rebuilds its input from the saved array, tied to y's node
    (g,) = qs.autograd.grad(out, w, create_graph=True)
    (h,) = qs.autograd.grad((g * g).sum(), w2)
    assert h.shape == (4, 3) and np.isfinite(h.numpy()).all()
    assert qs.autograd.gradgradcheck(lambda w, w2: ((x @ w) @ w2).pow(2).sum(), [w, w2])


def test_user_function_gradient_shape_is_checked():
    class Wrong(qs.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, grad):
            return grad.sum(axis=0)

    x, w = params()
    with pytest.raises(RuntimeError, match=r"Wrong.backward returned a gradient of shape \(4,\) for input 0 of shape \(8, 4\)"):
        Wrong.apply(x @ w).sum().backward()
