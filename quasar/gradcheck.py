"""Gradient checking: analytical gradients against central finite differences."""

import numpy as np

from .tensor import Tensor


def _as_outputs(result):
    return result if isinstance(result, (tuple, list)) else (result,)


def _as_float64(t):
    if not isinstance(t, Tensor) or t.dtype.kind != "f":
        return t
    if t.dtype == np.float64:
        t.grad = None
        return t
    return Tensor(t.array.astype(np.float64), requires_grad=t.requires_grad)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Check ``fn``'s backward against finite differences, in float64.

    fn: a function of tensors returning a tensor (or a tuple of them);
    inputs: a tensor or a sequence of tensors (those with requires_grad are
    checked). Each input is copied to float64. The loss is a fixed random
    weighting of every output element, so every element of every output is
    exercised. Returns True, or raises an AssertionError naming the input, the
    element and both values.
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = [_as_float64(t) for t in inputs]
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")
    weights_rng = np.random.default_rng(0)
    outputs = [o for o in _as_outputs(fn(*inputs)) if isinstance(o, Tensor) and o.dtype.kind == "f"]
    weights = [weights_rng.standard_normal(o.shape) for o in outputs]

    def loss_value():
        return sum(float(np.sum(o.array * w)) for o, w in zip(_as_outputs(fn(*inputs)), weights))

    # analytical: backpropagate the weights through one forward pass
    roots = [o for o in outputs if o.requires_grad]
    for i, (o, w) in enumerate(zip(outputs, weights)):
        if o.requires_grad:
            o.backward(Tensor(w), retain_graph=i < len(outputs) - 1)
    del roots
    for i in checked:
        t = inputs[i]
        analytical = np.zeros(t.shape) if t.grad is None else t.grad.array
        for index in np.ndindex(t.shape):  # element by element, whatever the layout
            original = t.array[index]
            t.array[index] = original + eps
            plus = loss_value()
            t.array[index] = original - eps
            minus = loss_value()
            t.array[index] = original
            numerical = (plus - minus) / (2 * eps)
            got = float(analytical[index])  # a Python float: its repr is the plain number
            if not abs(got - numerical) <= atol + rtol * abs(numerical):
                raise AssertionError(
                    f"gradcheck: input {i} (shape {t.shape}), element {index}: "
                    f"analytical {got!r} vs numerical {numerical!r}"
                )
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Check second derivatives: the gradients of ``fn``'s gradients, against
    finite differences of the first-order gradients, in float64.

    The first-order gradients g(inputs) = d(sum(fn(inputs) * v))/d(inputs)
    (v: grad_outputs, or fixed random weights) are computed with
    ``create_graph=True``; ``gradcheck`` then checks g's own backward (the
    double backward of every op in fn) against central differences of g.
    Returns True, or raises an AssertionError (or the op's clear error when it
    does not support double backward).
    """
    from . import autograd

    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = [_as_float64(t) for t in inputs]
    differentiable = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not differentiable:
        raise ValueError("gradgradcheck: no input requires grad")
    probe = [o for o in _as_outputs(fn(*inputs)) if isinstance(o, Tensor) and o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(1)
        grad_outputs = [Tensor(rng.standard_normal(o.shape)) for o in probe]
    else:
        grad_outputs = [Tensor(np.asarray(g, dtype=np.float64)) for g in _as_outputs(grad_outputs)]

    def first_gradients(*args):
        outputs = [o for o in _as_outputs(fn(*args)) if isinstance(o, Tensor) and o.requires_grad]
        wanted = [t for t in args if isinstance(t, Tensor) and t.requires_grad]
        return autograd.grad(outputs, wanted, grad_outputs, create_graph=True, materialize_grads=True)

    return gradcheck(first_gradients, inputs, eps=eps, atol=atol, rtol=rtol)
