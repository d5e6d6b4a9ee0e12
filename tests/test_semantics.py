"""PyTorch's semantics where they differ from NumPy's, and the habits that
used to fail silently (issue 9, part A). Each test states the PyTorch
behaviour it pins down."""

import numpy as np
import pytest

import quasar as qs
from quasar import nn

BACKENDS = pytest.mark.parametrize("backend", ["compiled", "reference"])


# ---------------------------------------------------------------- in-place operators


def test_in_place_operators_update_the_same_tensor_and_its_views():
    t = qs.tensor([1.0, 2.0, 3.0, 4.0])
    view = t[1:3]
    memory, version = t.array, t._version[0]
    original = t
    t += 1
    t -= qs.tensor([0.5, 0.5, 0.5, 0.5])
    t *= 2
    t /= 4
    t **= 2
    assert t is original and t.array is memory
    assert t._version[0] == version + 5
    np.testing.assert_allclose(t.array, ((np.array([1.0, 2, 3, 4]) + 0.5) * 2 / 4) ** 2)
    np.testing.assert_allclose(view.array, t.array[1:3])  # the view saw every update


def test_integer_and_bool_in_place_operators():
    t = qs.tensor([7, -7, 12])
    original = t
    t //= 2
    assert t.tolist() == [3, -4, 6]
    t %= 4
    assert t.tolist() == [3, 0, 2]
    t &= 6
    t |= 1
    t ^= 3
    t <<= 2
    t >>= 1
    assert t is original and t.dtype == qs.int64
    expected = ((((np.array([3, 0, 2]) & 6) | 1) ^ 3) << 2) >> 1
    assert t.tolist() == expected.tolist()
    mask = qs.tensor([True, False])
    mask |= qs.tensor([False, True])
    mask ^= True
    assert mask.tolist() == [False, False] and mask.dtype == qs.bool


def test_matmul_in_place_rebinds_as_in_pytorch():
    a = qs.eye(2) * 2
    original = a
    a @= qs.ones(2, 2)
    assert a is not original and original.tolist() == [[2.0, 0.0], [0.0, 2.0]]
    assert a.tolist() == [[2.0, 2.0], [2.0, 2.0]]


def test_a_leaf_that_requires_grad_changes_in_place_only_under_no_grad():
    p = qs.ones(3, requires_grad=True)
    p.grad = qs.full((3,), 2.0)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        p -= 0.1 * p.grad
    assert p.tolist() == [1.0, 1.0, 1.0]
    with qs.no_grad():
        p -= 0.1 * p.grad
    assert p.requires_grad and p.is_leaf
    np.testing.assert_allclose(p.array, 0.8)


def test_in_place_keeps_the_dtype_and_refuses_a_wider_category():
    ints = qs.tensor([1, 2])
    for update in (lambda t: t.__iadd__(1.5), lambda t: t.__itruediv__(2), lambda t: t.__imul__(qs.tensor([0.5]))):
        with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
            update(ints)
    with pytest.raises(RuntimeError, match="result type Long can't be cast to the desired output type Bool"):
        flags = qs.tensor([True])
        flags += 1
    small = qs.tensor([1, 2], dtype=qs.int32)
    small += qs.tensor([10, 20])  # int64 into int32: same category, allowed
    assert small.dtype == qs.int32 and small.tolist() == [11, 22]
    f32 = qs.ones(2)
    f32 += qs.tensor([1.0, 2.0], dtype=qs.float64)
    assert f32.dtype == qs.float32 and f32.tolist() == [2.0, 3.0]
    with pytest.raises(RuntimeError, match="shape"):
        f32 += qs.ones(3, 2)


def test_in_place_operators_are_differentiable_on_non_leaves():
    def fn(a, b):
        y = a * 1.0
        y += b
        y *= b
        y -= a
        y /= 2.0
        y **= 2
        y %= 3.0
        return y

    a = qs.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    b = qs.tensor(np.random.default_rng(1).uniform(0.5, 1.5, (4,)), requires_grad=True)
    assert qs.gradcheck(fn, [a, b])


