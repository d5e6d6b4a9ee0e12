"""NaN propagation and the gradients PyTorch defines at the edges, on both
backends. Each test failed before (issue 9, part B: silent failures)."""

import math
import warnings

import numpy as np
import pytest

import quasar as qs

nan = math.nan
BACKENDS = pytest.mark.parametrize("name", ["compiled", "reference"])


def leaf(values, dtype=np.float64):
    return qs.tensor(np.array(values, dtype=dtype), requires_grad=True)


def grad_of(fn, *inputs):
    """Gradients of sum(fn(*inputs)) with respect to every input, as arrays."""
    out = fn(*inputs)
    out.sum().backward()
    return [t.grad.numpy() for t in inputs]


@BACKENDS
def test_relu_keeps_nan_and_passes_its_gradient(name):
    with qs.backend(name):
        x = leaf([-1.0, nan, 0.0, 2.0])
        out = qs.relu(x)
        np.testing.assert_array_equal(out.detach().numpy(), [0.0, nan, 0.0, 2.0])
        (g,) = grad_of(qs.relu, x)
        np.testing.assert_array_equal(g, [0.0, 1.0, 0.0, 1.0])  # threshold_backward: nan <= 0 is false


@BACKENDS
def test_maximum_minimum_propagate_nan_and_split_ties(name):
    with qs.backend(name):
        a, b = leaf([1.0, nan, 3.0, 3.0]), leaf([2.0, 1.0, nan, 3.0])
        np.testing.assert_array_equal(qs.maximum(a, b).detach().numpy(), [2.0, nan, nan, 3.0])
        np.testing.assert_array_equal(qs.minimum(a, b).detach().numpy(), [1.0, nan, nan, 3.0])
        ga, gb = grad_of(qs.maximum, a, b)
        np.testing.assert_array_equal(ga, [0.0, 1.0, 1.0, 0.5])  # a NaN gives both inputs the gradient
        np.testing.assert_array_equal(gb, [1.0, 1.0, 1.0, 0.5])
        a.grad = b.grad = None
        ga, gb = grad_of(qs.minimum, a, b)
        np.testing.assert_array_equal(ga, [1.0, 1.0, 1.0, 0.5])
        np.testing.assert_array_equal(gb, [0.0, 1.0, 1.0, 0.5])


@BACKENDS
def test_amax_amin_split_evenly_and_nan_poisons_the_slice(name):
    with qs.backend(name):
        x = leaf([[1.0, 3.0, 3.0], [nan, 0.0, 5.0]])
        np.testing.assert_array_equal(qs.amax(x, 1).detach().numpy(), [3.0, nan])
        (g,) = grad_of(lambda t: qs.amax(t, 1), x)
        np.testing.assert_array_equal(g, [[0.0, 0.5, 0.5], [nan, nan, nan]])  # scale_grad_by_count
        x.grad = None
        (g,) = grad_of(lambda t: qs.amin(t, dim=1, keepdim=True), x)
        np.testing.assert_array_equal(g, [[1.0, 0.0, 0.0], [nan, nan, nan]])


@BACKENDS
def test_max_of_everything_splits_among_ties_or_nans(name):
    with qs.backend(name):
        x = leaf([3.0, 1.0, 3.0])
        (g,) = grad_of(qs.max, x)
        np.testing.assert_array_equal(g, [0.5, 0.0, 0.5])
        y = leaf([1.0, nan, 3.0, nan])
        assert math.isnan(qs.min(y).item())
        (g,) = grad_of(qs.min, y)
        np.testing.assert_array_equal(g, [0.0, 0.5, 0.0, 0.5])  # evenly_distribute_backward


@BACKENDS
def test_max_dim_sends_the_gradient_to_the_returned_index(name):
    with qs.backend(name):
        x = leaf([[1.0, 3.0, 3.0], [2.0, nan, nan], [0.0, 0.0, -1.0]])
        values, indices = x.max(dim=1)
        np.testing.assert_array_equal(values.detach().numpy(), [3.0, nan, 0.0])
        np.testing.assert_array_equal(indices.detach().numpy(), [1, 1, 0])
        values.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [0, 1, 0], [1, 0, 0]])
        x.grad = None
        values, indices = x.min(0, keepdim=True)
        np.testing.assert_array_equal(indices.detach().numpy(), [[2, 1, 1]])
        values.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [[0, 0, 0], [0, 1, 1], [1, 0, 0]])


