"""Sorting, selection and scatter (part C of issue 9): values, PyTorch's
rules at ties and NaN, both backends, and errors. Gradients away from ties
are checked by the op table (tests/optable_select.py)."""

import numpy as np
import pytest

import quasar as qs

BACKENDS = ["compiled", "reference"]


@pytest.fixture(params=BACKENDS)
def on_backend(request):
    with qs.backend(request.param):
        yield request.param


# ---------------------------------------------------------------- sort and friends


def test_sort_matches_numpy_and_returns_indices(on_backend):
    x = np.random.default_rng(0).standard_normal((4, 7))
    values, indices = qs.sort(qs.tensor(x), dim=1)
    np.testing.assert_array_equal(values.numpy(), np.sort(x, 1))
    np.testing.assert_array_equal(indices.numpy(), np.argsort(x, 1))
    assert indices.dtype == qs.int64


def test_sort_is_stable_both_ways_with_nan_largest(on_backend):
    x = qs.tensor([2.0, float("nan"), 1.0, 2.0, 1.0, float("nan")])
    assert qs.argsort(x).tolist() == [2, 4, 0, 3, 1, 5]
    # descending: NaN first, equal elements still in their original order (PyTorch's stable=True)
    assert qs.argsort(x, descending=True).tolist() == [1, 5, 0, 3, 2, 4]
    values = qs.sort(x, descending=True, stable=True).values.numpy()
    np.testing.assert_array_equal(values, [np.nan, np.nan, 2, 2, 1, 1])


def test_sort_integers_and_bools(on_backend):
    assert qs.sort(qs.tensor([3, -1, 2])).values.tolist() == [-1, 2, 3]
    assert qs.sort(qs.tensor([True, False, True])).indices.tolist() == [1, 0, 2]
    assert qs.sort(qs.tensor([3, -1, 2]), descending=True).values.dtype == qs.int64


def test_sort_gradient_at_ties_goes_to_the_returned_index():
    x = qs.tensor([1.0, 3.0, 1.0, 3.0], requires_grad=True)
    values, indices = x.sort(descending=True)
    (values * qs.tensor([1.0, 10.0, 100.0, 1000.0])).sum().backward()
    expected = np.zeros(4)
    expected[indices.numpy()] = [1.0, 10.0, 100.0, 1000.0]
    np.testing.assert_array_equal(x.grad.numpy(), expected)
    assert indices.tolist() == [1, 3, 0, 2]


def test_topk_and_kthvalue(on_backend):
    x = qs.tensor([[5.0, 1.0, 5.0, 3.0], [0.0, -2.0, 4.0, 4.0]], requires_grad=True)
    values, indices = qs.topk(x, 3)
    assert values.tolist() == [[5, 5, 3], [4, 4, 0]] and indices.tolist() == [[0, 2, 3], [2, 3, 0]]
    values.sum().backward()
    assert x.grad.tolist() == [[1, 0, 1, 1], [1, 0, 1, 1]]
    small = x.topk(1, dim=0, largest=False)
    assert small.values.tolist() == [[0, -2, 4, 3]] and small.indices.tolist() == [[1, 1, 1, 0]]
    kth = qs.kthvalue(x, 2, 1)
    assert kth.values.tolist() == [3, 0] and kth.indices.tolist() == [3, 0]
    assert qs.kthvalue(x, 1, 0, keepdim=True).values.shape == (1, 4)


def test_topk_and_kthvalue_check_k():
    x = qs.tensor([1.0, 2.0])
    with pytest.raises(IndexError, match="topk: k=3"):
        qs.topk(x, 3)
    with pytest.raises(IndexError, match="kthvalue: k=0"):
        qs.kthvalue(x, 0)
    assert qs.topk(x, 0).values.shape == (0,)


def test_sort_of_0d_and_empty(on_backend):
    assert qs.sort(qs.tensor(2.0)).values.shape == ()
    assert qs.sort(qs.zeros(0, 3), dim=0).values.shape == (0, 3)
    with pytest.raises(IndexError, match="sort: dim 2"):
        qs.sort(qs.zeros(2, 2), dim=2)


# ---------------------------------------------------------------- unique and searchsorted


def test_unique_with_inverse_and_counts(on_backend):
    x = qs.tensor([[3, 1, 3], [2, 1, 1]])
    values, inverse, counts = qs.unique(x, return_inverse=True, return_counts=True)
    assert values.tolist() == [1, 2, 3] and counts.tolist() == [3, 1, 2]
    assert inverse.tolist() == [[2, 0, 2], [1, 0, 0]]
    assert qs.unique(qs.tensor([2.0, float("nan"), float("nan")])).numel() == 3  # NaNs are distinct