def test_parameter_updates_with_in_place_operators_train_a_model():
    qs.manual_seed(0)
    rng = np.random.default_rng(0)
    x = qs.tensor(rng.standard_normal((64, 3)))
    y = x @ qs.tensor([[1.0], [-2.0], [0.5]], dtype=qs.float64) + 0.3
    model = nn.Linear(3, 1).double()
    first = None
    for _ in range(100):
        loss = ((model(x) - y) ** 2).mean()
        first = first if first is not None else loss.item()
        model.zero_grad()
        loss.backward()
        with qs.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
    assert loss.item() < 1e-3 * first


# ---------------------------------------------------------------- type promotion


@pytest.mark.parametrize(
    "make, dtype",
    [
        (lambda: qs.ones(3) + qs.tensor(2.0, dtype=qs.float64), qs.float32),  # 0-d does not widen
        (lambda: qs.tensor(2.0, dtype=qs.float64) * qs.ones(3), qs.float32),
        (lambda: qs.tensor(1.0) + qs.tensor(2.0, dtype=qs.float64), qs.float64),  # both 0-d
        (lambda: qs.ones(3) + qs.ones(3, dtype=qs.float64), qs.float64),
        (lambda: qs.tensor([1, 2], dtype=qs.int32) + 5, qs.int32),
        (lambda: qs.tensor([1, 2], dtype=qs.int32) + qs.tensor(5), qs.int32),
        (lambda: qs.tensor([1, 2], dtype=qs.int32) + qs.tensor([5, 6]), qs.int64),
        (lambda: qs.ones(2) + qs.tensor([1, 2]), qs.float32),  # f32 + int64 -> f32
        (lambda: qs.ones(2, dtype=qs.float64) * qs.tensor([1, 2], dtype=qs.int32), qs.float64),
        (lambda: qs.tensor([1, 2]) + 2.5, qs.float32),  # int + Python float -> default dtype
        (lambda: qs.tensor([1, 2]) + qs.tensor(2.5, dtype=qs.float64), qs.float64),  # a 0-d float widens ints
        (lambda: qs.tensor([1, 2]) / qs.tensor([2, 4]), qs.float32),  # int / int -> default float
        (lambda: qs.tensor([True]) + qs.tensor([True]), qs.bool),
        (lambda: qs.tensor([True]) + 1, qs.int64),
        (lambda: qs.tensor(np.array([1, 2], np.uint8)) + qs.tensor(np.array([1], np.int8)), qs.int16),
        (lambda: qs.tensor(np.array([200], np.uint8)) + 100, qs.uint8),  # wraps, as in PyTorch
        (lambda: qs.tensor([1, 2]) < 2.5, qs.bool),
        (lambda: qs.tensor([True, False]).sum(), qs.int64),
        (lambda: qs.tensor([1, 2], dtype=qs.int32).sum(dim=0), qs.int64),
        (lambda: qs.tensor([3, 1], dtype=qs.int32).max(), qs.int32),
        (lambda: qs.tensor([3, 1], dtype=qs.int32).min(dim=0).values, qs.int32),
        (lambda: qs.amax(qs.tensor([[True, False]]), dim=1), qs.bool),
        (lambda: qs.maximum(qs.tensor([3, 1], dtype=qs.int32), qs.tensor([2, 2], dtype=qs.int32)), qs.int32),
        (lambda: qs.tensor([3, -1], dtype=qs.int16) ** 2, qs.int16),
        (lambda: -qs.tensor([3, -1], dtype=qs.int8), qs.int8),
        (lambda: qs.abs(qs.tensor([3, -1])), qs.int64),
        (lambda: qs.tensor([1, 2]).exp(), qs.float32),  # float-valued ops compute ints in the default dtype
        (lambda: qs.where(qs.tensor([True, False]), 1, 3), qs.int64),
        (lambda: qs.where(qs.tensor([True, False]), 1.0, qs.tensor([1, 2])), qs.float32),
    ],
)
def test_result_dtypes_follow_pytorch(make, dtype):
    assert make().dtype == dtype


def test_integer_arithmetic_is_exact_and_wraps_like_c():
    big = 2**62 + 1
    t = qs.tensor([big, -3])
    assert (t + 1).tolist() == [big + 1, -2]
    assert (t * 2).tolist() == [-(2**63) + 2, -6]  # wraps modulo 2**64
    assert (qs.tensor([7], dtype=qs.int32) * 3).tolist() == [21]


