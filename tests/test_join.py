"""Joining and rearranging: cat, stack, split, chunk, narrow, repeat, tile,
flip, roll, pad, tril, triu -- values against NumPy, views, and bad input."""

import numpy as np
import pytest

import quasar as qs
from quasar import backends

BACKENDS = ["reference"] + (["compiled"] if backends.compiled is not None else [])


@pytest.fixture(params=BACKENDS)
def backend_name(request):
    with qs.backend(request.param):
        yield request.param


@pytest.fixture
def no_kernels(monkeypatch):
    def refuse():
        pytest.fail("a kernel ran before the bad input was rejected")

    from quasar.ops import common, index, join

    for module in (common, index, join):
        monkeypatch.setattr(module, "backend", refuse)


def data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_cat_and_stack_match_numpy(backend_name):
    a, b, c = data(2, 3), data(1, 3, seed=1), data(2, 3, seed=2)
    np.testing.assert_array_equal(qs.cat([qs.tensor(a), qs.tensor(b)]).array, np.concatenate([a, b]))
    np.testing.assert_array_equal(qs.concat([qs.tensor(a), qs.tensor(c)], -1).array, np.concatenate([a, c], -1))
    np.testing.assert_array_equal(qs.stack([qs.tensor(a), qs.tensor(c)], 1).array, np.stack([a, c], 1))
    np.testing.assert_array_equal(qs.stack([qs.tensor(a), qs.tensor(c)], -1).array, np.stack([a, c], -1))


def test_cat_promotes_dtypes_and_skips_legacy_empty_tensors():
    out = qs.cat([qs.tensor([1, 2]), qs.tensor([0.5], dtype=qs.float32)])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.array, [1.0, 2.0, 0.5])
    assert qs.cat([qs.tensor([1.0]), qs.tensor([2.0], dtype=qs.float64)]).dtype == np.float64
    grown = qs.cat([qs.zeros(0), qs.ones(2, 3)])  # PyTorch's legacy rule: a 1-D empty joins anything
    assert grown.shape == (2, 3)


def test_cat_routes_each_gradient_back():
    a = qs.tensor(data(2, 3), requires_grad=True)
    b = qs.tensor(data(2, 1), requires_grad=True)
    weights = data(2, 4, seed=5)
    (qs.cat([a, b], 1) * qs.tensor(weights)).sum().backward()
    np.testing.assert_array_equal(a.grad.array, weights[:, :3])
    np.testing.assert_array_equal(b.grad.array, weights[:, 3:])


def test_split_chunk_and_narrow_are_views():
    x = qs.tensor(np.arange(10.0))
    pieces = qs.split(x, 3)
    assert [p.shape for p in pieces] == [(3,), (3,), (3,), (1,)]
    assert all(p._version is x._version and np.shares_memory(p.array, x.array) for p in pieces)
    assert [p.tolist() for p in qs.split(x, [2, 0, 8])][:2] == [[0.0, 1.0], []]
    assert [p.shape for p in x.chunk(4)] == [(3,), (3,), (3,), (1,)]
    assert [p.shape for p in x.chunk(6)] == [(2,)] * 5  # fewer pieces, as in PyTorch
    assert qs.narrow(x, 0, -4, 2).tolist() == [6.0, 7.0]
    empty = qs.tensor(np.zeros((0, 2)))
    assert [p.shape for p in qs.split(empty, 2)] == [(0, 2)]


def test_split_gradients_land_in_their_stretch():
    x = qs.tensor(data(5, 2), requires_grad=True)
    first, second = qs.split(x, [2, 3])
    (first.sum() * 2 + second.sum() * 3).backward()
    np.testing.assert_array_equal(x.grad.array[:, 0], [2.0, 2.0, 3.0, 3.0, 3.0])


def test_repeat_tile_flip_roll_match_numpy(backend_name):
    a = data(2, 3)
    x = qs.tensor(a)
    np.testing.assert_array_equal(x.repeat(2, 1, 3).array, np.tile(a, (2, 1, 3)))
    np.testing.assert_array_equal(x.repeat((1, 2)).array, np.tile(a, (1, 2)))
    np.testing.assert_array_equal(qs.tile(x, (2,)).array, np.tile(a, (2,)))
    np.testing.assert_array_equal(qs.tile(x, 2).array, np.tile(a, 2))
    np.testing.assert_array_equal(x.flip(-1).array, a[:, ::-1])
    assert x.flip(0).array.flags.c_contiguous  # a copy, as in PyTorch
    np.testing.assert_array_equal(x.roll(1, 1).array, np.roll(a, 1, 1))
    np.testing.assert_array_equal(x.roll((1, -1), (0, 1)).array, np.roll(a, (1, -1), (0, 1)))
    np.testing.assert_array_equal(x.roll(-4).array, np.roll(a, -4))


