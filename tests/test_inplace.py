"""In-place ops and their safety net: version counters, saved-tensor checks,
leaves that require grad, views, and gradients through in-place ops."""

import numpy as np
import pytest

import quasar as qs

# every in-place op, as a function that changes t in place (t of shape (3, 4))
INPLACE_OPS = {
    "add_": lambda t: t.add_(1.0),
    "add_ tensor": lambda t: t.add_(qs.ones(4, dtype=t.dtype), alpha=2),
    "sub_": lambda t: t.sub_(0.5),
    "mul_": lambda t: t.mul_(2.0),
    "div_": lambda t: t.div_(qs.full((3, 1), 2.0, dtype=t.dtype)),
    "zero_": lambda t: t.zero_(),
    "fill_": lambda t: t.fill_(7.0),
    "clamp_": lambda t: t.clamp_(-0.1, 0.1),
    "copy_": lambda t: t.copy_(qs.ones(4, dtype=t.dtype)),
    "masked_fill_": lambda t: t.masked_fill_(qs.tensor([True, False, True, False]), 3.0),
    "setitem slice": lambda t: t.__setitem__((slice(None), 1), 5.0),
    "setitem mask": lambda t: t.__setitem__(t > 0, 0.0),
    "setitem array": lambda t: t.__setitem__(([0, 2],), qs.ones(4, dtype=t.dtype)),
}
OPS = pytest.mark.parametrize("op", list(INPLACE_OPS.values()), ids=list(INPLACE_OPS))


def fresh(requires_grad=False):
    data = np.random.default_rng(0).standard_normal((3, 4))
    return qs.tensor(data, requires_grad=requires_grad)


# ---------------------------------------------------------------- the safety net


@OPS
def test_backward_catches_a_saved_input_changed_in_place(op):
    w = fresh(requires_grad=True)
    x = fresh()
    y = (w * x).sum()  # Mul saved x for dL/dw
    version = x._version[0]
    op(x)
    assert x._version[0] == version + 1
    with pytest.raises(RuntimeError, match=r"Mul: .*shape \(3, 4\).*modified by an in-place operation"):
        y.backward()


@OPS
def test_a_change_through_a_view_is_caught_too(op):
    w = fresh(requires_grad=True)
    x = qs.tensor(np.random.default_rng(1).standard_normal((2, 3, 4)))
    y = (w * x).sum()
    view = x[1]  # shares x's memory and its version counter
    op(view)
    with pytest.raises(RuntimeError, match=r"Mul: .*shape \(2, 3, 4\)"):
        y.backward()


@OPS
def test_backward_catches_a_saved_output_changed_in_place(op):
    w = fresh(requires_grad=True)
    e = w.exp()  # Exp saved its output
    op(e)  # e is not a leaf: allowed, and recorded
    with pytest.raises(RuntimeError, match=r"Exp: .*shape \(3, 4\).*modified by an in-place operation"):
        e.sum().backward()


@OPS
def test_a_leaf_that_requires_grad_cannot_change_in_place(op):
    w = fresh(requires_grad=True)
    before = w.array.copy()
    with pytest.raises(RuntimeError, match=r"leaf tensor that requires grad \(shape \(3, 4\)\).*no_grad"):
        op(w)
    np.testing.assert_array_equal(w.array, before)
    with qs.no_grad():  # how an optimizer updates parameters
        op(w)
    assert w._version[0] == 1 and w.is_leaf and w.requires_grad


@OPS
def test_a_view_of_a_tensor_that_requires_grad_is_not_supported_while_recording(op):
    w = fresh(requires_grad=True)
    t = w * 1
    with pytest.raises(RuntimeError, match="view.*not supported"):
        op(t[:])
    with qs.no_grad():
        op(t[:])


@OPS
def test_views_see_the_new_values(op):
    t = fresh()
    view = t[1:, :]
    op(t)
    np.testing.assert_array_equal(view.array, t.array[1:, :])
    assert view._version[0] == 1


# ---------------------------------------------------------------- gradients through in-place ops


@OPS
def test_an_in_place_op_on_a_non_leaf_matches_finite_differences(op):
    def changed(w):
        t = w * 3.0
        op(t)
        return t

    assert qs.gradcheck(changed, fresh(requires_grad=True))


def test_gradients_of_in_place_arithmetic():
    w = qs.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = qs.tensor([0.5, -1.0, 2.0], requires_grad=True)
    t = w * 1
    t.mul_(v).add_(w, alpha=3).div_(2.0).sub_(v)
    t.sum().backward()
    # t = (w v + 3 w) / 2 - v
    np.testing.assert_allclose(w.grad.array, (v.array + 3) / 2)
    np.testing.assert_allclose(v.grad.array, w.array / 2 - 1)
    assert t.grad_fn is not None and t._version[0] == 4


