"""Double backward on every op of the op table: gradgradcheck, float64, both backends.

An op whose backward cannot yet run on tensors must say so with a clear
error (never return a wrong second derivative): those are listed in
NOT_YET and checked to raise.
"""

import zlib

import numpy as np
import pytest

import quasar as qs
from optable import all_ops

OPS = all_ops()
# Entries whose backward does not run on tensors yet (ops added in the same
# round as double backward): each must raise the clear error, never give a wrong
# second derivative. The list is exact: an entry that starts to work fails
# test_not_yet_list_is_exact until it is removed here. Empty now: attention and
# the recurrent layers run their backward on tensors too.
NOT_YET = set()

# every case on the compiled backend; the first two cases of every entry on the
# reference backend too (the formulas are the same; the kernels underneath differ)
# Finite differences of a gradient mean nothing at NaN or exact ties (the
# finite_differences=False entries, and these, whose first derivative splits
# evenly at a tie: the split is right, its derivative across the tie is not defined)
SPLIT_AT_TIES = {"maximum ties", "amin ties"}
# the same for single cases of an entry: (name, case number); scatter_reduce's
# amax/amin have a case with two-way ties (tests/optable_select.py: tied)
SPLIT_AT_TIES_CASES = {(f"scatter_reduce {r} include_self={s}", 3) for r in ("amax", "amin") for s in (True, False)}
CASES = [
    pytest.param(op["name"], op["fn"], make, op.get("fd_tol", 1e-6), backend, id=f"{op['name']}-{i}-{backend}")
    for op in OPS
    if op.get("finite_differences", True) and op["name"] not in SPLIT_AT_TIES
    for i, make in enumerate(op["cases"])
    if (op["name"], i) not in SPLIT_AT_TIES_CASES
    for backend in (("compiled", "reference") if i < 2 else ("compiled",))
]


def make_inputs(make, seed_text):
    rng = np.random.default_rng(zlib.crc32(seed_text.encode()))
    tensors = []
    for array, requires_grad in make(rng, np.float64):
        t = qs.Tensor._wrap(np.asarray(array))
        tensors.append(t.requires_grad_(True) if requires_grad else t)
    return tensors


@pytest.mark.parametrize("name, fn, make, tol, backend", CASES)
def test_gradgradcheck(name, fn, make, tol, backend, request):
    inputs = make_inputs(make, request.node.callspec.id)
    with qs.backend(backend):
        if name in NOT_YET:  # the clear error, or (some cases already work) the right answer
            try:
                result = qs.autograd.gradgradcheck(fn, inputs, atol=max(tol, 1e-5), rtol=max(tol, 1e-3))
            except RuntimeError as exc:
                assert "double backward" in str(exc) and "not supported" in str(exc), exc
                return
            assert result
        else:
            assert qs.autograd.gradgradcheck(fn, inputs, atol=max(tol, 1e-5), rtol=max(tol, 1e-3))


FLOAT32_CASES = [
    pytest.param(op["fn"], make, id=f"{op['name']}-{i}")
    for op in OPS
    if op["name"] not in NOT_YET
    for i, make in enumerate(op["cases"])
]


def test_not_yet_list_is_exact():
    names = {op["name"] for op in OPS}
    assert NOT_YET <= names, f"NOT_YET names entries that do not exist: {sorted(NOT_YET - names)}"
    assert SPLIT_AT_TIES <= names
    cases = {(op["name"], i) for op in OPS for i in range(len(op["cases"]))}
    assert SPLIT_AT_TIES_CASES <= cases


@pytest.mark.parametrize("fn, make", FLOAT32_CASES)
def test_second_order_gradients_keep_float32(fn, make, request):
    rng = np.random.default_rng(zlib.crc32(request.node.callspec.id.encode()))
    inputs = []
    for array, requires_grad in make(rng, np.float32):
        t = qs.Tensor._wrap(np.asarray(array))
        inputs.append(t.requires_grad_(True) if requires_grad else t)
    wanted = [t for t in inputs if t.requires_grad]
    outputs = fn(*inputs)
    outputs = [o for o in (outputs if isinstance(outputs, (tuple, list)) else (outputs,)) if o.requires_grad]
    first = qs.autograd.grad(outputs, wanted, [qs.ones_like(o) for o in outputs], create_graph=True,
                             materialize_grads=True)
    assert all(g.dtype == np.float32 and g.shape == t.shape for g, t in zip(first, wanted))
    linked = [g for g in first if g.requires_grad]
    if linked:
        second = qs.autograd.grad(linked, wanted, [qs.ones_like(g) for g in linked], materialize_grads=True)
        assert all(h.dtype == np.float32 and h.shape == t.shape for h, t in zip(second, wanted))
