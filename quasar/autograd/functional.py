"""``torch.autograd.functional``: vjp, jvp, jacobian, hessian, vhp and hvp.

Each takes a function of tensors and the point(s) to evaluate it at, with
PyTorch's signatures and return structures: a single tensor in gives a single
tensor out, a tuple in gives a tuple out (and a tuple of tuples for the
Jacobian of a function with several outputs and several inputs).

All of them are built on ``quasar.autograd.grad``; the second-order ones
(jvp, vhp, hvp, hessian) on gradients taken with ``create_graph=True``:

* vjp(f, x, v)   = v^T J                       one backward
* jvp(f, x, v)   = J v = d/du (u^T J) v         the double-backward trick: the
                                                vjp is linear in u, so its
                                                gradient in u, against v, is J v
* vhp(f, x, v)   = v^T H = d/dx (grad f . v)    a backward of a backward
* hvp(f, x, v)   = H v (= v^T H: H is symmetric for twice-differentiable f)
* jacobian(f, x) row by row, one vjp per output element
* hessian(f, x)  = jacobian of the gradient

``create_graph=True`` returns results that are differentiable again;
otherwise they are detached. ``strict=True`` raises when an output does not
depend on an input (else that block is zeros). ``vectorize`` is accepted for
PyTorch's signature but only False is supported; forward-mode strategies are
not implemented.
"""

import numpy as np

from ..ops.join import stack
from ..ops.shape import reshape
from ..tensor import Tensor
from . import enable_grad, grad


def _as_tuple(name, arg, what):
    """(tuple of tensors, whether arg was a tuple) with PyTorch's type checks."""
    is_tuple = isinstance(arg, (tuple, list))
    items = tuple(arg) if is_tuple else (arg,)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            kind = f"The {what} given to {name} must be either a Tensor or a tuple of Tensors"
            raise TypeError(f"{kind} but the value at index {i} has type {type(t).__name__}.")
    return items, is_tuple


def _unpack(items, is_tuple):
    return tuple(items) if is_tuple else items[0]


def _prepare_inputs(inputs, create_graph):
    """Inputs as fresh graph roots: detached copies that require grad, or, when
    the result must be differentiable and the input already requires grad, a
    view that stays connected to the caller's graph."""
    prepared = []
    for t in inputs:
        if t.dtype.kind != "f":
            raise TypeError(f"autograd.functional: inputs must be float tensors, got dtype {t.dtype}")
        if create_graph and t.requires_grad:
            prepared.append(reshape(t, t.shape))
        else:
            prepared.append(t.detach().requires_grad_(True))
    return tuple(prepared)


def _finish(values, create_graph):
    """Detach results unless the caller wants to differentiate them."""
    if create_graph:
        return values
    return tuple(None if v is None else v.detach() for v in values)


def _check_vectorize(name, vectorize, strategy="reverse-mode"):
    if vectorize:
        raise NotImplementedError(f"{name}: vectorize=True is not supported; pass vectorize=False")
    if strategy != "reverse-mode":
        raise NotImplementedError(f"{name}: only strategy='reverse-mode' is supported, got {strategy!r}")


def _grads(name, outputs, inputs, grad_outputs, create_graph, strict, retain_graph=True):
    """grad() of outputs w.r.t. inputs; an input nothing depends on gets zeros, or,
    with strict, an error naming it."""
    wanted = [i for i, o in enumerate(outputs) if o.requires_grad]
    if not wanted:
        found = [None] * len(inputs)
    else:
        found = grad(
            [outputs[i] for i in wanted], inputs, [grad_outputs[i] for i in wanted],
            retain_graph=retain_graph, create_graph=create_graph, allow_unused=True,
        )
    result = []
    for i, (t, g) in enumerate(zip(inputs, found)):
        if g is None:
            if strict:
                raise RuntimeError(
                    f"{name}: the output of the user-provided function is independent of input {i}. "
                    "This is not allowed in strict mode."
                )
            g = Tensor._wrap(np.zeros(t.shape, t.dtype))
        result.append(g)
    return tuple(result)


def _call(name, func, inputs):
    with enable_grad():
        out = func(*inputs)
    items, is_tuple = _as_tuple(name, out, "outputs of the user-provided function")
    return items, is_tuple


def _vectors(name, v, like, what):
    """v checked against the tensors ``like`` (same count and shapes); None allowed
    only where every tensor has one element (then ones)."""
    if v is None:
        for t in like:
            if t.array.size != 1:
                raise RuntimeError(
                    f"{name}: the vector v can only be None if the {what} is a single element Tensor, "
                    f"got shape {t.shape}"
                )
        return tuple(Tensor._wrap(np.ones(t.shape, t.dtype)) for t in like)
    items, _ = _as_tuple(name, v, "v")
    if len(items) != len(like):
        raise RuntimeError(f"{name}: v has {len(items)} tensors but the {what} has {len(like)}")
    for i, (given, t) in enumerate(zip(items, like)):
        if given.shape != t.shape:
            raise RuntimeError(
                f"{name}: entry {i} in v has shape {given.shape} but the {what} entry has shape {t.shape}"
            )
    return tuple(g.to(t.dtype) if g.dtype != t.dtype else g for g, t in zip(items, like))


