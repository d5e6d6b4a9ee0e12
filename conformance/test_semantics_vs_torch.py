"""PyTorch's semantics where they differ from NumPy's, checked against PyTorch.

Each check runs one small program twice, with ``lib`` = quasar and
``lib`` = torch, and compares what comes out: values (NaN included), dtype
and shape; or that both raise.
"""

import itertools

import numpy as np
import pytest
import torch

import quasar as qs

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float32", "float64"]


def torch_dtype(name):
    return getattr(torch, name)


def qs_dtype(name):
    return getattr(qs, name)


def to_numpy(value):
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    if isinstance(value, qs.Tensor):
        return value.detach().numpy()
    return np.asarray(value)


def dtype_name(value):
    if isinstance(value, torch.Tensor):
        return str(value.dtype).replace("torch.", "")
    return "bool" if value.dtype == np.bool_ else str(value.dtype)


def run(program, lib):
    """(kind, result): ('ok', value) or ('error', exception)."""
    try:
        return "ok", program(lib)
    except Exception as exc:  # noqa: BLE001 (comparing whether each library raises)
        return "error", exc


def same(program, rtol=1e-6, atol=1e-7):
    """``program(lib)`` gives the same tensors (or tuple of tensors/numbers) for both."""
    kind_q, ours = run(program, qs)
    kind_t, theirs = run(program, torch)
    assert kind_q == kind_t, f"quasar: {kind_q} {ours!r}; torch: {kind_t} {theirs!r}"
    if kind_q == "error":
        return
    ours = ours if isinstance(ours, tuple) else (ours,)
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    for a, b in zip(ours, theirs):
        if isinstance(b, torch.Tensor):
            assert dtype_name(a) == dtype_name(b), f"dtype {dtype_name(a)} vs torch {dtype_name(b)}"
            assert tuple(a.shape) == tuple(b.shape), f"shape {tuple(a.shape)} vs torch {tuple(b.shape)}"
        np.testing.assert_allclose(to_numpy(a).astype(float), to_numpy(b).astype(float), rtol=rtol, atol=atol,
                                   equal_nan=True)


def tensor(lib, values, dtype):
    dtype = torch_dtype(dtype) if lib is torch else qs_dtype(dtype)
    return lib.tensor(values, dtype=dtype)


# ---------------------------------------------------------------- type promotion

OPERAND = {"tensor": [[1, 2, 3]], "0-d": 2}


@pytest.mark.parametrize("left, right", list(itertools.product(DTYPES, DTYPES)))
@pytest.mark.parametrize("op", ["add", "mul", "div", "lt"])
@pytest.mark.parametrize("shapes", ["tensor-tensor", "tensor-0d", "0d-tensor"])
def test_promotion_of_two_tensors(left, right, op, shapes):
    a_shape, b_shape = shapes.split("-")

    def program(lib):
        a = tensor(lib, [[1, 2, 3]] if a_shape == "tensor" else 2, left)
        b = tensor(lib, [[3, 1, 2]] if b_shape == "tensor" else 3, right)
        return getattr(lib, op)(a, b)

    same(program)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scalar", [2, 2.5, True])
@pytest.mark.parametrize("op", ["add", "mul", "truediv", "floordiv", "mod", "pow"])
def test_promotion_with_python_scalars(dtype, scalar, op):
    import operator

    def program(lib):
        return getattr(operator, op)(tensor(lib, [[1, 2, 3]], dtype), scalar)

    same(program)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["sum", "max", "min", "prod", "mean"])
def test_reduction_dtypes(dtype, reduction):
    same(lambda lib: getattr(tensor(lib, [[1, 0, 3], [2, 2, 1]], dtype), reduction)())


@pytest.mark.parametrize("dtype", ["int32", "int64", "int8", "uint8", "bool"])
@pytest.mark.parametrize("op", ["maximum", "minimum", "abs", "neg", "floor_divide", "remainder", "bitwise_and",
                                "bitwise_or", "bitwise_xor", "bitwise_not"])
def test_integer_ops_keep_integers(dtype, op):
    def program(lib):
        a = tensor(lib, [[7, -3, 5]] if dtype not in ("uint8", "bool") else [[7, 0, 5]], dtype)
        b = tensor(lib, [[2, 2, 3]] if dtype != "bool" else [[1, 0, 1]], dtype)
        fn = getattr(lib, op)
        return fn(a) if op in ("abs", "neg", "bitwise_not") else fn(a, b)

    same(program)


