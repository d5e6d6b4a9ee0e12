"""Kernel-level tests: the compiled backend against the NumPy reference.

These call the backend modules directly on NumPy arrays (no Tensor, no
autograd), for both float dtypes, on every layout the kernels distinguish:
contiguous, broadcast, 0-d, empty, size-1 dims, transposed and strided
views, and arrays big enough to cross the parallel threshold. Most tests run
twice: serially, and with ``parallel_threshold=1`` so even tiny arrays take
the OpenMP path.

Tolerances: plain arithmetic must match the reference bit for bit (the build
uses -ffp-contract=off, so ``a*b + c`` is rounded like NumPy rounds it);
libm functions and sums may differ from NumPy's own SIMD routines and
pairwise summation by a few ulps.
"""

import importlib
import inspect
import threading

import numpy as np
import pytest

from quasar import parallel

# The backend modules themselves (quasar.backends.compiled is also the name of
# the assembled backend namespace, which adds the other kernel families).
C = importlib.import_module("quasar.backends.compiled")
R = importlib.import_module("quasar.backends.reference")

DTYPES = [np.float32, np.float64]

# libm and summation-order differences: a few ulps
CLOSE = {np.float32: {"rtol": 3e-6, "atol": 1e-6}, np.float64: {"rtol": 1e-13, "atol": 1e-14}}
# long sums (1e5 terms) in a different order than NumPy's pairwise sum
SUM_CLOSE = {np.float32: {"rtol": 1e-5, "atol": 1e-4}, np.float64: {"rtol": 1e-12, "atol": 1e-11}}


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(params=["serial", "parallel"])
def mode(request):
    """Run the test serially, then with every kernel forced onto the parallel path."""
    if request.param == "serial":
        with parallel.config(max_workers=1):
            yield request.param
    else:
        with parallel.config(max_workers=None, parallel_threshold=1):
            yield request.param


def random(shape, dtype, seed=0, low=-2.0, high=2.0):
    """Seeded uniform values; never all zeros."""
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, size=shape).astype(dtype)


def with_layout(array, layout):
    """The same values as ``array`` in another memory layout."""
    if layout == "contiguous" or array.ndim == 0:
        return np.ascontiguousarray(array)
    if layout == "strided":  # every other element of a bigger buffer
        spaced = np.empty(array.shape + (2,), array.dtype)[..., 0]
        spaced[...] = array
        return spaced
    if layout == "transposed":  # a .T view (reversed strides)
        return np.ascontiguousarray(array.T).T
    if layout == "reversed":  # a negative stride along axis 0
        return np.ascontiguousarray(array[::-1])[::-1]
    raise ValueError(layout)


LAYOUTS = ["contiguous", "strided", "transposed", "reversed"]


def assert_same(actual, expected, exact=True, close=None):
    """Same shape and dtype, a new array, and equal (or close) values."""
    expected = np.asarray(expected)
    assert isinstance(actual, np.ndarray), type(actual)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    if exact:
        np.testing.assert_array_equal(actual, expected)
    else:
        np.testing.assert_allclose(actual, expected, equal_nan=True, **close)


# ---------------------------------------------------------------- the contract itself


def test_same_functions_and_signatures_as_reference():
    names = [n for n, f in vars(R).items()
             if inspect.isfunction(f) and not n.startswith("_") and f.__module__ == R.__name__]
    assert len(names) > 40
    for name in names:
        assert hasattr(C, name), f"compiled backend lacks {name}"
        assert inspect.signature(getattr(C, name)) == inspect.signature(getattr(R, name)), name
    assert C.name == "compiled"


def test_extension_module_is_compiled_with_openmp():
    from quasar import _kernels

    assert _kernels.__file__.endswith(".so"), _kernels.__file__
    assert parallel._omp is _kernels  # one module: the OpenMP facts come from the kernels' own build
    assert parallel.openmp_enabled()


def test_threadpoolctl_sees_and_limits_the_openmp_runtime():
    import threadpoolctl  # a hard dependency: never skipped  (C above has loaded libgomp)

    apis = {pool["user_api"] for pool in threadpoolctl.threadpool_info()}
    assert "openmp" in apis
    with parallel.config(max_workers=None, parallel_threshold=1):
        before = parallel.threads_for(10**9)
        with threadpoolctl.threadpool_limits(1, user_api="openmp"):
            assert parallel.threads_for(10**9) == 1
        assert parallel.threads_for(10**9) == before


# ---------------------------------------------------------------- binary

