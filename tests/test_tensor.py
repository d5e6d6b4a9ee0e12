"""Creating tensors, their attributes, and the errors bad input gets."""

import numpy as np
import pytest

import quasar as qs


def test_dtype_defaults_follow_pytorch():
    assert qs.tensor([1.0, 2.0]).dtype == np.float32
    assert qs.tensor(np.array([1.0, 2.0])).dtype == np.float64
    assert qs.tensor(np.array([1.0], np.float32)).dtype == np.float32
    assert qs.tensor([1, 2]).dtype == np.int64
    assert qs.tensor([True]).dtype == np.bool_
    assert qs.tensor(3.5).shape == ()
    assert qs.tensor([1.0], dtype=qs.float64).dtype == np.float64


def test_tensor_copies_and_from_numpy_shares():
    a = np.arange(3.0)
    t, s = qs.tensor(a), qs.from_numpy(a)
    a[0] = 10
    assert t.array[0] == 0 and s.array[0] == 10


def test_attributes():
    t = qs.tensor(np.arange(6.0).reshape(2, 3))
    assert t.shape == (2, 3) and t.ndim == 2 and t.numel() == 6 and len(t) == 2
    assert t.T.shape == (3, 2)
    assert t.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert np.asarray(t) is t.array
    assert t.sum().item() == 15.0
    assert t.to(qs.float32).dtype == np.float32
    assert t.astype(np.float32).dtype == np.float32


def test_factories_and_seed():
    assert qs.zeros(2, 3).shape == (2, 3) and qs.zeros(2, 3).dtype == np.float32
    assert qs.ones((2,), dtype=qs.float64).dtype == np.float64
    assert qs.full((2, 2), 7.0).array.tolist() == [[7, 7], [7, 7]]
    assert qs.arange(4).dtype == np.int64 and qs.arange(0.0, 1.0, 0.5).tolist() == [0.0, 0.5]
    assert np.array_equal(qs.eye(3).array, np.eye(3))
    assert qs.zeros_like(qs.ones(2, dtype=qs.float64)).dtype == np.float64
    qs.manual_seed(7)
    a = qs.randn(3, 3)
    qs.manual_seed(7)
    b = qs.randn(3, 3)
    assert np.array_equal(a.array, b.array) and a.array.std() > 0
    r = qs.rand(1000)
    assert 0 <= r.array.min() and r.array.max() < 1
    assert qs.ones(2, requires_grad=True).requires_grad


def test_repr_shows_values_dtype_and_grad_fn():
    x = qs.tensor(np.array([1.0, 2.0]), requires_grad=True)
    assert repr(x) == "tensor([1., 2.], dtype=float64, requires_grad=True)"
    assert "grad_fn=<MulBackward>" in repr(x * 2)
    assert repr(qs.tensor([1.0])) == "tensor([1.])"


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: qs.tensor(["a", "b"]), TypeError, "numeric"),
        (lambda: qs.tensor([[1.0, 2.0], [3.0]]), ValueError, "rectangular"),
        (lambda: qs.tensor(np.zeros(2, np.complex64)), TypeError, "complex64"),
        (lambda: qs.tensor(np.zeros(2), dtype=np.float16), TypeError, "float16"),
        (lambda: qs.zeros(-1), ValueError, "non-negative"),
        (lambda: qs.ones(2, 3) + qs.ones(4), ValueError, r"add: shapes \(2, 3\) and \(4,\)"),
        (lambda: qs.ones(2, 3) @ qs.ones(2, 3), ValueError, r"matmul: shapes \(2, 3\) and \(2, 3\)"),
        (lambda: qs.ones(2, 3, 4) @ qs.ones(5, 4, 2), ValueError, "batch dims"),
        (lambda: qs.ones(()) @ qs.ones(3), ValueError, "at least 1 dimension"),
        (lambda: qs.ones(2, 3).reshape(4, 2), ValueError, r"reshape: shape \(4, 2\) is invalid for input of shape \(2, 3\)"),
        (lambda: qs.ones(2, 3).reshape(-1, -1), ValueError, "reshape"),
        (lambda: qs.ones(2, 3).sum(dim=2), IndexError, "sum: dim 2 is out of range"),
        (lambda: qs.ones(2, 3).sum(dim=(0, 0)), ValueError, "repeats"),
        (lambda: qs.ones(2, 3).transpose(0, 5), IndexError, "transpose"),
        (lambda: qs.ones(2, 3).permute(0, 0), ValueError, "permute"),
        (lambda: qs.ones(2, 3).item(), ValueError, r"item: .* shape \(2, 3\)"),
        (lambda: qs.sum(qs.tensor([1, 2]), dtype=np.float16), TypeError, "float16"),
        (lambda: qs.ones(2, 3).max(dim=0) if False else qs.ones(0, 3).max(), ValueError, "max: cannot reduce"),
        (lambda: qs.ones(2).clamp(), ValueError, "clamp"),
        (lambda: qs.ones(3) * "a", TypeError, "mul: unsupported operand of type str"),
        (lambda: qs.ones(2, 3).view(3, 2).T.view(6), RuntimeError, "view"),
        (lambda: qs.ones(3, 1).expand(2, 4, 4), ValueError, "broadcast"),
        (lambda: bool(qs.ones(3)), RuntimeError, "ambiguous"),
        (lambda: qs.set_backend("cuda"), ValueError, "unknown backend"),
    ],
)
def test_bad_input_gets_a_clear_error(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_integer_tensors_follow_pytorchs_promotion():
    a = qs.tensor([1, 2, 3])
    assert (a * 2).dtype == np.int64  # ints stay ints, as in PyTorch
    assert (a + qs.tensor([0.5, 0.5, 0.5])).dtype == np.float32
    assert (a == 2).tolist() == [False, True, False]
    assert (qs.tensor([1.0, 5.0]) > 2).tolist() == [False, True]


def test_max_with_int_dim_returns_values_and_indices():
    t = qs.tensor(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]]))
    values, indices = t.max(dim=1)
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert t.max(axis=1).tolist() == [5.0, 7.0]  # NumPy spelling: values only
    assert t.min(dim=0).indices.tolist() == [0, 1, 0]
    assert qs.amax(t, dim=(0, 1)).item() == 7.0


def test_views_share_memory_and_version():
    x = qs.tensor(np.arange(6.0))
    v = x.reshape(2, 3)
    assert np.shares_memory(v.array, x.array) and v._version is x._version
    t = v.T
    assert t._version is x._version
    x.zero_()
    assert t._version[0] == 1 and v.array.sum() == 0


def test_data_is_a_detached_tensor_sharing_memory():
    # PyTorch's habit: p.data.<op>_() updates p itself, outside autograd
    p = qs.nn.Parameter(qs.ones(3))
    assert isinstance(p.data, qs.Tensor) and not p.data.requires_grad
    p.data.mul_(0.5)
    np.testing.assert_array_equal(p.numpy() if not p.requires_grad else p.detach().numpy(), [0.5] * 3)
    p.data.zero_()
    np.testing.assert_array_equal(np.asarray(p.detach()), [0.0] * 3)
    p.data = qs.tensor([1.0, 2.0])
    assert p.shape == (2,) and p.requires_grad
    with pytest.raises(TypeError, match="data"):
        p.data = np.zeros(2)
