"""Indexing: t[key], gather, index_select, take_along_dim, embedding, one_hot,
masked_fill; the index family's kernels on both backends; bad indices."""

import inspect

import numpy as np
import pytest

import quasar as qs
from quasar import backends
from quasar.backends import reference_index
from quasar.ops import index as index_ops

BACKENDS = ["reference"] + (["compiled"] if backends.compiled is not None else [])

try:
    from quasar.backends import compiled_index
except ImportError:  # the extension is not built
    compiled_index = None


def expected_index_grad(shape, key, grad):
    """An independent oracle for the gradient of x[key]: the arange trick."""
    size = int(np.prod(shape))
    positions = np.arange(size).reshape(shape)[key]
    return np.bincount(positions.reshape(-1), weights=grad.reshape(-1), minlength=size)


@pytest.fixture(params=BACKENDS)
def backend_name(request):
    with qs.backend(request.param):
        yield request.param


@pytest.fixture
def no_kernels(monkeypatch):
    """Fail if any op of the family reaches a backend kernel: errors must come first."""

    def refuse():
        pytest.fail("a kernel ran before the bad input was rejected")

    from quasar.ops import common, elementwise, join, mathops

    for module in (common, elementwise, index_ops, join, mathops):
        monkeypatch.setattr(module, "backend", refuse)


KEYS = [
    0,
    -1,
    (1, -2),
    slice(None, None, -1),
    (slice(1, None), slice(None, None, 2)),
    (Ellipsis, 1),
    (None, 1, None),
    ([0, 2, 0],),
    (slice(None), [3, -1, 3]),
    ([[0], [2]], [1, 3]),
    ([0, 1], slice(None), ),
    (1, [0, 0, 2]),
    ([0, 2], None, [1, 1]),
    (np.array([True, False, True]),),
    (np.array([True, False, True]), 2),
    (slice(0, 2), np.array([True, False, False, True])),
    (np.zeros((3, 4), bool),),
    (True,),
    (Ellipsis, None),
    ([],),
]


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_getitem_matches_numpy_value_and_gradient(key, backend_name):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((3, 4))
    x = qs.tensor(data, requires_grad=True)
    out = x[key]
    np.testing.assert_array_equal(out.array, data[key])
    assert isinstance(out.array, np.ndarray)
    grad = rng.standard_normal(out.shape)
    out.backward(qs.tensor(grad))
    np.testing.assert_allclose(x.grad.array.reshape(-1), expected_index_grad(data.shape, key, grad))


def test_repeated_indices_add_up_on_every_path(backend_name):
    x = qs.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x[[0, 0, 2, 0]].sum() + x[[[1], [1]]].sum() + qs.index_select(x, 0, [2, 2]).sum()).backward()
    np.testing.assert_array_equal(x.grad.array, [3.0, 2.0, 3.0])


def test_basic_indexing_gives_a_view_sharing_the_version_counter():
    x = qs.tensor(np.arange(12.0).reshape(3, 4))
    v = x[1:, ::2]
    assert v._is_view and v._version is x._version
    assert np.shares_memory(v.array, x.array)
    x.array[2, 2] = 100.0
    assert v.array[1, 1] == 100.0
    advanced = x[[0, 1]]
    assert not advanced._is_view and not np.shares_memory(advanced.array, x.array)


def test_an_all_int_key_gives_a_0d_tensor_and_iteration_stops():
    x = qs.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x[1, 0].shape == () and x[1, 0].item() == 3.0
    rows = [row.tolist() for row in x]  # iteration ends at the IndexError of x[2]
    assert rows == [[1.0, 2.0], [3.0, 4.0]]


def test_tensor_indices_and_masks_are_accepted():
    x = qs.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(x[qs.tensor([1, 1])].array, x.array[[1, 1]])
    np.testing.assert_array_equal(x[x > 2].array, [3.0, 4.0, 5.0])
    np.testing.assert_array_equal(x[qs.tensor(1), qs.tensor([0, 2], dtype=qs.int32)].array, [3.0, 5.0])
    np.testing.assert_array_equal(x[qs.tensor(0):qs.tensor(1)].array, x.array[0:1])


# ---------------------------------------------------------------- gather and friends


