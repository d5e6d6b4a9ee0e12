"""qs.Generator, generator= on every random function, the samplers and the
in-place fills (part C of issue 9)."""

import numpy as np
import pytest

import quasar as qs

SAMPLERS = {
    "rand": lambda g: qs.rand(2, 3, generator=g),
    "randn": lambda g: qs.randn((4,), generator=g, dtype=qs.float64),
    "randint": lambda g: qs.randint(0, 10, (5,), generator=g),
    "randperm": lambda g: qs.randperm(6, generator=g),
    "multinomial": lambda g: qs.multinomial(qs.tensor([0.2, 0.3, 0.5]), 2, generator=g),
    "multinomial replacement": lambda g: qs.multinomial(qs.tensor([0.2, 0.8]), 5, True, generator=g),
    "bernoulli": lambda g: qs.bernoulli(qs.full((5,), 0.5), generator=g),
    "normal": lambda g: qs.normal(qs.zeros(3), qs.ones(3), generator=g),
    "normal size": lambda g: qs.normal(1.0, 2.0, (3,), generator=g),
    "poisson": lambda g: qs.poisson(qs.full((4,), 3.0), generator=g),
    "uniform_": lambda g: qs.zeros(3).uniform_(-1, 1, generator=g),
    "normal_": lambda g: qs.zeros(3).normal_(0, 0.02, generator=g),
    "bernoulli_": lambda g: qs.zeros(6).bernoulli_(0.3, generator=g),
    "exponential_": lambda g: qs.zeros(3).exponential_(2.0, generator=g),
    "random_": lambda g: qs.zeros(4, dtype=qs.int64).random_(3, 9, generator=g),
}


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_every_sampler_repeats_with_a_seeded_generator(name):
    sample = SAMPLERS[name]
    first = sample(qs.Generator().manual_seed(7)).numpy().copy()
    again = sample(qs.Generator().manual_seed(7)).numpy()
    np.testing.assert_array_equal(first, again)
    qs.manual_seed(7)  # the default generator, seeded the same way, gives the same numbers
    np.testing.assert_array_equal(sample(None).numpy(), first)


def test_generator_state_seed_and_initial_seed():
    g = qs.Generator()
    assert g.manual_seed(11) is g and g.initial_seed() == 11
    state = g.get_state()
    first = qs.rand(5, generator=g).tolist()
    g.set_state(state)
    assert qs.rand(5, generator=g).tolist() == first
    fresh = g.seed()
    assert g.initial_seed() == fresh
    assert qs.manual_seed(3) is qs.default_generator and qs.initial_seed() == 3
    with pytest.raises(TypeError, match="rand: generator must be a quasar.Generator"):
        qs.rand(2, generator=np.random.default_rng(0))


def test_randint_overloads():
    assert qs.randint(5, (2, 3)).shape == (2, 3)
    values = qs.randint(3, 6, (200,))
    assert values.dtype == qs.int64 and values.numpy().min() >= 3 and values.numpy().max() < 6
    assert qs.randint(4, size=(2,)).shape == (2,)
    assert qs.randint(high=3, size=(4,)).numpy().max() < 3 and qs.randint(2, high=3, size=(1,)).item() == 2
    with pytest.raises(RuntimeError, match="randint: expects low < high"):
        qs.randint(5, 5, (2,))


def test_randperm_and_distributions_look_right():
    qs.manual_seed(0)
    assert sorted(qs.randperm(50).tolist()) == list(range(50))
    counts = np.bincount(qs.multinomial(qs.tensor([1.0, 3.0]), 4000, replacement=True).numpy(), minlength=2)
    assert abs(counts[1] / 4000 - 0.75) < 0.03
    draws = qs.multinomial(qs.tensor([[0.0, 1.0, 1.0, 0.0], [5.0, 1.0, 0.0, 1.0]]), 2).numpy()
    assert sorted(draws[0]) == [1, 2] and len(set(draws[1])) == 2 and 2 not in draws[1]
    assert abs(qs.bernoulli(qs.full((5000,), 0.3)).numpy().mean() - 0.3) < 0.03
    sample = qs.normal(qs.full((5000,), 2.0, dtype=qs.float64), 0.5)
    assert sample.dtype == qs.float64
    assert abs(sample.numpy().mean() - 2) < 0.05 and abs(sample.numpy().std() - 0.5) < 0.05
    assert abs(qs.poisson(qs.full((5000,), 4.0)).numpy().mean() - 4) < 0.15
    assert abs(qs.zeros(5000).exponential_(2.0).numpy().mean() - 0.5) < 0.05
    floats = qs.zeros(1000).uniform_(-2, 3).numpy()
    assert floats.min() >= -2 and floats.max() < 3


def test_multinomial_errors():
    with pytest.raises(ValueError, match="without replacement from 2 categories"):
        qs.multinomial(qs.tensor([0.5, 0.5]), 3)
    with pytest.raises(ValueError, match="fewer than 2 non-zero"):
        qs.multinomial(qs.tensor([0.0, 1.0, 0.0]), 2)
    with pytest.raises(ValueError, match="positive sum"):
        qs.multinomial(qs.tensor([[0.0, 0.0]]), 1, replacement=True)
    with pytest.raises(ValueError, match="finite and non-negative"):
        qs.multinomial(qs.tensor([-0.1, 1.0]), 1)
    with pytest.raises(ValueError, match="num_samples must be a positive int"):
        qs.multinomial(qs.tensor([1.0]), 0)


def test_sampler_argument_errors():
    with pytest.raises(ValueError, match="bernoulli: probabilities must lie in"):
        qs.bernoulli(qs.tensor([1.5]))
    with pytest.raises(ValueError, match="poisson: rates must be non-negative"):
        qs.poisson(qs.tensor([-1.0]))
    with pytest.raises(ValueError, match="normal: std must be non-negative"):
        qs.normal(qs.zeros(2), -1.0)
    with pytest.raises(TypeError, match="normal: with a number mean and std, give size"):
        qs.normal(0.0, 1.0)
    with pytest.raises(ValueError, match="uniform_: expects a <= b"):
        qs.zeros(2).uniform_(1, 0)
    with pytest.raises(ValueError, match="random_: expects from < to"):
        qs.zeros(2).random_(5, 5)


def test_in_place_fills_follow_the_leaf_rule_and_bump_the_version():
    weight = qs.zeros(3, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="normal_: a leaf Variable that requires grad"):
        weight.normal_(0, 0.02)
    weight.data.normal_(0, 0.02)  # the PyTorch habit: .data is a leaf without grad, sharing memory
    assert weight.detach().numpy().std() > 0
    with qs.no_grad():
        assert weight.uniform_(-1, 1) is weight
    t = qs.zeros(4)
    version = t._version[0]
    t.bernoulli_(qs.tensor([0.0, 1.0, 0.0, 1.0]))
    assert t.tolist() == [0, 1, 0, 1] and t._version[0] == version + 1


def test_fill_inside_a_graph_gives_zero_gradient_to_the_old_values():
    x = qs.ones(3, requires_grad=True)
    y = (x * 2).normal_()
    (y * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())  # only through the second factor


def test_random_without_bounds_stays_exact():
    floats = qs.zeros(100).random_().numpy()
    assert (floats == np.round(floats)).all() and floats.max() <= 2**24
    assert qs.zeros(10, dtype=qs.int32).random_().numpy().min() >= 0