def test_repeat_sums_the_gradient_of_every_copy(backend_name):
    x = qs.tensor([1.0, 2.0], requires_grad=True)
    (x.repeat(3, 2) * qs.tensor(np.arange(12.0).reshape(3, 4))).sum().backward()
    # x[0] sits at columns 0 and 2 of each row
    np.testing.assert_array_equal(x.grad.array, [0 + 2 + 4 + 6 + 8 + 10, 1 + 3 + 5 + 7 + 9 + 11])


def test_pad_matches_numpy_and_crops_with_negative_widths():
    a = data(3, 4)
    x = qs.tensor(a)
    np.testing.assert_array_equal(qs.pad(x, (1, 2)).array, np.pad(a, ((0, 0), (1, 2))))
    np.testing.assert_array_equal(
        qs.pad(x, (0, 1, 2, 0), value=9.0).array, np.pad(a, ((2, 0), (0, 1)), constant_values=9.0)
    )
    np.testing.assert_array_equal(qs.pad(x, (-1, -1, 1, -2)).array, np.pad(a[:1, 1:3], ((1, 0), (0, 0))))


def test_tril_triu_match_numpy(backend_name):
    a = data(2, 3, 4)
    for k in (-1, 0, 2):
        np.testing.assert_array_equal(qs.tril(qs.tensor(a), k).array, np.tril(a, k))
        np.testing.assert_array_equal(qs.tensor(a).triu(k).array, np.triu(a, k))
    np.testing.assert_array_equal(qs.tril(qs.tensor(np.ones((3, 3), np.int64))).array, np.tril(np.ones((3, 3))))


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda x: qs.cat([x, qs.zeros(2, 5)]), ValueError, ["cat", "dim 1", "size 5", "size 4", "except in dim 0"]),
        (lambda x: qs.cat([x, qs.zeros(3, 4, 1)], 1), ValueError, ["cat", "3 dims", "2"]),
        (lambda x: qs.cat([]), ValueError, ["cat", "non-empty"]),
        (lambda x: qs.cat(x), TypeError, ["cat", "list"]),
        (lambda x: qs.cat([qs.tensor(1.0)]), ValueError, ["cat", "zero-dimensional"]),
        (lambda x: qs.cat([x, x], 2), IndexError, ["cat", "dim 2"]),
        (lambda x: qs.stack([x, qs.zeros(4, 3)]), ValueError, ["stack", "(4, 3)", "(3, 4)"]),
        (lambda x: qs.stack([]), ValueError, ["stack", "non-empty"]),
        (lambda x: qs.split(x, [1, 1]), ValueError, ["split", "[1, 1]", "add up to 2", "dim 0", "size 3"]),
        (lambda x: qs.split(x, [4, -1]), ValueError, ["split", "non-negative"]),
        (lambda x: qs.split(x, 0, 1), ValueError, ["split", "positive", "dim 1", "size 4"]),
        (lambda x: qs.split(qs.tensor(1.0), 1), ValueError, ["split", "0-d"]),
        (lambda x: x.chunk(0), ValueError, ["chunk", "positive"]),
        (lambda x: qs.narrow(x, 1, 3, 2), ValueError, ["narrow", "dim 1", "size 4"]),
        (lambda x: qs.narrow(x, 0, 5, 0), IndexError, ["narrow", "start 5", "dim 0", "size 3"]),
        (lambda x: x.repeat(2), ValueError, ["repeat", "2 dims"]),
        (lambda x: x.repeat(2, -1), ValueError, ["repeat", "non-negative"]),
        (lambda x: qs.pad(x, (1,)), ValueError, ["pad", "pair"]),
        (lambda x: qs.pad(x, (1, 1, 1, 1, 1, 1)), ValueError, ["pad", "at most 2 pairs"]),
        (lambda x: qs.pad(x, (-3, -2)), ValueError, ["pad", "dim 1", "size 4", "negative"]),
        (lambda x: qs.pad(x, (1, 1), mode="reflect"), ValueError, ["pad", "reflect"]),
        (lambda x: qs.tril(qs.zeros(3)), ValueError, ["tril", "2 dims", "(3,)"]),
        (lambda x: x.roll((1, 2), 0), ValueError, ["roll", "same length"]),
        (lambda x: x.flip(2), IndexError, ["flip", "dim 2"]),
    ],
)
def test_bad_arguments_name_the_op_dim_and_sizes(call, error, words, no_kernels):
    x = qs.tensor(np.zeros((3, 4)), requires_grad=True)
    with pytest.raises(error) as info:
        call(x)
    for word in words:
        assert word in str(info.value), (word, str(info.value))
