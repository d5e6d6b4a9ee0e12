"""Values, edge cases and errors of the math library and the further
reductions (issue 9, part B), checked against PyTorch's documented results
on both backends. Gradients in general are checked by the op table."""

import math

import numpy as np
import pytest

import quasar as qs

nan, inf = math.nan, math.inf
BACKENDS = pytest.mark.parametrize("name", ["compiled", "reference"])


def t(values, dtype=np.float64, grad=False):
    return qs.tensor(np.array(values, dtype=dtype), requires_grad=grad)


def values(x):
    return x.detach().numpy()


@BACKENDS
def test_rounding_family(name):
    with qs.backend(name):
        x = t([0.5, 1.5, 2.5, -0.5, -1.7, 2.345])
        np.testing.assert_array_equal(values(qs.round(x)), [0.0, 2.0, 2.0, -0.0, -2.0, 2.0])  # ties to even
        np.testing.assert_allclose(values(x.round(decimals=1)), [0.5, 1.5, 2.5, -0.5, -1.7, 2.3])
        np.testing.assert_array_equal(values(qs.round(t([1234.5, -251.0]), decimals=-2)), [1200.0, -300.0])
        np.testing.assert_array_equal(values(qs.floor(x)), np.floor(x.numpy()))
        np.testing.assert_array_equal(values(qs.ceil(x)), np.ceil(x.numpy()))
        np.testing.assert_array_equal(values(qs.trunc(x)), np.trunc(x.numpy()))
        np.testing.assert_allclose(values(qs.frac(t([-1.75, 2.25]))), [-0.75, 0.25])
        # sign: 0 for NaN, as PyTorch's (0 < x) - (x < 0), unlike np.sign
        np.testing.assert_array_equal(values(qs.sign(t([nan, -0.0, 3.0, -2.0]))), [0.0, 0.0, 1.0, -1.0])
        g = t([0.3, -1.2], grad=True)
        (qs.floor(g) + qs.round(g) + g.sign()).sum().backward()
        np.testing.assert_array_equal(g.grad.numpy(), [0.0, 0.0])


@BACKENDS
def test_binary_math_edges(name):
    with qs.backend(name):
        np.testing.assert_array_equal(values(qs.fmod(t([5.0, -5.0]), 3.0)), [2.0, -2.0])  # the sign of input
        np.testing.assert_array_equal(values(qs.copysign(t([2.0, 2.0]), t([-0.0, 0.0]))), [-2.0, 2.0])
        np.testing.assert_array_equal(values(qs.xlogy(t([0.0, 0.0, 2.0]), t([nan, 0.0, 1.0]))), [nan, 0.0, 0.0])
        np.testing.assert_array_equal(values(qs.logaddexp(t([inf, -inf, 1.0]), t([inf, -inf, -inf]))),
                                      [inf, -inf, 1.0])
        np.testing.assert_allclose(values(qs.logaddexp2(t([3.0]), t([3.0]))), [4.0])
        np.testing.assert_allclose(values(qs.atan2(t([1.0, -1.0]), t([-1.0, -1.0]))), [0.75 * math.pi, -0.75 * math.pi])
        np.testing.assert_allclose(values(qs.hypot(t([3e200]), t([4e200]))), [5e200])
        a, b = t([0.0, 0.0], grad=True), t([-1.0, 2.0], grad=True)
        qs.xlogy(a, b).sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), [0.0, math.log(2.0)])  # 0 where a == 0 and b <= 0