def test_unique_along_a_dim(on_backend):
    x = qs.tensor([[1, 2], [0, 5], [1, 2], [1, 0]])
    rows, inverse, counts = x.unique(dim=0, return_inverse=True, return_counts=True)
    assert rows.tolist() == [[0, 5], [1, 0], [1, 2]]
    assert inverse.tolist() == [2, 0, 2, 1] and counts.tolist() == [1, 1, 2]
    assert qs.unique(x, dim=1).tolist() == [[1, 2], [0, 5], [1, 2], [1, 0]]


def test_searchsorted_sides_and_rows(on_backend):
    boundaries = qs.tensor([1.0, 3.0, 3.0, 7.0])
    values = qs.tensor([[0.0, 3.0, 8.0]])
    assert qs.searchsorted(boundaries, values).tolist() == [[0, 1, 4]]
    assert qs.searchsorted(boundaries, values, right=True).tolist() == [[0, 3, 4]]
    assert qs.searchsorted(boundaries, values, side="right").tolist() == [[0, 3, 4]]
    assert qs.searchsorted(boundaries, 3.0).shape == ()
    rows = qs.tensor([[1, 2, 3], [10, 20, 30]])
    assert qs.searchsorted(rows, qs.tensor([[2], [25]])).tolist() == [[1], [2]]
    shuffled = qs.tensor([7.0, 1.0, 3.0])
    found = qs.searchsorted(shuffled, qs.tensor([2.0]), sorter=qs.argsort(shuffled), out_int32=True)
    assert found.tolist() == [1] and found.dtype == qs.int32
    with pytest.raises(ValueError, match="searchsorted"):
        qs.searchsorted(rows, qs.tensor([2]))
    with pytest.raises(ValueError, match="contradict"):
        qs.searchsorted(boundaries, values, right=True, side="left")


def test_bucketize_and_unique_consecutive():
    boundaries = qs.tensor([1, 3, 5])
    assert qs.bucketize(qs.tensor([0, 1, 4, 5, 9]), boundaries).tolist() == [0, 0, 2, 2, 3]
    assert qs.bucketize(qs.tensor([0, 1, 4, 5, 9]), boundaries, right=True).tolist() == [0, 1, 2, 3, 3]
    values, inverse, counts = qs.unique_consecutive(qs.tensor([1, 1, 2, 2, 3, 1, 1]), True, True)
    assert values.tolist() == [1, 2, 3, 1] and counts.tolist() == [2, 2, 1, 2]
    assert inverse.tolist() == [0, 0, 1, 1, 2, 3, 3]
    rows = qs.tensor([[1, 1, 2], [1, 1, 3]]).unique_consecutive(dim=1)
    assert rows.tolist() == [[1, 2], [1, 3]]


# ---------------------------------------------------------------- nonzero and friends


def test_nonzero_argwhere_and_where_one_argument():
    x = qs.tensor([[0.0, 1.5], [float("nan"), 0.0]])
    assert qs.nonzero(x).tolist() == [[0, 1], [1, 0]]
    assert qs.argwhere(x).tolist() == [[0, 1], [1, 0]]
    rows, cols = x.nonzero(as_tuple=True)
    assert rows.tolist() == [0, 1] and cols.tolist() == [1, 0]
    assert [t.tolist() for t in qs.where(x != 0)] == [[0, 1], [1, 0]]
    assert qs.nonzero(qs.tensor(3)).shape == (1, 0)
    assert [t.tolist() for t in qs.nonzero(qs.tensor(3), as_tuple=True)] == [[0]]


def test_masked_select_and_take():
    x = qs.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    picked = qs.masked_select(x, qs.tensor([True, False]))
    assert picked.tolist() == [1.0, 3.0]
    picked.sum().backward()
    assert x.grad.tolist() == [[1, 0], [1, 0]]
    assert qs.take(x, qs.tensor([[3, -4]])).tolist() == [[4.0, 1.0]]
    with pytest.raises(IndexError, match="take: index 4"):
        qs.take(x, qs.tensor([4]))
    with pytest.raises(TypeError, match="masked_select: mask must be a bool"):
        qs.masked_select(x, qs.tensor([1, 0]))


# ---------------------------------------------------------------- scatter


def test_scatter_forms(on_backend):
    x = qs.zeros(2, 4)
    index = qs.tensor([[1, 3], [0, 0]])
    src = qs.tensor([[1.0, 2.0, 9.0], [3.0, 4.0, 9.0]])
    assert qs.scatter(x, 1, index, src).tolist() == [[0, 1, 0, 2], [4, 0, 0, 0]] or \
        qs.scatter(x, 1, index, src).tolist() == [[0, 1, 0, 2], [3, 0, 0, 0]]
    assert x.scatter(1, index, 5.0).tolist() == [[0, 5, 0, 5], [5, 0, 0, 0]]
    assert qs.scatter_add(x, 1, index, src).tolist() == [[0, 1, 0, 2], [7, 0, 0, 0]]
    assert qs.ones(2, 4).scatter(1, index, src, reduce="multiply").tolist() == [[1, 1, 1, 2], [12, 1, 1, 1]]
    labels = qs.tensor([[2], [0]])
    assert qs.zeros(2, 3, dtype=qs.int64).scatter_(1, labels, 1).tolist() == [[0, 0, 1], [1, 0, 0]]


