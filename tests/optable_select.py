"""The op table of part C's selection family: sorting (sort, topk,
kthvalue, msort), selection (masked_select, take) and the scatters
(scatter, scatter_add, scatter_reduce, index_add/copy/fill/put and their
in-place forms), in the format of tests/optable.py.

Inputs are random, so sorted values have no ties (at a tie a sort's
gradient goes to the returned index, which finite differences can't
confirm: tests/test_sorting.py checks that rule). Scatters that overwrite
use indices without repeats (with repeats the surviving write is
unspecified); those that reduce repeat them on purpose. amax/amin split the
gradient evenly at ties, which central differences do confirm, so their
cases build ties on purpose.
"""

import numpy as np
from optable import case, normal, strided, transposed
from optable_index import index_case, ints, mask, random_ints, with_zeros

import quasar as qs


def tied(reduce):
    """(x, src, index) with two-way ties at the extreme, to test the even split
    of amax/amin's gradient (central differences see 1/2 at a two-way tie):
    x's own value ties with one src value at (1, 0), two src values tie at (0, 1)."""

    def make(rng, dtype):
        top = 3.0 if reduce == "amax" else -3.0
        x = (rng.uniform(-1, 1, (3, 2))).astype(dtype)
        src = (rng.uniform(-1, 1, (2, 2))).astype(dtype)
        x[1, 0] = src[0, 0] = top
        src[0, 1] = src[1, 1] = top
        return [(x, True), (src, True), (np.array([[1, 0], [1, 0]]), False)]

    return make


def reversed_(shape):
    """A negative-stride input: a random array read backwards along every dim."""
    return lambda rng, dtype: normal(shape)(rng, dtype)[(slice(None, None, -1),) * len(shape)]


def sorted_case(shape):
    """Inputs for sort-like ops: random, so no ties."""
    return case(normal(shape))


SORTING = [
    dict(name="sort", fn=lambda a: a.sort().values,
         cases=[sorted_case((3, 4)), sorted_case(()), case(transposed((3, 4))), case(strided((2, 3))),
                sorted_case((0, 3)), case(reversed_((2, 5)))]),
    dict(name="sort descending dim 0", fn=lambda a: qs.sort(a, 0, descending=True)[0],
         cases=[sorted_case((4, 3)), sorted_case((5,)), case(transposed((2, 3)))]),
    dict(name="msort", fn=qs.msort, cases=[sorted_case((3, 2))]),
    dict(name="topk", fn=lambda a: a.topk(2).values,
         cases=[sorted_case((3, 4)), sorted_case((2,)), case(strided((3, 3)))]),
    dict(name="topk smallest dim 0", fn=lambda a: qs.topk(a, 1, 0, largest=False)[0],
         cases=[sorted_case((3, 4)), sorted_case(()), case(transposed((2, 3)))]),
    dict(name="kthvalue", fn=lambda a: a.kthvalue(2, 1).values,
         cases=[sorted_case((3, 4)), case(transposed((3, 4)))]),
    dict(name="kthvalue keepdim", fn=lambda a: qs.kthvalue(a, 1, 0, keepdim=True)[0],
         cases=[sorted_case((2, 3)), sorted_case(())]),
    dict(name="masked_select", fn=lambda a, m: qs.masked_select(a, m),
         cases=[index_case(normal((3, 4)), mask((3, 4))), index_case(normal((1, 4)), mask((3, 4))),
                index_case(normal((3, 4)), mask((4,))), index_case(transposed((2, 3)), mask((2, 3), fill=False))]),
    dict(name="take", fn=lambda a, i: qs.take(a, i),
         cases=[index_case(normal((3, 4)), ints([[0, -1], [5, 5]])), index_case(normal(()), ints([0, 0])),
                index_case(strided((2, 3)), ints(4))]),
]

