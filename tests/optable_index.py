"""The op table of the index family: indexing, joining, the extra math and the
in-place ops, in the format of tests/optable.py (``dict(name, fn, cases)``,
each case ``(rng, dtype) -> [(array, requires_grad), ...]``).

Index arrays and bool masks are inputs that do not require grad; they keep
their integer/bool dtype whatever ``dtype`` is. Indices repeat on purpose
(their gradients must add up) and include negative ones where the op allows
them. In-place ops run on ``a * 1``, a non-leaf copy, so the input itself is
never changed and the op's gradient flows into a's history.
"""

import math

import numpy as np
from optable import case, normal, positive, strided, transposed, unary_cases

import quasar as qs


# ---------------------------------------------------------------- input makers
def ints(values):
    """A fixed int64 index array (repeats and negatives chosen by hand)."""
    return lambda rng, dtype: np.array(values, dtype=np.int64).reshape(np.shape(values))


def random_ints(low, high, shape):
    """Random int64 indices in [low, high), whatever the float dtype."""
    return lambda rng, dtype: rng.integers(low, high, size=shape)


def mask(shape, fill=None):
    """A random bool mask (about half True); ``fill`` makes it all True/False."""
    if fill is not None:
        return lambda rng, dtype: np.full(shape, fill)
    return lambda rng, dtype: rng.random(shape) < 0.5


def with_zeros(shape, positions):
    """Random normal values with exact zeros at ``positions`` (prod's hard case)."""

    def make(rng, dtype):
        x = normal(shape)(rng, dtype)
        for p in positions:
            x[p] = 0
        return x

    return make


def away_from_zero(shape):
    return normal(shape, low=0.5)


def index_case(x, *indices):
    """The values x (requires grad) and index arrays or masks (no grad)."""
    return case(x, *indices, grads=[True] + [False] * len(indices))


def written(a, key, value):
    """``a * 1`` with ``[key] = value`` written into it: setitem on a non-leaf."""
    out = a * 1
    out[key] = value
    return out