@BACKENDS
def test_erfinv_logit_and_nan_to_num(name):
    with qs.backend(name):
        y = qs.erfinv(t([-1.0, 0.0, 0.5, 1.0, 1.5]))
        np.testing.assert_allclose(values(y), [-inf, 0.0, 0.4769362762044699, inf, nan], rtol=1e-14)
        for dtype in (np.float32, np.float64):
            p = np.linspace(-0.999, 0.999, 41).astype(dtype)
            got = values(qs.erfinv(qs.tensor(p))).astype(np.float64)
            np.testing.assert_allclose([math.erf(v) for v in got], p, rtol=1e-6 if dtype == np.float32 else 1e-14)
        x = t([-0.5, 0.1, 0.5, 0.95, 1.5], grad=True)
        np.testing.assert_allclose(values(qs.logit(x, eps=0.2)), np.log([0.25, 0.25, 1.0, 4.0, 4.0]))
        qs.logit(x, eps=0.2).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0, 4.0, 0.0, 0.0])  # 0 outside [eps, 1 - eps]
        x.grad = None
        qs.logit(x).sum().backward()
        assert math.isnan(x.grad.numpy()[0]) and math.isnan(x.grad.numpy()[-1])  # nan outside [0, 1]
        big = np.finfo(np.float32).max
        out = qs.nan_to_num(t([nan, inf, -inf, 2.0], np.float32))
        np.testing.assert_array_equal(values(out), [0.0, big, -big, 2.0])
        z = t([nan, inf, 1.0], grad=True)
        qs.nan_to_num(z, nan=1.0, posinf=5.0).sum().backward()
        np.testing.assert_array_equal(z.grad.numpy(), [0.0, 0.0, 1.0])


@BACKENDS
def test_lerp_and_clamp_with_tensor_bounds(name):
    with qs.backend(name):
        start, end = t([1.0, 1e8, -3.0]), t([2.0, 1.0, 5.0])
        np.testing.assert_array_equal(values(qs.lerp(start, end, 1.0)), values(end))  # exact at weight 1
        np.testing.assert_array_equal(values(start.lerp(end, 0.0)), values(start))
        x = t([-2.0, 0.0, 2.0, nan], grad=True)
        lo, hi = t([-1.0, 0.5, -1.0, 0.0], grad=True), t([1.0, 1.0, 1.0, 1.0], grad=True)
        out = qs.clamp(x, lo, hi)
        np.testing.assert_array_equal(values(out), [-1.0, 0.5, 1.0, nan])
        out.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0, 0.0])
        np.testing.assert_array_equal(lo.grad.numpy(), [1.0, 1.0, 0.0, 0.0])
        np.testing.assert_array_equal(hi.grad.numpy(), [0.0, 0.0, 1.0, 0.0])
        # min > max: every element is max, and max gets the gradient (PyTorch)
        y, low, high = t([0.0, 5.0], grad=True), t([2.0, 2.0], grad=True), t([1.0, 1.0], grad=True)
        out = y.clamp(low, high)
        np.testing.assert_array_equal(values(out), [1.0, 1.0])
        out.sum().backward()
        np.testing.assert_array_equal(high.grad.numpy(), [1.0, 1.0])
        np.testing.assert_array_equal(low.grad.numpy(), [0.0, 0.0])
        np.testing.assert_array_equal(values(qs.clip(t([0.0, 3.0]), max=t(2.0))), [0.0, 2.0])


@BACKENDS
def test_predicates(name):
    with qs.backend(name):
        x = t([nan, inf, -inf, 1.0])
        np.testing.assert_array_equal(qs.isnan(x).numpy(), [True, False, False, False])
        np.testing.assert_array_equal(qs.isinf(x).numpy(), [False, True, True, False])
        np.testing.assert_array_equal(x.isfinite().numpy(), [False, False, False, True])
        ints = qs.tensor(np.array([1, 2]))
        assert not qs.isnan(ints).numpy().any() and qs.isfinite(ints).numpy().all()
        a, b = t([1.0, inf, nan, 1.0]), t([1.0 + 1e-9, inf, nan, 1.1])
        np.testing.assert_array_equal(qs.isclose(a, b).numpy(), [True, True, False, False])
        np.testing.assert_array_equal(a.isclose(b, equal_nan=True).numpy(), [True, True, True, False])
        assert qs.allclose(t([1.0, 2.0]), t([1.0, 2.0 + 1e-7]))
        assert not qs.allclose(a, b, equal_nan=True)
        assert qs.equal(t([1.0, 2.0]), t([1.0, 2.0])) and not qs.equal(t([1.0]), t([1.0, 1.0]))
        assert not qs.equal(t([nan]), t([nan]))


