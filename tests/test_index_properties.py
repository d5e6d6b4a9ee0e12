"""Property tests: random index expressions and random broadcastable shapes,
checked against NumPy (values, and which keys are errors; an int among index
arrays read as PyTorch reads it, see torch_parts) and against independent
gradient oracles, on every backend."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import quasar as qs
from quasar import backends

BACKENDS = ["reference"] + (["compiled"] if backends.compiled is not None else [])
FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------- strategies


def slice_bound(size):
    return st.one_of(st.none(), st.integers(-size - 2, size + 2))


@st.composite
def index_problems(draw):
    """(shape, key): a random shape and a random key that mixes ints,
    slices (any step sign), None, ``...``, integer arrays whose shapes
    broadcast together, 1-D and 2-D bool masks, and bool scalars."""
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=0, max_size=3)))
    arrays_shape = tuple(draw(st.lists(st.integers(0, 3), max_size=2)))
    entries, dim = [], 0
    while dim < len(shape):
        size = shape[dim]
        kinds = ["slice", "full", "mask"] + (["int", "array", "array"] if size else [])
        kinds += ["mask2"] if dim + 1 < len(shape) else []
        kind = draw(st.sampled_from(kinds))
        if kind == "int":
            entries.append(draw(st.integers(-size, size - 1)))
        elif kind == "slice":
            step = draw(st.sampled_from([None, 1, 2, 3, -1, -2]))
            entries.append(slice(draw(slice_bound(size)), draw(slice_bound(size)), step))
        elif kind == "full":
            entries.append(slice(None))
        elif kind == "array":
            own_shape = draw(hnp.broadcastable_shapes(arrays_shape, max_dims=len(arrays_shape), min_side=0))
            entries.append(draw(hnp.arrays(np.int64, own_shape, elements=st.integers(-size, size - 1))))
        elif kind == "mask":
            entries.append(draw(hnp.arrays(np.bool_, (size,))))
        else:
            entries.append(draw(hnp.arrays(np.bool_, shape[dim : dim + 2])))
            dim += 1
        dim += 1
        if draw(st.integers(0, 6)) == 0:
            entries.append(draw(st.sampled_from([None, True, False])))
    entries = entries[: draw(st.integers(0, len(entries)))]  # the rest: implicit full slices
    if draw(st.booleans()):  # a run of entries becomes one Ellipsis
        start = draw(st.integers(0, len(entries)))
        stop = draw(st.integers(start, len(entries)))
        entries[start:stop] = [Ellipsis]
    if len(entries) == 1 and draw(st.booleans()):
        return shape, entries[0]  # a bare key, not a tuple
    return shape, tuple(entries)


def as_quasar_key(key, wrap):
    """The same key with its arrays as tensors (when ``wrap``): both must work."""
    if not wrap:
        return key
    if isinstance(key, tuple):
        return tuple(qs.tensor(e) if isinstance(e, np.ndarray) else e for e in key)
    return qs.tensor(key) if isinstance(key, np.ndarray) else key


def numpy_quirk(error, selects_nothing):
    """NumPy lets an *empty* bool mask index a dim of size 1; quasar keeps PyTorch's
    rule (a mask matches the dims it covers exactly) and raises instead. And where
    the key selects nothing (a False or an empty array among the indices), NumPy
    never looks at the other indices; quasar checks them all, as PyTorch does."""
    message = str(error)
    if "bool mask of shape" in message and "(0" in message.split("bool mask of shape")[1]:
        return True
    return selects_nothing and "out of range" in message


def torch_parts(key):
    """PyTorch reads an int in a key with index arrays as a basic index, applied
    first (NumPy counts it as one more index array, which can move the result's
    dims): the key as (the ints, with full slices for the dims other entries
    use; the rest of the key), or None when there is nothing to split."""
    entries = key if isinstance(key, tuple) else (key,)
    is_int = [isinstance(e, (int, np.integer)) and not isinstance(e, (bool, np.bool_)) for e in entries]
    if not any(is_int) or not any(isinstance(e, (np.ndarray, bool, np.bool_)) for e in entries):
        return None
    ints = []
    for e, integer in zip(entries, is_int):
        if integer or e is Ellipsis:
            ints.append(e)
        elif isinstance(e, slice) or (isinstance(e, np.ndarray) and e.dtype != np.bool_):
            ints.append(slice(None))
        elif isinstance(e, np.ndarray):  # a bool mask covers one dim per mask dim
            ints.extend([slice(None)] * e.ndim)
    rest = tuple(e for e, integer in zip(entries, is_int) if not integer)
    if Ellipsis not in ints:
        ints.append(Ellipsis)  # so an all-int part still gives a (0-d) view, not a scalar
    return tuple(ints), rest


def torch_getitem(array, key):
    """``array[key]`` as PyTorch reads the key (see torch_parts)."""
    parts = torch_parts(key)
    if parts is None:
        return np.asarray(array[key])
    return np.asarray(array[parts[0]][parts[1]])


def torch_setitem(array, key, value):
    """``array[key] = value`` as PyTorch reads the key: through the view of the ints."""
    parts = torch_parts(key)
    if parts is None:
        array[key] = value
    else:
        array[parts[0]][parts[1]] = value


def index_gradient_oracle(shape, key, grad):
    """d(sum(x[key] * grad))/dx: count each read, via the positions of an arange."""
    size = int(np.prod(shape))
    positions = torch_getitem(np.arange(size).reshape(shape), key)
    return np.bincount(np.ravel(positions), weights=np.ravel(grad), minlength=size).reshape(shape)


def shapes_broadcasting_to(shape):
    """Shapes that broadcast *to* ``shape`` (no more dims, each side 1 or the same)."""
    return hnp.broadcastable_shapes(shape, max_dims=len(shape), min_side=0).filter(
        lambda s: np.broadcast_shapes(s, shape) == tuple(shape)
    )


def reduce_like(array, shape):
    """Sum a broadcast array back down to ``shape`` (the test's own reducer)."""
    array = np.sum(array, axis=tuple(range(array.ndim - len(shape))))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and array.shape[i] != 1)
    return np.sum(array, axis=axes, keepdims=True).reshape(shape)


