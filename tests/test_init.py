"""nn.init: PyTorch's initialisers fill in place, with PyTorch's bounds and statistics."""

import math

import numpy as np
import pytest

import quasar as qs
from quasar.nn import init


def test_fills_in_place_and_bumps_version():
    w = qs.nn.Parameter(qs.zeros(64, 32))
    before = w._version[0]
    assert init.ones_(w) is w
    assert w._version[0] == before + 1
    np.testing.assert_array_equal(w.detach().numpy(), 1.0)
    init.zeros_(w)
    init.constant_(w, 0.25)
    np.testing.assert_array_equal(w.detach().numpy(), 0.25)


def test_fans_and_gains_as_pytorch():
    w = qs.zeros(8, 4, 3, 3)
    assert init._calculate_fan_in_and_fan_out(w) == (36, 72)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    with pytest.raises(ValueError, match="fewer than 2"):
        init.xavier_uniform_(qs.zeros(5))
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")


def test_bounds_and_statistics():
    qs.manual_seed(0)
    w = qs.zeros(400, 500)
    init.kaiming_uniform_(w, a=math.sqrt(5))  # Linear's default: bound 1/sqrt(fan_in)
    assert np.abs(w.numpy()).max() <= 1 / math.sqrt(500)
    assert np.abs(w.numpy()).max() > 0.99 / math.sqrt(500)
    init.kaiming_normal_(w, nonlinearity="relu")
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / 500), rel=0.02)
    init.xavier_uniform_(w)
    assert np.abs(w.numpy()).max() <= math.sqrt(6 / 900)
    init.xavier_normal_(w, gain=2.0)
    assert w.numpy().std() == pytest.approx(2 * math.sqrt(2 / 900), rel=0.02)
    init.trunc_normal_(w, std=0.02, a=-0.03, b=0.03)
    assert np.abs(w.numpy()).max() <= 0.03
    init.normal_(w, 1.0, 0.5)
    assert w.numpy().mean() == pytest.approx(1.0, abs=0.01)
    init.uniform_(w, -3, -2)
    assert -3 <= w.numpy().min() and w.numpy().max() <= -2


@pytest.mark.parametrize("shape", [(6, 10), (10, 6), (4, 3, 2)])
def test_orthogonal(shape):
    qs.manual_seed(1)
    w = qs.zeros(*shape, dtype=qs.float64)
    init.orthogonal_(w, gain=1.5)
    flat = w.numpy().reshape(shape[0], -1)
    small = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
    np.testing.assert_allclose(small, 1.5**2 * np.eye(small.shape[0]), atol=1e-12)


def test_seeded_and_validated():
    qs.manual_seed(3)
    a = init.normal_(qs.zeros(5)).numpy().copy()
    qs.manual_seed(3)
    np.testing.assert_array_equal(init.normal_(qs.zeros(5)).numpy(), a)
    with pytest.raises(TypeError, match="float"):
        init.ones_(qs.zeros(3, dtype=qs.int64))
    with pytest.raises(TypeError, match="Tensor"):
        init.ones_(np.zeros(3))


def test_generator_keyword():
    g = qs.Generator().manual_seed(5)
    a = init.normal_(qs.zeros(4), generator=g).numpy().copy()
    g.manual_seed(5)
    np.testing.assert_array_equal(init.normal_(qs.zeros(4), generator=g).numpy(), a)
    with pytest.raises(TypeError, match="Generator"):
        init.uniform_(qs.zeros(2), generator=np.random.default_rng(0))