@pytest.mark.parametrize("reduce, with_self, without_self", [
    ("sum", [11, 2, 7], [10, 2, 4]),
    ("prod", [21, 2, 12], [21, 2, 4]),
    ("mean", [11 / 3, 2, 3.5], [5, 2, 4]),
    ("amax", [7, 2, 4], [7, 2, 4]),
    ("amin", [1, 2, 3], [3, 2, 4]),
])
def test_scatter_reduce_include_self(on_backend, reduce, with_self, without_self):
    x = qs.tensor([1.0, 2.0, 3.0])
    index, src = qs.tensor([0, 0, 2]), qs.tensor([3.0, 7.0, 4.0])
    np.testing.assert_allclose(qs.scatter_reduce(x, 0, index, src, reduce).numpy(), with_self)
    np.testing.assert_allclose(qs.scatter_reduce(x, 0, index, src, reduce, include_self=False).numpy(), without_self)


def test_scatter_reduce_on_integers_and_nan(on_backend):
    x = qs.tensor([5, 5])
    assert qs.scatter_reduce(x, 0, qs.tensor([0, 0]), qs.tensor([2, 4]), "mean").tolist() == [3, 5]
    assert qs.scatter_reduce(x, 0, qs.tensor([1]), qs.tensor([9]), "amax").tolist() == [5, 9]
    nan = qs.scatter_reduce(qs.tensor([1.0]), 0, qs.tensor([0, 0]), qs.tensor([float("nan"), 2.0]), "amax")
    assert np.isnan(nan.item())


def test_scatter_reduce_amax_splits_gradient_at_ties():
    x = qs.tensor([4.0, 0.0], requires_grad=True)
    src = qs.tensor([4.0, 4.0, 1.0], requires_grad=True)
    qs.scatter_reduce(x, 0, qs.tensor([0, 0, 1]), src, "amax").sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1 / 3, 0])
    np.testing.assert_allclose(src.grad.numpy(), [1 / 3, 1 / 3, 1])


def test_scatter_reduce_prod_gradient_with_two_zeros_is_zero():
    x = qs.tensor([2.0], requires_grad=True)
    src = qs.tensor([0.0, 0.0, 3.0], requires_grad=True)
    qs.scatter_reduce(x, 0, qs.tensor([0, 0, 0]), src, "prod").sum().backward()
    assert src.grad.tolist() == [0, 0, 0] and x.grad.tolist() == [0]


def test_scatter_errors():
    x = qs.zeros(2, 3)
    with pytest.raises(IndexError, match="scatter: index 3 is out of range for dim 1 with size 3"):
        qs.scatter(x, 1, qs.tensor([[3]]), qs.ones(1, 1))
    with pytest.raises(IndexError, match="scatter_add: index -1"):
        qs.scatter_add(x, 0, qs.tensor([[-1]]), qs.ones(1, 1))
    with pytest.raises(TypeError, match="scatter_add: src has dtype float64"):
        qs.scatter_add(x, 0, qs.tensor([[0]]), qs.ones(1, 1, dtype=qs.float64))
    with pytest.raises(ValueError, match="same number of dims"):
        qs.scatter(x, 0, qs.tensor([0]), qs.ones(1))
    with pytest.raises(ValueError, match="larger than src"):
        qs.scatter(x, 0, qs.tensor([[0, 1]]), qs.ones(1, 1))
    with pytest.raises(ValueError, match="reduce must be one of"):
        qs.scatter_reduce(x, 0, qs.tensor([[0]]), qs.ones(1, 1), "max")
    with pytest.raises(IndexError, match="index_add: index 2"):
        qs.index_add(x, 0, qs.tensor([2]), qs.ones(1, 3))
    with pytest.raises(ValueError, match="index_copy: source of shape"):
        qs.index_copy(x, 0, qs.tensor([1]), qs.ones(2, 3))


# ---------------------------------------------------------------- index_*


