"""Every op, one module per family; the Tensor methods and ``quasar.*``
functions delegate here."""

from .elementwise import (  # noqa: F401
    abs, add, clamp, clip, cos, div, eq, exp, ge, gt, le, log, lt, maximum, minimum, mul,
    ne, neg, pow, relu, sigmoid, sin, sqrt, sub, tanh, where,
)
from .inplace import zero_  # noqa: F401
from .linalg import bmm, dot, linear, matmul, mm, mv, outer  # noqa: F401
from .reduce import amax, amin, max, mean, min, sum  # noqa: F401
from .shape import (  # noqa: F401
    broadcast_to, cast, clone, contiguous, expand, flatten, permute, reshape, squeeze, transpose, unsqueeze, view,
)
from .index import (  # noqa: F401
    embedding, gather, getitem, index_select, masked_fill, one_hot, take_along_dim,
)
from .join import (  # noqa: F401
    cat, chunk, concat, flip, narrow, pad, repeat, roll, split, stack, tile, tril, triu,
)
from .mathops import (  # noqa: F401
    argmax, argmin, cumsum, elu, erf, leaky_relu, logsumexp, norm, prod, softplus, std, var,
)
from .inplace import (  # noqa: F401
    abs_, add_, bitwise_and_, bitwise_left_shift_, bitwise_not_, bitwise_or_, bitwise_right_shift_,
    bitwise_xor_, clamp_, clip_, copy_, div_, fill_, floor_divide_, masked_fill_, mul_, neg_, pow_,
    remainder_, setitem, sub_,
)
from .loss import log_softmax, softmax  # noqa: F401
from .arithmetic import (  # noqa: F401  (add, sub, div with alpha= / rounding_mode=, PyTorch's signatures)
    add, bitwise_and, bitwise_left_shift, bitwise_not, bitwise_or, bitwise_right_shift, bitwise_xor, div,
    floor_divide, remainder, sub, true_divide,
)