def test_default_dtype():
    for lib in (qs, torch):
        lib.set_default_dtype(lib.float64)
    try:
        same(lambda lib: lib.tensor([1.5, 2.0]) + 1)
        same(lambda lib: lib.arange(3) / 2)
        same(lambda lib: lib.full((2,), 1.5))
    finally:
        for lib in (qs, torch):
            lib.set_default_dtype(lib.float32)


@pytest.mark.parametrize("program", [
    lambda lib: lib.full((2,), 4),
    lambda lib: lib.full((2,), True),
    lambda lib: lib.full((2,), 4.5),
    lambda lib: lib.linspace(5, -5, 20, dtype=lib.int32),
    lambda lib: lib.where(lib.tensor([True, False]), 1, 3),
    lambda lib: lib.where(lib.tensor([True, False]), 1.5, lib.tensor([1, 2])),
    lambda lib: lib.tensor([[1, 2], [3, 4]]).sum(dim=()),
    lambda lib: lib.tensor([1, 2]) / lib.tensor([2, 4]),
    lambda lib: lib.tensor([True, True, False]).sum(),
    lambda lib: lib.tensor(np.array([1, 200], dtype=np.uint8)) + 100,
])
def test_creation_and_small_rules(program):
    same(program)


def test_float16_arrays_compute_in_float32():
    # a documented difference: PyTorch keeps float16, quasar computes in float32/float64
    t = qs.tensor(np.array([1.5, 2.5], dtype=np.float16))
    assert t.dtype == qs.float32
    np.testing.assert_array_equal(t.numpy(), [1.5, 2.5])


# ---------------------------------------------------------------- garbage integers


@pytest.mark.parametrize("program", [
    lambda lib: lib.tensor([2**63]),
    lambda lib: lib.tensor(float("nan"), dtype=lib.int64),
    lambda lib: lib.full((2,), float("nan"), dtype=lib.int64),
    lambda lib: lib.tensor(float("inf"), dtype=lib.int32),
    lambda lib: lib.tensor(1e30, dtype=lib.int32),
])
def test_garbage_integers_raise(program):
    assert run(program, torch)[0] == "error"
    kind, result = run(program, qs)
    assert kind == "error", f"quasar returned {result!r}"


# ---------------------------------------------------------------- NaN and edge gradients

NAN_INPUT = [[1.0, float("nan"), -2.0], [float("nan"), 0.5, 3.0]]


@pytest.mark.parametrize("op", [
    lambda lib, x: lib.relu(x),
    lambda lib, x: lib.maximum(x, x.detach() * 0 + 0.7),
    lambda lib, x: lib.minimum(x, x.detach() * 0 + 0.7),
    lambda lib, x: x.max(),
    lambda lib, x: x.min(),
    lambda lib, x: x.max(dim=1)[0],
    lambda lib, x: x.min(dim=0)[0],
    lambda lib, x: lib.amax(x, dim=1),
    lambda lib, x: lib.amin(x),
    lambda lib, x: lib.clamp(x, -1.0, 1.0),
], ids=["relu", "maximum", "minimum", "max", "min", "max dim", "min dim", "amax dim", "amin", "clamp"])
def test_nan_propagates_in_values_and_gradients(op):
    def program(lib):
        x = lib.tensor(NAN_INPUT, dtype=lib.float64, requires_grad=True)
        out = op(lib, x)
        out.sum().backward()
        return out, x.grad

    same(program)


def test_max_dim_indices_of_nan_and_ties():
    same(lambda lib: lib.tensor(NAN_INPUT, dtype=lib.float64).max(dim=1)[1])
    same(lambda lib: lib.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]).max(dim=1)[1])


@pytest.mark.parametrize("program", [
    lambda lib, x: x**0,
    lambda lib, x: lib.tensor([0.0, 0.0], dtype=lib.float64) ** x,
    lambda lib, x: x**x,
    lambda lib, x: x.reshape(1, 2).std(dim=1),
    lambda lib, x: x.reshape(1, 2).var(dim=1),
    lambda lib, x: (x * 0 + 1).max(),
    lambda lib, x: lib.amax(x * 0 + 1),
    lambda lib, x: (x * 0 + 1).max(dim=0)[0],
], ids=["x**0", "0**y", "x**x", "std const", "var const", "max ties", "amax ties", "max dim ties"])
@pytest.mark.parametrize("value", [0.0, 2.0])
def test_edge_gradients(program, value):
    def run_it(lib):
        x = lib.tensor([value, value], dtype=lib.float64, requires_grad=True)
        program(lib, x).sum().backward()
        return x.grad

    same(run_it)