SCATTER = [
    dict(name="scatter", fn=lambda a, s, i: qs.scatter(a, -1, i, s),
         cases=[case(normal((2, 4)), normal((2, 3)), ints([[3, 0], [1, 2]]), grads=[True, True, False]),
                case(transposed((3, 2)), normal((1, 2)), ints([[1, 0]]), grads=[True, True, False]),
                case(reversed_((2, 3)), reversed_((2, 2)), ints([[2, 0], [0, 1]]), grads=[True, True, False]),
                case(normal(()), normal(()), ints(0), grads=[True, True, False])]),
    dict(name="scatter value", fn=lambda a, i: a.scatter(0, i, 1.5),
         cases=[index_case(normal((3, 2)), ints([[2, 0], [2, 2]]))]),
    dict(name="scatter_add", fn=lambda a, s, i: qs.scatter_add(a, 0, i, s),
         cases=[case(normal((3, 2)), normal((4, 3)), ints([[0, 2], [0, 2], [1, 2]]), grads=[True, True, False]),
                case(normal((4,)), strided((5,)), ints([3, 3, 0, 3]), grads=[True, True, False])]),
    dict(name="scatter reduce add", fn=lambda a, s, i: a.scatter(1, i, s, reduce="add"),
         cases=[case(normal((2, 3)), normal((2, 2)), ints([[0, 0], [2, 1]]), grads=[True, True, False])]),
    dict(name="scatter reduce multiply", fn=lambda a, s, i: a.scatter(1, i, s, reduce="multiply"),
         cases=[case(normal((2, 3)), normal((2, 2)), ints([[0, 0], [2, 1]]), grads=[True, True, False])]),
]
for _reduce in ("sum", "prod", "mean", "amax", "amin"):
    for _self in (True, False):
        _cases = [
            case(normal((3, 4)), normal((4, 2)), ints([[0, 1], [2, 1], [0, 1], [0, 2]]), grads=[True, True, False]),
            case(transposed((4, 3)), normal((2, 3)), ints([[1, 1, 0], [1, 2, 2]]), grads=[True, True, False]),
            case(reversed_((3, 2)), reversed_((3, 2)), ints([[2, 0], [2, 0], [1, 0]]), grads=[True, True, False]),
        ]
        if _reduce == "prod":
            _cases.append(case(normal((3, 3)), with_zeros((3, 3), [(0, 0), (1, 1), (2, 1)]),
                               ints([[0, 1, 2], [0, 1, 0], [1, 1, 0]]), grads=[True, True, False]))
        if _reduce in ("amax", "amin"):
            _cases.append(tied(_reduce))
        SCATTER.append(dict(
            name=f"scatter_reduce {_reduce} include_self={_self}",
            fn=lambda a, s, i, r=_reduce, inc=_self: qs.scatter_reduce(a, 0, i, s, r, include_self=inc),
            cases=_cases,
        ))

INDEX_WRITES = [
    dict(name="index_add", fn=lambda a, s, i: qs.index_add(a, 1, i, s, alpha=-2.0),
         cases=[case(normal((2, 4)), normal((2, 3)), ints([3, 0, 3]), grads=[True, True, False]),
                case(transposed((3, 2)), normal((3, 1)), ints([1]), grads=[True, True, False])]),
    dict(name="index_add 0-d", fn=lambda a, s, i: a.index_add(0, i, s),
         cases=[case(normal(()), normal(()), ints(0), grads=[True, True, False])]),
    dict(name="index_copy", fn=lambda a, s, i: qs.index_copy(a, 0, i, s),
         cases=[case(normal((4, 2)), normal((2, 2)), ints([3, 1]), grads=[True, True, False]),
                case(normal((3,)), normal((1,)), ints([0]), grads=[True, True, False])]),
    dict(name="index_fill", fn=lambda a, i: qs.index_fill(a, -1, i, -1.0),
         cases=[index_case(normal((3, 4)), ints([1, 3])), index_case(strided((2, 3)), ints([0]))]),
    dict(name="index_fill tensor value", fn=lambda a, v, i: a.index_fill(0, i, v),
         cases=[case(normal((3, 2)), normal(()), ints([2]), grads=[True, True, False])]),
    dict(name="index_put", fn=lambda a, v, i, j: qs.index_put(a, (i, j), v),
         cases=[case(normal((3, 4)), normal((2,)), ints([0, 2]), ints([-1, 1]), grads=[True, True, False, False]),
                case(normal((3, 4)), normal(()), ints([1]), ints([0]), grads=[True, True, False, False])]),
    dict(name="index_put accumulate", fn=lambda a, v, i: a.index_put((i,), v, accumulate=True),
         cases=[case(normal((3, 2)), normal((4, 2)), ints([0, 2, 0, 0]), grads=[True, True, False]),
                case(normal((3, 2)), normal((2,)), random_ints(0, 3, (3,)), grads=[True, True, False])]),
    dict(name="scatter_ in place", fn=lambda a, s, i: (a * 1).scatter_(1, i, s),
         cases=[case(normal((2, 4)), normal((2, 3)), ints([[3, 0], [1, 2]]), grads=[True, True, False])]),
    dict(name="index_add_ in place", fn=lambda a, s, i: (a * 1).index_add_(0, i, s),
         cases=[case(normal((3, 2)), normal((2, 2)), ints([2, 2]), grads=[True, True, False])]),
]

