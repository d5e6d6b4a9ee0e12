"""The op table: every differentiable op, and the inputs it is checked on.

Each entry is ``dict(name, fn, cases)`` (optionally ``fd_tol``, a looser
finite-difference tolerance): ``fn`` takes tensors and returns a
tensor; each case is ``case(rng, dtype) -> [(array, requires_grad), ...]``.
tests/test_ops.py checks every (op, case) against central finite
differences in float64 and across the compiled and reference backends in
float32 and float64. Families add their own tables in ``optable_*.py``
(nn, index) with the same format; ``all_ops()`` gathers them.

Shapes cover broadcasting pairs, size-1 dims, 0-d scalars, empty tensors
where legal, and non-contiguous inputs (transposed, strided). Inputs are
random and kept away from an op's kinks (|x| >= 0.1 for relu/abs/clamp),
since finite differences are meaningless across a kink.
"""

import importlib

import numpy as np

import quasar as qs


# ---------------------------------------------------------------- input makers
def normal(shape, low=None):
    """Random normal values of ``shape``; with ``low``, |value| >= low."""

    def make(rng, dtype):
        x = rng.standard_normal(shape)
        if low is not None:
            x = np.sign(x + (x == 0)) * (low + np.abs(x))
        return x.astype(dtype)

    return make


def positive(shape):
    return lambda rng, dtype: rng.uniform(0.5, 2.0, shape).astype(dtype)


def transposed(shape, low=None, make=None):
    """A non-contiguous input: the transpose of a random (reversed shape) array."""
    make = make or (lambda s: normal(s, low))
    return lambda rng, dtype: make(shape[::-1])(rng, dtype).T


def strided(shape, low=None, make=None):
    """A non-contiguous input: every other column of a wider array."""
    make = make or (lambda s: normal(s, low))
    wide = shape[:-1] + (2 * shape[-1],)
    return lambda rng, dtype: make(wide)(rng, dtype)[..., ::2]


def case(*makers, grads=None):
    """One case: each maker gives an input; all require grad unless ``grads`` says."""
    grads = grads or [True] * len(makers)
    return lambda rng, dtype: [(m(rng, dtype), g) for m, g in zip(makers, grads)]


UNARY_SHAPES = [(), (1,), (3, 4), (2, 1, 3), (0, 3)]


def unary_cases(low=None, make=normal):
    shaped = (lambda s: normal(s, low)) if make is normal else make
    cases = [case(shaped(s)) for s in UNARY_SHAPES]
    return cases + [case(transposed((3, 4), make=shaped)), case(strided((2, 3), make=shaped))]


BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((5,), ()), ((), ()), ((0, 3), (1, 3))]


def binary_cases(left=normal, right=normal):
    cases = [case(left(a), right(b)) for a, b in BINARY_SHAPES]
    return cases + [
        case(lambda r, d: left((4, 3))(r, d).T, right((3, 4))),
        case(lambda r, d: left((2, 6))(r, d)[:, ::2], right((1, 3))),
    ]


def reduction_cases():
    return [
        case(normal((3, 4))),
        case(normal(())),
        case(normal((2, 3, 4))),
        case(transposed((3, 4))),
        case(strided((2, 5))),
    ]


def signed_away_from_zero(shape):
    return normal(shape, low=0.5)


