"""Every op, one module per family; the Tensor methods and ``quasar.*``
functions delegate here."""

from .elementwise import (  # noqa: F401
    abs, add, clamp, clip, cos, div, eq, exp, ge, gt, le, log, lt, maximum, minimum, mul,
    ne, neg, pow, relu, sigmoid, sin, sqrt, sub, tanh, where,
)
from .inplace import zero_  # noqa: F401
from .linalg import matmul  # noqa: F401
from .reduce import amax, amin, max, mean, min, sum  # noqa: F401
from .shape import (  # noqa: F401
    broadcast_to, cast, expand, flatten, permute, reshape, squeeze, transpose, unsqueeze, view,
)
