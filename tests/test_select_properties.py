"""Property tests for part C: scatter_reduce against a plain Python loop,
einsum against NumPy on random equations, sort/topk against NumPy, on
every backend."""

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import quasar as qs

BACKENDS = ["reference"] + (["compiled"] if qs.backends.compiled is not None else [])
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def scatter_problems(draw):
    """(x, dim, index, src): index within x along dim, no larger than x elsewhere and than src everywhere."""
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    dim = draw(st.integers(0, ndim - 1))
    index_shape = tuple(draw(st.integers(0, n if d != dim else 5)) for d, n in enumerate(shape))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, shape).astype(np.float64)
    src = rng.integers(-3, 4, tuple(n + rng.integers(0, 2) for n in index_shape)).astype(np.float64)
    index = rng.integers(0, shape[dim], index_shape)
    return x, dim, index, src


def scatter_oracle(x, dim, index, src, reduce, include_self):
    """scatter_reduce written as the definition: a loop over every index element."""
    groups = {}
    for position in itertools.product(*[range(n) for n in index.shape]):
        target = list(position)
        target[dim] = index[position]
        groups.setdefault(tuple(target), []).append(src[position])
    out = x.copy()
    for target, values in groups.items():
        values = ([x[target]] if include_self else []) + values
        out[target] = {"sum": np.sum, "prod": np.prod, "mean": np.mean, "amax": np.max, "amin": np.min}[reduce](values)
    return out


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@FAST
@given(problem=scatter_problems(), include_self=st.booleans())
def test_scatter_reduce_matches_the_definition(backend, reduce, problem, include_self):
    x, dim, index, src = problem
    with qs.backend(backend):
        got = qs.scatter_reduce(qs.tensor(x), dim, qs.tensor(index), qs.tensor(src), reduce, include_self=include_self)
    np.testing.assert_allclose(got.numpy(), scatter_oracle(x, dim, index, src, reduce, include_self))


@st.composite
def einsum_problems(draw):
    """A random einsum over 1-3 operands with shared, repeated and summed letters."""
    letters = "abcde"
    sizes = {c: draw(st.integers(1, 3)) for c in letters}
    operands = []
    for _ in range(draw(st.integers(1, 3))):
        term = "".join(draw(st.lists(st.sampled_from(letters), min_size=0, max_size=3)))
        operands.append(term)
    used = sorted(set("".join(operands)))
    output = "".join(draw(st.permutations(used))[: draw(st.integers(0, len(used)))])
    explicit = draw(st.booleans())
    equation = ",".join(operands) + ("->" + output if explicit else "")
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal([sizes[c] for c in term]) for term in operands]
    return equation, arrays


@pytest.mark.parametrize("backend", BACKENDS)
@FAST
@given(problem=einsum_problems())
def test_einsum_matches_numpy(backend, problem):
    equation, arrays = problem
    with qs.backend(backend):
        got = qs.einsum(equation, *[qs.tensor(a) for a in arrays])
    np.testing.assert_allclose(got.numpy(), np.einsum(equation, *arrays), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("backend", BACKENDS)
@FAST
@given(seed=st.integers(0, 2**16), shape=st.lists(st.integers(1, 5), min_size=1, max_size=3),
       descending=st.booleans(), data=st.data())
def test_sort_and_topk_match_numpy(backend, seed, shape, descending, data):
    x = np.random.default_rng(seed).integers(0, 4, shape).astype(np.float64)  # many ties
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    k = data.draw(st.integers(0, shape[dim]))
    with qs.backend(backend):
        values, indices = qs.sort(qs.tensor(x), dim, descending=descending)
        top = qs.topk(qs.tensor(x), k, dim)
    expected = np.argsort(-x if descending else x, axis=dim, kind="stable")
    np.testing.assert_array_equal(indices.numpy(), expected)
    np.testing.assert_array_equal(values.numpy(), np.take_along_axis(x, expected, dim))
    np.testing.assert_array_equal(top.indices.numpy(), np.take(np.argsort(-x, dim, kind="stable"), range(k), dim))