def test_index_ops(on_backend):
    x = qs.zeros(3, 2)
    index = qs.tensor([2, 0, 2])
    source = qs.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    assert qs.index_add(x, 0, index, source, alpha=2).tolist() == [[6, 8], [0, 0], [12, 16]]
    assert x.index_copy(0, qs.tensor([1]), source[:1]).tolist() == [[0, 0], [1, 2], [0, 0]]
    assert x.index_fill(1, qs.tensor([1]), 7.0).tolist() == [[0, 7], [0, 7], [0, 7]]
    rows, cols = qs.tensor([0, 0, 2]), qs.tensor([1, 1, -1])
    assert x.index_put((rows, cols), qs.tensor(1.0), accumulate=True).tolist() == [[0, 2], [0, 0], [0, 1]]
    assert x.index_put((rows, cols), qs.tensor([1.0, 2.0, 3.0])).tolist()[2] == [0, 3]
    assert x.index_put((qs.tensor([True, False, True]),), qs.tensor(4.0)).tolist() == [[4, 4], [0, 0], [4, 4]]


def test_in_place_scatters_follow_the_leaf_rule():
    w = qs.zeros(2, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="index_fill_: a leaf Variable that requires grad"):
        w.index_fill_(0, qs.tensor([0]), 1.0)
    with qs.no_grad():
        w.index_fill_(0, qs.tensor([0]), 1.0)
    assert w.tolist() == [[1, 1], [0, 0]]
    t = qs.zeros(3)
    version = t._version[0]
    assert t.index_add_(0, qs.tensor([1, 1]), qs.ones(2)) is t
    assert t.tolist() == [0, 2, 0] and t._version[0] == version + 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32, np.bool_])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_backends_agree_on_ties_and_nan(dtype, descending):
    rng = np.random.default_rng(4)
    x = rng.integers(0, 4, (3, 5, 40)).astype(dtype)
    if np.dtype(dtype).kind == "f":
        x[rng.random(x.shape) < 0.1] = np.nan
    for axis in range(3):
        compiled = qs.backends.compiled.sort_indices(x, axis, descending)
        reference = qs.backends.reference.sort_indices(x, axis, descending)
        np.testing.assert_array_equal(compiled, reference)
        order = np.take_along_axis(x, compiled, axis)
        ranked = np.nan_to_num(order.astype(np.float64), nan=np.inf)  # NaN counts as the largest
        if descending:
            ranked = -ranked
        assert (np.diff(np.nan_to_num(ranked, posinf=99, neginf=-99), axis=axis) >= 0).all()


def test_reference_sort_blocks_give_the_same_order(monkeypatch):
    from quasar.backends import reference_select

    x = np.random.default_rng(5).integers(0, 9, (2, 300)).astype(np.float64)
    whole = reference_select.sort_indices(x, 1, False)
    monkeypatch.setattr(reference_select, "COMPARISONS_PER_BLOCK", 1000)
    np.testing.assert_array_equal(reference_select.sort_indices(x, 1, False), whole)
    np.testing.assert_array_equal(whole, np.argsort(x, 1, kind="stable"))


@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_backends_agree(right):
    rng = np.random.default_rng(6)
    boundaries = np.sort(rng.integers(0, 10, (4, 12)).astype(np.float64), axis=1)
    values = rng.integers(-1, 11, (4, 7)).astype(np.float64)
    np.testing.assert_array_equal(qs.backends.compiled.searchsorted(boundaries, values, right),
                                  qs.backends.reference.searchsorted(boundaries, values, right))


KERNEL_CASES = [(r, d) for r in ("sum", "prod", "amax", "amin") for d in (np.float32, np.float64, np.int64, np.int32)]
KERNEL_CASES += [("amax", np.bool_), ("amin", np.bool_)]  # bools only take the extremes


@pytest.mark.parametrize("reduce, dtype", KERNEL_CASES)
def test_scatter_reduce_kernel_backends_agree(reduce, dtype):
    rng = np.random.default_rng(7)
    base = rng.integers(-3, 4, 10).astype(dtype)
    values = rng.integers(-3, 4, 50).astype(dtype)
    index = rng.integers(0, 10, 50)
    np.testing.assert_array_equal(qs.backends.compiled.scatter_reduce_flat(base, index, values, reduce),
                                  qs.backends.reference.scatter_reduce_flat(base, index, values, reduce))


def test_empty_inputs(on_backend):
    assert qs.unique(qs.tensor([])).shape == (0,)
    assert qs.searchsorted(qs.zeros(0), qs.tensor([1.0, 2.0])).tolist() == [0, 0]
    assert qs.searchsorted(qs.zeros(0, 4), qs.zeros(0, 3)).shape == (0, 3)
    assert qs.unique(qs.zeros(0, 3), dim=0).shape == (0, 3)
    assert qs.scatter_add(qs.zeros(3), 0, qs.tensor([], dtype=qs.int64), qs.zeros(0)).tolist() == [0, 0, 0]
    assert qs.masked_select(qs.zeros(0, 2), qs.tensor([True, False])).shape == (0,)
    assert qs.kthvalue(qs.zeros(0, 3), 1).values.shape == (0,)
    assert qs.einsum("ij,jk->ik", qs.zeros(2, 0), qs.zeros(0, 3)).tolist() == [[0.0] * 3] * 2