# ---------------------------------------------------------------- indexing
INDEXING = [
    dict(name="index slices", fn=lambda a: a[1:, ::-2],
         cases=[case(normal((4, 5))), case(transposed((3, 4))), case(strided((2, 3))), case(normal((1, 1)))]),
    dict(name="index ints", fn=lambda a: a[1, -1], cases=[case(normal((3, 4))), case(transposed((2, 3)))]),
    dict(name="index None ellipsis", fn=lambda a: a[None, ..., 0],
         cases=[case(normal((3, 4))), case(normal((2, 3, 1))), case(normal((1,)))]),
    dict(name="index 0-d", fn=lambda a: a[None, ...], cases=[case(normal(())), case(normal((0, 2)))]),
    dict(name="index array", fn=lambda a, i: a[i],
         cases=[
             index_case(normal((5, 3)), ints([0, 4, 0, -1])),
             index_case(normal((4,)), ints([[1, 1], [3, 0]])),
             index_case(normal((3, 2)), ints(np.zeros(0, np.int64))),
             index_case(transposed((4, 3)), ints([2, 2, -4])),
         ]),
    dict(name="index array last dim", fn=lambda a, i: a[..., i],
         cases=[index_case(normal((2, 3, 4)), ints([3, 0, 3])), index_case(strided((2, 3)), ints([-1, 1]))]),
    dict(name="index two arrays apart", fn=lambda a, i, j: a[i, :, j],
         cases=[
             index_case(normal((4, 3, 5)), ints([0, 3, 3]), ints([1, 1, 4])),
             index_case(normal((3, 2, 4)), ints([[0], [2]]), ints([1, 1, -1])),
         ]),
    dict(name="index mixed", fn=lambda a, i: a[1:, i, None],
         cases=[index_case(normal((4, 5)), ints([4, 0, 4])), index_case(transposed((3, 2)), ints([1]))]),
    dict(name="index mask", fn=lambda a, m: a[m],
         cases=[
             index_case(normal((3, 4)), mask((3, 4))),
             index_case(normal((3, 4)), mask((3,))),
             index_case(normal((2, 3)), mask((2, 3), fill=False)),
             index_case(transposed((3, 4)), mask((3, 4), fill=True)),
         ]),
    dict(name="index mask and int", fn=lambda a, m: a[m, 1],
         cases=[index_case(normal((4, 3)), mask((4,))), index_case(normal((2, 2, 2)), mask((2,), fill=True))]),
    dict(name="gather", fn=lambda a, i: qs.gather(a, 1, i),
         cases=[
             index_case(normal((3, 4)), random_ints(0, 4, (3, 6))),
             index_case(transposed((4, 3)), random_ints(0, 3, (2, 2))),
             index_case(normal((2, 3, 2)), random_ints(0, 3, (2, 5, 1))),
         ]),
    dict(name="gather dim 0", fn=lambda a, i: a.gather(0, i),
         cases=[index_case(normal((3, 4)), random_ints(0, 3, (5, 4))), index_case(normal((2,)), ints([1, 1, 0]))]),
    dict(name="index_select", fn=lambda a, i: qs.index_select(a, 0, i),
         cases=[
             index_case(normal((5, 3)), ints([4, 0, 4, 2])),
             index_case(normal((5,)), ints(np.zeros(0, np.int64))),
             index_case(transposed((3, 2)), ints([2, 2])),
         ]),
    dict(name="index_select last dim", fn=lambda a, i: a.index_select(-1, i),
         cases=[index_case(normal((2, 3, 4)), ints([3, 3, 0])), index_case(strided((3, 2)), ints([1]))]),
    dict(name="take_along_dim", fn=lambda a, i: qs.take_along_dim(a, i, 1),
         cases=[
             index_case(normal((3, 4)), random_ints(0, 4, (3, 2))),
             index_case(normal((1, 4)), random_ints(0, 4, (3, 5))),
             index_case(normal((3, 4)), random_ints(0, 4, (1, 6))),
         ]),
    dict(name="take_along_dim flat", fn=lambda a, i: qs.take_along_dim(a, i),
         cases=[index_case(normal((2, 3)), ints([5, 0, 5, 2])), index_case(transposed((2, 2)), ints([[3], [1]]))]),
    dict(name="masked_fill", fn=lambda a, m: qs.masked_fill(a, m, 0.5),
         cases=[
             index_case(normal((3, 4)), mask((3, 4))),
             index_case(normal((3, 4)), mask((4,))),
             index_case(normal(()), mask((), fill=True)),
             index_case(strided((2, 3)), mask((2, 1))),
         ]),
    dict(name="masked_fill tensor value", fn=lambda a, m, v: a.masked_fill(m, v),
         cases=[case(normal((3, 4)), mask((3, 4)), normal(()), grads=[True, False, True])]),
    dict(name="embedding", fn=lambda i, w: qs.embedding(i, w),
         cases=[
             case(ints([[1, 5, 1], [0, 0, 2]]), normal((6, 4)), grads=[False, True]),
             case(ints(2), normal((3, 2)), grads=[False, True]),
             case(ints([1, 1]), transposed((3, 2)), grads=[False, True]),
         ]),
    # the padding row gets no gradient even where it is looked up (PyTorch's rule), which finite
    # differences would contradict: here it is not looked up (test_index.py checks the rule)
    dict(name="embedding padding_idx", fn=lambda i, w: qs.embedding(i, w, padding_idx=1),
         cases=[case(ints([[0, 2], [2, 0]]), normal((3, 2)), grads=[False, True])]),
]

