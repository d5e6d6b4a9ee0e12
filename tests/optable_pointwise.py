"""The op table of part B of issue 9: the math library, NaN and tie cases of
the selecting ops, and the further reductions and scans, in the format of
tests/optable.py (``dict(name, fn, cases)``).

Inputs stay inside each op's domain (acosh above 1, atanh inside (-1, 1),
...). Entries with NaN inputs or exact ties are ``finite_differences=False``:
they are cross-checked between the backends (NaN compares equal to NaN),
and tests/test_nan_edges.py pins their values and gradients to PyTorch's.
"""

import math

import numpy as np
from optable import binary_cases, case, normal, positive, reduction_cases, strided, transposed, unary_cases

import quasar as qs


# ---------------------------------------------------------------- input makers
def uniform(low, high):
    return lambda shape: (lambda rng, dtype: rng.uniform(low, high, shape).astype(dtype))


def fixed(values):
    """A hand-written array (ties, NaN, inf, zeros) in the case's dtype."""
    return lambda rng, dtype: np.array(values, dtype=dtype)


def in_range(low, high):
    return unary_cases(make=uniform(low, high))


def away_from_zero(shape):
    return normal(shape, low=0.5)


NAN = math.nan
WITH_NAN = [[1.0, NAN, 3.0, 3.0], [2.0, 1.0, -1.0, NAN], [0.5, 0.5, -2.0, 4.0]]
WITH_TIES = [[1.0, 3.0, 3.0, -1.0], [2.0, 2.0, 0.5, 0.0], [0.0, -1.0, 5.0, 5.0]]


def nan_case(*values):
    return case(*[fixed(v) for v in values])


