"""More math: logsumexp, var, std, norm, prod, cumsum, argmax, argmin,
leaky_relu, elu, softplus, erf -- values against NumPy and the math module,
special values, and the gradients that composition would get wrong."""

import math

import numpy as np
import pytest

import quasar as qs
from quasar import backends

BACKENDS = ["reference"] + (["compiled"] if backends.compiled is not None else [])


@pytest.fixture(params=BACKENDS)
def backend_name(request):
    with qs.backend(request.param):
        yield request.param


def data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_logsumexp_matches_numpy_and_survives_extremes(backend_name):
    a = data(3, 4, 5)
    for dim in (None, 1, (0, 2), -1):
        axis = None if dim is None else dim
        want = np.log(np.sum(np.exp(a), axis=axis))
        np.testing.assert_allclose(qs.logsumexp(qs.tensor(a), dim).array, want, rtol=1e-12)
    assert qs.logsumexp(qs.tensor(a), 1, keepdim=True).shape == (3, 1, 5)
    extreme = qs.tensor([[1e4, 1e4], [-np.inf, -np.inf], [np.inf, 0.0], [-1e4, 0.0]], dtype=qs.float64)
    np.testing.assert_allclose(qs.logsumexp(extreme, 1).array, [1e4 + math.log(2), -np.inf, np.inf, 0.0])
    assert qs.logsumexp(qs.tensor(np.zeros((2, 0))), 1).tolist() == [-np.inf, -np.inf]
    x = qs.tensor([1e4, 1e4 - math.log(3)], dtype=qs.float64, requires_grad=True)
    qs.logsumexp(x, 0).backward()
    np.testing.assert_allclose(x.grad.array, [0.75, 0.25])  # the softmax, without overflow


def test_var_and_std_with_corrections(backend_name):
    a = data(4, 6)
    x = qs.tensor(a)
    for correction in (0, 1, 2):
        np.testing.assert_allclose(qs.var(x, 1, correction=correction).array, np.var(a, 1, ddof=correction))
        np.testing.assert_allclose(x.std(0, correction=correction).array, np.std(a, 0, ddof=correction))
    np.testing.assert_allclose(qs.var(x).item(), np.var(a, ddof=1))
    np.testing.assert_allclose(qs.var(x, unbiased=False).item(), np.var(a))
    assert qs.var(x, (0, 1), keepdim=True).shape == (1, 1)
    with pytest.warns(UserWarning, match="var: degrees of freedom <= 0"):
        assert math.isnan(qs.var(qs.tensor([2.0])).item())  # 0 / 0, as in PyTorch
    with pytest.warns(UserWarning, match="var: degrees of freedom <= 0"):
        assert qs.var(qs.tensor([1.0, 3.0]), correction=2).item() == math.inf
    assert qs.var(qs.tensor(3.0), correction=0).item() == 0.0


def test_norm_variants(backend_name):
    a = data(3, 4)
    x = qs.tensor(a)
    np.testing.assert_allclose(qs.norm(x).item(), np.linalg.norm(a))
    np.testing.assert_allclose(x.norm(p="fro").item(), np.linalg.norm(a))
    for p in (1, 3, 0.5, math.inf, -math.inf, 0):
        np.testing.assert_allclose(qs.norm(x, p, 1).array, np.linalg.norm(a, p, axis=1), err_msg=str(p))
    assert x.norm(dim=0, keepdim=True).shape == (1, 4)


def test_the_2_norm_of_zeros_has_a_zero_gradient(backend_name):
    x = qs.tensor(np.zeros((2, 3)), requires_grad=True)
    x.norm(dim=1).sum().backward()
    np.testing.assert_array_equal(x.grad.array, np.zeros((2, 3)))


def test_prod_and_its_gradient_with_zeros(backend_name):
    a = np.array([[2.0, 0.0, 3.0, 4.0], [0.0, 5.0, 0.0, 1.0], [1.0, 2.0, 3.0, 4.0]])
    x = qs.tensor(a, requires_grad=True)
    out = x.prod(1)
    np.testing.assert_array_equal(out.array, np.prod(a, 1))
    out.sum().backward()
    others = np.array([[np.prod(np.delete(row, k)) for k in range(4)] for row in a])
    np.testing.assert_array_equal(x.grad.array, others)  # exact, no division by zero
    np.testing.assert_array_equal(qs.prod(qs.tensor(a[2])).item(), 24.0)
    assert qs.prod(qs.tensor(np.zeros((2, 0))), 1).tolist() == [1.0, 1.0]


def test_cumsum_and_its_gradient(backend_name):
    a = data(3, 4)
    x = qs.tensor(a, requires_grad=True)
    np.testing.assert_allclose(x.cumsum(1).array, np.cumsum(a, 1))
    np.testing.assert_allclose(qs.cumsum(x, 0).array, np.cumsum(a, 0))
    qs.cumsum(x, 1).sum().backward()
    np.testing.assert_array_equal(x.grad.array, np.tile([4.0, 3.0, 2.0, 1.0], (3, 1)))