def test_gather_follows_its_definition(backend_name):
    rng = np.random.default_rng(1)
    data = rng.standard_normal((3, 4))
    index = np.array([[0, 0], [3, 1], [2, 2]])
    x = qs.tensor(data, requires_grad=True)
    out = qs.gather(x, 1, index)
    want = np.array([[data[i, index[i, j]] for j in range(2)] for i in range(3)])
    np.testing.assert_array_equal(out.array, want)
    out.sum().backward()
    counts = np.zeros((3, 4))
    for i in range(3):
        for j in range(2):
            counts[i, index[i, j]] += 1
    np.testing.assert_array_equal(x.grad.array, counts)


def test_take_along_dim_matches_numpy_and_broadcasts(backend_name):
    rng = np.random.default_rng(2)
    data = rng.standard_normal((3, 1, 4))
    index = rng.integers(0, 4, (1, 5, 2))
    out = qs.take_along_dim(qs.tensor(data), qs.tensor(index), 2)
    np.testing.assert_array_equal(out.array, np.take_along_axis(data, index, 2))
    flat = qs.take_along_dim(qs.tensor(data), qs.tensor([[11, 0]]))
    np.testing.assert_array_equal(flat.array, data.reshape(-1)[[11, 0]])


def test_index_select_and_embedding(backend_name):
    weight = qs.tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    out = qs.embedding(qs.tensor([[3, 0], [3, 3]]), weight, padding_idx=-1)
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.array[1, 0], [9.0, 10.0, 11.0])
    out.sum().backward()
    # row 3 is the padding row: looked up three times, yet no gradient, as in PyTorch
    np.testing.assert_array_equal(weight.grad.array[:, 0], [1.0, 0.0, 0.0, 0.0])
    picked = qs.index_select(qs.tensor(np.arange(6.0).reshape(2, 3)), 1, qs.tensor([2, 0, 2]))
    np.testing.assert_array_equal(picked.array, [[2.0, 0.0, 2.0], [5.0, 3.0, 5.0]])


def test_one_hot():
    out = qs.one_hot(qs.tensor([[2, 0], [1, 2]]))
    assert out.dtype == np.int64 and out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.array[0], [[0, 0, 1], [1, 0, 0]])
    assert qs.one_hot(qs.tensor([0]), num_classes=4).shape == (1, 4)


def test_masked_fill_keeps_dtype_and_routes_gradients(backend_name):
    ints = qs.tensor([[1, 2], [3, 4]])
    filled = qs.masked_fill(ints, qs.tensor([True, False]), -7)
    assert filled.dtype == np.int64
    np.testing.assert_array_equal(filled.array, [[-7, 2], [-7, 4]])
    flags = qs.masked_fill(qs.tensor([True, False]), qs.tensor([False, True]), True)
    np.testing.assert_array_equal(flags.array, [True, True])
    x = qs.tensor([1.0, 2.0, 3.0], requires_grad=True)
    value = qs.tensor(5.0, requires_grad=True)
    out = x.masked_fill(qs.tensor([True, False, True]), value)
    np.testing.assert_array_equal(out.array, [5.0, 2.0, 5.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.array, [0.0, 1.0, 0.0])
    assert value.grad.item() == 2.0


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "key, words",
    [
        (3, ["index", "index 3", "dim 0", "size 3"]),
        (-4, ["index", "index -4", "dim 0", "size 3"]),
        ((0, 4), ["index 4", "dim 1", "size 4"]),
        ((slice(None), [0, 4]), ["index 4", "dim 1", "size 4"]),
        (([-4, 1],), ["index -4", "dim 0", "size 3"]),
        ((0, 0, 0), ["too many indices", "dimension 2"]),
        ((Ellipsis, Ellipsis), ["single ellipsis"]),
        (np.array([True, False]), ["mask of shape (2,)", "(3,)", "dims 0..0"]),
        ((slice(None), np.ones((3,), bool)), ["mask of shape (3,)", "(4,)", "dims 1..1"]),
        (np.array([0.0, 1.0]), ["must be integer", "float64"]),
        (qs.tensor([1.0]), ["must be integer", "float32"]),
        (1.5, ["only integers", "float"]),
        (([0, 1], [0, 1, 2]), ["shapes (2,), (3,)", "cannot be broadcast"]),
    ],
    ids=repr,
)
def test_bad_keys_are_rejected_before_any_kernel(key, words, no_kernels):
    x = qs.tensor(np.zeros((3, 4)), requires_grad=True)
    with pytest.raises(IndexError) as info:
        x[key]
    for word in words:
        assert word in str(info.value)
    with pytest.raises(IndexError), qs.no_grad():
        x[key] = 1.0