@BACKENDS
def test_boolean_and_nan_reductions(name):
    with qs.backend(name):
        x = t([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
        assert qs.any(x).item() is True and x.all().item() is False
        np.testing.assert_array_equal(qs.any(x, 1).numpy(), [True, False])
        np.testing.assert_array_equal(qs.all(x == 0, dim=0, keepdim=True).numpy(), [[True, False, True]])
        assert qs.any(t([])).item() is False and qs.all(t([])).item() is True
        assert qs.count_nonzero(x).item() == 1 and qs.count_nonzero(x).dtype == np.int64
        np.testing.assert_array_equal(qs.count_nonzero(qs.tensor(np.array([[1, 0], [2, 3]])), dim=0).numpy(), [2, 1])
        y = t([[1.0, nan, 3.0], [nan, nan, nan]], grad=True)
        np.testing.assert_array_equal(values(qs.nansum(y, 1)), [4.0, 0.0])
        m = qs.nanmean(y, 1)
        assert values(m)[0] == 2.0 and math.isnan(values(m)[1])
        qs.nansum(y).backward()
        np.testing.assert_array_equal(y.grad.numpy(), [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])


@BACKENDS
def test_median(name):
    with qs.backend(name):
        x = t([[3.0, 1.0, 2.0, 1.0], [5.0, nan, 4.0, nan], [2.0, 2.0, 1.0, 3.0]], grad=True)
        v, i = x.median(1)
        np.testing.assert_array_equal(values(v), [1.0, nan, 2.0])  # the lower median of an even count
        np.testing.assert_array_equal(i.numpy(), [1, 1, 0])  # the first position holding it; the first NaN
        v.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0, 0], [0, 1, 0, 0], [1, 0, 0, 0]])
        assert qs.median(t([4.0, 1.0, 3.0, 2.0])).item() == 2.0
        whole = t([1.0, 2.0, 2.0, 7.0, 2.0], grad=True)
        qs.median(whole).backward()
        np.testing.assert_allclose(whole.grad.numpy(), [0, 1 / 3, 1 / 3, 0, 1 / 3])  # evenly among equals
        with pytest.raises(ValueError, match="median"):
            qs.median(t([]))


@BACKENDS
def test_scans(name):
    with qs.backend(name):
        x = t([[1.0, 3.0, 3.0, 2.0, nan, 5.0]])
        v, i = x.cummax(1)
        np.testing.assert_array_equal(values(v), [[1.0, 3.0, 3.0, 3.0, nan, nan]])
        np.testing.assert_array_equal(i.numpy(), [[0, 1, 2, 2, 4, 4]])  # ties take the later index
        v, i = qs.cummin(t([[2.0, 1.0, 1.0, 3.0]]), 1)
        np.testing.assert_array_equal(i.numpy(), [[0, 1, 2, 2]])
        g = t([[2.0, 0.0, 3.0, 0.0]], grad=True)
        g.cumprod(1).sum().backward()
        # d/dx_i of x0 + x0x1 + x0x1x2 + x0x1x2x3, exact through the zeros
        np.testing.assert_array_equal(g.grad.numpy(), [[1.0, 2.0 + 6.0, 0.0, 0.0]])
        h = t([[-inf, 0.0, 1.0]], grad=True)
        out = h.logcumsumexp(1)
        np.testing.assert_allclose(values(out), [[-inf, 0.0, math.log(1 + math.e)]])
        out.sum().backward()
        assert h.grad.numpy()[0, 0] == 0.0 and np.isfinite(h.grad.numpy()).all()
        c = t([[1.0, 4.0, 2.0]], grad=True)
        c.cummax(1).values.sum().backward()
        np.testing.assert_array_equal(c.grad.numpy(), [[1.0, 2.0, 0.0]])