def test_setitem_on_a_non_leaf_is_differentiable_in_both_operands():
    w = qs.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    v = qs.tensor([10.0, 20.0], requires_grad=True)
    t = w * 2
    t[:, 1] = v
    np.testing.assert_array_equal(t.array, [[0.0, 10.0, 4.0], [6.0, 20.0, 10.0]])
    (t * qs.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
    np.testing.assert_array_equal(w.grad.array, [[2.0, 0.0, 6.0], [8.0, 0.0, 12.0]])
    np.testing.assert_array_equal(v.grad.array, [2.0, 5.0])


def test_writing_a_tensor_that_requires_grad_into_a_plain_tensor_records_a_graph():
    v = qs.tensor([1.0, 2.0], requires_grad=True)
    buffer = qs.zeros(3, dtype=qs.float64)
    buffer[1:] = v * 3
    assert buffer.requires_grad and not buffer.is_leaf
    buffer.sum().backward()
    np.testing.assert_array_equal(v.grad.array, [3.0, 3.0])


def test_fill_and_zero_cut_the_gradient_but_keep_the_tensor_in_the_graph():
    w = qs.tensor([1.0, 2.0], requires_grad=True)
    t = w * 5
    t.zero_()
    assert t.requires_grad and t.grad_fn is not None
    (t + w).sum().backward()
    np.testing.assert_array_equal(w.grad.array, [1.0, 1.0])
    value = qs.tensor(4.0, requires_grad=True)
    u = w * 1
    u.fill_(value)
    u.sum().backward()
    assert value.grad.item() == 2.0


def test_copy_sends_the_gradient_to_the_source():
    w = qs.tensor([1.0, 2.0, 3.0], requires_grad=True)
    src = qs.tensor([7.0], requires_grad=True)
    t = w * 1
    t.copy_(src)  # broadcast
    np.testing.assert_array_equal(t.array, [7.0, 7.0, 7.0])
    t.sum().backward()
    assert src.grad.item() == 3.0
    assert w.grad is None or not w.grad.array.any()


def test_retain_grad_follows_the_tensor_to_its_new_values():
    w = qs.tensor([1.0, 2.0], requires_grad=True)
    t = w * 1
    t.retain_grad()
    t.mul_(3.0)
    (t * qs.tensor([1.0, 10.0])).sum().backward()
    np.testing.assert_array_equal(t.grad.array, [1.0, 10.0])
    np.testing.assert_array_equal(w.grad.array, [3.0, 30.0])


def test_an_op_recorded_before_the_in_place_change_keeps_the_old_values_gradient():
    a = qs.tensor([1.0, 2.0], requires_grad=True)
    t = a * 1
    y = t + 0  # Add saves nothing of t, so the safety net has nothing to check
    t.mul_(3.0)
    (y.sum() + t.sum()).backward()
    np.testing.assert_array_equal(a.grad.array, [4.0, 4.0])


# ---------------------------------------------------------------- dtypes, shapes and plain tensors


def test_integer_tensors_update_exactly_and_refuse_float_results():
    big = 2**40 + 1
    t = qs.tensor([big, 3])
    t.add_(1).mul_(2).sub_(qs.tensor([1, 1]))
    np.testing.assert_array_equal(t.array, [2 * (big + 1) - 1, 7])
    assert t.dtype == np.int64
    with pytest.raises(TypeError, match="add_: result type Float can.t be cast to the desired output type Long"):
        t.add_(0.5)
    with pytest.raises(TypeError, match="div_"):
        t.div_(2)
    with pytest.raises(TypeError, match="mul_.*bool"):
        qs.tensor([True, False]).mul_(2)
    flags = qs.tensor([True, False])
    flags[1] = True
    flags.fill_(False)
    np.testing.assert_array_equal(flags.array, [False, False])


def test_float32_tensors_stay_float32():
    t = qs.zeros(3)
    t.add_(qs.tensor([1.0, 2.0, 3.0], dtype=qs.float64))
    t[0] = qs.tensor(0.25, dtype=qs.float64)
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.array, [0.25, 2.0, 3.0])


def test_a_result_that_would_grow_the_tensor_is_rejected():
    t = qs.zeros(3)
    with pytest.raises(RuntimeError, match=r"add_: the result would have shape \(2, 3\).*shape \(3,\)"):
        t.add_(qs.ones(2, 3))
    with pytest.raises(RuntimeError, match=r"copy_: source of shape \(2, 3\)"):
        t.copy_(qs.ones(2, 3))
    with pytest.raises(ValueError, match=r"mul_: shapes \(3,\) and \(4,\) cannot be broadcast"):
        t.mul_(qs.ones(4))
    with pytest.raises(ValueError, match=r"setitem: a value of shape \(3,\).*selection of shape \(2,\)"):
        t[1:] = qs.ones(3)
    assert t._version[0] == 0 and not t.array.any()


def test_setitem_matches_numpy():
    rng = np.random.default_rng(4)
    data = rng.standard_normal((4, 5))
    for key, value in [
        ((1, slice(None, None, -2)), 9.0),
        (([0, 3], [4, 4]), np.array([1.0, 2.0])),
        ((data > 0.5,), -1.0),
        ((Ellipsis, None, 2), np.array([[1.0], [2.0], [3.0], [4.0]])),
        ((slice(1, 3),), np.ones((1, 1, 5))),  # leading 1s are dropped, as in NumPy
    ]:
        t, want = qs.tensor(data), data.copy()
        t[key] = qs.tensor(value) if isinstance(value, np.ndarray) else value
        want[key] = value
        np.testing.assert_array_equal(t.array, want)
        assert t._version[0] == 1


def test_tensor_zero_still_zeroes_a_grad_buffer():
    w = qs.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    w.grad.zero_()
    assert not w.grad.array.any()