@BACKENDS
def test_integer_kernels_agree_with_python_integers(backend):
    rng = np.random.default_rng(3)
    a = rng.integers(-50, 50, (3, 4))
    b = rng.integers(1, 9, (4,)) * rng.choice([-1, 1], 4)
    with qs.backend(backend):
        ta, tb = qs.tensor(a, dtype=qs.int32), qs.tensor(b, dtype=qs.int32)
        results = {
            "add": (ta + tb, a + b), "sub": (ta - tb, a - b), "mul": (ta * tb, a * b),
            "floordiv": (ta // tb, a // b), "mod": (ta % tb, a % b),
            "trunc": (qs.div(ta, tb, rounding_mode="trunc"), np.trunc(a / b)),
            "pow": (ta ** 3, a**3), "neg": (-ta, -a), "abs": (abs(ta), np.abs(a)),
            "and": (ta & tb, a & b), "or": (ta | tb, a | b), "xor": (ta ^ tb, a ^ b), "not": (~ta, ~a),
            "lshift": (ta << 2, a << 2), "rshift": (ta >> 1, a >> 1),
            "max": (qs.maximum(ta, tb), np.maximum(a, b)), "min": (qs.minimum(ta, tb), np.minimum(a, b)),
            "sum": (ta.sum(dim=1, keepdim=True), a.sum(1, keepdims=True)), "amax": (qs.amax(ta, dim=0), a.max(0)),
            "where": (qs.where(ta > 0, ta, 0), np.where(a > 0, a, 0)),
        }
    for name, (got, want) in results.items():
        assert got.dtype.kind == "i", name
        np.testing.assert_array_equal(got.array, want, err_msg=name)


@BACKENDS
def test_floor_division_and_remainder_follow_pythons_signs(backend):
    a = np.array([-7.5, 7.5, -7.0, 7.0, 0.0, 5.0])
    b = np.array([2.0, -2.0, -2.0, 2.0, -3.0, 0.0])
    with qs.backend(backend):
        x, y = qs.tensor(a, dtype=qs.float64), qs.tensor(b, dtype=qs.float64)
        np.testing.assert_array_equal((x // y).array[:5], [-4.0, -4.0, 3.0, 3.0, -0.0])
        np.testing.assert_array_equal((x % y).array[:5], [0.5, -0.5, -1.0, 1.0, 0.0])
        assert np.isinf((x // y).array[5]) and np.isnan((x % y).array[5])  # IEEE, as PyTorch
        np.testing.assert_array_equal((7 % qs.tensor([-3, 3])).tolist(), [-2, 1])
        np.testing.assert_array_equal((-7 // qs.tensor([2])).tolist(), [-4])
        for op in (lambda: qs.tensor([1]) // qs.tensor([0]), lambda: qs.tensor([1]) % 0):
            with pytest.raises(RuntimeError, match="division by zero"):
                op()


def test_remainder_gradients_and_floor_divide_has_none():
    a = qs.tensor([5.5, -3.2], dtype=qs.float64, requires_grad=True)
    b = qs.tensor([2.0, 1.5], dtype=qs.float64, requires_grad=True)
    (a % b).sum().backward()
    np.testing.assert_allclose(a.grad.array, [1.0, 1.0])
    np.testing.assert_allclose(b.grad.array, [-2.0, 3.0])  # -floor(a / b)
    assert not (a // b).requires_grad


def test_bitwise_ops_need_integers_or_bools():
    assert (qs.tensor([True, False]) & qs.tensor([True, True])).tolist() == [True, False]
    assert (~qs.tensor([True, False])).tolist() == [False, True]
    assert (3 & qs.tensor([1, 2])).tolist() == [1, 2] and (1 << qs.tensor([1, 2])).tolist() == [2, 4]
    for op in (lambda: qs.ones(2) & qs.ones(2), lambda: ~qs.ones(2), lambda: qs.tensor([True]) << 1.0):
        with pytest.raises(TypeError, match="not implemented for dtype float"):
            op()
    with pytest.raises(TypeError, match="bool"):
        -qs.tensor([True])
    with pytest.raises(ValueError, match="negative integer powers"):
        qs.tensor([2]) ** -1
    with pytest.raises(ValueError, match="shift counts must be non-negative"):
        qs.tensor([2]) << -1


def test_default_dtype():
    assert qs.get_default_dtype() == qs.float32
    qs.set_default_dtype(qs.float64)
    try:
        assert qs.tensor([1.5]).dtype == qs.float64
        assert qs.zeros(2).dtype == qs.float64 and qs.full((1,), 0.5).dtype == qs.float64
        assert (qs.tensor([1, 2]) / 2).dtype == qs.float64
        assert qs.ones(2, dtype=qs.float32).dtype == qs.float32
    finally:
        qs.set_default_dtype(qs.float32)
    with pytest.raises(TypeError, match="float32 or float64"):
        qs.set_default_dtype(qs.int64)


def test_dtype_aliases():
    assert qs.long == qs.int64 and qs.int == qs.int32 and qs.short == qs.int16
    assert qs.double == qs.float64 and qs.float == qs.float32
    assert {qs.int8, qs.uint8, qs.bool} == {np.dtype(np.int8), np.dtype(np.uint8), np.dtype(np.bool_)}


# ---------------------------------------------------------------- NumPy inputs and garbage integers


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.int64, np.bool_, np.float32, np.float64])
def test_numpy_arrays_keep_their_dtype(dtype):
    array = np.ones((2, 2), dtype=dtype)
    assert qs.tensor(array).dtype == dtype and qs.from_numpy(array).dtype == dtype


@pytest.mark.parametrize("dtype, expected", [(np.float16, np.float32), (np.uint16, np.int64), (np.uint32, np.int64)])
def test_other_numpy_dtypes_convert(dtype, expected):
    t = qs.tensor(np.array([1, 2], dtype=dtype))
    assert t.dtype == expected and t.tolist() == [1, 2]


@pytest.mark.parametrize(
    "make",
    [
        lambda: qs.tensor([2**63]),
        lambda: qs.tensor([-(2**63) - 1]),
        lambda: qs.tensor(float("nan"), dtype=qs.int64),
        lambda: qs.tensor([float("inf")], dtype=qs.int32),
        lambda: qs.tensor([1e30], dtype=qs.int32),
        lambda: qs.tensor([300], dtype=qs.uint8),
        lambda: qs.full((2,), float("nan"), dtype=qs.int64),
        lambda: qs.tensor([1e30]).to(qs.int32),
        lambda: qs.tensor([float("-inf")]).long(),
        lambda: qs.tensor(np.array([2.0**63])).to(qs.int64),
        lambda: qs.tensor(np.array([2**64 - 1], np.uint64)),
    ],
)
def test_garbage_integers_raise(make):
    with pytest.raises(OverflowError, match="overflow"):
        make()
    with pytest.raises(RuntimeError):
        make()


def test_float_to_integer_casts_in_range_truncate():
    assert qs.tensor([-2.7, 2.7, -(2.0**63)], dtype=qs.float64).long().tolist() == [-2, 2, -(2**63)]
    assert qs.tensor([2**63 - 1]).tolist() == [2**63 - 1]


# ---------------------------------------------------------------- factories


def test_factories_take_pytorchs_dtypes():
    assert qs.full((2,), 4).dtype == qs.int64
    assert qs.full((2,), True).dtype == qs.bool
    assert qs.full((2,), 4.0).dtype == qs.float32
    assert qs.linspace(5, -5, 20, dtype=qs.int32).tolist() == [
        5, 4, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, -1, -1, -2, -2, -3, -3, -4, -5
    ]
    x = qs.ones(2, 3, dtype=qs.float64)
    for like in (qs.empty_like(x), qs.full_like(x, 7), qs.randn_like(x), qs.rand_like(x)):
        assert like.shape == (2, 3) and like.dtype == qs.float64
    assert qs.empty(2, 3).shape == (2, 3) and qs.full_like(x, 7).tolist() == [[7.0] * 3] * 2
    assert qs.is_tensor(x) and not qs.is_tensor(x.array) and qs.numel(x) == 6


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "make",
    [
        lambda: qs.ones(2, 3) + qs.ones(4),
        lambda: qs.ones(2, 3).reshape(4),
        lambda: qs.ones(2, 3) @ qs.ones(2, 3),
        lambda: qs.cat([qs.ones(2, 3), qs.ones(2, 4)]),
        lambda: qs.ones(2, 3).permute(0, 0),
        lambda: qs.mm(qs.ones(3), qs.ones(3, 2)),
        lambda: qs.bmm(qs.ones(2, 3, 4), qs.ones(3, 4, 5)),
        lambda: qs.dot(qs.ones(3), qs.ones(4)),
    ],
)
def test_shape_errors_are_runtime_errors_and_value_errors(make):
    with pytest.raises(RuntimeError):
        make()
    with pytest.raises(ValueError):
        make()


@pytest.mark.parametrize(
    "make", [lambda: qs.ones(2, 3).sum(dim=2), lambda: qs.ones(2)[5], lambda: qs.ones(2, 3).transpose(0, 3)]
)
def test_out_of_range_dims_and_indices_are_index_errors(make):
    with pytest.raises(IndexError):
        make()


# ---------------------------------------------------------------- indexing and reductions


def test_an_integer_with_index_arrays_is_a_basic_index():
    x = qs.tensor(np.arange(2 * 3 * 12 * 5 * 4.0).reshape(2, 3, 12, 5, 4), requires_grad=True)
    idx = qs.tensor([0, 2, 4])
    y = x[1, :, 3:11:2, idx, 0:2]
    assert y.shape == (3, 4, 3, 2)  # PyTorch; NumPy would give (3, 3, 4, 2)
    expected = x.array[1][:, 3:11:2][:, :, [0, 2, 4]][..., 0:2]
    np.testing.assert_array_equal(y.array, expected)
    y.sum().backward()
    assert x.grad.sum().item() == y.numel()
    assert x[0, :, 1, qs.tensor([0, 1])].shape == (3, 2, 4)
    z = qs.zeros(2, 3, 12, 5, 4)
    z[1, :, 3:11:2, idx, 0:2] = qs.tensor(expected)
    np.testing.assert_array_equal(z[1, :, 3:11:2, idx, 0:2].array, expected)


def test_assigning_through_an_integer_and_index_arrays_is_differentiable():
    idx = qs.tensor([0, 2])

    def fn(x, v):
        y = x * 1.0
        y[1, :, idx] = v  # v has PyTorch's layout of y[1, :, idx]: (3, 2)
        return y

    rng = np.random.default_rng(0)
    x = qs.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    v = qs.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    assert qs.gradcheck(fn, [x, v])
    np.testing.assert_array_equal(fn(x, v).array[1][:, [0, 2]], v.array)


def test_masked_fill_broadcasts_the_mask():
    x = qs.tensor([[1.0], [2.0]], requires_grad=True)
    mask = qs.tensor([[True, False, True]])
    y = x.masked_fill(mask, 0.0)
    assert y.tolist() == [[0.0, 1.0, 0.0], [0.0, 2.0, 0.0]]
    y.sum().backward()
    assert x.grad.tolist() == [[1.0], [1.0]]


def test_sum_over_an_empty_dim_list_reduces_everything():
    x = qs.ones(2, 3, requires_grad=True)
    assert x.sum(dim=()).item() == 6.0 and x.sum(dim=[]).shape == ()
    assert qs.tensor([[1, 2]]).sum(dim=()).item() == 3


# ---------------------------------------------------------------- methods


def test_arithmetic_methods():
    a, b = qs.tensor([-7.0, 8.0]), qs.tensor([2.0, 3.0])
    assert a.add(b, alpha=2).tolist() == [-3.0, 14.0] and a.sub(b, alpha=2).tolist() == [-11.0, 2.0]
    assert a.mul(b).tolist() == [-14.0, 24.0]
    assert a.true_divide(b).tolist() == [-3.5, float(np.float32(8.0) / np.float32(3.0))]
    assert a.div(b, rounding_mode="trunc").tolist() == [-3.0, 2.0]
    assert a.div(b, rounding_mode="floor").tolist() == [-4.0, 2.0]
    assert a.floor_divide(b).tolist() == [-4.0, 2.0] and a.remainder(b).tolist() == [1.0, 2.0]
    assert a.neg().tolist() == [7.0, -8.0] and b.pow(2).tolist() == [4.0, 9.0]
    assert qs.tensor([5, 7]).div(2).tolist() == [2.5, 3.5]
    with pytest.raises(ValueError, match="rounding_mode"):
        a.div(b, rounding_mode="round")
    with pytest.raises(TypeError, match="alpha"):
        qs.tensor([1]).add(qs.tensor([1]), alpha=0.5)


def test_product_methods_check_ranks():
    m, v = qs.ones(2, 3), qs.ones(3)
    assert m.mm(qs.ones(3, 4)).shape == (2, 4) and m.mv(v).tolist() == [3.0, 3.0]
    assert v.dot(v).item() == 3.0 and v.outer(qs.ones(2)).shape == (3, 2)
    assert qs.ones(5, 2, 3).bmm(qs.ones(5, 3, 1)).shape == (5, 2, 1) and m.matmul(v).shape == (2,)
    with pytest.raises(RuntimeError, match="mv: expected 2-D and 1-D"):
        v.mv(v)


def test_copy_conversion_and_factory_methods():
    x = qs.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    c = x.clone()
    assert c.array is not x.array and c.requires_grad and c.tolist() == x.tolist()
    assert x.contiguous() is x and x.T.contiguous().array.flags.c_contiguous
    assert x.cpu() is x and x.to("cpu") is x and x.device == "cpu"
    assert x.to(qs.float64).dtype == qs.float64 and x.to("cpu", qs.float64).dtype == qs.float64
    assert x.to(qs.tensor([1])).dtype == qs.int64 and x.to(device="cpu", dtype=qs.int32).dtype == qs.int32
    assert x.to(qs.float32, copy=True) is not x
    with pytest.raises(RuntimeError, match="CPU only"):
        x.to("cuda")
    assert x.type_as(qs.tensor([1], dtype=qs.int16)).dtype == qs.int16
    assert x.nelement() == 4 and x.element_size() == 4 and qs.ones(1, dtype=qs.float64).element_size() == 8
    for made, value in ((x.new_zeros(2, 3), 0.0), (x.new_ones((2, 3)), 1.0), (x.new_full((2, 3), 5), 5.0)):
        assert made.shape == (2, 3) and made.dtype == qs.float32 and made.tolist()[0][0] == value
        assert not made.requires_grad
    assert x.new_empty(4).shape == (4,) and x.new_tensor([1, 2]).dtype == qs.float32
    t = qs.tensor([1, 2])
    assert t.fill_(3).tolist() == [3, 3] and t.zero_().tolist() == [0, 0]
    assert x.detach().where(x.detach() > 2, 0.0).tolist() == [[0.0, 0.0], [3.0, 4.0]]


# ---------------------------------------------------------------- grad mode


def test_no_grad_and_inference_mode_as_decorators_and_contexts():
    @qs.no_grad
    def bare():
        return qs.is_grad_enabled()

    @qs.no_grad()
    def called():
        return qs.is_grad_enabled()

    @qs.inference_mode
    def inference():
        return qs.is_grad_enabled(), qs.is_inference_mode_enabled()

    @qs.inference_mode()
    def inference_called():
        return qs.is_grad_enabled()

    assert bare() is False and called() is False and inference() == (False, True) and inference_called() is False
    assert bare.__name__ == "bare" and qs.is_grad_enabled() and not qs.is_inference_mode_enabled()
    x = qs.ones(2, requires_grad=True)
    with qs.inference_mode():
        assert not (x * 2).requires_grad
    with qs.inference_mode(False):
        assert (x * 2).requires_grad


def test_updates_through_data_change_the_parameter():
    p = qs.ones(3, requires_grad=True)
    p.grad = qs.full((3,), 2.0)
    p.data -= 0.5 * p.grad  # PyTorch's old idiom: no no_grad() needed, autograd does not see it
    p.data.mul_(2.0)
    assert p.tolist() == [0.0, 0.0, 0.0] and p.requires_grad and p.is_leaf


def test_numpy_scalars_keep_their_dtype_and_fills_check_integers():
    assert qs.tensor(np.float64(2.0)).dtype == qs.float64 and qs.tensor(np.int32(2)).dtype == qs.int32
    t = qs.zeros(2, dtype=qs.int64)
    assert t.fill_(2.7).tolist() == [2, 2]  # truncates, as PyTorch
    with pytest.raises(RuntimeError, match="nan cannot be converted to type int64"):
        t.fill_(float("nan"))
    with pytest.raises(OverflowError, match="inf cannot be converted"):
        t.masked_fill_(t == 2, float("inf"))
    assert qs.cat([qs.tensor([1]), qs.tensor([2.5])]).dtype == qs.float32


@BACKENDS
@pytest.mark.parametrize("dtype", [qs.uint8, qs.int8, qs.int16, qs.int32, qs.int64])
def test_every_integer_dtype_runs_through_the_everyday_ops(backend, dtype):
    values = np.array([[3, -1, 7], [0, 5, -2]]) % (256 if dtype == qs.uint8 else 1000)
    with qs.backend(backend):
        t = qs.tensor(values, dtype=dtype)
        want = values.astype(dtype)
        assert t.max(dim=1).indices.tolist() == want.argmax(1).tolist()
        assert t.argmin().item() == want.argmin() and t.min().item() == want.min()
        assert t.masked_fill(t > 2, 9).tolist() == np.where(want > 2, 9, want).tolist()
        assert qs.where(t > 2, t, 0).dtype == dtype and t.sum(dim=0).tolist() == want.sum(0).tolist()
        assert qs.cat([t, t]).dtype == dtype and t[:, [0, 2]].tolist() == want[:, [0, 2]].tolist()
        assert t.T.reshape(-1).tolist() == want.T.reshape(-1).tolist()
        assert (t + t).dtype == dtype and (t < 3).tolist() == (want < 3).tolist()


def test_clamp_keeps_integers_and_comparisons_check_ranges():
    t = qs.tensor([1, 5, -3])
    assert t.clamp(0, 2).tolist() == [1, 2, 0] and t.clamp(0, 2).dtype == qs.int64
    assert t.clamp(min=0.5).dtype == qs.float32
    assert t.clamp_(max=2).tolist() == [1, 2, -3]
    with pytest.raises(RuntimeError, match="result type Float"):
        t.clamp_(0.5)
    with pytest.raises(OverflowError, match="lt: -1 is out of range for the tensor's dtype uint8"):
        qs.tensor([0], dtype=qs.uint8) < -1


def test_promotion_functions():
    assert qs.result_type(qs.ones(2), qs.tensor(1.0, dtype=qs.float64)) == qs.float32
    assert qs.result_type(qs.tensor([1]), 2.5) == qs.float32 and qs.result_type(qs.tensor([True]), 1) == qs.int64
    assert qs.promote_types(np.int8, qs.uint8) == qs.int16 and qs.promote_types(qs.int64, qs.float32) == qs.float32
    assert not qs.can_cast(qs.float32, qs.int64) and qs.can_cast(qs.int64, qs.float32)
    assert not qs.can_cast(qs.int8, qs.bool) and qs.can_cast(qs.float64, qs.float32)
    assert qs.tensor([2**63], dtype=qs.float64).item() == 2.0**63


@BACKENDS
def test_a_0d_leafs_gradient_is_an_ndarray(backend):
    ops = [lambda x: x * x, lambda x: x.exp(), lambda x: x.tanh(), lambda x: x**2, lambda x: x % 1.5,
           lambda x: x.clamp(0, 1), lambda x: qs.maximum(x, x), lambda x: x.sum(), lambda x: x.abs()]
    with qs.backend(backend):
        for op in ops:
            x = qs.tensor(0.7, requires_grad=True)
            y = op(x)
            y.backward()
            assert type(y.array) is np.ndarray and type(x.grad.array) is np.ndarray
            assert np.asarray(x.grad).shape == ()


def test_numpy_operands_act_as_tensors():
    assert (qs.ones(2) + np.array([1.0, 2.0])).tolist() == [2.0, 3.0]
    assert (np.array([1, 2]) * qs.ones(2)).dtype == qs.float32
    assert (qs.tensor([1]) + np.int32(3)).tolist() == [4]


def test_more_pytorch_spellings():
    a = qs.tensor([1.0, -2.0])
    same = a
    a.neg_().abs_()
    assert a is same and a.tolist() == [1.0, 2.0]
    x = qs.tensor([1.0, -2.0], requires_grad=True)
    y = x * 1
    y.neg_()
    y.sum().backward()
    assert x.grad.tolist() == [-1.0, -1.0]
    t = qs.tensor([1, 2])
    assert t.bitwise_not_().tolist() == [-2, -3] and t.type() == "int64"
    assert t.byte().dtype == qs.uint8 and t.char().dtype == qs.int8 and t.short().dtype == qs.int16
    assert t.type(qs.float64).dtype == qs.float64
    assert qs.max(qs.tensor([1.0, 5.0]), qs.tensor([3.0, 2.0])).tolist() == [3.0, 5.0]  # torch.max(a, b)
    assert qs.tensor([1, 5]).min(qs.tensor([3, 2])).tolist() == [1, 2]