def test_argmax_argmin(backend_name):
    a = np.array([[1.0, 3.0, 3.0], [np.nan, 0.0, np.nan], [-1.0, -1.0, -2.0]])
    x = qs.tensor(a)
    assert qs.argmax(x, 1).tolist() == [1, 0, 0]  # the first of ties; NaN is the largest
    assert qs.argmin(x, 1).tolist() == [0, 0, 2]  # ... and the smallest
    assert qs.argmax(x, 0, keepdim=True).shape == (1, 3)
    assert x.argmax().item() == 3 and x.argmax().dtype == np.int64
    assert qs.argmax(x, keepdim=True).shape == (1, 1)
    assert qs.argmax(qs.tensor([3, 9, 9])).item() == 1
    assert qs.argmin(qs.tensor([True, False])).item() == 1
    assert qs.argmax(qs.tensor(5.0), 0).item() == 0
    with pytest.raises(ValueError, match=r"argmax: cannot reduce the empty dim 1 \(shape \(2, 0\)\)"):
        qs.argmax(qs.tensor(np.zeros((2, 0))), 1)
    with pytest.raises(ValueError, match="argmin.*empty"):
        qs.argmin(qs.tensor(np.zeros(0)))


def test_activations_match_their_formulas(backend_name):
    a = np.array([-50.0, -3.0, -0.5, 0.0, 0.5, 3.0, 50.0, 1e4])
    x = qs.tensor(a)
    np.testing.assert_allclose(qs.leaky_relu(x, 0.1).array, np.where(a > 0, a, 0.1 * a))
    np.testing.assert_allclose(qs.elu(x, 2.0).array, np.where(a > 0, a, 2.0 * np.expm1(np.minimum(a, 0))))
    with np.errstate(over="ignore"):
        naive = np.log1p(np.exp(a))
    np.testing.assert_allclose(qs.softplus(x, threshold=1e9).array[:-1], naive[:-1], rtol=1e-12)
    assert qs.softplus(x, threshold=1e9).array[-1] == 1e4  # no overflow, whatever the threshold
    np.testing.assert_allclose(qs.softplus(x, beta=2.0).array[:6], np.log1p(np.exp(2 * a[:6])) / 2)
    np.testing.assert_array_equal(qs.softplus(x, beta=1.0, threshold=2.0).array[5:], a[5:])
    np.testing.assert_allclose(qs.erf(x).array, [math.erf(v) for v in a], rtol=1e-15)


def test_activation_gradients_at_their_edges(backend_name):
    x = qs.tensor([-1e4, -1.0, 0.0, 1.0, 1e4], dtype=qs.float64, requires_grad=True)
    qs.leaky_relu(x, 0.2).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [0.2, 0.2, 0.2, 1.0, 1.0])  # slope at 0, as in PyTorch
    x.grad = None
    qs.softplus(x).sum().backward()
    np.testing.assert_allclose(x.grad.array, [0.0, 1 / (1 + math.e), 0.5, 1 / (1 + math.exp(-1)), 1.0])
    x.grad = None
    qs.erf(x).sum().backward()
    np.testing.assert_allclose(x.grad.array, [0.0, 2 / math.sqrt(math.pi) * math.exp(-1), 2 / math.sqrt(math.pi),
                                              2 / math.sqrt(math.pi) * math.exp(-1), 0.0])


def test_float32_stays_float32(backend_name):
    x = qs.tensor(data(3, 4).astype(np.float32), requires_grad=True)
    outs = [qs.logsumexp(x, 1), qs.var(x, 0), qs.std(x), qs.norm(x), qs.prod(x, 1), qs.cumsum(x, 0),
            qs.leaky_relu(x), qs.elu(x), qs.softplus(x), qs.erf(x)]
    for out in outs:
        assert out.dtype == np.float32
        out.sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda x: qs.logsumexp(x, 2), IndexError, ["logsumexp", "dim 2"]),
        (lambda x: qs.var(qs.tensor([1, 2])), TypeError, ["var", "int64"]),
        (lambda x: qs.norm(x, -1), ValueError, ["norm", "non-negative"]),
        (lambda x: qs.norm(x, "nuc"), ValueError, ["norm", "'nuc'"]),
        (lambda x: qs.prod(x, (0, 1)), TypeError, ["prod", "dim must be an int"]),
        (lambda x: qs.cumsum(x, 3), IndexError, ["cumsum", "dim 3"]),
        (lambda x: qs.softplus(x, beta=0), ValueError, ["softplus", "beta"]),
        (lambda x: qs.erf(qs.tensor([1, 2])), TypeError, ["erf", "int64"]),
        (lambda x: qs.leaky_relu(x, "0.1"), TypeError, ["leaky_relu", "negative_slope"]),
    ],
)
def test_bad_arguments(call, error, words):
    x = qs.tensor(np.ones((2, 3)))
    with pytest.raises(error) as info:
        call(x)
    for word in words:
        assert word in str(info.value), (word, str(info.value))