# ---------------------------------------------------------------- first order


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product at inputs.

    v: like func's output (may be None for a one-element output).
    """
    items, in_tuple = _as_tuple("vjp", inputs, "inputs")
    xs = _prepare_inputs(items, create_graph)
    outs, out_tuple = _call("vjp", func, xs)
    vs = _vectors("vjp", v, outs, "output of the user-provided function")
    grads = _grads("vjp", outs, xs, vs, create_graph, strict)
    return _unpack(_finish(outs, create_graph), out_tuple), _unpack(_finish(grads, create_graph), in_tuple)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product at inputs, by the
    double-backward trick (the gradient of u^T J in u, against v).

    v: like inputs (may be None for a single one-element input).
    """
    items, in_tuple = _as_tuple("jvp", inputs, "inputs")
    xs = _prepare_inputs(items, create_graph)
    vs = _vectors("jvp", v, xs, "input")
    outs, out_tuple = _call("jvp", func, xs)
    # u: dummy output gradients; g(u) = u^T J is linear in u
    dummies = tuple(Tensor._wrap(np.zeros(o.shape, o.dtype)).requires_grad_(True) for o in outs)
    with enable_grad():
        g = _grads("jvp", outs, xs, dummies, True, strict)
        linked = [i for i, gi in enumerate(g) if gi.requires_grad]
        if linked:
            found = grad(
                [g[i] for i in linked], dummies, [vs[i] for i in linked],
                create_graph=create_graph, allow_unused=True,
            )
        else:
            found = (None,) * len(dummies)
    result = []
    for i, (o, f) in enumerate(zip(outs, found)):
        if f is None:
            if strict:
                raise RuntimeError(f"jvp: output {i} of the user-provided function is independent of the inputs")
            f = Tensor._wrap(np.zeros(o.shape, o.dtype))
        result.append(f)
    return _unpack(_finish(outs, create_graph), out_tuple), _unpack(_finish(tuple(result), create_graph), out_tuple)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of func at inputs: for one output and one input a tensor of
    shape ``output.shape + input.shape``; a tuple over inputs (and over outputs,
    then inputs) when func takes (returns) a tuple. Row by row: one backward
    per output element."""
    _check_vectorize("jacobian", vectorize, strategy)
    items, in_tuple = _as_tuple("jacobian", inputs, "inputs")
    xs = _prepare_inputs(items, create_graph)
    outs, out_tuple = _call("jacobian", func, xs)
    blocks = []  # blocks[i][j]: d out_i / d x_j
    for out in outs:
        rows = [[] for _ in xs]
        for k in range(out.array.size):
            seed = np.zeros(out.array.size, out.dtype)  # picks output element k
            seed[k] = 1
            for j, g in enumerate(_grads("jacobian", [out], xs, [Tensor._wrap(seed.reshape(out.shape))],
                                         create_graph, strict)):
                rows[j].append(g)
        row_blocks = []
        for j, x in enumerate(xs):
            if rows[j]:
                block = reshape(stack(rows[j]), out.shape + x.shape)
            else:  # an empty output: an empty Jacobian
                block = Tensor._wrap(np.zeros(out.shape + x.shape, x.dtype))
            row_blocks.append(block if create_graph else block.detach())
        blocks.append(_unpack(row_blocks, in_tuple))
    return _unpack(blocks, out_tuple)


# ---------------------------------------------------------------- second order


def _scalar_output(name, func, xs):
    outs, _ = _call(name, func, xs)
    if len(outs) != 1 or outs[0].array.size != 1:
        shapes = ", ".join(str(o.shape) for o in outs)
        raise RuntimeError(f"{name}: the function given must return a single Tensor with a single element, got {shapes}")
    return outs[0]


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H): the vector-Hessian product of a scalar function."""
    items, in_tuple = _as_tuple("vhp", inputs, "inputs")
    xs = _prepare_inputs(items, create_graph)
    vs = _vectors("vhp", v, xs, "input")
    out = _scalar_output("vhp", func, xs)
    with enable_grad():
        g = _grads("vhp", [out], xs, [None], True, strict)
        linked = [i for i, gi in enumerate(g) if gi.requires_grad]
        found = [None] * len(xs)
        if linked:
            found = grad(
                [g[i] for i in linked], xs, [vs[i] for i in linked], create_graph=create_graph, allow_unused=True,
            )
    result = []
    for i, (x, f) in enumerate(zip(xs, found)):
        if f is None:
            if strict:
                raise RuntimeError(f"vhp: the gradient of the function is independent of input {i} (strict mode)")
            f = Tensor._wrap(np.zeros(x.shape, x.dtype))
        result.append(f)
    return _finish((out,), create_graph)[0], _unpack(_finish(tuple(result), create_graph), in_tuple)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v): the Hessian-vector product of a scalar function.

    Computed as v^T H (vhp): the Hessian of a twice-differentiable function is
    symmetric, so the two agree.
    """
    try:
        return vhp(func, inputs, v, create_graph, strict)
    except RuntimeError as exc:
        raise RuntimeError(str(exc).replace("vhp", "hvp")) from None


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar function: for one input of shape S a tensor of
    shape S + S; for a tuple of inputs a tuple of tuples (block [i][j] =
    d^2 f / dx_i dx_j). The Jacobian of the gradient."""
    _check_vectorize("hessian", vectorize, outer_jacobian_strategy)
    items, in_tuple = _as_tuple("hessian", inputs, "inputs")

    def gradient(*xs):
        out = _scalar_output("hessian", func, xs)
        return _grads("hessian", [out], xs, [None], True, strict)

    return jacobian(gradient if in_tuple else (lambda x: gradient(x)[0]), _unpack(items, in_tuple),
                    create_graph=create_graph, strict=strict)