def test_slice_step_zero():
    with pytest.raises(ValueError, match="step cannot be zero"):
        qs.tensor([1.0, 2.0])[::0]


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda x: qs.gather(x, 1, [[0, 4]]), IndexError, ["gather", "index 4", "dim 1", "size 4"]),
        (lambda x: qs.gather(x, 1, [[-1]]), IndexError, ["gather", "index -1", "dim 1", "size 4"]),
        (lambda x: qs.gather(x, 0, [[0.0]]), IndexError, ["gather", "integer", "float64"]),
        (lambda x: qs.gather(x, 0, [0, 1]), ValueError, ["gather", "1 dims", "2"]),
        (lambda x: qs.gather(x, 1, np.zeros((4, 1), int)), ValueError, ["gather", "dim 0", "4 > 3"]),
        (lambda x: qs.gather(x, 2, [[0]]), IndexError, ["gather", "dim 2"]),
        (lambda x: qs.index_select(x, 0, [3]), IndexError, ["index_select", "index 3", "dim 0", "size 3"]),
        (lambda x: qs.index_select(x, 0, [[0]]), ValueError, ["index_select", "1-D"]),
        (lambda x: qs.take_along_dim(x, [[5]], 1), IndexError, ["take_along_dim", "index 5", "size 4"]),
        (lambda x: qs.take_along_dim(x, np.zeros((2, 1), int), 1), ValueError, ["take_along_dim", "(3,) and (2,)"]),
        (lambda x: qs.embedding([0, 3], x), IndexError, ["embedding", "index 3", "dim 0", "size 3"]),
        (lambda x: qs.embedding([0], x, padding_idx=3), IndexError, ["padding_idx", "size 3"]),
        (lambda x: qs.one_hot([0, 3], 3), IndexError, ["one_hot", "index 3", "size 3"]),
        (lambda x: qs.one_hot([0.0]), TypeError, ["one_hot", "float64"]),
        (lambda x: qs.masked_fill(x, np.ones(3, bool), 0), ValueError, ["masked_fill", "(3,)", "(3, 4)"]),
        (lambda x: qs.masked_fill(x, np.ones(4), 0), TypeError, ["masked_fill", "bool", "float64"]),
        (lambda x: qs.masked_fill(x, np.ones(4, bool), qs.zeros(2)), ValueError, ["masked_fill", "0-d"]),
    ],
)
def test_bad_arguments_name_the_op_and_sizes(call, error, words, no_kernels):
    x = qs.tensor(np.zeros((3, 4)), requires_grad=True)
    with pytest.raises(error) as info:
        call(x)
    for word in words:
        assert word in str(info.value)


# ---------------------------------------------------------------- the kernels of the family


def public_kernels(module):
    return sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and callable(value) and getattr(value, "__module__", None) == module.__name__
    )


needs_compiled = pytest.mark.skipif(compiled_index is None, reason="quasar._kernels is not built")


@needs_compiled
def test_the_compiled_family_has_exactly_the_reference_kernels():
    assert public_kernels(compiled_index) == public_kernels(reference_index)
    for name in public_kernels(reference_index):
        want = list(inspect.signature(getattr(reference_index, name)).parameters)
        assert list(inspect.signature(getattr(compiled_index, name)).parameters) == want, name


