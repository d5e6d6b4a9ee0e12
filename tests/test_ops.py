"""Every op in the op table, every case: finite differences and both backends."""

import zlib

import numpy as np
import pytest

import quasar as qs
from quasar.autograd import Function
from optable import all_ops

OPS = all_ops()
CASES = [
    pytest.param(op["fn"], make, op.get("fd_tol", 1e-6), id=f"{op['name']}-{i}")
    for op in OPS
    for i, make in enumerate(op["cases"])
]
# Entries marked finite_differences=False hold NaN inputs or exact ties, where
# a difference quotient means nothing (PyTorch's gradient there is a chosen
# subgradient); they are checked across backends and in the op's own tests.
FD_CASES = [
    pytest.param(op["fn"], make, op.get("fd_tol", 1e-6), id=f"{op['name']}-{i}")
    for op in OPS
    if op.get("finite_differences", True)
    for i, make in enumerate(op["cases"])
]


def make_inputs(make, dtype, seed_text):
    """The case's arrays as tensors, wrapped without copying so a
    non-contiguous array stays non-contiguous. Integer arrays keep their dtype."""
    rng = np.random.default_rng(zlib.crc32(seed_text.encode()))
    tensors = []
    for array, requires_grad in make(rng, dtype):
        t = qs.Tensor._wrap(np.asarray(array))
        tensors.append(t.requires_grad_(True) if requires_grad else t)
    return tensors


@pytest.mark.parametrize("fn, make, tol", FD_CASES)
def test_matches_finite_differences(fn, make, tol, request):
    inputs = make_inputs(make, np.float64, request.node.callspec.id)
    assert qs.gradcheck(fn, inputs, eps=1e-6, atol=tol, rtol=max(tol, 1e-4))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("fn, make, tol", CASES)
def test_backends_agree(fn, make, tol, dtype, request):
    inputs = make_inputs(make, dtype, request.node.callspec.id)
    assert qs.testing.cross_check(fn, inputs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("fn, make, tol", CASES)
def test_output_dtype_follows_inputs(fn, make, tol, dtype, request):
    inputs = make_inputs(make, dtype, request.node.callspec.id)
    out = fn(*inputs)
    assert out.dtype == dtype
    if out.requires_grad:
        out.backward(qs.ones_like(out))
        for t in inputs:
            if t.requires_grad:
                assert t.grad.dtype == dtype and t.grad.shape == t.shape


def _node_types(fn, make):
    inputs = make_inputs(make, np.float64, "coverage")
    out = fn(*inputs)
    seen, stack = set(), [out.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or type(node) in seen:
            continue
        seen.add(type(node))
        stack.extend(p for p in node.parents if isinstance(p, Function))  # (leaves are tensors)
    return seen


def _all_functions(cls=Function):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_functions(sub)


def test_every_differentiable_op_is_in_the_table():
    covered = set()
    for op in OPS:
        for make in op["cases"]:
            covered |= _node_types(op["fn"], make)
    defined = {f for f in _all_functions() if f.__module__.startswith("quasar.")}
    missing = sorted(f.__qualname__ for f in defined - covered)
    assert not missing, f"ops with no entry in the op table: {missing}"
