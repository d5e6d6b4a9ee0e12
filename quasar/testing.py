"""Testing helpers: run the same computation on both backends and compare."""

import numpy as np

from . import backends
from .tensor import Tensor


def copy_keep_layout(array):
    """A copy of ``array`` that is non-contiguous if the original was, so a
    test on a transposed or sliced input still exercises the strided paths."""
    if array.flags.c_contiguous or array.ndim == 0:
        return array.copy()
    if array.flags.f_contiguous:
        return np.array(array, order="F", copy=True)
    spaced = np.empty(array.shape + (2,), array.dtype)[..., 0]  # every other element
    spaced[...] = array
    return spaced


def _run(fn, inputs, name):
    copies = [
        Tensor._wrap(copy_keep_layout(t.array)).requires_grad_(t.requires_grad) if isinstance(t, Tensor) else t
        for t in inputs
    ]
    with backends.backend(name):
        out = fn(*copies)
        outputs = out if isinstance(out, (tuple, list)) else (out,)
        rng = np.random.default_rng(1)
        for o in outputs:
            if isinstance(o, Tensor) and o.requires_grad:
                weight = rng.standard_normal(o.shape).astype(o.dtype)
                o.backward(Tensor(weight), retain_graph=True)
    values = [o.array for o in outputs if isinstance(o, Tensor)]
    grads = [t.grad.array if isinstance(t, Tensor) and t.grad is not None else None for t in copies]
    return values, grads


def cross_check(fn, inputs, rtol=None, atol=None):
    """Run ``fn(*inputs)`` forward and backward on the compiled and the
    reference backend; assert that values and input gradients agree.

    Tolerances default to the inputs' precision (float32: rtol 1e-4, atol 1e-5;
    float64: rtol 1e-10, atol 1e-12). Returns True or raises AssertionError.
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    dtypes = {t.dtype for t in inputs if isinstance(t, Tensor) and t.dtype.kind == "f"}
    single = np.dtype(np.float32) in dtypes
    rtol = rtol if rtol is not None else (1e-4 if single else 1e-10)
    atol = atol if atol is not None else (1e-5 if single else 1e-12)
    got_values, got_grads = _run(fn, inputs, "compiled")
    want_values, want_grads = _run(fn, inputs, "reference")
    for i, (g, w) in enumerate(zip(got_values, want_values)):
        if g.dtype != w.dtype or g.shape != w.shape:
            raise AssertionError(f"cross_check: output {i}: compiled {g.dtype}{g.shape} vs reference {w.dtype}{w.shape}")
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"cross_check: output {i} differs")
    for i, (g, w) in enumerate(zip(got_grads, want_grads)):
        if (g is None) != (w is None):
            raise AssertionError(f"cross_check: input {i}: gradient present on only one backend")
        if g is not None:
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"cross_check: grad of input {i} differs")
    return True
