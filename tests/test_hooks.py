"""Tensor.register_hook and register_post_accumulate_grad_hook, with PyTorch's semantics."""

import numpy as np
import pytest

import quasar as qs


def leaf(*values):
    return qs.tensor(np.array(values, dtype=np.float64), requires_grad=True)


def test_leaf_hook_sees_the_gradient_and_may_replace_it():
    x = leaf(1.0, 2.0)
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    np.testing.assert_array_equal(seen[0], [3, 3])
    np.testing.assert_array_equal(x.grad.numpy(), [30, 30])


def test_non_leaf_hook_changes_what_flows_back():
    x = leaf(1.0, 2.0)
    y = x * 2
    seen = []
    y.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 0.5)
    (y * y).sum().backward()  # d/dy = 2y = [4, 8]; halved, then times dy/dx = 2
    np.testing.assert_array_equal(seen[0], [4, 8])
    np.testing.assert_array_equal(x.grad.numpy(), [4, 8])


def test_hook_runs_once_on_the_summed_gradient():
    x = leaf(1.0)
    calls = []
    x.register_hook(lambda g: calls.append(g.item()))
    (x * 2 + x * 3).sum().backward()
    assert calls == [5.0]


def test_handle_remove():
    x = leaf(1.0)
    handle = x.register_hook(lambda g: g * 100)
    handle.remove()
    (x * 2).sum().backward()
    assert x.grad.item() == 2.0


def test_hook_with_wrong_shape_or_type_raises():
    x = leaf(1.0, 2.0)
    x.register_hook(lambda g: qs.ones(3, dtype=qs.float64))
    with pytest.raises(RuntimeError, match="shape"):
        (x * 2).sum().backward()
    y = leaf(1.0)
    y.register_hook(lambda g: 3.0)
    with pytest.raises(TypeError, match="must return a Tensor or None"):
        (y * 2).sum().backward()


def test_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        qs.tensor([1.0]).register_hook(lambda g: g)


def test_post_accumulate_hook_fires_once_after_grad_is_final():
    x = leaf(1.0, 2.0)
    x.grad = qs.tensor(np.array([1.0, 1.0]))
    seen = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append((t, t.grad.numpy().copy())))
    (x * 2 + x * x).sum().backward()  # 2 + 2x = [4, 6], plus the existing 1
    assert len(seen) == 1
    assert seen[0][0] is x
    np.testing.assert_array_equal(seen[0][1], [5, 7])


def test_post_accumulate_hook_sees_replaced_gradient_and_removes():
    x = leaf(1.0)
    x.register_hook(lambda g: g * 2)
    grads = []
    handle = x.register_post_accumulate_grad_hook(lambda t: grads.append(t.grad.item()))
    (x * 3).sum().backward()
    handle.remove()
    (x * 3).sum().backward()
    assert grads == [6.0]
    assert x.grad.item() == 12.0


def test_post_accumulate_hook_on_a_leaf_backward_itself():
    x = leaf(1.0)
    seen = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.item()))
    x.backward(np.array([2.0]))
    assert seen == [2.0]


def test_post_accumulate_hook_only_on_leaves():
    x = leaf(1.0)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (x * 2).register_post_accumulate_grad_hook(lambda t: None)


def test_optimizer_step_in_backward():
    # the use the hook exists for: update each parameter as soon as its gradient is final
    w = leaf(1.0, -1.0)
    opt = qs.optim.SGD([w], lr=0.1)
    w.register_post_accumulate_grad_hook(lambda p: (opt.step(), opt.zero_grad()))
    (w * w).sum().backward()
    np.testing.assert_allclose(w.detach().numpy(), [0.8, -0.8])


def test_post_accumulate_hook_fires_during_backward():
    # a is used only next to the output, b only at the start of a long chain:
    # a's .grad is final before backward reaches the chain's first node, and
    # its hook fires then (DistributedDataParallel overlaps its all-reduces
    # with the rest of backward this way); queued callbacks wait for the end
    a, b = leaf(2.0), leaf(0.5)
    events = []
    first = b * 3
    first.register_hook(lambda g: events.append("first node"))
    h = first
    for _ in range(5):
        h = h.tanh()
    a.register_post_accumulate_grad_hook(
        lambda t: (events.append(("a", t.grad.item())), qs.autograd.queue_callback(lambda: events.append("callback")))
    )
    b.register_post_accumulate_grad_hook(lambda t: events.append("b"))
    (h * a).sum().backward()
    assert events[0] == ("a", pytest.approx(h.item()))
    assert events[1:] == ["first node", "b", "callback"]


class Dropped(qs.Function):
    """Identity whose backward returns no gradient."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad):
        return None


def test_leaf_final_when_a_node_leading_to_it_gets_no_gradient():
    # a * 2 receives no gradient (Dropped returns None): its edge into a is
    # done all the same, so a's hook fires before the chain below b runs
    a, b = leaf(2.0), leaf(0.5)
    events = []
    first = b * 3
    first.register_hook(lambda g: events.append("first node"))
    h = first
    for _ in range(5):
        h = h.tanh()
    a.register_post_accumulate_grad_hook(lambda t: events.append(("a", t.grad.item())))
    (h + (Dropped.apply(a * 2) + a * 4)).sum().backward()
    assert events == [("a", 4.0), "first node"]
    assert b.grad is not None


def test_gradient_passed_through_is_copied_before_hooks_see_it():
    # add hands one array to both inputs: a hook that changes a's .grad in
    # place (as an all-reduce does) must not change what reaches b
    a, b = leaf(1.0, 1.0), leaf(1.0, 1.0)
    a.register_post_accumulate_grad_hook(lambda t: t.grad.mul_(10))
    c = (a + b * 1) * 1  # (not the seed itself reaches add: a fresh array)
    c.backward(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(a.grad.numpy(), [10.0, 20.0])
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 2.0])


def test_backward_runs_nodes_newest_first_as_pytorch():
    # Backward runs the nodes in the reverse of the order they were made
    # (PyTorch's order): b's node is newer than a's, so b's hook runs first,
    # although e = b + a names b first and a depth-first walk would reach a last.
    x = qs.ones(3, requires_grad=True)
    calls = []
    a = x * 2
    a.register_hook(lambda g: calls.append("a"))
    b = x * 3
    b.register_hook(lambda g: calls.append("b"))
    (b + a).sum().backward()
    assert calls == ["b", "a"]
    a, b = x * 2, x * 3
    a.register_hook(lambda g: calls.append("a"))
    b.register_hook(lambda g: calls.append("b"))
    calls.clear()
    (a + b).sum().backward()
    assert calls == ["b", "a"]