@BACKENDS
def test_clamp_keeps_nan_with_zero_gradient(name):
    with qs.backend(name):
        x = leaf([nan, -2.0, 0.5, 2.0])
        out = x.clamp(-1.0, 1.0)
        np.testing.assert_array_equal(out.detach().numpy(), [nan, -1.0, 0.5, 1.0])
        (g,) = grad_of(lambda t: t.clamp(-1.0, 1.0), x)
        np.testing.assert_array_equal(g, [0.0, 0.0, 1.0, 0.0])


@BACKENDS
def test_pow_gradients_at_zero(name):
    with qs.backend(name):
        x = leaf([0.0, 2.0])
        (g,) = grad_of(lambda t: t**0, x)
        np.testing.assert_array_equal(g, [0.0, 0.0])  # d(x**0)/dx = 0, also at 0
        a, b = leaf([0.0, 0.0, 0.0, 2.0]), leaf([2.0, 0.0, -1.0, 0.0])
        np.testing.assert_array_equal((a**b).detach().numpy(), [0.0, 1.0, math.inf, 1.0])
        ga, gb = grad_of(lambda s, t: s**t, a, b)
        np.testing.assert_array_equal(ga[:2], [0.0, 0.0])  # (0, 2): 2 * 0; (0, 0): exponent 0
        assert ga[3] == 0.0
        np.testing.assert_array_equal(gb[[0, 1, 3]], [0.0, 0.0, math.log(2.0)])  # 0 ** y, y >= 0: 0
        y = leaf([0.5, 3.0])
        (g,) = grad_of(lambda t: 0.0**t, y)
        np.testing.assert_array_equal(g, [0.0, 0.0])


@BACKENDS
def test_std_of_a_constant_row_has_zero_gradient(name):
    with qs.backend(name):
        x = leaf([[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]])
        (g,) = grad_of(lambda t: t.std(1), x)
        np.testing.assert_array_equal(g[0], [0.0, 0.0, 0.0])
        np.testing.assert_allclose(g[1], [-0.5, 0.0, 0.5])
        x.grad = None
        (g,) = grad_of(lambda t: qs.var(t, 1), x)
        np.testing.assert_array_equal(g[0], [0.0, 0.0, 0.0])


@BACKENDS
def test_float32_var_std_accumulate_wider(name):
    with qs.backend(name):
        values = np.array([1e19, -1e19] * 5, np.float32)  # the squares sum past float32's range
        x = qs.tensor(values)
        exact = np.var(values.astype(np.float64), ddof=1)
        assert qs.var(x).dtype == np.float32
        np.testing.assert_allclose(qs.var(x).item(), exact, rtol=1e-6)
        np.testing.assert_allclose(qs.std(x).item(), math.sqrt(exact), rtol=1e-6)
        wide = qs.tensor(np.array([3e20, -3e20] * 5, np.float32))  # var past float32's range, std inside
        assert math.isinf(qs.var(wide).item())
        np.testing.assert_allclose(qs.std(wide).item(), 3e20 * math.sqrt(10 / 9), rtol=1e-6)


@BACKENDS
def test_a_zero_d_gradient_is_an_ndarray(name):
    with qs.backend(name):
        x = leaf(2.0)
        (x * x + x).backward()
        assert type(x.grad.array) is np.ndarray
        assert np.asarray(x.grad).shape == ()
        assert x.grad.item() == 5.0
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert type((x.detach() * 3).array) is np.ndarray


def test_max_min_of_two_tensors_are_maximum_minimum():
    a, b = leaf([1.0, nan, 3.0]), leaf([2.0, 0.0, 3.0])
    np.testing.assert_array_equal(qs.max(a, b).detach().numpy(), [2.0, nan, 3.0])
    np.testing.assert_array_equal(a.min(b).detach().numpy(), [1.0, nan, 3.0])


@BACKENDS
def test_p_norm_of_a_zero_vector_has_zero_gradient(name):
    with qs.backend(name):
        for p in (3, 1.5, 0.5):
            x = leaf([[0.0, 0.0], [3.0, 0.0]])
            out = qs.norm(x, p, 1)
            np.testing.assert_allclose(out.detach().numpy(), [0.0, 3.0])
            out.sum().backward()
            np.testing.assert_allclose(x.grad.numpy(), [[0.0, 0.0], [1.0, 0.0]], rtol=1e-12)  # norm_backward
        y = leaf([0.0, 2.0])
        qs.linalg.vector_norm(y, -1).backward()
        assert np.isfinite(y.grad.numpy()).all()