# ---------------------------------------------------------------- t[key]


@FAST
@given(problem=index_problems(), wrap=st.booleans(), backend=st.sampled_from(BACKENDS), seed=st.integers(0, 99))
def test_getitem_agrees_with_numpy(problem, wrap, backend, seed):
    shape, key = problem
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(shape)
    try:
        want = torch_getitem(data, key)
    except IndexError:  # NumPy refuses the key (e.g. arrays that do not broadcast): so must quasar
        with pytest.raises(IndexError):
            qs.tensor(data)[as_quasar_key(key, wrap)]
        return
    with qs.backend(backend):
        x = qs.tensor(data, requires_grad=True)
        try:
            out = x[as_quasar_key(key, wrap)]
        except IndexError as error:
            assert numpy_quirk(error, want.size == 0), error
            return
        np.testing.assert_array_equal(out.array, want)
        grad = rng.standard_normal(want.shape)
        out.backward(qs.tensor(grad))
    np.testing.assert_allclose(x.grad.array, index_gradient_oracle(shape, key, grad), rtol=1e-12, atol=1e-12)


@FAST
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), data=st.data())
def test_out_of_range_ints_are_index_errors(shape, data):
    dim = data.draw(st.integers(0, len(shape) - 1))
    size = shape[dim]
    bad = data.draw(st.one_of(st.integers(size, size + 5), st.integers(-size - 5, -size - 1)))
    as_array = data.draw(st.booleans())
    key = (slice(None),) * dim + ((np.array([0, bad]) if size > 1 else np.array([bad])) if as_array else bad,)
    with pytest.raises(IndexError, match=f"index {bad} is out of range for dim {dim} with size {size}"):
        qs.tensor(np.zeros(shape))[key]


# ---------------------------------------------------------------- t[key] = value


