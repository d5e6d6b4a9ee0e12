"""The rules of autograd: accumulation, graph freeing, grad mode, deep graphs."""

import threading

import numpy as np
import pytest

import quasar as qs


def leaf(*shape, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return qs.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)


def test_seed_example_values_and_gradients():
    x = qs.tensor(np.array([2.0, 3.0]), requires_grad=True)
    y = qs.tensor(np.array([4.0, 5.0]), requires_grad=True)
    result = (x + y) * (x - y)
    result.backward(qs.ones_like(result))
    np.testing.assert_array_equal(result.array, [-12.0, -16.0])
    np.testing.assert_array_equal(x.grad.array, [4.0, 6.0])
    np.testing.assert_array_equal(y.grad.array, [-8.0, -10.0])


def test_gradients_accumulate_until_cleared():
    x = leaf(3)
    (x * x).sum().backward()
    first = x.grad.array.copy()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.array, 2 * first)
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.array, [3, 3, 3])
    x.grad.zero_()
    np.testing.assert_array_equal(x.grad.array, [0, 0, 0])


def test_reused_tensor_gets_every_contribution():
    x = leaf(4)
    y = x * x + x * 3 + x.exp() * x  # x used five times
    y.sum().backward()
    expected = 2 * x.array + 3 + np.exp(x.array) * (1 + x.array)
    np.testing.assert_allclose(x.grad.array, expected)


def test_equal_valued_leaves_get_distinct_gradients():
    a = qs.tensor([1.0, 2.0], requires_grad=True)
    b = qs.tensor([1.0, 2.0], requires_grad=True)
    (a * 2 + b * 5).sum().backward()
    np.testing.assert_array_equal(a.grad.array, [2, 2])
    np.testing.assert_array_equal(b.grad.array, [5, 5])


def test_shared_gradient_arrays_are_not_aliased():
    # Add passes the same gradient array to both inputs: each leaf must own its .grad
    a, b = leaf(3, seed=1), leaf(3, seed=2)
    (a + b).sum().backward()
    a.grad.zero_()
    np.testing.assert_array_equal(b.grad.array, [1, 1, 1])


def test_non_leaf_grad_needs_retain_grad():
    x = leaf(3)
    h = x * 2
    k = x * 3
    h.retain_grad()
    (h * k).sum().backward()
    np.testing.assert_allclose(h.grad.array, k.array)
    assert k.grad is None
    assert not h.is_leaf and x.is_leaf


def test_second_backward_through_freed_graph_raises():
    x = leaf(3)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = leaf(3)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    g = x.grad.array.copy()
    y.backward()
    np.testing.assert_allclose(x.grad.array, 2 * g)


def test_backward_of_non_scalar_needs_gradient():
    x = leaf(3)
    y = x * 2
    with pytest.raises(RuntimeError, match="shape \\(3,\\)"):
        y.backward()
    y.backward(qs.tensor(np.array([1.0, 2.0, 3.0])))
    np.testing.assert_allclose(x.grad.array, [2, 4, 6])


def test_backward_gradient_shape_is_checked():
    x = leaf(3)
    with pytest.raises(ValueError, match="gradient has shape"):
        (x * 2).backward(np.ones(4))


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        qs.tensor([1.0, 2.0]).sum().backward()


def test_deep_chain_has_no_recursion_limit():
    x = qs.tensor(np.array([0.5]), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.sum().backward()
    assert x.grad.array[0] == 1.0


def test_no_grad_records_nothing_and_restores():
    x = leaf(3)
    with qs.no_grad():
        y = x * 2
        assert not qs.is_grad_enabled()
        with qs.enable_grad():
            z = x * 2
    assert qs.is_grad_enabled()
    assert y.grad_fn is None and not y.requires_grad
    assert z.requires_grad


def test_no_grad_as_decorator():
    @qs.no_grad()
    def double(t):
        return t * 2

    assert not double(leaf(2)).requires_grad
    assert qs.is_grad_enabled()


def test_grad_mode_is_per_thread():
    seen = {}
    entered, release = threading.Event(), threading.Event()

    def other():
        entered.wait()
        seen["other"] = qs.is_grad_enabled()
        release.set()

    worker = threading.Thread(target=other)
    worker.start()
    with qs.no_grad():
        entered.set()
        release.wait()
        seen["main"] = qs.is_grad_enabled()
    worker.join()
    assert seen == {"main": False, "other": True}


def test_detach_cuts_the_graph_and_shares_memory():
    x = leaf(3)
    d = (x * 2).detach()
    assert d.grad_fn is None and not d.requires_grad
    y = x * 2
    assert np.shares_memory(y.detach().array, y.array)


def test_only_float_tensors_can_require_grad():
    with pytest.raises(RuntimeError, match="int64"):
        qs.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(RuntimeError, match="bool"):
        qs.tensor([True, False]).requires_grad_()


def test_inputs_without_grad_get_none():
    x, c = leaf(3), qs.tensor(np.ones(3))
    (x * c).sum().backward()
    assert c.grad is None and x.grad is not None


def test_mixed_precision_promotes_and_grads_keep_dtype():
    a = leaf(3, dtype=np.float32)
    b = leaf(3, dtype=np.float64)
    out = a * b
    assert out.dtype == np.float64
    out.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_allclose(a.grad.array, b.array.astype(np.float32), rtol=1e-6)


def test_python_scalars_keep_float32():
    a = leaf(3, dtype=np.float32)
    assert (a * 2.5).dtype == np.float32
    assert (1 - a).dtype == np.float32
    assert (a**2).dtype == np.float32


def test_custom_function():
    class Cube(qs.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x**2

    x = leaf(4)
    assert qs.gradcheck(Cube.apply, [x])


def test_gradcheck_reports_a_wrong_gradient():
    class Wrong(qs.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * 3

    with pytest.raises(AssertionError, match=r"input 0 \(shape \(2,\)\), element \(0,\)"):
        qs.gradcheck(Wrong.apply, [leaf(2)])


def test_cross_check_reports_a_backend_mismatch(monkeypatch):
    from quasar import backends

    x = leaf(3)
    assert qs.testing.cross_check(lambda t: t.exp().sum(), [x])
    monkeypatch.setattr(backends.reference, "exp", lambda a: np.exp(a) * 1.01)
    with pytest.raises(AssertionError, match="output 0 differs"):
        qs.testing.cross_check(lambda t: t.exp().sum(), [x])


def test_backward_frees_the_activations_a_kept_loss_would_hold():
    # Keeping `loss` (say, in a list for a plot) must not keep every activation alive.
    import weakref

    x = leaf(4)
    hidden = (x * 2).exp()
    alive = weakref.ref(hidden.array)  # the values: the Tensor object itself is not kept
    loss = (hidden * 3).sum()
    del hidden
    assert alive() is not None  # the graph holds it until backward (exp's output, mul's input)
    loss.backward()
    assert alive() is None
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


def test_backward_never_aliases_the_callers_gradient():
    x = leaf(3)
    given = np.ones(3)
    x.backward(given)
    y = leaf(3, seed=4)
    (y * 1.0).backward(given)
    x.grad.zero_()
    y.grad.zero_()
    np.testing.assert_array_equal(given, [1, 1, 1])
