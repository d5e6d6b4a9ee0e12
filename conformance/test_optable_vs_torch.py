"""Every op-table entry, run by quasar and by PyTorch on the same inputs.

The op table (tests/optable*.py) writes each op as a small function of
tensors in PyTorch's own spelling (``qs.maximum(a, b)``, ``a.max(dim=-1)``,
``F.cross_entropy(x, t)``). Here the same function is rebuilt with ``qs``,
``qs.nn`` and ``F`` bound to ``torch``, ``torch.nn`` and
``torch.nn.functional``, and the two results are compared: values, dtype,
shape, and the gradient of every input for one random upstream gradient.

Entries that cannot run under PyTorch because they exercise a quasar-only
spelling are listed in QUASAR_ONLY with the reason; the list is checked to
be exact, so a new entry that PyTorch cannot run must be listed (and an
entry that can run is never silently left out).
"""

import importlib
import types
import zlib

import numpy as np
import pytest
import torch

import quasar as qs
import quasar.nn.functional as qF
from optable import all_ops

torch.set_num_threads(1)

# name -> why the entry has no PyTorch counterpart
QUASAR_ONLY = {
    "sum axis": "NumPy's axis=/keepdims= spelling, accepted by quasar for NumPy users",
    "index slices": "a negative slice step (NumPy's a[::-2]), which PyTorch rejects",
    "logsumexp all": "logsumexp over every dim without dim=, which PyTorch requires",
    "dropout": "random masks: quasar's generator is not PyTorch's (tests/test_nn.py checks the rule)",
    "dropout p=1": "random masks: quasar's generator is not PyTorch's (tests/test_nn.py checks the rule)",
    "dropout2d": "random masks: quasar's generator is not PyTorch's",
    "sdpa dropout": "random masks: quasar's generator is not PyTorch's",
    "MultiheadAttention dropout": "random masks: quasar's generator is not PyTorch's",
}
# Entries that capture quasar modules, masks or statistics when the table is
# built: the automatic translation cannot turn those into PyTorch's. The same
# modules and ops are compared with PyTorch in test_modules_vs_torch.py, with
# PyTorch's own weights loaded through a NumPy state dict.
BUILT_FROM_QUASAR_OBJECTS = [
    "GRU 2 layers bidirectional batch_first", "LSTM 2 layers bidirectional", "LSTM zero state no bias", "LSTMCell",
    "GRUCell", "RNNCell", "MultiheadAttention attn_mask per head", "MultiheadAttention key_padding_mask",
    "MultiheadAttention kdim vdim", "RNN relu no bias", "RNN tanh 2 layers", "TransformerEncoderLayer",
    "TransformerEncoderLayer norm_first gelu", "batch_norm eval", "max_unpool2d", "sdpa bool mask", "sdpa float mask",
]
QUASAR_ONLY.update({name: "built from quasar objects (see test_modules_vs_torch.py)" for name in BUILT_FROM_QUASAR_OBJECTS})
# the seed's par_* ops (forced-parallel kernels) exist only in quasar
QUASAR_ONLY.update({op["name"]: "quasar.parallel's par_* op" for op in importlib.import_module("optable_parallel").OPS})

# (entry, case) -> why the gradients are not compared: PyTorch cannot compute
# them, or picks another subgradient at a tie. The values still are; and the
# test fails if PyTorch starts to agree, so the list stays exact.
GRADIENT_DIFFERS = {
    **{(name, i): "PyTorch's backward requires src to have index's shape; quasar takes src larger than index"
       for name, i in (("scatter", 0), ("scatter_add", 0), ("scatter_add", 1), ("scatter_ in place", 0))},
    ("scatter reduce add", 0): "PyTorch has no derivative for scatter(reduce=)",
    ("scatter reduce multiply", 0): "PyTorch has no derivative for scatter(reduce=)",
    **{("rremainder scalar", i): "PyTorch has no derivative of number % tensor" for i in range(7)},
    **{(f"scatter_reduce {r} include_self=False", 3):
       "a tie with x's own value, which include_self=False leaves out: PyTorch still counts it and gives "
       "src half the gradient; quasar splits among the values that take part (finite differences agree)"
       for r in ("amax", "amin")},
}

OPS = all_ops()
CASES = [
    pytest.param(op, i, id=f"{op['name']}-{i}")
    for op in OPS
    if op["name"] not in QUASAR_ONLY
    for i in range(len(op["cases"]))
]