# ---------------------------------------------------------------- joining and rearranging
JOINING = [
    dict(name="cat", fn=lambda a, b: qs.cat([a, b], 1),
         cases=[
             case(normal((3, 2)), normal((3, 4))),
             case(normal((3, 0)), normal((3, 2))),
             case(transposed((2, 3)), strided((2, 2))),
         ]),
    dict(name="cat three", fn=lambda a, b, c: qs.cat([a, b, c]),
         cases=[case(normal((2, 3)), normal((1, 3)), normal((4, 3))), case(normal((1,)), normal((0,)), normal((2,)))]),
    dict(name="stack", fn=lambda a, b: qs.stack([a, b], -1),
         cases=[case(normal((3, 4)), normal((3, 4))), case(normal(()), normal(())),
                case(transposed((2, 3)), normal((2, 3)))]),
    dict(name="split sizes", fn=lambda a: qs.split(a, [1, 3], 1)[1],
         cases=[case(normal((2, 4))), case(transposed((3, 4)))]),
    dict(name="split size", fn=lambda a: qs.cat(qs.split(a, 2)[::-1]),
         cases=[case(normal((5, 3))), case(normal((4,)))]),
    dict(name="chunk", fn=lambda a: a.chunk(3, 1)[2], cases=[case(normal((2, 7))), case(strided((3, 3)))]),
    dict(name="narrow", fn=lambda a: qs.narrow(a, 0, -3, 2), cases=[case(normal((4, 2))), case(normal((3,)))]),
    dict(name="repeat", fn=lambda a: a.repeat(2, 1, 3),
         cases=[case(normal((2, 3))), case(normal((1,))), case(normal(())), case(transposed((2, 3))),
                case(normal((0, 2)))]),
    dict(name="tile", fn=lambda a: qs.tile(a, (2, 1)),
         cases=[case(normal((3,))), case(normal((2, 3))), case(strided((2, 2)))]),
    dict(name="flip", fn=lambda a: a.flip((0, -1)),
         cases=[case(normal((3, 4))), case(normal((2, 3, 2))), case(strided((2, 3)))]),
    dict(name="roll", fn=lambda a: a.roll((1, -2), (0, 1)), cases=[case(normal((3, 4))), case(transposed((3, 4)))]),
    dict(name="roll flat", fn=lambda a: a.roll(3), cases=[case(normal((2, 3))), case(normal((4,))), case(normal(()))]),
    dict(name="pad", fn=lambda a: qs.pad(a, (1, 2)),
         cases=[case(normal((3,))), case(normal((2, 3))), case(normal((2, 0)))]),
    dict(name="pad crop", fn=lambda a: qs.pad(a, (-1, 1, 2, -1), value=1.5),
         cases=[case(normal((3, 4))), case(transposed((3, 4)))]),
    dict(name="tril", fn=lambda a: qs.tril(a, -1),
         cases=[case(normal((3, 4))), case(normal((2, 3, 3))), case(transposed((4, 3))), case(normal((1, 1)))]),
    dict(name="triu", fn=lambda a: a.triu(1), cases=[case(normal((3, 4))), case(strided((3, 3)))]),
]

# ---------------------------------------------------------------- more math
MATH = [
    dict(name="logsumexp", fn=lambda a: qs.logsumexp(a, 1),
         cases=[case(normal((3, 4))), case(normal((2, 3, 4))), case(transposed((3, 4))), case(normal((3, 1)))]),
    dict(name="logsumexp all", fn=lambda a: a.logsumexp(),
         cases=[case(normal(())), case(normal((3, 4))), case(strided((2, 3)))]),
    dict(name="logsumexp dims keepdim", fn=lambda a: qs.logsumexp(a, (0, 2), keepdim=True),
         cases=[case(normal((2, 3, 4))), case(normal((1, 2, 1)))]),
    dict(name="var", fn=lambda a: qs.var(a, 1),
         cases=[case(normal((3, 4))), case(transposed((3, 4))), case(normal((2, 3, 4)))]),
    dict(name="var all correction 0", fn=lambda a: qs.var(a, correction=0),
         cases=[case(normal(())), case(normal((3, 4))), case(normal((5,)))]),
    dict(name="var keepdim", fn=lambda a: a.var((0, 1), keepdim=True), cases=[case(normal((2, 3, 4)))]),
    dict(name="std", fn=lambda a: a.std(0), cases=[case(normal((3, 4))), case(strided((3, 2)))]),
    dict(name="norm", fn=lambda a: qs.norm(a),
         cases=[case(normal((3, 4))), case(normal(())), case(transposed((2, 3)))]),
    dict(name="norm dim keepdim", fn=lambda a: a.norm(dim=1, keepdim=True),
         cases=[case(normal((3, 4))), case(normal((2, 1)))]),
    dict(name="norm p=1", fn=lambda a: qs.norm(a, 1, 0), cases=[case(normal((3, 4), low=0.1))]),
    dict(name="norm p=3", fn=lambda a: qs.norm(a, 3, -1), cases=[case(normal((3, 4), low=0.1)), case(positive((2,)))]),
    dict(name="norm p=inf", fn=lambda a: qs.norm(a, math.inf, 1), cases=[case(normal((3, 4)))]),
    dict(name="prod", fn=lambda a: a.prod(1),
         cases=[
             case(normal((3, 4))),
             case(with_zeros((3, 4), [(0, 1)])),
             case(with_zeros((2, 3), [(1, 0), (1, 2)])),
             case(transposed((3, 4))),
             case(normal((2, 0))),
         ]),
    dict(name="prod all", fn=lambda a: qs.prod(a),
         cases=[case(normal(())), case(normal((3, 2))), case(strided((2, 3)))]),
    dict(name="prod keepdim", fn=lambda a: a.prod(0, keepdim=True), cases=[case(normal((3, 2))), case(normal((1,)))]),
    dict(name="cumsum", fn=lambda a: a.cumsum(1),
         cases=[case(normal((3, 4))), case(normal((0, 3))), case(transposed((3, 4))), case(normal((2, 3, 2)))]),
    dict(name="cumsum dim 0", fn=lambda a: qs.cumsum(a, 0),
         cases=[case(normal(())), case(normal((4,))), case(strided((3, 2)))]),
    dict(name="leaky_relu", fn=lambda a: qs.leaky_relu(a, 0.2), cases=unary_cases(low=0.1)),
    dict(name="elu", fn=lambda a: qs.elu(a, 1.5), cases=unary_cases(low=0.1)),
    dict(name="softplus", fn=qs.softplus, cases=unary_cases()),
    dict(name="softplus beta threshold", fn=lambda a: qs.softplus(a * 3, beta=2.0, threshold=4.0), cases=unary_cases()),
    dict(name="erf", fn=qs.erf, cases=unary_cases()),
]