def test_scans_and_reductions_same_bits_at_any_thread_count():
    rng = np.random.default_rng(3)
    x = qs.tensor(rng.standard_normal((64, 700)))
    results = []
    for threads in (1, 2):
        with qs.parallel.config(max_workers=threads, parallel_threshold=0):
            results.append([values(f(x)) for f in (
                lambda a: a.cumprod(1), lambda a: a.logcumsumexp(0), lambda a: a.cummax(1).values,
                lambda a: qs.tan(a), lambda a: qs.atan2(a, a.T.T * 2), lambda a: a.var(1),
                lambda a: qs.count_nonzero(a > 0, 1).double(),
            )])
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


def test_vector_norm_and_var_mean():
    x = t([[3.0, -4.0], [0.0, 0.0]], grad=True)
    np.testing.assert_allclose(values(qs.linalg.vector_norm(x, dim=1)), [5.0, 0.0])
    np.testing.assert_allclose(values(qs.linalg.vector_norm(x, ord=inf)), 4.0)
    np.testing.assert_allclose(values(qs.linalg.vector_norm(x, ord=0)), 2.0)
    qs.linalg.vector_norm(x, dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.6, -0.8], [0.0, 0.0]])  # 0 at a zero vector
    v, m = qs.var_mean(t([[1.0, 2.0, 3.0]]), 1, correction=0)
    np.testing.assert_allclose(values(v), [2 / 3]) and np.testing.assert_allclose(values(m), [2.0])
    s, m = qs.std_mean(t([1.0, 3.0]), unbiased=True)
    np.testing.assert_allclose(values(s), math.sqrt(2.0))
    low, high = t([[1.0, 5.0], [-2.0, 0.0]]).aminmax(dim=1)
    np.testing.assert_array_equal(values(low), [1.0, -2.0]) and np.testing.assert_array_equal(values(high), [5.0, 0.0])


def test_bad_input_raises_clear_errors():
    ints = qs.tensor(np.array([1, 2]))
    with pytest.raises(TypeError, match="tan"):
        qs.tan(ints)
    with pytest.raises(TypeError, match="atan2"):
        qs.atan2([1.0], t([1.0]))
    with pytest.raises(ValueError, match="hypot"):
        qs.hypot(t([1.0, 2.0]), t([1.0, 2.0, 3.0]))
    with pytest.raises(IndexError, match="cumprod"):
        t([1.0, 2.0]).cumprod(2)
    with pytest.raises(TypeError, match="round"):
        qs.round(t([1.0]), decimals=1.5)
    with pytest.raises(ValueError, match="lerp"):
        qs.lerp(t([1.0, 2.0]), t([1.0, 2.0]), t([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match="clamp"):
        qs.clamp(t([1.0, 2.0]), t([0.0, 0.0, 0.0]))
    with pytest.raises(IndexError, match="median"):
        qs.median(t([[1.0]]), 3)
    with pytest.raises(TypeError, match="logit"):
        qs.logit(t([0.5]), eps="small")


def test_var_std_take_pytorchs_three_spellings():
    x = t([[1.0, 2.0, 4.0], [0.0, 0.0, 3.0]])
    population = np.var(x.numpy(), axis=1)
    np.testing.assert_allclose(values(x.var(1, False)), population)  # var(x, dim, unbiased)
    np.testing.assert_allclose(values(qs.var(x, 1, unbiased=False, keepdim=True)), population[:, None])
    np.testing.assert_allclose(values(x.var(1, correction=0)), population)
    np.testing.assert_allclose(values(x.std(False)), np.std(x.numpy()))  # std(x, unbiased)
    np.testing.assert_allclose(values(qs.std(x, (0, 1), True, True)), [[np.std(x.numpy(), ddof=1)]])
    with pytest.raises(TypeError, match="var"):
        x.var(1, True, correction=0)