@FAST
@given(problem=index_problems(), backend=st.sampled_from(BACKENDS), data=st.data())
def test_setitem_agrees_with_numpy_and_its_gradients(problem, backend, data):
    shape, key = problem
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    values = rng.standard_normal(shape)
    try:
        selected = torch_getitem(values, key).shape
    except IndexError:
        return
    value_shape = data.draw(shapes_broadcasting_to(selected))
    value = rng.standard_normal(value_shape)
    want = values.copy()
    torch_setitem(want, key, value)
    t = qs.tensor(values)
    try:
        t[key] = qs.tensor(value)
    except IndexError as error:
        assert numpy_quirk(error, math.prod(selected) == 0), error
        return
    np.testing.assert_array_equal(t.array, want)
    assert t._version[0] == 1

    with qs.backend(backend):  # the same write on a non-leaf, recorded
        w = qs.tensor(values, requires_grad=True)
        v = qs.tensor(value, requires_grad=True)
        t = w * 1
        t[key] = v
        grad = rng.standard_normal(shape)
        (t * qs.tensor(grad)).sum().backward()
    written = np.zeros(shape, bool)
    torch_setitem(written, key, True)
    np.testing.assert_array_equal(w.grad.array, np.where(written, 0.0, grad))
    np.testing.assert_allclose(v.grad.array, reduce_like(torch_getitem(grad, key), value_shape), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- broadcasting ops


@FAST
@given(
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    op=st.sampled_from(["add_", "sub_", "mul_", "div_"]),
    backend=st.sampled_from(BACKENDS),
    data=st.data(),
)
def test_in_place_arithmetic_matches_out_of_place(shape, op, backend, data):
    other_shape = data.draw(shapes_broadcasting_to(shape))
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    a, b = rng.standard_normal(shape), rng.uniform(0.5, 2.0, other_shape)
    grad = rng.standard_normal(shape)
    plain = {"add_": np.add, "sub_": np.subtract, "mul_": np.multiply, "div_": np.divide}[op]
    twin = {"add_": qs.add, "sub_": qs.sub, "mul_": qs.mul, "div_": qs.div}[op]
    with qs.backend(backend):
        w, o = qs.tensor(a, requires_grad=True), qs.tensor(b, requires_grad=True)
        t = w * 1
        getattr(t, op)(o)
        np.testing.assert_allclose(t.array, plain(a, b), rtol=1e-12)
        (t * qs.tensor(grad)).sum().backward()
        w2, o2 = qs.tensor(a, requires_grad=True), qs.tensor(b, requires_grad=True)
        (twin(w2 * 1, o2) * qs.tensor(grad)).sum().backward()
    np.testing.assert_allclose(w.grad.array, w2.grad.array, rtol=1e-12)
    np.testing.assert_allclose(o.grad.array, o2.grad.array, rtol=1e-12)


@FAST
@given(
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    backend=st.sampled_from(BACKENDS),
    data=st.data(),
)
def test_masked_fill_with_a_broadcast_mask(shape, backend, data):
    mask_shape = data.draw(shapes_broadcasting_to(shape))
    mask = data.draw(hnp.arrays(np.bool_, mask_shape))
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    values, grad = rng.standard_normal(shape), rng.standard_normal(shape)
    with qs.backend(backend):
        x = qs.tensor(values, requires_grad=True)
        out = qs.masked_fill(x, qs.tensor(mask), -2.5)
        np.testing.assert_array_equal(out.array, np.where(mask, -2.5, values))
        out.backward(qs.tensor(grad))
    np.testing.assert_array_equal(x.grad.array, np.where(mask, 0.0, grad))


@FAST
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3, min_side=1, max_side=3),
    backend=st.sampled_from(BACKENDS),
    data=st.data(),
)
def test_take_along_dim_agrees_with_numpy(shapes, backend, data):
    x_shape, index_shape = (list(s) for s in shapes.input_shapes)
    ndim = max(len(x_shape), len(index_shape))
    x_shape, index_shape = [1] * (ndim - len(x_shape)) + x_shape, [1] * (ndim - len(index_shape)) + index_shape
    dim = data.draw(st.integers(0, ndim - 1))
    x_shape[dim], index_shape[dim] = data.draw(st.integers(1, 4)), data.draw(st.integers(0, 4))
    index = data.draw(hnp.arrays(np.int64, tuple(index_shape), elements=st.integers(0, x_shape[dim] - 1)))
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    values = rng.standard_normal(x_shape)
    want = np.take_along_axis(values, index, dim)
    with qs.backend(backend):
        x = qs.tensor(values, requires_grad=True)
        out = qs.take_along_dim(x, qs.tensor(index), dim)
        np.testing.assert_array_equal(out.array, want)
        grad = rng.standard_normal(want.shape)
        out.backward(qs.tensor(grad))
    positions = np.take_along_axis(np.arange(values.size).reshape(values.shape), index, dim)
    oracle = np.bincount(positions.ravel(), weights=grad.ravel(), minlength=values.size).reshape(values.shape)
    np.testing.assert_allclose(x.grad.array, oracle, rtol=1e-12, atol=1e-12)


@FAST
@given(
    base=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=3),
    sizes=st.lists(st.integers(0, 3), min_size=1, max_size=4),
    backend=st.sampled_from(BACKENDS),
    data=st.data(),
)
def test_cat_then_split_round_trips(base, sizes, backend, data):
    dim = data.draw(st.integers(-len(base), len(base) - 1))
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    arrays = []
    for n in sizes:
        shape = list(base)
        shape[dim] = n
        arrays.append(rng.standard_normal(shape))
    with qs.backend(backend):
        parts = [qs.tensor(a, requires_grad=True) for a in arrays]
        joined = qs.cat(parts, dim)
        np.testing.assert_array_equal(joined.array, np.concatenate(arrays, dim))
        pieces = qs.split(joined, sizes, dim)
        for piece, array in zip(pieces, arrays):
            np.testing.assert_array_equal(piece.array, array)
        weights = [rng.standard_normal(a.shape) for a in arrays]
        total = sum((p * qs.tensor(w)).sum() for p, w in zip(pieces, weights))
        total.backward()
    for part, w in zip(parts, weights):
        np.testing.assert_allclose(part.grad.array, w, rtol=1e-12)
