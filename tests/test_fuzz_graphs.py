"""Property-based differential test: random expression graphs over the op table.

Hypothesis draws a few leaf tensors (broadcast-compatible shapes with size-0,
size-1 and 0-d cases; transposed, negative-stride and strided layouts; ties,
large magnitudes, inf and NaN) and a short program: each step applies an
op-table entry (tests/optable*.py) to earlier nodes. Then

* every node is checked against the reference backend on the very inputs it
  saw in the graph (``qs.testing.cross_check``: values and gradients). Pinning
  the inputs keeps a kink (relu, max, where) from turning a last-bit rounding
  difference upstream into a false alarm;
* a step that raises on the compiled backend must raise the same exception
  type on the reference backend;
* invariants hold on each backend: the gradient of a sum is ones, backward is
  linear in the seed gradient, and ``retain_graph`` twice doubles the grads.

``make test`` runs a fixed, derandomized set of examples (about a minute on
two cores); ``make fuzz`` runs many more from a fresh seed
(QUASAR_FUZZ_EXAMPLES, QUASAR_FUZZ_SEED) and prints how to replay a failure.
"""

import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import quasar as qs
from quasar import backends
from optable import all_ops


EXAMPLES = int(os.environ.get("QUASAR_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="QUASAR_FUZZ_SEED" not in os.environ,  # make test: the same graphs every run
    print_blob=True,  # a failure prints @reproduce_failure(...) to replay it exactly
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
ERRORS = (ValueError, TypeError, IndexError, RuntimeError)  # the Python exceptions a bad combination may raise
PROBE_SHAPES = [(), (0,), (3,), (2, 3), (1, 3, 2), (2, 0, 1)]
PROBE_PAIRS = [((2, 3), (3,)), ((), ()), ((2, 1), (1, 3)), ((0, 3), (1, 3)), ((3, 1, 2), (2,))]


def _works(fn, shapes):
    """How many of ``shapes`` (one tuple of input shapes each) fn accepts."""
    count = 0
    for shape_tuple in shapes:
        inputs = [qs.Tensor._wrap(np.linspace(0.1, 0.9, int(np.prod(s))).reshape(s)).requires_grad_()
                  for s in shape_tuple]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = fn(*inputs)
            count += isinstance(out, qs.Tensor) and out.requires_grad
        except ERRORS:
            pass
    return count


def _usable_entries():
    """The op-table entries that take 1 or 2 float tensors of many shapes: the graph's building blocks."""
    usable = []
    for entry in all_ops():
        arities = set()
        for make in entry["cases"]:
            inputs = make(np.random.default_rng(0), np.float64)
            if all(np.asarray(a).dtype.kind == "f" and grad for a, grad in inputs):
                arities.add(len(inputs))
        if arities == {1} and _works(entry["fn"], [(s,) for s in PROBE_SHAPES]) >= 2:
            usable.append((entry["name"], entry["fn"], 1))
        elif arities == {2} and _works(entry["fn"], PROBE_PAIRS) >= 2:
            usable.append((entry["name"], entry["fn"], 2))
    return usable


ENTRIES = _usable_entries()
SPECIALS = [np.inf, -np.inf, np.nan, 1e30, -1e30, 0.0]


@st.composite
def leaf_arrays(draw, shape, dtype):
    """One leaf: values with ties and (sometimes) specials, in a drawn memory layout."""
    tie_values = st.sampled_from([0.0, 1.0, -1.0, 0.5])
    values = draw(hnp.arrays(np.float64, shape, elements=st.floats(-3, 3, width=32) | tie_values))
    if values.size and draw(st.booleans()):
        for _ in range(draw(st.integers(1, 3))):
            values.flat[draw(st.integers(0, values.size - 1))] = draw(st.sampled_from(SPECIALS))
    values = values.astype(dtype)
    layout = draw(st.sampled_from(["contiguous", "transposed", "reversed", "strided"]))
    if layout == "transposed" and values.ndim >= 2:
        return np.ascontiguousarray(values.T).T
    if layout == "reversed" and values.ndim >= 1:
        return np.ascontiguousarray(values[::-1])[::-1]  # negative strides, same values
    if layout == "strided" and values.ndim >= 1:
        wide = np.zeros(values.shape[:-1] + (2 * values.shape[-1],), dtype)
        wide[..., ::2] = values
        return wide[..., ::2]
    return values


@st.composite
def graphs(draw):
    """(leaf arrays, program): the program is a list of (entry index, input node indices)."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    base = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    n_leaves = draw(st.integers(1, 3))
    leaves = [draw(leaf_arrays(draw(hnp.broadcastable_shapes(base, min_side=0, max_side=4)), dtype))
              for _ in range(n_leaves)]
    program, n_nodes = [], n_leaves
    for _ in range(draw(st.integers(1, 5))):
        entry = draw(st.integers(0, len(ENTRIES) - 1))
        inputs = [draw(st.integers(max(0, n_nodes - 3), n_nodes - 1)) for _ in range(ENTRIES[entry][2])]
        program.append((entry, inputs))
        n_nodes += 1
    return leaves, program


def _leaf(array):
    return qs.Tensor._wrap(array).requires_grad_()


def _run(leaves, program, backend):
    """Build the graph on ``backend``: nodes (leaves first), and per step its inputs and output or error."""
    with backends.backend(backend), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overflow and invalid-value warnings are expected here
        nodes = [_leaf(a.copy() if a.flags.owndata else a) for a in leaves]
        steps = []
        for entry, inputs in program:
            args = [nodes[i] for i in inputs]
            try:
                out = ENTRIES[entry][1](*args)
            except ERRORS as exc:
                out = exc
            steps.append((entry, args, out))
            usable = isinstance(out, qs.Tensor) and out.requires_grad and out.dtype.kind == "f"
            nodes.append(out if usable else args[0])  # a failed step passes its first input on
    return nodes, steps


def _seed(shape, dtype, seed):
    return np.random.default_rng(seed).integers(-3, 4, shape).astype(dtype)


def _leaf_grads(nodes, n_leaves):
    return [None if t.grad is None else t.grad.array.copy() for t in nodes[:n_leaves]]


def _backward(out, gradient, nodes, n_leaves):
    for t in nodes[:n_leaves]:
        t.grad = None
    out.backward(qs.Tensor._wrap(gradient), retain_graph=True)
    return _leaf_grads(nodes, n_leaves)


@FUZZ
@given(graphs())
def test_random_graphs_match_the_reference_and_keep_autograd_invariants(graph):
    leaves, program = graph
    nodes, steps = _run(leaves, program, "compiled")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for entry, args, result in steps:
            name, fn, _ = ENTRIES[entry]
            pinned = [_leaf(a.array) for a in args]  # the inputs this node saw, as fresh leaves
            if isinstance(result, Exception):
                with backends.backend("reference"), pytest.raises(type(result)):
                    fn(*pinned)
                continue
            try:
                qs.testing.cross_check(fn, pinned)
            except AssertionError as exc:
                raise AssertionError(f"op {name!r} on inputs {[a.array for a in args]}") from exc

    n_leaves = len(leaves)
    for backend in ("compiled", "reference"):
        nodes, _ = _run(leaves, program, backend)
        out = nodes[-1]
        if out.grad_fn is None:
            continue  # every step failed: the graph is just its leaves
        with backends.backend(backend), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # the gradient of a sum is ones
            out.retain_grad()
            out.sum().backward(retain_graph=True)
            assert np.array_equal(out.grad.array, np.ones(out.shape)), f"{backend}: d sum(y) / dy is not ones"
            # linearity in the seed gradient
            g1, g2 = _seed(out.shape, out.dtype, 1), _seed(out.shape, out.dtype, 2)
            first = _backward(out, g1, nodes, n_leaves)
            second = _backward(out, g2, nodes, n_leaves)
            both = _backward(out, g1 + g2, nodes, n_leaves)
            rtol = 1e-3 if out.dtype == np.float32 else 1e-9
            for a, b, c in zip(first, second, both):
                if a is None:
                    assert b is None and c is None
                    continue
                finite = np.isfinite(a) & np.isfinite(b) & np.isfinite(c)
                scale = np.abs(a[finite]) + np.abs(b[finite]) + np.abs(c[finite])
                assert np.all(np.abs(c[finite] - a[finite] - b[finite]) <= rtol * (scale + scale.max(initial=0))), \
                    f"{backend}: backward is not linear in the seed gradient"
            # retain_graph: a second backward adds the same gradients again
            once = _backward(out, g1, nodes, n_leaves)
            out.backward(qs.Tensor._wrap(g1), retain_graph=True)
            for a, b in zip(once, _leaf_grads(nodes, n_leaves)):
                assert (a is None and b is None) or np.array_equal(b, a + a, equal_nan=True), \
                    f"{backend}: retain_graph twice does not double the gradients"


def test_the_graphs_draw_from_most_of_the_op_table():
    """The fuzzer's building blocks: a broad slice of the table, unary and binary."""
    names = {name for name, _, _ in ENTRIES}
    assert len(names) >= 60, sorted(names)
    assert {"add", "mul", "div", "maximum", "where", "exp", "relu", "sum dim", "max dim", "softmax"} <= names
    assert {arity for _, _, arity in ENTRIES} == {1, 2}