# ---------------------------------------------------------------- in-place ops (on a non-leaf copy)
BINARY_INPLACE = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 4), (3, 1)), ((), ()), ((2, 3), ())]


def inplace_cases(right=normal):
    cases = [case(normal(a), right(b)) for a, b in BINARY_INPLACE]
    return cases + [case(transposed((3, 4)), right((4,)))]


INPLACE = [
    dict(name="add_", fn=lambda a, b: (a * 1).add_(b, alpha=2), cases=inplace_cases()),
    dict(name="sub_", fn=lambda a, b: (a * 1).sub_(b), cases=inplace_cases()),
    dict(name="mul_", fn=lambda a, b: (a * 1).mul_(b), cases=inplace_cases()),
    dict(name="div_", fn=lambda a, b: (a * 1).div_(b), cases=inplace_cases(right=away_from_zero)),
    dict(name="add_ number", fn=lambda a: (a * 1).add_(1.5).mul_(2.0), cases=unary_cases()),
    dict(name="clamp_", fn=lambda a: (a * 1).clamp_(-0.5, 0.7), cases=unary_cases(low=0.1)),
    dict(name="fill_ tensor", fn=lambda a, v: (a * 1).fill_(v) * a, cases=[case(normal((3, 2)), normal(()))]),
    dict(name="fill_ number", fn=lambda a: (a * 1).fill_(2.0) * a, cases=[case(normal((3, 2))), case(normal(()))]),
    dict(name="zero_", fn=lambda a: (a * 2).zero_() + a, cases=[case(normal((2, 3))), case(transposed((2, 3)))]),
    dict(name="copy_", fn=lambda a, b: (a * 1).copy_(b) * a,
         cases=[case(normal((3, 4)), normal((4,))), case(normal((2, 3)), transposed((2, 3)))]),
    dict(name="masked_fill_", fn=lambda a, m: (a * 1).masked_fill_(m, -1.0),
         cases=[index_case(normal((3, 4)), mask((3, 4))), index_case(normal((3, 4)), mask((3, 1)))]),
    dict(name="setitem slice", fn=lambda a, v: written(a, slice(1, 3), v),
         cases=[case(normal((4, 3)), normal((3,))), case(transposed((3, 2)), normal((2, 2))),
                case(normal((4,)), normal(()))]),
    dict(name="setitem advanced", fn=lambda a, v: written(a, ([0, 2], slice(1, None)), v),
         cases=[case(normal((3, 4)), normal((2, 3))), case(normal((3, 2)), normal((1, 1)))]),
    dict(name="setitem mask", fn=lambda a, m: written(a, m, 0.5), cases=[index_case(normal((3, 4)), mask((3, 4)))]),
]

OPS = INDEXING + JOINING + MATH + INPLACE