class TorchAsQuasar(types.ModuleType):
    """``qs`` in PyTorch: quasar keeps some of torch.nn.functional's ops at the
    top level (``qs.pad``, ``qs.leaky_relu``); torch.nn.functional's spelling
    is taken first where it has the name (``torch.embedding``'s argument order
    differs from ``F.embedding``'s), then torch's."""

    def __getattr__(self, name):
        if hasattr(torch.nn.functional, name):
            return getattr(torch.nn.functional, name)
        return getattr(torch, name)


SWAP = {qs: TorchAsQuasar("torch_as_quasar"), qs.nn: torch.nn, qF: torch.nn.functional}


def as_torch(fn):
    """``fn`` in PyTorch: a quasar function becomes PyTorch's of the same name;
    a test's own function is rebuilt with every global and closure cell that
    names a quasar module or function pointing at PyTorch's instead."""
    module = getattr(fn, "__module__", "") or ""
    if module.startswith("quasar"):
        return getattr(SWAP[qs], fn.__name__)
    globals_ = {k: swap(v, deep=False) for k, v in fn.__globals__.items()}
    closure = tuple(types.CellType(swap(c.cell_contents)) for c in fn.__closure__) if fn.__closure__ else None
    return types.FunctionType(fn.__code__, globals_, fn.__name__, fn.__defaults__, closure)


def swap(value, deep=True):
    """A quasar module or function -> PyTorch's; a test's own function in a
    closure cell is rebuilt too (``deep``), one in the globals is left alone."""
    if isinstance(value, types.ModuleType):
        return SWAP.get(value, value)
    if isinstance(value, types.FunctionType):
        if (value.__module__ or "").startswith("quasar") or deep:
            return as_torch(value)
    return value


def inputs(op, index, dtype):
    rng = np.random.default_rng(zlib.crc32(f"{op['name']}-{index}".encode()))
    return op["cases"][index](rng, dtype)


def tolerance(dtype):
    return dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-11)


def as_numpy_dtype(torch_dtype):
    return np.dtype(str(torch_dtype).replace("torch.", "")) if torch_dtype != torch.bool else np.dtype(bool)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("op, index", CASES)
def test_same_values_gradients_dtypes_shapes(op, index, dtype):
    arrays = inputs(op, index, dtype)
    ours = [qs.tensor(np.array(a)).requires_grad_(g) if g else qs.tensor(np.array(a)) for a, g in arrays]
    # contiguous copies for PyTorch: take_along_dim without dim fails on a transposed input there
    theirs = [torch.tensor(np.array(a, order="C")).requires_grad_(g) if g else torch.tensor(np.array(a, order="C"))
              for a, g in arrays]
    out = op["fn"](*ours)
    expected = as_torch(op["fn"])(*theirs)
    assert tuple(out.shape) == tuple(expected.shape), f"{op['name']}: shape {tuple(out.shape)} vs torch {tuple(expected.shape)}"
    assert out.dtype == as_numpy_dtype(expected.dtype), f"{op['name']}: dtype {out.dtype} vs torch {expected.dtype}"
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), **tolerance(dtype), equal_nan=True)
    if not expected.requires_grad:
        return
    seed = np.random.default_rng(7).standard_normal(tuple(expected.shape)).astype(dtype)
    out.backward(qs.tensor(seed))
    if (op["name"], index) in GRADIENT_DIFFERS:
        try:
            expected.backward(torch.tensor(seed))
        except RuntimeError:
            return  # PyTorch cannot compute it
        differs = any(
            t.requires_grad and not np.allclose(q.grad.numpy(), t.grad.numpy(), **tolerance(dtype))
            for q, t in zip(ours, theirs)
        )
        assert differs, f"{op['name']} case {index} now agrees with PyTorch: remove it from GRADIENT_DIFFERS"
        return
    expected.backward(torch.tensor(seed))
    for k, (ours_t, theirs_t) in enumerate(zip(ours, theirs)):
        if not theirs_t.requires_grad:
            continue
        if theirs_t.grad is None:  # PyTorch: not reached; quasar may hold zeros or None
            assert ours_t.grad is None or not np.any(ours_t.grad.numpy()), f"input {k}"
            continue
        np.testing.assert_allclose(ours_t.grad.numpy(), theirs_t.grad.numpy(), **tolerance(dtype),
                                   equal_nan=True, err_msg=f"{op['name']}: gradient of input {k}")


def test_quasar_only_list_is_exact():
    names = {op["name"] for op in OPS}
    assert set(QUASAR_ONLY) <= names, f"stale QUASAR_ONLY entries: {set(QUASAR_ONLY) - names}"