BINARY = ["add", "sub", "mul", "div", "maximum", "minimum"]
SHAPE_PAIRS = [
    ((3, 4), (3, 4)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (4,)),
    ((4,), (2, 3, 4)),
    ((5,), ()),
    ((), (5,)),
    ((), ()),
    ((1,), (7,)),
    ((4, 1, 3), (1, 5, 1)),
    ((2, 1, 3, 1), (2, 4, 1, 5)),
    ((0, 3), (3,)),
    ((1, 1), (1, 1)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", BINARY + ["pow"])
@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
def test_binary_broadcasting(op, shapes, dtype, mode):
    a = random(shapes[0], dtype, seed=1)
    b = random(shapes[1], dtype, seed=2)
    if op == "pow":
        a = np.abs(a) + dtype(0.5)
    out = getattr(C, op)(a, b)
    assert_same(out, getattr(R, op)(a, b), exact=op != "pow", close=CLOSE[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_binary_non_contiguous(op, layout, dtype, mode):
    a = with_layout(random((6, 7), dtype, seed=3), layout)
    b = with_layout(random((6, 7), dtype, seed=4), "transposed")
    row = with_layout(random((1, 7), dtype, seed=5), layout)
    assert_same(getattr(C, op)(a, b), getattr(R, op)(a, b))
    assert_same(getattr(C, op)(a, row), getattr(R, op)(a, row))
    assert_same(getattr(C, op)(b[::2, ::3], a[1::2, ::-3]), getattr(R, op)(b[::2, ::3], a[1::2, ::-3]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", [((300, 301), (301,)), ((100_003,), ()), ((70, 1, 900), (1, 3, 900))], ids=str)
def test_binary_large(shapes, dtype, mode):
    a = random(shapes[0], dtype, seed=6)
    b = random(shapes[1], dtype, seed=7)
    for op in BINARY:
        assert_same(getattr(C, op)(a, b), getattr(R, op)(a, b))
        assert_same(getattr(C, op)(a[::-1], b), getattr(R, op)(a[::-1], b))


def test_default_threshold_is_crossed():
    """Arrays above the default threshold, with the default settings: the
    kernels really run on several threads and still agree."""
    n = 2 * parallel.DEFAULT_PARALLEL_THRESHOLD + 3
    x = random(n, np.float32, seed=60)
    y = random(n, np.float32, seed=61)
    with parallel.config(max_workers=None, parallel_threshold=parallel.DEFAULT_PARALLEL_THRESHOLD):
        assert parallel.threads_for(n) == parallel._omp.max_threads()
        assert_same(C.add(x, y), R.add(x, y))
        assert_same(C.where(C.gt(x, y), x, y[::-1]), R.where(R.gt(x, y), x, y[::-1]))
        assert_same(C.exp(x), R.exp(x), exact=False, close=CLOSE[np.float32])
        assert_same(C.max(x, (0,)), R.max(x, (0,)))
        assert_same(C.sum(x, (0,)), R.sum(x, (0,)), exact=False, close=SUM_CLOSE[np.float32])


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_special_values(dtype):
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -2.5], dtype)
    a, b = np.meshgrid(specials, specials)
    with np.errstate(all="ignore"):
        for op in BINARY + ["pow"]:
            assert_same(getattr(C, op)(a, b), getattr(R, op)(a, b), exact=False, close=CLOSE[dtype])


def test_binary_returns_a_new_array():
    a = np.ones(5, np.float32)
    zero = np.zeros((), np.float32)
    out = C.add(a, zero)
    assert not np.shares_memory(out, a)
    assert out.flags.c_contiguous and out.flags.writeable


# Shapes at the edge of the elementwise kernels' flat fast path (C-contiguous
# operands of one shape, or a single element with no more dims than the
# other): the fast path and the general layout must agree on all of them.
NEAR_FLAT = [
    ((16,), (16,)),
    ((16,), ()),
    ((), (16,)),
    ((16,), (1,)),
    ((16,), (1, 1)),  # a single element with more dims: the output is (1, 16)
    ((1, 1), (16,)),
    ((1, 1, 1), ()),
    ((), (1,)),
    ((), ()),
    ((4, 4), (1, 1)),
    ((4, 4), (4, 1)),  # same ndim, another shape: a broadcast
    ((4, 4), (1, 4)),
    ((0,), ()),
    ((0, 3), (0, 3)),
    ((), (0, 3)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", NEAR_FLAT, ids=str)
def test_binary_at_the_edge_of_the_fast_path(shapes, dtype, mode):
    a = random(shapes[0], dtype, seed=62)
    b = random(shapes[1], dtype, seed=63)
    for op in BINARY:
        assert_same(getattr(C, op)(a, b), getattr(R, op)(a, b))
    if a.ndim == 2 and a.size > 1:  # the same shapes, not contiguous: the general path
        assert_same(C.mul(a.T, b), R.mul(a.T, b))
    assert_same(C.gt(a, b), R.gt(a, b))
    cond = random(np.broadcast_shapes(*shapes), dtype, seed=64) > 0
    assert_same(C.where(cond, a, b), R.where(cond, a, b))


def test_binary_accepts_numpy_scalars():
    a = random(5, np.float32, seed=65)
    assert_same(C.mul(a, np.float32(2.5)), R.mul(a, np.float32(2.5)))
    assert_same(C.sub(np.float32(1), a), R.sub(np.float32(1), a))


def _unaligned(n, dtype):
    """A 1-D array whose data pointer is not a multiple of the item size."""
    raw = np.zeros(n * np.dtype(dtype).itemsize + 1, np.uint8)
    return raw[1:].view(dtype)


def test_binary_rejects_what_it_cannot_read():
    a = np.ones(4, np.float32)
    with pytest.raises(TypeError):
        C.add(a, np.ones(4, np.float64))
    with pytest.raises(TypeError):  # not native byte order
        C.add(a, np.ones(4, ">f4"))
    with pytest.raises(ValueError):
        C.add(a, np.ones(3, np.float32))
    with pytest.raises(ValueError):
        C.add(np.ones((2, 3), np.float32), np.ones((3, 2), np.float32))
    with pytest.raises(ValueError):  # an unaligned operand is refused, not read
        C.add(a, _unaligned(4, np.float32))
    with pytest.raises(ValueError):
        C.exp(_unaligned(4, np.float32))


# ---------------------------------------------------------------- unary

UNARY = ["neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "sin", "cos"]
EXACT_UNARY = {"neg", "abs", "relu", "sqrt"}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", UNARY)
@pytest.mark.parametrize("shape", [(), (1,), (0,), (7,), (3, 1, 5), (257, 129)], ids=str)
def test_unary(op, shape, dtype, mode):
    x = random(shape, dtype, seed=8, low=-4, high=4)
    if op in ("log", "sqrt"):
        x = np.abs(x) + dtype(0.01)
    assert_same(getattr(C, op)(x), getattr(R, op)(x), exact=op in EXACT_UNARY, close=CLOSE[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", UNARY)
@pytest.mark.parametrize("layout", LAYOUTS[1:])
def test_unary_non_contiguous(op, layout, dtype, mode):
    x = with_layout(random((9, 11), dtype, seed=9), layout)
    assert_same(getattr(C, op)(x), getattr(R, op)(x), exact=op in EXACT_UNARY, close=CLOSE[dtype])
    assert_same(getattr(C, op)(x[1::3, ::-2]), getattr(R, op)(x[1::3, ::-2]),
                exact=op in EXACT_UNARY, close=CLOSE[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_unary_special_values(dtype):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, 1e4, -1e4, 88.0, 710.0, -745.0], dtype)
    with np.errstate(all="ignore"):
        for op in UNARY:
            assert_same(getattr(C, op)(x), getattr(R, op)(x), exact=False, close=CLOSE[dtype])
    s = C.sigmoid(np.array([-1e4, -100.0, 100.0, 1e4], dtype))
    assert np.all(np.isfinite(s)) and s[0] == 0 and s[-1] == 1


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bounds", [(-0.5, 0.7), (None, 0.3), (-0.2, None), (None, None), (1.0, -1.0)], ids=str)
def test_clamp_and_backward(bounds, dtype, mode):
    x = random((13, 5), dtype, seed=10)
    x[0, 0] = np.nan
    x[1, 1] = np.float32(0.7)  # on the bound
    g = random((13, 5), dtype, seed=11)
    lo, hi = bounds
    assert_same(C.clamp(x, lo, hi), R.clamp(x, lo, hi))
    assert_same(C.clamp(x.T, lo, hi), R.clamp(x.T, lo, hi))
    assert_same(C.clamp_backward(x, g, lo, hi), R.clamp_backward(x, g, lo, hi))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [2.0, 3.0, 0.5, -1.5, 1.0, 0.0])
def test_pow_scalar_and_backward(p, dtype, mode):
    x = random((50, 3), dtype, seed=12)
    g = random((50, 3), dtype, seed=13)
    with np.errstate(all="ignore"):
        assert_same(C.pow_scalar(x, p), R.pow_scalar(x, p), exact=False, close=CLOSE[dtype])
        assert_same(C.pow_scalar_backward(x, g, p), R.pow_scalar_backward(x, g, p),
                    exact=False, close=CLOSE[dtype])
    if p == 2:  # the x*x fast path is exactly pow(x, 2)
        assert_same(C.pow_scalar(x, p), R.pow_scalar(x, p))
        assert_same(C.pow_scalar_backward(x, g, p), R.pow_scalar_backward(x, g, p))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["relu_backward", "abs_backward", "tanh_backward", "sigmoid_backward"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_fused_backward_rules(op, layout, dtype, mode):
    x = with_layout(random((40, 9), dtype, seed=14), layout)
    x[0, :3] = [0.0, -0.0, np.nan]
    g = random((40, 9), dtype, seed=15)
    assert_same(getattr(C, op)(x, g), getattr(R, op)(x, g))


# ---------------------------------------------------------------- compare and where

COMPARE = ["lt", "le", "gt", "ge", "eq", "ne"]


def _compare_inputs(dtype, shape, seed):
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(bool)
    if np.issubdtype(dtype, np.integer):
        return rng.integers(-3, 4, size=shape).astype(dtype)
    return rng.integers(-3, 4, size=shape).astype(dtype)  # small integers: many ties


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32, np.bool_, np.uint8, np.int16])
@pytest.mark.parametrize("op", COMPARE)
@pytest.mark.parametrize("shapes", [((4, 5), (4, 5)), ((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((5,), ()), ((), ()), ((0,), (1,))], ids=str)
def test_compare(op, shapes, dtype, mode):
    a = _compare_inputs(dtype, shapes[0], 16)
    b = _compare_inputs(dtype, shapes[1], 17)
    assert_same(getattr(C, op)(a, b), getattr(R, op)(a, b))
    if a.ndim == 2:
        assert_same(getattr(C, op)(a.T, b.T), getattr(R, op)(a.T, b.T))


def test_compare_widens_odd_dtypes_and_refuses_uint64():
    a = np.arange(6, dtype=np.int16)
    assert_same(C.lt(a, np.int8(3) * np.ones((), np.int8)), R.lt(a, np.int8(3)))
    assert_same(C.eq(a.astype(np.float32), a), R.eq(a.astype(np.float32), a))
    with pytest.raises(TypeError):
        C.lt(np.arange(3, dtype=np.uint64), np.arange(3, dtype=np.uint64))


def test_where_reads_a_non_bool_condition_as_nonzero():
    cond = np.array([0.0, 2.0, -1.0, 0.0], np.float32)
    a, b = np.ones(4, np.float32), np.zeros(4, np.float32)
    assert_same(C.where(cond, a, b), R.where(cond != 0, a, b))


@pytest.mark.parametrize("dtype", DTYPES)
def test_compare_nan(dtype):
    a = np.array([np.nan, 1.0, np.nan, np.inf], dtype)
    b = np.array([np.nan, np.nan, 1.0, np.inf], dtype)
    for op in COMPARE:
        assert_same(getattr(C, op)(a, b), getattr(R, op)(a, b))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", [((4, 5),) * 3, ((4, 1), (1, 5), ()), ((), (3,), (2, 1)), ((2, 3, 4), (4,), (3, 1)), ((0, 2), (2,), ())], ids=str)
def test_where(shapes, dtype, mode):
    cond = _compare_inputs(np.bool_, shapes[0], 18)
    a = random(shapes[1], dtype, seed=19)
    b = random(shapes[2], dtype, seed=20)
    assert_same(C.where(cond, a, b), R.where(cond, a, b))


@pytest.mark.parametrize("dtype", DTYPES)
def test_where_large_non_contiguous(dtype, mode):
    a = random((400, 300), dtype, seed=21)
    cond = C.gt(a, np.zeros((), dtype))
    assert_same(C.where(cond.T, a.T, a[:, 0]), R.where(cond.T, a.T, a[:, 0]))


# ---------------------------------------------------------------- reductions

REDUCE_CASES = [
    ((7,), (0,)),
    ((3, 4), (0,)),
    ((3, 4), (1,)),
    ((3, 4), (0, 1)),
    ((2, 3, 4), (1,)),
    ((2, 3, 4), (0, 2)),
    ((2, 3, 4, 5), (1, 3)),
    ((2, 3, 4, 5), (0, 1, 2, 3)),
    ((5, 1, 3), (1,)),
    ((5, 1, 3), (0, 1)),
    ((1, 1), (0, 1)),
    ((), ()),
    ((4, 3), ()),
    ((600, 700), (0,)),
    ((600, 700), (1,)),
    ((3, 40_000), (1,)),
    ((100_003,), (0,)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["sum", "max", "min"])
@pytest.mark.parametrize("case", REDUCE_CASES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(op, case, keepdims, dtype, mode):
    shape, axes = case
    x = random(shape, dtype, seed=22)
    expected = getattr(R, op)(x, axes, keepdims)
    actual = getattr(C, op)(x, axes, keepdims)
    assert_same(actual, expected, exact=op != "sum", close=SUM_CLOSE[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["sum", "max", "min"])
@pytest.mark.parametrize("layout", LAYOUTS[1:])
def test_reductions_non_contiguous(op, layout, dtype, mode):
    x = with_layout(random((6, 5, 4), dtype, seed=23), layout)
    for axes in [(0,), (1,), (2,), (0, 2), (0, 1, 2)]:
        assert_same(getattr(C, op)(x, axes), getattr(R, op)(x, axes), exact=op != "sum",
                    close=CLOSE[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_reductions_propagate_nan_and_infinities(dtype):
    x = random((5, 6), dtype, seed=24)
    x[2, 3] = np.nan
    x[4, 0] = -np.inf
    for op in ["sum", "max", "min"]:
        for axes in [(0,), (1,), (0, 1)]:
            assert_same(getattr(C, op)(x, axes), getattr(R, op)(x, axes), exact=False, close=CLOSE[dtype])
    big = np.full(50_000, -np.inf, dtype)
    big[31_337] = np.nan
    assert np.isnan(C.max(big, (0,))) and np.isnan(C.min(big, (0,)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_reductions_of_empty_arrays(dtype):
    x = np.empty((0, 3), dtype)
    assert_same(C.sum(x, (0,)), R.sum(x, (0,)))
    assert_same(C.sum(x, (0, 1), True), R.sum(x, (0, 1), True))
    assert_same(C.max(x, (1,)), R.max(x, (1,)))
    with pytest.raises(ValueError):
        C.max(x, (0,))


def test_reductions_copy_what_they_cannot_read_directly():
    x = random((5, 6), np.float32, seed=66)
    for view in (x.astype(">f4"), x[:, ::2], x.T):  # byte-swapped, strided, transposed
        for axes in [(0,), (1,), (0, 1)]:
            np.testing.assert_allclose(C.sum(view, axes), R.sum(np.asarray(view, np.float32), axes),
                                       **CLOSE[np.float32])
            assert_same(C.max(view, axes), R.max(np.asarray(view, np.float32), axes))


def test_reductions_reject_bad_axes_and_dtypes():
    x = np.ones((2, 3), np.float32)
    for axes in [(2,), (0, 0), (-1,)]:
        with pytest.raises(ValueError):
            C.sum(x, axes)
    with pytest.raises(TypeError):
        C.sum(np.ones(3, np.int64), (0,))


def test_full_reduction_is_bit_identical_for_any_thread_count():
    from quasar import _kernels as _reduce  # the _reduce.pxi family

    x = random(1_000_003, np.float32, seed=25, low=-1.0, high=3.0)
    y = random((3, 333_335), np.float64, seed=26)
    results = {}
    for workers in (1, 2, 16):
        with parallel.config(max_workers=workers, parallel_threshold=1):
            results[workers] = [C.sum(x, (0,)), C.max(x, (0,)), C.sum(y, (0, 1)), C.sum(y, (0,)),
                                C.sum(y, (1,)), C.min(y, (0, 1)),
                                # elementwise blocks sit at fixed offsets too, so even a
                                # vectorized libm (vector body vs scalar tail) gives the same bits
                                C.exp(x[1:]), C.tanh(y.T)]
    for workers in (2, 16):
        for got, want in zip(results[workers], results[1]):
            assert got.tobytes() == want.tobytes()
    # straight at the kernel, with more threads than this machine has cores: a
    # thread policy of threshold 0 and a threads_for that always answers `threads`
    def full_sum(threads):
        return _reduce.reduce(_reduce.ReduceOp.SUM, x, (0,), False, 1, 0, lambda work: threads)

    serial = full_sum(1)
    for threads in (2, 3, 16):
        assert full_sum(threads).tobytes() == serial.tobytes()
    np.testing.assert_allclose(serial, x.astype(np.float64).sum(), rtol=1e-6)


# ---------------------------------------------------------------- softmax family


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [((4, 10), 1), ((4, 10), 0), ((2, 3, 5), 1), ((7,), 0), ((1, 1), 1), ((300, 257), 1), ((0, 4), 1)], ids=str)
def test_softmax_family(case, dtype, mode):
    shape, axis = case
    x = random(shape, dtype, seed=27, low=-5, high=5)
    g = random(shape, dtype, seed=28)
    for fwd, bwd in [("softmax", "softmax_backward"), ("log_softmax", "log_softmax_backward")]:
        y = getattr(R, fwd)(x, axis)
        assert_same(getattr(C, fwd)(x, axis), y, exact=False, close=CLOSE[dtype])
        assert_same(getattr(C, bwd)(y, g, axis), getattr(R, bwd)(y, g, axis), exact=False, close=CLOSE[dtype])
        if x.ndim == 2:  # transposed input
            assert_same(getattr(C, fwd)(x.T, 1 - axis), getattr(R, fwd)(x.T, 1 - axis),
                        exact=False, close=CLOSE[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_is_stable_for_huge_logits(dtype):
    x = np.array([[1e4, -1e4, 0.0, 1e4 - 1], [-1e4, -1e4, -1e4, -1e4]], dtype)
    for fn in ("softmax", "log_softmax"):
        out = getattr(C, fn)(x, 1)
        assert np.all(np.isfinite(out))
        assert_same(out, getattr(R, fn)(x, 1), exact=False, close=CLOSE[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_family_on_masked_rows(dtype):
    # A causal mask (-inf above the diagonal), a row reaching into exp's
    # subnormal range, a fully masked row (nan, as in PyTorch) and a NaN. The
    # kernels keep masked lanes off the vector exp's slow path
    # (_rowwise.pxi: _exp_shifted) but must still give exp's values.
    n = 40
    x = random((n, n), dtype, seed=32, low=-3, high=3)
    x[np.triu_indices(n, 1)] = -np.inf
    x[5, 0] = 0  # then exp(x - max): normal, subnormal, 0
    x[5, 1:30] = np.linspace(-60, -110, 29) if dtype == np.float32 else np.linspace(-650, -760, 29)
    x[7] = -np.inf
    x[9, 3] = np.nan
    g = random((n, n), dtype, seed=33)
    finite_rows = [i for i in range(n) if i not in (7, 9)]
    for fwd, bwd in [("softmax", "softmax_backward"), ("log_softmax", "log_softmax_backward")]:
        with np.errstate(invalid="ignore"):
            y, want = getattr(C, fwd)(x, 1), getattr(R, fwd)(x, 1)
        assert_same(y, want, exact=False, close=CLOSE[dtype])
        assert np.isnan(y[[7, 9]]).all() and not np.isnan(y[finite_rows]).any()
        assert_same(getattr(C, bwd)(y, g, 1), getattr(R, bwd)(y, g, 1), exact=False, close=CLOSE[dtype])
    probs = C.softmax(x, 1)
    assert (probs[finite_rows][np.isneginf(x[finite_rows])] == 0).all()
    subnormal = (probs[5] > 0) & (probs[5] < np.finfo(dtype).tiny)
    assert subnormal.sum() >= 2  # kept as exp gives them, not flushed to 0
    exact = np.exp(x[5].astype(np.float64) - x[5].max())
    smallest = np.finfo(dtype).smallest_subnormal
    np.testing.assert_allclose(probs[5][subnormal], (exact / exact.sum())[subnormal], rtol=1e-3, atol=2 * smallest)


@pytest.mark.parametrize("dtype", DTYPES)
def test_attention_softmax_is_the_softmax_of_the_masked_scores(dtype, mode):
    # Both kernels exponentiate through _rowwise.pxi's _exp_shifted, so a bool
    # mask gives the very bits of softmax(where(mask, scale * scores, -inf)):
    # subnormal probabilities, exact zeros, a fully masked row's NaN.
    from quasar.backends import compiled_sequence

    rng = np.random.default_rng(34)
    scores = rng.uniform(-1, 1, (3, 5, 30)).astype(dtype)
    scores[0, 1, 0] = 0  # the rest, scaled by 0.5 below, reaches exp's subnormal range
    scores[0, 1, 1:] = np.linspace(-120, -220, 29) if dtype == np.float32 else np.linspace(-1300, -1520, 29)
    mask = rng.random((5, 30)) > 0.3
    mask[:, 0] = True
    mask[3] = False
    got = compiled_sequence.attention_softmax(scores, mask, 0.5, False)
    with np.errstate(invalid="ignore"):
        want = C.softmax(np.where(mask, scores * dtype(0.5), dtype(-np.inf)), 2)
    np.testing.assert_array_equal(got, want)
    assert np.isnan(got[:, 3]).all() and not np.isnan(got[:, [0, 1, 2, 4]]).any()
    assert ((got[0, 1] > 0) & (got[0, 1] < np.finfo(dtype).tiny)).any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(8, 5), (1, 1), (0, 3), (500, 130)], ids=str)
def test_cross_entropy(shape, dtype, mode):
    logits = random(shape, dtype, seed=29, low=-3, high=3)
    target = np.random.default_rng(30).integers(0, shape[1], size=shape[0])
    g = random(shape[0], dtype, seed=31)
    loss, lse = C.cross_entropy(logits, target)
    ref_loss, ref_lse = R.cross_entropy(logits, target)
    assert_same(loss, ref_loss, exact=False, close=CLOSE[dtype])
    assert_same(lse, ref_lse, exact=False, close=CLOSE[dtype])
    assert_same(C.cross_entropy_backward(logits, target, lse, g),
                R.cross_entropy_backward(logits, target, ref_lse, g), exact=False, close=CLOSE[dtype])
    if shape[0] > 1:  # transposed logits, int32 targets
        lt = np.ascontiguousarray(logits.T).T
        loss2, _ = C.cross_entropy(lt, target.astype(np.int32))
        assert_same(loss2, ref_loss, exact=False, close=CLOSE[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_is_stable_for_huge_logits(dtype):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [-1e4, -1e4, -1e4]], dtype)
    target = np.array([1, 2, 0])
    loss, lse = C.cross_entropy(logits, target)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(lse))
    ref_loss, ref_lse = R.cross_entropy(logits, target)
    assert_same(loss, ref_loss, exact=False, close=CLOSE[dtype])
    g = np.ones(3, dtype)
    grad = C.cross_entropy_backward(logits, target, lse, g)
    assert np.all(np.isfinite(grad))
    assert_same(grad, R.cross_entropy_backward(logits, target, ref_lse, g), exact=False, close=CLOSE[dtype])


def test_cross_entropy_rejects_bad_targets():
    logits = random((3, 4), np.float32, seed=32)
    with pytest.raises(IndexError):
        C.cross_entropy(logits, np.array([0, 4, 1]))
    with pytest.raises(IndexError):
        C.cross_entropy_backward(logits, np.array([0, -1, 1]), np.zeros(3, np.float32), np.ones(3, np.float32))


# ---------------------------------------------------------------- matmul


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", [((3, 4), (4, 5)), ((4,), (4, 2)), ((3, 4), (4,)), ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (5, 4, 2))], ids=str)
def test_matmul(shapes, dtype):
    a = random(shapes[0], dtype, seed=33)
    b = random(shapes[1], dtype, seed=34)
    assert_same(C.matmul(a, b), R.matmul(a, b), exact=False, close=CLOSE[dtype])
    assert C.matmul(a, b).flags.c_contiguous


def test_matmul_vector_dot_is_0d():
    a = random(5, np.float64, seed=35)
    out = C.matmul(a, a)
    assert isinstance(out, np.ndarray) and out.shape == ()
    np.testing.assert_allclose(out, np.dot(a, a))


# ---------------------------------------------------------------- optimizers

SGD_SETTINGS = [
    {"lr": 0.1, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False},
    {"lr": 0.05, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False},
    {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 1e-2, "nesterov": False},
    {"lr": 0.05, "momentum": 0.9, "dampening": 0.0, "weight_decay": 1e-2, "nesterov": True},
    {"lr": 0.1, "momentum": 0.0, "dampening": 0.0, "weight_decay": 1e-3, "nesterov": False},
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("settings", SGD_SETTINGS, ids=str)
@pytest.mark.parametrize("shape", [(5, 7), (), (50_001,)], ids=str)
def test_sgd_steps_match_reference(settings, shape, dtype, mode):
    states = {}
    for backend in (R, C):
        param = random(shape, dtype, seed=36)
        buf = np.zeros(shape, dtype) if settings["momentum"] else None
        for step in range(4):
            grad = random(shape, dtype, seed=40 + step)
            backend.sgd_step(param, grad, buf, first=step == 0, **settings)
        states[backend.name] = (param, buf)
    assert_same(states["compiled"][0], states["reference"][0])
    if settings["momentum"]:
        assert_same(states["compiled"][1], states["reference"][1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weight_decay,decoupled", [(0.0, False), (1e-2, False), (1e-2, True)])
@pytest.mark.parametrize("shape", [(5, 7), (), (50_001,)], ids=str)
def test_adam_steps_match_reference(weight_decay, decoupled, shape, dtype, mode):
    states = {}
    for backend in (R, C):
        param = random(shape, dtype, seed=37)
        m, v = np.zeros(shape, dtype), np.zeros(shape, dtype)
        for step in range(1, 6):
            grad = random(shape, dtype, seed=50 + step)
            backend.adam_step(param, grad, m, v, step, 1e-2, 0.9, 0.999, 1e-8, weight_decay, decoupled)
        states[backend.name] = (param, m, v)
    for got, want in zip(states["compiled"], states["reference"]):
        assert_same(got, want)


def test_optimizers_reject_what_they_cannot_update():
    param, grad = np.ones(6, np.float32), np.ones(6, np.float32)
    frozen = param.copy()
    frozen.flags.writeable = False
    with pytest.raises(ValueError):
        C.sgd_step(frozen, grad, None, 0.1, 0.0, 0.0, 0.0, False, False)
    with pytest.raises(ValueError):
        C.sgd_step(frozen[::2], grad[:3], None, 0.1, 0.0, 0.0, 0.0, False, False)
    with pytest.raises(ValueError):  # momentum without a buffer
        C.sgd_step(param, grad, None, 0.1, 0.9, 0.0, 0.0, False, False)
    with pytest.raises(ValueError):  # sizes differ
        C.adam_step(param, grad[:5], np.zeros(6, np.float32), np.zeros(6, np.float32), 1,
                    1e-3, 0.9, 0.999, 1e-8, 0.0, False)
    with pytest.raises(TypeError):  # state of another dtype
        C.adam_step(param, grad, np.zeros(6, np.float64), np.zeros(6, np.float32), 1,
                    1e-3, 0.9, 0.999, 1e-8, 0.0, False)
    np.testing.assert_array_equal(param, 1)  # nothing was updated


def test_optimizers_update_non_contiguous_parameters_in_place():
    updated = {}
    for backend in (R, C):
        base, base_m, base_v = (random((6, 8), np.float32, seed=s) for s in (38, 39, 40))
        param, m, v = base.T, base_m.T, base_v.T  # views: the updates must land in the bases
        grad = random((8, 6), np.float32, seed=41)
        backend.sgd_step(param, grad, m, 0.1, 0.9, 0.0, 0.0, False, False)
        backend.adam_step(param, grad, m, np.abs(v), 3, 1e-2, 0.9, 0.999, 1e-8, 0.0, False)
        backend.adam_step(param, grad, m, v[:, :0] if False else np.abs(v), 4, 1e-2, 0.9, 0.999, 1e-8, 0.0, False)
        updated[backend.name] = (base, base_m)
    for got, want in zip(updated["compiled"], updated["reference"]):
        assert_same(got, want)


# ---------------------------------------------------------------- thread settings


def test_set_num_threads_and_config_validate():
    for bad in (0, -1, 1.5, "2", None, True):
        with pytest.raises(ValueError):
            parallel.set_num_threads(bad)
    with pytest.raises(ValueError):
        parallel.ParallelConfig(max_workers=0)
    with pytest.raises(ValueError):
        parallel.ParallelConfig(parallel_threshold=-1)
    with pytest.raises(ValueError):
        parallel.ParallelConfig(parallel_threshold=2.5)


def test_threads_for_follows_the_threshold_and_workers():
    with parallel.config(max_workers=None, parallel_threshold=1000):
        assert parallel.threads_for(999) == 1
        assert parallel.threads_for(1000) == parallel.get_num_threads() >= 1
        with parallel.config(max_workers=1):
            assert parallel.threads_for(10**9) == 1
        with parallel.config(max_workers=64):  # capped by omp_get_max_threads()
            assert parallel.threads_for(10**9) == parallel._omp.max_threads()


def _policy_cases():
    """(name, call, work): a wrapper call of each kernel family and its work in
    elements of an add (pow counts 4 per element, a reduction 1 per 4 read)."""
    x = random((12, 10), np.float32, seed=67)
    positive = np.abs(x) + np.float32(0.5)
    target = np.arange(12) % 10
    _, lse = R.cross_entropy(x, target)

    def sgd():
        param = x.copy()
        C.sgd_step(param, x, None, 0.1, 0.0, 0.0, 0.0, False, False)
        return param

    return [
        ("add", lambda: C.add(x, x[0]), 120),
        ("mul, flat", lambda: C.mul(x, x), 120),
        ("pow", lambda: C.pow(positive, x), 480),
        ("exp", lambda: C.exp(x.T), 120),
        ("gt", lambda: C.gt(x, np.zeros((), np.float32)), 120),
        ("where", lambda: C.where(x > 0, x, x.T.T), 120),
        ("sum", lambda: C.sum(x, (0,)), 30),
        ("max, all", lambda: C.max(x, (0, 1)), 30),
        ("softmax", lambda: C.softmax(x, 1), 120),
        ("log_softmax_backward", lambda: C.log_softmax_backward(x, x, 0), 120),
        ("cross_entropy", lambda: C.cross_entropy(x, target)[0], 120),
        ("cross_entropy_backward", lambda: C.cross_entropy_backward(x, target, lse, x[:, 0]), 120),
        ("sgd_step", sgd, 120),
    ]


@pytest.mark.parametrize("name, call, work", _policy_cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_kernels_ask_threads_for_only_from_the_threshold(name, call, work, monkeypatch):
    """The thread policy (quasar/_kernels.pxd): below this thread's threshold a
    kernel runs on one thread without calling threads_for; from it on, it
    asks threads_for(work) and runs on as many threads as that answers (here
    more than this machine has cores), with the same result."""
    asked = []

    def threads_for(n_elements):
        asked.append(n_elements)
        return 3

    monkeypatch.setattr(C, "_threads_for", threads_for)
    with parallel.config(parallel_threshold=10**30):  # beyond any C integer: never
        serial = call()
    assert asked == []
    for threshold, expected in [(work + 1, []), (work, [work]), (0, [work])]:
        asked.clear()
        with parallel.config(parallel_threshold=threshold):
            result = call()
        assert asked == expected, (threshold, asked)
        assert result.tobytes() == serial.tobytes()


def test_settings_are_thread_local():
    seen = {}

    def worker():
        seen["threshold"] = parallel.current_config().parallel_threshold

    with parallel.config(parallel_threshold=7):
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        assert parallel.current_config().parallel_threshold == 7
    assert seen["threshold"] == parallel.DEFAULT_PARALLEL_THRESHOLD


def test_show_config_prints_the_build(capsys):
    parallel.show_config()
    text = capsys.readouterr().out
    assert "OpenMP" in text and "parallel_threshold" in text and "compiled" in text