# ---------------------------------------------------------------- the table
OPS = [
    dict(name="add", fn=lambda a, b: a + b, cases=binary_cases()),
    dict(name="sub", fn=lambda a, b: a - b, cases=binary_cases()),
    dict(name="mul", fn=lambda a, b: a * b, cases=binary_cases()),
    dict(name="div", fn=lambda a, b: a / b, cases=binary_cases(right=signed_away_from_zero)),
    dict(name="pow", fn=lambda a, b: a**b, cases=binary_cases(left=positive)),
    dict(name="maximum", fn=qs.maximum, cases=binary_cases()),
    dict(name="minimum", fn=qs.minimum, cases=binary_cases()),
    dict(name="where", fn=lambda a, b: qs.where(a > b, a, b * 2), cases=binary_cases()),
    dict(name="radd scalar", fn=lambda a: 2.5 + a, cases=unary_cases()),
    dict(name="rsub scalar", fn=lambda a: 1.5 - a, cases=unary_cases()),
    dict(name="rmul scalar", fn=lambda a: 3.0 * a, cases=unary_cases()),
    dict(name="rdiv scalar", fn=lambda a: 2.0 / a, cases=unary_cases(low=0.5)),
    dict(name="rpow scalar", fn=lambda a: 2.0**a, cases=unary_cases()),
    dict(name="neg", fn=lambda a: -a, cases=unary_cases()),
    dict(name="exp", fn=qs.exp, cases=unary_cases()),
    dict(name="log", fn=qs.log, cases=unary_cases(make=positive)),
    dict(name="sqrt", fn=qs.sqrt, cases=unary_cases(make=positive)),
    dict(name="abs", fn=qs.abs, cases=unary_cases(low=0.1)),
    dict(name="tanh", fn=qs.tanh, cases=unary_cases()),
    dict(name="sigmoid", fn=qs.sigmoid, cases=unary_cases()),
    dict(name="relu", fn=qs.relu, cases=unary_cases(low=0.1)),
    dict(name="sin", fn=qs.sin, cases=unary_cases()),
    dict(name="cos", fn=qs.cos, cases=unary_cases()),
    dict(name="clamp", fn=lambda a: a.clamp(-0.5, 0.7), cases=unary_cases(low=0.1)),
    dict(name="clamp min", fn=lambda a: a.clamp(min=0.3), cases=unary_cases(make=positive)),
    dict(name="pow 2", fn=lambda a: a**2, cases=unary_cases()),
    dict(name="pow 3", fn=lambda a: a**3, cases=unary_cases()),
    dict(name="pow 0.5", fn=lambda a: a**0.5, cases=unary_cases(make=positive)),
    dict(name="pow -1", fn=lambda a: a**-1, cases=unary_cases(low=0.5)),
    dict(name="sum", fn=lambda a: a.sum(), cases=reduction_cases() + [case(normal((0, 3)))]),
    dict(name="sum dim", fn=lambda a: a.sum(dim=-1), cases=reduction_cases() + [case(normal((0, 3)))]),
    dict(name="sum dims keepdim", fn=lambda a: a.sum(dim=(0, -1), keepdim=True), cases=reduction_cases()[2:]),
    dict(name="sum axis", fn=lambda a: a.sum(axis=0, keepdims=True), cases=reduction_cases()),
    dict(name="mean", fn=lambda a: a.mean(), cases=reduction_cases()),
    dict(name="mean dim", fn=lambda a: a.mean(dim=0), cases=reduction_cases()),
    dict(name="max", fn=lambda a: a.max(), cases=reduction_cases()),
    dict(name="max dim", fn=lambda a: a.max(dim=-1).values, cases=reduction_cases()),
    dict(name="min dim keepdim", fn=lambda a: a.min(dim=0, keepdim=True)[0], cases=reduction_cases()),
    dict(name="amax dims", fn=lambda a: qs.amax(a, dim=(0, -1)), cases=reduction_cases()[2:]),
    dict(name="amin", fn=lambda a: qs.amin(a), cases=reduction_cases()),
    dict(
        name="matmul",
        fn=lambda a, b: a @ b,
        cases=[
            case(normal((3, 4)), normal((4, 5))),
            case(normal((4,)), normal((4, 5))),
            case(normal((3, 4)), normal((4,))),
            case(normal((4,)), normal((4,))),
            case(normal((2, 3, 4)), normal((4, 5))),
            case(normal((2, 1, 3, 4)), normal((3, 4, 2))),
            case(normal((1, 1)), normal((1, 3))),
            case(normal((0, 4)), normal((4, 3))),
            case(transposed((3, 4)), strided((4, 2))),
        ],
    ),
    dict(name="reshape", fn=lambda a: a.reshape(-1, 2) * 1.5, cases=[case(normal((3, 4))), case(transposed((2, 3)))]),
    dict(name="view", fn=lambda a: a.view(4, 3), cases=[case(normal((3, 4))), case(normal((2, 6)))]),
    dict(name="transpose", fn=lambda a: a.transpose(0, -1), cases=[case(normal((2, 3, 4))), case(normal((3,)))]),
    dict(name="permute", fn=lambda a: a.permute(2, 0, 1), cases=[case(normal((2, 3, 4))), case(strided((2, 3, 2)))]),
    dict(name="T", fn=lambda a: a.T, cases=[case(normal((3, 4))), case(normal(()))]),
    dict(name="squeeze", fn=lambda a: a.squeeze(), cases=[case(normal((1, 3, 1))), case(normal((1,)))]),
    dict(name="squeeze dim", fn=lambda a: a.squeeze(0), cases=[case(normal((1, 3, 1))), case(normal((2, 3)))]),
    dict(name="unsqueeze", fn=lambda a: a.unsqueeze(-1), cases=[case(normal((3, 4))), case(normal(()))]),
    dict(name="flatten", fn=lambda a: a.flatten(1), cases=[case(normal((2, 3, 4))), case(transposed((2, 3, 2)))]),
    dict(name="expand", fn=lambda a: a.expand(2, -1, 4), cases=[case(normal((3, 1))), case(normal((1, 3, 1)))]),
    dict(name="broadcast_to", fn=lambda a: qs.broadcast_to(a, (2, 3)), cases=[case(normal((3,))), case(normal(()))]),
    # a round trip through float32 loses digits: finite differences need a looser tolerance
    dict(name="cast", fn=lambda a: (a.to(qs.float32) * 2).to(a.dtype), cases=[case(normal((3, 2)))], fd_tol=1e-2),
    dict(
        name="composite",  # a shared subexpression used three times
        fn=lambda a, b: ((a * b).tanh() + (a * b).sigmoid() * a).sum(dim=0) / (b.abs() + 1).sum(),
        cases=[case(normal((3, 4)), normal((3, 4))), case(normal((2, 3)), normal((3,)))],
    ),
]


def all_ops():
    """This table plus every family table (tests/optable_*.py) that exists."""
    ops = list(OPS)
    for family in ("optable_nn", "optable_index", "optable_parallel", "optable_seq"):
        try:
            ops += importlib.import_module(family).OPS
        except ModuleNotFoundError as exc:
            if exc.name != family:
                raise
    return ops