def test_float32_std_does_not_overflow():
    same(lambda lib: lib.tensor([1e20, -1e20, 3e20], dtype=lib.float32).std(), rtol=1e-5)


# ---------------------------------------------------------------- in place and indexing


def test_inplace_dunders_update_in_place():
    for op in ["__iadd__", "__isub__", "__imul__", "__itruediv__"]:
        def program(lib, op=op):
            a = lib.tensor([1.0, 2.0, 3.0])
            alias = a
            getattr(a, op)(lib.tensor([2.0, 2.0, 2.0]))
            return alias

        same(program)


def test_inplace_on_leaf_requiring_grad_raises_and_no_grad_allows():
    def program(lib):
        p = lib.tensor([1.0, 2.0], requires_grad=True)
        p -= 1
        return p

    same(program)

    def program_no_grad(lib):
        p = lib.tensor([1.0, 2.0], requires_grad=True)
        with lib.no_grad():
            p -= 0.5 * lib.tensor([2.0, 2.0])
        return p.detach()

    same(program_no_grad)


def test_inplace_keeps_the_target_dtype():
    def program(lib):
        a = lib.tensor([1, 2, 3])
        a += 1.5
        return a

    same(program)

    def program_float(lib):
        a = lib.tensor([1.0, 2.0])
        a += lib.tensor([1, 2])
        return a

    same(program_float)


def test_integer_with_advanced_index_places_dims_as_pytorch():
    def program(lib):
        x = lib.arange(2 * 3 * 12 * 4 * 5).reshape(2, 3, 12, 4, 5)
        idx = lib.tensor([0, 2, 3])
        return x[1, :, 3:11:2, idx, 0:2]

    same(program)


def test_masked_fill_with_a_broadcasting_mask():
    same(lambda lib: lib.arange(6.0).reshape(2, 3).masked_fill(lib.tensor([True, False, True]), -1.0))


@pytest.mark.parametrize("program", [
    lambda lib: lib.ones(2, 3) + lib.ones(4, 3),
    lambda lib: lib.ones(2, 3).reshape(4, 2),
    lambda lib: lib.ones(2, 3) @ lib.ones(2, 3),
    lambda lib: lib.cat([lib.ones(2, 3), lib.ones(2, 4)]),
    lambda lib: lib.ones(2, 3).permute(0, 0),
])
def test_shape_errors_are_runtime_errors(program):
    with pytest.raises(RuntimeError):
        program(torch)
    with pytest.raises(RuntimeError):
        program(qs)


@pytest.mark.parametrize("program", [
    lambda lib: lib.ones(2, 3).sum(dim=2),
    lambda lib: lib.ones(2, 3)[5],
    lambda lib: lib.ones(2, 3).transpose(0, 3),
])
def test_out_of_range_is_an_index_error(program):
    with pytest.raises(IndexError):
        program(torch)
    with pytest.raises(IndexError):
        program(qs)


def test_data_is_a_detached_tensor_sharing_memory():
    def program(lib):
        p = lib.nn.Parameter(lib.ones(3))
        p.data.mul_(0.5)
        d = p.data
        return p.detach(), d.requires_grad, type(d).__name__ == "Tensor"

    kind_q, ours = run(program, qs)
    kind_t, theirs = run(program, torch)
    assert kind_q == kind_t == "ok"
    np.testing.assert_array_equal(ours[0].numpy(), theirs[0].numpy())
    assert ours[1:] == theirs[1:]


def test_math_names_agree():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.2, 0.8, (3, 4))
    for name in ["tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "atanh", "log2", "log10", "exp2",
                 "expm1", "log1p", "rsqrt", "reciprocal", "square", "sign", "floor", "ceil", "trunc", "frac",
                 "logit", "erfinv"]:
        def program(lib, name=name):
            t = lib.tensor(x, requires_grad=True)
            out = getattr(lib, name)(t)
            out.sum().backward()
            return out, t.grad

        same(program, rtol=1e-5, atol=1e-6)
