"""Op table of part A's differentiable surface: remainder (``%``), clone,
``add``/``sub`` with ``alpha``, and the fixed-rank products (mm, bmm, mv,
dot, outer), which record matmul and mul nodes. Same format as optable.py."""

import quasar as qs
from optable import binary_cases, case, normal, signed_away_from_zero, transposed, unary_cases

OPS = [
    # remainder jumps where a / b is an integer; random inputs land there with probability ~0
    dict(name="remainder", fn=lambda a, b: a % b, cases=binary_cases(right=signed_away_from_zero)),
    dict(name="remainder scalar", fn=lambda a: a % 0.7, cases=unary_cases()),
    dict(name="rremainder scalar", fn=lambda a: 2.5 % a, cases=unary_cases(low=0.5)),
    dict(name="clone", fn=lambda a: a.clone() * 2, cases=unary_cases()),
    dict(name="contiguous", fn=lambda a: a.contiguous(), cases=[case(transposed((3, 4)))]),
    dict(name="add alpha", fn=lambda a, b: qs.add(a, b, alpha=2.5), cases=binary_cases()),
    dict(name="sub alpha", fn=lambda a, b: a.sub(b, alpha=-0.5), cases=binary_cases()),
    dict(name="mm", fn=qs.mm, cases=[case(normal((3, 4)), normal((4, 2))), case(transposed((3, 4)), normal((4, 1)))]),
    dict(name="bmm", fn=qs.bmm, cases=[case(normal((2, 3, 4)), normal((2, 4, 5)))]),
    dict(name="mv", fn=lambda a, b: a.mv(b), cases=[case(normal((3, 4)), normal((4,)))]),
    dict(
        name="dot", fn=lambda a, b: a.dot(b), cases=[case(normal((4,)), normal((4,))), case(normal((0,)), normal((0,)))]
    ),
    # an int with an index array: PyTorch's layout (the int is a basic index), forward and backward
    dict(name="index int and array", fn=lambda a: a[1, :, qs.tensor([0, 2, 2])], cases=[case(normal((2, 3, 4)))]),
    dict(name="outer", fn=qs.outer, cases=[case(normal((3,)), normal((4,))), case(normal((1,)), normal((0,)))]),
]
