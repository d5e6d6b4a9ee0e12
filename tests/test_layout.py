"""Part C's shape ops: values against NumPy, views that share memory, errors.
Gradients are in the op table (tests/optable_select.py)."""

import numpy as np
import pytest

import quasar as qs


def test_unfold_is_a_view_of_overlapping_windows():
    x = qs.arange(6.0)
    windows = x.unfold(0, 3, 1)
    np.testing.assert_array_equal(windows.numpy(), np.lib.stride_tricks.sliding_window_view(x.numpy(), 3))
    assert np.shares_memory(windows.numpy(), x.numpy()) and windows._version is x._version
    assert qs.zeros(2, 5, 3).unfold(1, 2, 2).shape == (2, 2, 3, 2)
    with pytest.raises(ValueError, match="unfold: need 0 <= size <= 3"):
        qs.zeros(3).unfold(0, 4, 1)


def test_unfold_gradient_counts_each_window():
    x = qs.ones(5, requires_grad=True)
    x.unfold(0, 3, 1).sum().backward()
    assert x.grad.tolist() == [1, 2, 3, 2, 1]


@pytest.mark.parametrize("offset", [-3, -1, 0, 2, 5])
def test_diagonal_matches_numpy_and_is_writable_view(offset):
    a = np.arange(24.0).reshape(2, 3, 4)
    x = qs.tensor(a)
    np.testing.assert_array_equal(qs.diagonal(x, offset, 1, 2).numpy(), np.diagonal(a, offset, 1, 2))
    np.testing.assert_array_equal(x.diagonal(offset, -1, 0).numpy(), np.diagonal(a, offset, -1, 0))
    view = x.diagonal(0, 1, 2)
    view[...] = -1.0
    assert (x.numpy()[:, [0, 1, 2], [0, 1, 2]] == -1).all()


def test_diag_diag_embed_and_trace():
    v = qs.tensor([1.0, 2.0])
    np.testing.assert_array_equal(qs.diag(v, 1).numpy(), np.diag([1.0, 2.0], 1))
    np.testing.assert_array_equal(qs.diag(qs.tensor(np.arange(9.0).reshape(3, 3)), -1).numpy(), [3.0, 7.0])
    embedded = qs.diag_embed(qs.tensor([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(embedded.numpy(), [np.diag([1.0, 2.0]), np.diag([3.0, 4.0])])
    assert qs.trace(qs.tensor([[1.0, 2.0], [3.0, 4.0]])).item() == 5.0
    with pytest.raises(ValueError, match="trace: input must be 2-D"):
        qs.trace(v)
    with pytest.raises(ValueError, match="diag: input must be 1-D or 2-D"):
        qs.diag(qs.zeros(2, 2, 2))


def test_movedim_swapaxes_unflatten():
    a = np.zeros((2, 3, 4, 5))
    x = qs.tensor(a)
    assert qs.movedim(x, (0, 3), (1, 0)).shape == np.moveaxis(a, (0, 3), (1, 0)).shape
    assert x.moveaxis(-1, 0).shape == (5, 2, 3, 4)
    assert qs.swapdims(x, 1, 3).shape == (2, 5, 4, 3) and x.swapaxes(0, 1).shape == (3, 2, 4, 5)
    assert x.unflatten(2, (2, 2)).shape == (2, 3, 2, 2, 5)
    with pytest.raises(ValueError, match="unflatten: sizes"):
        x.unflatten(1, (2, 2))
    with pytest.raises(ValueError, match="movedim: repeated"):
        qs.movedim(x, (0, 0), (1, 2))


def test_tensor_split_unbind_select_squeeze_tuple():
    x = qs.arange(7)
    assert [t.tolist() for t in qs.tensor_split(x, 3)] == [a.tolist() for a in np.array_split(np.arange(7), 3)]
    assert [t.tolist() for t in x.tensor_split([2, 10])] == [[0, 1], [2, 3, 4, 5, 6], []]
    rows = qs.tensor([[1, 2], [3, 4]]).unbind(1)
    assert [r.tolist() for r in rows] == [[1, 3], [2, 4]]
    assert qs.select(qs.tensor([[1, 2], [3, 4]]), 0, -1).tolist() == [3, 4]
    assert qs.zeros(1, 2, 1, 3).squeeze((0, 2)).shape == (2, 3)
    assert [t.shape for t in qs.split(qs.zeros(6, 2), [1, 5])] == [(1, 2), (5, 2)]


def test_stacks_and_meshgrid():
    a, b = qs.tensor([1, 2]), qs.tensor([3, 4])
    assert qs.hstack([a, b]).tolist() == [1, 2, 3, 4]
    assert qs.vstack([a, b]).tolist() == [[1, 2], [3, 4]]
    assert qs.dstack([a, b]).tolist() == np.dstack([[1, 2], [3, 4]]).tolist()
    grid_x, grid_y = qs.meshgrid(qs.tensor([1, 2, 3]), qs.tensor([4, 5]), indexing="xy")
    expected = np.meshgrid([1, 2, 3], [4, 5], indexing="xy")
    assert grid_x.tolist() == expected[0].tolist() and grid_y.tolist() == expected[1].tolist()
    ii, jj = qs.meshgrid(qs.tensor([1, 2, 3]), qs.tensor([4, 5]))
    assert ii.shape == (3, 2) and jj.tolist() == [[4, 5]] * 3
    with pytest.raises(ValueError, match="meshgrid: indexing"):
        qs.meshgrid(a, b, indexing="yx")


def test_repeat_interleave():
    x = qs.tensor([[1, 2], [3, 4]])
    assert x.repeat_interleave(2).tolist() == [1, 1, 2, 2, 3, 3, 4, 4]
    assert qs.repeat_interleave(x, qs.tensor([1, 2]), dim=1).tolist() == [[1, 2, 2], [3, 4, 4]]
    assert qs.repeat_interleave(qs.tensor([1, 0, 2])).tolist() == [0, 2, 2]
    with pytest.raises(ValueError, match="repeat_interleave: 3 repeats for dim 0 of size 2"):
        qs.repeat_interleave(x, qs.tensor([1, 2, 3]), dim=0)
    with pytest.raises(ValueError, match="non-negative"):
        qs.repeat_interleave(x, -1)