OPS = SORTING + SCATTER + INDEX_WRITES

# ---------------------------------------------------------------- shape (part C)
LAYOUT = [
    dict(name="unflatten", fn=lambda a: a.unflatten(1, (2, -1)) * 1.5,
         cases=[case(normal((3, 4))), case(transposed((2, 6)))]),
    dict(name="unfold", fn=lambda a: a.unfold(1, 3, 2),
         cases=[case(normal((2, 7))), case(normal((3, 3))), case(transposed((2, 5))), case(normal((2, 4, 3))),
                case(reversed_((3, 6)))]),
    dict(name="unfold overlapping dim 0", fn=lambda a: a.unfold(0, 2, 1) * a.unfold(0, 2, 1),
         cases=[case(normal((4,))), case(strided((3, 2)))]),
    dict(name="movedim", fn=lambda a: qs.movedim(a, (0, 1), (2, 0)), cases=[case(normal((2, 3, 4)))]),
    dict(name="swapaxes", fn=lambda a: a.swapaxes(0, -1), cases=[case(normal((2, 3))), case(normal((2, 1, 3)))]),
    dict(name="diagonal", fn=lambda a: a.diagonal(),
         cases=[case(normal((3, 4))), case(normal((4, 2))), case(transposed((3, 3))), case(strided((2, 3))),
                case(reversed_((3, 4)))]),
    dict(name="diagonal offset dims", fn=lambda a: qs.diagonal(a, -1, 2, 0),
         cases=[case(normal((3, 2, 4))), case(transposed((2, 3, 2))), case(reversed_((3, 3, 2)))]),
    dict(name="diag", fn=lambda a: qs.diag(a, 1), cases=[case(normal((3,))), case(normal((3, 4))), case(normal((0,)))]),
    dict(name="diag_embed", fn=lambda a: qs.diag_embed(a, -1, 0, 2),
         cases=[case(normal((2, 3))), case(transposed((3, 2))), case(normal((1, 4)))]),
    dict(name="trace", fn=qs.trace, cases=[case(normal((3, 4))), case(strided((3, 3)))]),
    dict(name="meshgrid", fn=lambda a, b: qs.stack(qs.meshgrid(a, b, indexing="xy")),
         cases=[case(normal((3,)), normal((2,))), case(normal(()), normal((2,)))]),
    dict(name="hstack", fn=lambda a, b: qs.hstack([a, b]), cases=[case(normal((3,)), normal((2,))),
                                                                  case(normal((2, 1)), normal((2, 3)))]),
    dict(name="vstack", fn=lambda a, b: qs.vstack([a, b]), cases=[case(normal((3,)), normal((2, 3)))]),
    dict(name="dstack", fn=lambda a, b: qs.dstack([a, b]), cases=[case(normal((3,)), normal((3,))),
                                                                  case(normal((2, 2)), normal((2, 2, 2)))]),
    dict(name="tensor_split", fn=lambda a: qs.cat(qs.tensor_split(a, 3, 1)[::-1], 1),
         cases=[case(normal((2, 7))), case(transposed((2, 4)))]),
    dict(name="tensor_split indices", fn=lambda a: a.tensor_split([1, -1])[1], cases=[case(normal((5, 2)))]),
    dict(name="unbind", fn=lambda a: qs.stack(a.unbind(1)[::-1]), cases=[case(normal((2, 3))), case(normal((3, 1)))]),
    dict(name="repeat_interleave", fn=lambda a: a.repeat_interleave(2),
         cases=[case(normal((2, 3))), case(normal(())), case(strided((2, 2)))]),
    dict(name="repeat_interleave tensor", fn=lambda a, r: qs.repeat_interleave(a, r, dim=0),
         cases=[case(normal((3, 2)), ints([2, 0, 3]), grads=[True, False])]),
]