def kernel_cases(rng, dtype):
    """(kernel name, args) pairs covering every kernel: strided, empty and 0-d inputs."""
    x = rng.standard_normal((4, 3, 5)).astype(dtype)
    g = rng.standard_normal((4, 3, 5)).astype(dtype)
    t = x.transpose(2, 0, 1)  # non-contiguous
    zeros = x.copy()
    zeros[1, :2, 3] = 0
    index = rng.integers(0, 6, 40)
    yield "scatter_add_flat", (rng.standard_normal(40).astype(dtype), index, 7)
    yield "scatter_add_flat", (np.zeros(0, dtype), np.zeros(0, np.int64), 3)
    yield "index_add", (rng.standard_normal((3, 40, 4)).astype(dtype), index, 6)
    yield "index_add", (rng.standard_normal((1, 40, 2)).astype(dtype)[:, :, ::-1], index, 6)
    for values in (x, x > 0, (10 * x).astype(np.int64), (10 * x).astype(np.int32)):
        yield "masked_fill", (values, rng.random((3, 5)) < 0.5, 1)
    yield "masked_fill", (x[:0], np.ones((), bool), 2)
    for axis in range(3):
        yield "cumsum", (t, axis)
        yield "prod", (zeros, axis, axis == 1)
        yield "prod_backward", (zeros, np.sum(g, axis=axis, keepdims=True), axis)
        yield "argmax", (t, axis)
        yield "argmin", (np.round(x, 1), axis)  # ties: the first wins
    yield "cumsum", (np.zeros((2, 0), dtype), 1)
    yield "prod", (np.zeros((2, 0), dtype), 1, False)
    yield "argmax", (x, None)
    yield "argmax", (x > 0.5, 1)
    yield "argmin", ((10 * x).astype(np.int64), 0)
    for axes in [(), (0,), (1, 2), (0, 2), (0, 1, 2)]:
        yield "logsumexp", (t, axes, False)
        yield "logsumexp", (x, axes, True)
    yield "logsumexp", (np.zeros((2, 0), dtype), (1,), False)
    for name, args in [("leaky_relu", (0.05,)), ("elu", (1.3,)), ("softplus", (1.5, 3.0)), ("erf", ()), ("gelu", ())]:
        yield name, (4 * t, *args)
        yield name + "_backward", (4 * t, g.transpose(2, 0, 1), *args)
        yield name, (np.zeros((0, 2), dtype), *args)
        yield name, (np.asarray(0.7, dtype), *args)


@needs_compiled
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("threshold", [None, 1], ids=["default-threads", "all-parallel"])
def test_compiled_kernels_agree_with_the_reference(dtype, threshold):
    from quasar import parallel

    rng = np.random.default_rng(3)
    settings = {} if threshold is None else {"parallel_threshold": threshold}
    covered = set()
    with parallel.config(**settings):
        for name, args in kernel_cases(rng, dtype):
            got = getattr(compiled_index, name)(*args)
            want = getattr(reference_index, name)(*args)
            assert got.dtype == want.dtype and got.shape == want.shape, name
            tol = 1e-5 if dtype == np.float32 else 1e-12
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=name)
            covered.add(name)
    assert covered == set(public_kernels(reference_index))


@needs_compiled
def test_kernels_handle_special_values_alike():
    x = np.array([[1.0, np.nan, 3.0, np.nan], [np.inf, -np.inf, 2.0, 2.0], [-np.inf, -np.inf, -np.inf, -np.inf]])
    for module in (reference_index, compiled_index):
        np.testing.assert_array_equal(module.argmax(x, 1), [1, 0, 0])
        np.testing.assert_array_equal(module.argmin(x, 1), [1, 1, 0])
        np.testing.assert_array_equal(module.logsumexp(x, (1,)), [np.nan, np.inf, -np.inf])
        big = np.array([1e4, 1e4, -1e4])
        np.testing.assert_allclose(module.logsumexp(big, (0,)), 1e4 + np.log(2))


def test_an_empty_ellipsis_between_advanced_indices_moves_their_dims_first():
    # Found by Hypothesis: NumPy still counts a zero-width `...` as separating
    # two advanced indices, so their result dims go to the front.
    data = np.random.default_rng(0).standard_normal((2, 3, 1))
    key = (slice(None), np.array([True, False, True]), Ellipsis, np.array(0))
    x = qs.tensor(data, requires_grad=True)
    out = x[key]
    np.testing.assert_array_equal(out.array, data[key])
    out.backward(qs.ones_like(out))
    expected = np.zeros_like(data)
    np.add.at(expected, key, 1.0)
    np.testing.assert_array_equal(x.grad.array, expected)
