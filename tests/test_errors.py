"""PyTorch habits that are mistakes get a clear error naming the op (issue 12).

Each call here was once silently accepted or failed with a message that did
not say what was wrong; the exception types follow PyTorch's.
"""

import numpy as np
import pytest

import quasar as qs
from quasar import optim


def _param():
    return qs.zeros(3, requires_grad=True)


@pytest.mark.parametrize("value, kind", [(np.zeros(3), "ndarray"), ("abc", "str"), ([0.0, 0.0, 0.0], "list")])
def test_assigning_a_non_tensor_grad_fails_at_the_assignment(value, kind):
    p = _param()
    with pytest.raises(TypeError, match=f"assigned grad expected to be a Tensor or None but got grad of type {kind}"):
        p.grad = value
    assert p.grad is None


def test_an_assigned_grad_must_match_shape_and_dtype_and_then_steps():
    p = _param()
    with pytest.raises(RuntimeError, match=r"different size \(shape \(2,\)\)"):
        p.grad = qs.zeros(2)
    with pytest.raises(RuntimeError, match="different type .*float64"):
        p.grad = qs.zeros(3, dtype=qs.float64)
    p.grad = qs.ones(3)  # the right kind of gradient works, as in PyTorch
    optim.SGD([p], lr=0.5).step()
    assert p.tolist() == [-0.5, -0.5, -0.5]
    p.grad = None
    assert p.grad is None


def test_like_factories_need_a_tensor():
    for make in (qs.zeros_like, qs.ones_like, lambda t: qs.full_like(t, 1.0)):
        with pytest.raises(TypeError, match="argument 'input' must be a Tensor, not list"):
            make([1, 2])


def test_a_param_group_without_params_names_the_key():
    x = _param()
    with pytest.raises(KeyError, match="a param group must have a 'params' entry; this one has keys \\['foo'\\]"):
        optim.SGD([{"foo": [x]}], lr=0.1)
    with pytest.raises(TypeError, match="a param group must be a dict, got str"):
        optim.SGD([{"params": [x]}], lr=0.1).add_param_group("abc")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: qs.ones(2**63), r"ones: size 9223372036854775808 .* too large"),
        (lambda: qs.ones(2**31, 2**31), r"ones: a tensor of shape \(2147483648, 2147483648\) and dtype float32 needs"),
        (lambda: qs.zeros(2**40, dtype=qs.float64), "zeros: .* more than this machine's"),
        (lambda: qs.randn(2**40), "randn: .*needs 4 TiB"),
        (lambda: qs.rand(10**7, 10**7), "rand: "),
        (lambda: qs.eye(10**7), "eye: "),
        (lambda: qs.arange(10**16), "arange: .*dtype int64"),
        (lambda: qs.linspace(0, 1, 10**16), "linspace: "),
        (lambda: qs.randint(0, 5, (10**8, 10**8)), "randint: "),
        (lambda: qs.tile(qs.zeros(2, 2), (10**7, 10**7)), r"tile: a tensor of shape \(20000000, 20000000\)"),
        (lambda: qs.zeros(2, 2).repeat(10**7, 10**7), "repeat: "),
    ],
)
def test_a_tensor_too_big_for_memory_is_refused_before_allocating(make, message):
    with pytest.raises(RuntimeError, match=message):
        make()


def test_full_needs_a_number():
    for fill in ("x", None, [1, 2]):
        with pytest.raises(TypeError, match="full: argument 'fill_value' must be a real number"):
            qs.full((2,), fill)
    assert qs.full((2,), qs.tensor(3.0)).tolist() == [3.0, 3.0]  # a one-element tensor is a number


def test_randint_needs_ints_and_low_below_high():
    with pytest.raises(TypeError, match="randint: argument 'low' must be an int, not float"):
        qs.randint(0.5, 10)
    with pytest.raises(TypeError, match="argument 'high' must be an int"):
        qs.randint(0, 2.5)
    with pytest.raises(RuntimeError, match="expects low < high"):
        qs.randint(5, 5)
    with pytest.raises(ValueError, match="sizes must be non-negative ints"):
        qs.randint(0, 5, (2, -1))
    assert qs.randint(3, 4, (2,)).tolist() == [3, 3] and qs.randint(3, 4, 2).shape == (2,)


def test_arange_and_linspace_check_their_arguments():
    with pytest.raises(TypeError, match="arange: argument 'end' must be a real number, not str"):
        qs.arange(0, "5")
    with pytest.raises(ValueError, match="linspace: steps must be a non-negative int"):
        qs.linspace(0, 1, 2.5)


def test_requires_grad_must_be_a_bool():
    with pytest.raises(TypeError, match="argument 'requires_grad' must be bool, not str"):
        qs.zeros(2).requires_grad_("yes")
    with pytest.raises(TypeError, match="must be bool, not str"):
        qs.tensor([1.0], requires_grad="yes")
    with pytest.raises(TypeError, match="must be bool, not int"):
        qs.zeros(2, requires_grad=1)
    assert qs.zeros(2).requires_grad_(np.True_).requires_grad


@pytest.mark.parametrize(
    "reduce",
    [
        lambda x: x.sum(keepdim="yes"),
        lambda x: x.sum(0, keepdims="yes"),
        lambda x: x.mean(keepdim=1),
        lambda x: x.amax(0, keepdim="yes"),
        lambda x: x.max(0, keepdim="yes"),
        lambda x: x.logsumexp(0, keepdim="yes"),
        lambda x: x.var(0, keepdim="yes"),
        lambda x: x.norm(dim=0, keepdim="yes"),
        lambda x: x.prod(0, keepdim="yes"),
        lambda x: x.argmax(0, keepdim="yes"),
    ],
)
def test_keepdim_must_be_a_bool(reduce):
    with pytest.raises(TypeError, match="argument 'keepdim' must be bool|argument 'keepdims' must be bool"):
        reduce(qs.ones(2, 3))


def test_backward_refuses_a_complex_or_text_gradient():
    x = qs.ones(2, requires_grad=True)
    for y in (x * 2, x):  # through the graph, and on a leaf
        with pytest.raises(RuntimeError, match="gradient has dtype complex128 .*a real tensor needs a real gradient"):
            y.backward(np.array([1 + 1j, 2]))
        with pytest.raises(TypeError, match="gradient has dtype <U1"):
            y.backward(np.array(["a", "b"]))
    assert x.grad is None  # nothing was accumulated
    (x * 2).backward(np.array([1, 2]))  # an integer gradient is cast, as before
    assert x.grad.tolist() == [2.0, 4.0]