OPS = OPS + LAYOUT

# ---------------------------------------------------------------- products (part C)
PRODUCTS = [
    dict(name="einsum batched matmul", fn=lambda a, b: qs.einsum("bij,bjk->bik", a, b),
         cases=[case(normal((2, 3, 4)), normal((2, 4, 5))), case(transposed((2, 2, 3)), normal((2, 3, 2))),
                case(reversed_((2, 3, 2)), reversed_((2, 2, 3)))]),
    dict(name="einsum ellipsis broadcast", fn=lambda a, b: qs.einsum("...ij,...jk", a, b),
         cases=[case(normal((2, 1, 3, 4)), normal((5, 4, 2))), case(normal((3, 4)), normal((4, 2)))]),
    dict(name="einsum diagonal", fn=lambda a: qs.einsum("ii->i", a),
         cases=[case(normal((3, 3))), case(strided((2, 2)))]),
    dict(name="einsum trace", fn=lambda a: qs.einsum("ii", a), cases=[case(normal((4, 4)))]),
    dict(name="einsum repeated across operands", fn=lambda a, b: qs.einsum("iij,jk->ik", a, b),
         cases=[case(normal((3, 3, 2)), normal((2, 4)))]),
    dict(name="einsum outer and sum", fn=lambda a, b, c: qs.einsum("i,j,ij->", a, b, c),
         cases=[case(normal((3,)), normal((4,)), normal((3, 4))), case(normal((1,)), normal((4,)), normal((3, 4)))]),
    dict(name="einsum attention", fn=lambda q, k: qs.einsum("bhqd,bhkd->bhqk", q, k),
         cases=[case(normal((2, 2, 3, 4)), normal((2, 2, 5, 4)))]),
    dict(name="einsum scalar operand", fn=lambda a, s: qs.einsum("a,->a", a, s),
         cases=[case(normal((3,)), normal(()))]),
    dict(name="tensordot", fn=lambda a, b: qs.tensordot(a, b, 2),
         cases=[case(normal((3, 4, 5)), normal((4, 5, 2))), case(normal((2, 3)), normal((2, 3)))]),
    dict(name="tensordot pairs", fn=lambda a, b: qs.tensordot(a, b, ([0, 2], [2, 0])),
         cases=[case(normal((3, 4, 5)), normal((5, 2, 3))), case(transposed((2, 3, 2)), normal((2, 4, 2)))]),
    dict(name="addmm", fn=lambda c, a, b: qs.addmm(c, a, b, beta=0.5, alpha=-2.0),
         cases=[case(normal((3, 2)), normal((3, 4)), normal((4, 2))),
                case(normal((2,)), normal((1, 3)), normal((3, 2)))]),
    dict(name="addmm beta 0", fn=lambda c, a, b: c.addmm(a, b, beta=0) + 0 * c,
         cases=[case(normal((2, 2)), transposed((2, 3)), normal((3, 2)))]),
    dict(name="baddbmm", fn=lambda c, a, b: qs.baddbmm(c, a, b, alpha=0.5),
         cases=[case(normal((2, 3, 2)), normal((2, 3, 4)), normal((2, 4, 2))),
                case(normal(()), normal((1, 2, 2)), normal((1, 2, 3)))]),
]

OPS = OPS + PRODUCTS