OPS = [
    # ---- unary math
    dict(name="tan", fn=qs.tan, cases=in_range(-1.2, 1.2)),
    dict(name="asin", fn=qs.asin, cases=in_range(-0.9, 0.9)),
    dict(name="acos", fn=lambda a: a.acos(), cases=in_range(-0.9, 0.9)),
    dict(name="atan", fn=qs.atan, cases=unary_cases()),
    dict(name="sinh", fn=qs.sinh, cases=unary_cases()),
    dict(name="cosh", fn=lambda a: a.cosh(), cases=unary_cases()),
    dict(name="asinh", fn=qs.asinh, cases=unary_cases()),
    dict(name="acosh", fn=qs.acosh, cases=in_range(1.2, 3.0)),
    dict(name="atanh", fn=qs.atanh, cases=in_range(-0.9, 0.9)),
    dict(name="log2", fn=qs.log2, cases=unary_cases(make=positive)),
    dict(name="log10", fn=lambda a: a.log10(), cases=unary_cases(make=positive)),
    dict(name="exp2", fn=qs.exp2, cases=unary_cases()),
    dict(name="expm1", fn=qs.expm1, cases=unary_cases()),
    dict(name="log1p", fn=lambda a: a.log1p(), cases=in_range(-0.5, 2.0)),
    dict(name="rsqrt", fn=qs.rsqrt, cases=unary_cases(make=positive)),
    dict(name="reciprocal", fn=lambda a: a.reciprocal(), cases=unary_cases(low=0.5)),
    dict(name="square", fn=qs.square, cases=unary_cases()),
    dict(name="sign", fn=lambda a: a.sign() * a, cases=unary_cases(low=0.1)),
    dict(name="sgn", fn=lambda a: qs.sgn(a) + a, cases=unary_cases(low=0.1)),
    dict(name="floor", fn=lambda a: qs.floor(a * 3) + a, cases=unary_cases()),
    dict(name="ceil", fn=lambda a: a.ceil() * a, cases=unary_cases()),
    dict(name="round", fn=lambda a: qs.round(a * 3) + a, cases=unary_cases()),
    dict(name="round decimals", fn=lambda a: a.round(decimals=1) * a, cases=unary_cases()),
    dict(name="round negative decimals", fn=lambda a: qs.round(a * 300, decimals=-2) + a, cases=unary_cases()),
    dict(name="trunc", fn=lambda a: qs.trunc(a * 3) + a, cases=unary_cases()),
    dict(name="frac", fn=lambda a: qs.frac(a * 3), cases=unary_cases()),
    dict(name="erfinv", fn=qs.erfinv, cases=in_range(-0.9, 0.9)),
    dict(name="logit", fn=qs.logit, cases=in_range(0.1, 0.9)),
    dict(name="logit eps", fn=lambda a: qs.logit(a, eps=0.25), cases=in_range(0.05, 0.95)),
    dict(name="nan_to_num", fn=lambda a: qs.nan_to_num(a, nan=1.0), cases=unary_cases()),
    dict(
        name="nan_to_num nan inf",
        fn=lambda a: a.nan_to_num(nan=0.5, posinf=2.0) * 2,
        cases=[nan_case([NAN, math.inf, -math.inf, 1.5])],
        finite_differences=False,
    ),
    # ---- binary math
    dict(name="atan2", fn=qs.atan2, cases=binary_cases(right=away_from_zero)),
    dict(name="copysign", fn=qs.copysign, cases=binary_cases(left=away_from_zero, right=away_from_zero)),
    dict(name="hypot", fn=lambda a, b: a.hypot(b), cases=binary_cases(left=away_from_zero)),
    dict(name="fmod", fn=qs.fmod, cases=binary_cases(right=away_from_zero)),
    dict(name="fmod scalar", fn=lambda a: qs.fmod(a * 3, 1.5), cases=unary_cases()),
    dict(name="logaddexp", fn=qs.logaddexp, cases=binary_cases()),
    dict(name="logaddexp2", fn=lambda a, b: a.logaddexp2(b), cases=binary_cases()),
    dict(name="xlogy", fn=qs.xlogy, cases=binary_cases(right=positive)),
    dict(name="lerp", fn=lambda a, b: qs.lerp(a, b, 0.3), cases=binary_cases()),
    dict(name="lerp far weight", fn=lambda a, b: a.lerp(b, 0.8), cases=binary_cases()),
    dict(
        name="lerp tensor weight",
        fn=qs.lerp,
        cases=[
            case(normal((3, 4)), normal((3, 4)), uniform(-0.5, 1.5)((3, 4))),
            case(normal((2, 3)), normal((3,)), uniform(0.0, 1.0)((2, 1))),
            case(normal(()), normal(()), uniform(0.0, 1.0)(())),
        ],
    ),
    dict(
        name="clamp tensor bounds",
        fn=lambda x, lo, hi: qs.clamp(x, lo, hi),
        cases=[
            case(normal((3, 4), low=0.05), uniform(-0.5, -0.1)((3, 4)), uniform(0.1, 0.5)((4,))),
            case(normal((2, 3), low=0.05), uniform(-0.5, -0.1)(()), uniform(0.1, 0.5)((2, 1))),
            case(normal((4,), low=0.05), uniform(0.1, 0.5)((4,)), uniform(-0.5, -0.1)((4,))),  # min > max
        ],
    ),
    dict(name="clamp tensor min", fn=lambda x, lo: x.clamp(min=lo),
         cases=[case(normal((3, 4), low=0.05), uniform(-0.5, 0.5)((3, 4))), case(transposed((2, 3)), normal((3,)))]),
    dict(name="clip tensor max", fn=lambda x, hi: qs.clip(x, max=hi),
         cases=[case(normal((3, 4), low=0.05), uniform(-0.5, 0.5)((1, 4)))]),
    # ---- NaN and ties in the selecting ops (part B, item 1)
    dict(name="relu nan", fn=qs.relu, cases=[nan_case(WITH_NAN)], finite_differences=False),
    dict(name="maximum nan ties", fn=qs.maximum, cases=[nan_case(WITH_NAN, WITH_TIES)], finite_differences=False),
    dict(name="minimum nan ties", fn=qs.minimum, cases=[nan_case(WITH_TIES, WITH_NAN)], finite_differences=False),
    dict(name="maximum ties", fn=qs.maximum, cases=[nan_case(WITH_TIES, [[1.0, 3.0, 0.0, -1.0]] * 3)]),
    dict(name="amax nan", fn=lambda a: qs.amax(a, 1), cases=[nan_case(WITH_NAN)], finite_differences=False),
    dict(name="amin ties", fn=lambda a: a.amin(0), cases=[nan_case([[1.0, 2.0], [1.0, 3.0]])]),
    dict(name="max all nan", fn=lambda a: a.max(), cases=[nan_case(WITH_NAN)], finite_differences=False),
    dict(name="max dim nan ties", fn=lambda a: a.max(1).values, cases=[nan_case(WITH_NAN), nan_case(WITH_TIES)],
         finite_differences=False),
    dict(name="min dim ties", fn=lambda a: a.min(0, keepdim=True)[0], cases=[nan_case(WITH_TIES)],
         finite_differences=False),
    dict(name="clamp nan", fn=lambda a: a.clamp(-0.5, 2.5), cases=[nan_case(WITH_NAN)], finite_differences=False),
    dict(name="std constant row", fn=lambda a: a.std(1), cases=[nan_case([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])],
         finite_differences=False),
    # ---- reductions
    dict(name="nansum", fn=lambda a: qs.nansum(a, 1), cases=reduction_cases()[:1] + reduction_cases()[2:]),
    dict(name="nansum all", fn=qs.nansum, cases=reduction_cases() + [case(normal((0, 3)))]),
    dict(name="nansum nan", fn=lambda a: a.nansum(0), cases=[nan_case(WITH_NAN)], finite_differences=False),
    dict(name="nanmean", fn=lambda a: qs.nanmean(a, 1, keepdim=True), cases=[nan_case(WITH_NAN)],
         finite_differences=False),
    dict(name="nanmean all", fn=lambda a: a.nanmean(), cases=reduction_cases()),
    dict(name="var_mean", fn=lambda a: sum(t.sum() for t in qs.var_mean(a, 1)), cases=reduction_cases()[:1] + reduction_cases()[2:]),
    dict(name="std_mean", fn=lambda a: sum(t.sum() for t in qs.std_mean(a, 0, correction=0)), cases=reduction_cases()[:1]),
    dict(name="aminmax", fn=lambda a: qs.aminmax(a, dim=0).max - a.aminmax().min, cases=reduction_cases()[:1] + reduction_cases()[2:]),
    dict(name="median", fn=lambda a: a.median(), cases=reduction_cases()),
    dict(name="median dim", fn=lambda a: qs.median(a, -1).values,
         cases=[case(normal((3, 4))), case(normal((2, 5, 3))), case(transposed((3, 5))), case(normal(()))]),
    dict(name="median keepdim nan ties", fn=lambda a: a.median(0, keepdim=True).values,
         cases=[nan_case(WITH_NAN), nan_case(WITH_TIES)], finite_differences=False),
    dict(name="cumprod", fn=lambda a: a.cumprod(-1),
         cases=[case(normal((3, 4))), case(normal((2, 3, 4))), case(strided((3, 3))), case(normal(())),
                case(normal((0, 2))), nan_case([[1.5, 0.0, 2.0, -1.0], [0.0, 0.0, 3.0, 0.5]])]),
    dict(name="cumprod dim 0", fn=lambda a: qs.cumprod(a, 0), cases=[case(normal((4, 3))), case(transposed((2, 3)))]),
    dict(name="cummax", fn=lambda a: a.cummax(-1).values, cases=[case(normal((3, 4))), case(normal((2, 3, 4))),
                                                               case(transposed((3, 4))), case(normal(()))]),
    dict(name="cummin dim 0", fn=lambda a: qs.cummin(a, 0)[0], cases=[case(normal((4, 3))), case(strided((3, 3)))]),
    dict(name="cummax nan ties", fn=lambda a: a.cummax(1).values, cases=[nan_case(WITH_NAN), nan_case(WITH_TIES)],
         finite_differences=False),
    dict(name="logcumsumexp", fn=lambda a: a.logcumsumexp(-1),
         cases=[case(normal((3, 4))), case(normal((2, 3, 4))), case(strided((3, 3))), case(normal(()))]),
    dict(name="logcumsumexp dim 0", fn=lambda a: qs.logcumsumexp(a * 30, 0), cases=[case(normal((4, 3)))]),
    dict(name="vector_norm", fn=lambda a: qs.linalg.vector_norm(a), cases=reduction_cases()),
    dict(name="vector_norm ord dim", fn=lambda a: qs.linalg.vector_norm(a, 3, dim=1, keepdim=True),
         cases=[case(normal((3, 4), low=0.1))]),
    dict(name="vector_norm negative ord", fn=lambda a: qs.linalg.vector_norm(a, -2, dim=0),
         cases=[case(normal((3, 4), low=0.1))]),
]
