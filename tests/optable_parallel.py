"""The op table of the seed's parallel ops (``qs.parallel.par_*``).

Same format as tests/optable.py, which gathers this table in ``all_ops()``.
Each par_* op must be differentiable exactly like its plain counterpart, so
its cases are the plain op's: broadcasting pairs, 0-d and empty tensors,
non-contiguous inputs. tests/test_parallel.py checks that their kernels,
forward and backward, really take the parallel path.
"""

import quasar as qs
from optable import binary_cases, case, normal, strided, transposed, unary_cases

OPS = [
    dict(name="par_add", fn=qs.parallel.par_add, cases=binary_cases()),
    dict(name="par_mul", fn=qs.parallel.par_mul, cases=binary_cases()),
    dict(name="par_add scalar", fn=lambda a: qs.parallel.par_add(a, 2.5), cases=unary_cases()),
    dict(
        name="par_matmul",
        fn=qs.parallel.par_matmul,
        cases=[
            case(normal((3, 4)), normal((4, 5))),
            case(normal((4,)), normal((4, 5))),
            case(normal((3, 4)), normal((4,))),
            case(normal((2, 3, 4)), normal((4, 5))),
            case(normal((2, 1, 3, 4)), normal((3, 4, 2))),
            case(normal((0, 4)), normal((4, 3))),
            case(transposed((3, 4)), strided((4, 2))),
        ],
    ),
    dict(name="par_relu", fn=qs.parallel.par_relu, cases=unary_cases(low=0.1)),  # kept off the kink at 0
    dict(
        name="par_* chain",  # as in the seed's example: relu(a @ w + b), then scaled
        fn=lambda a, w, b: qs.parallel.par_mul(
            qs.parallel.par_relu(qs.parallel.par_add(qs.parallel.par_matmul(a, w), b)), 2.0
        ),
        cases=[case(normal((3, 4)), normal((4, 4)), normal((4,)))],
    ),
]
