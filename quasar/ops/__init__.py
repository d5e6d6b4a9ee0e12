"""Every op, one module per family; the Tensor methods and ``quasar.*``
functions delegate here."""

from .elementwise import (  # noqa: F401  (add, sub, div: arithmetic's; clamp, clip: pointwise's, below)
    abs, cos, eq, exp, ge, gt, le, log, lt, maximum, minimum, mul,
    ne, neg, pow, relu, sigmoid, sin, sqrt, tanh, where,
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
from .pointwise import (  # noqa: F401  (part B: math; its clamp/clip also take tensor bounds)
    acos, allclose, arctan2, asin, asinh, atan, atan2, atanh, acosh, ceil, clamp, clip, copysign, cosh,
    equal, erfinv, exp2, expm1, fix, floor, fmod, frac, hypot, isclose, isfinite, isinf, isnan,
    isneginf, isposinf, lerp, log1p, log2, log10, logaddexp, logaddexp2, logit, nan_to_num, reciprocal,
    round, rsqrt, sgn, sign, sinh, square, tan, trunc, xlogy,
)
from .reductions import (  # noqa: F401  (part B: reductions and scans)
    all, aminmax, any, count_nonzero, cummax, cummin, cumprod, logcumsumexp, median, nanmean, nansum,
    std_mean, var_mean, vector_norm,
)
from .sorting import (  # noqa: F401  (part C: sorting and selection)
    argsort, argwhere, bucketize, kthvalue, masked_select, msort, nonzero, searchsorted, sort, take, topk, unique,
    unique_consecutive,
)
from .scatter import (  # noqa: F401  (part C: scatter and index_*)
    index_add, index_add_, index_copy, index_copy_, index_fill, index_fill_, index_put, index_put_,
    scatter, scatter_, scatter_add, scatter_add_, scatter_reduce, scatter_reduce_,
)
from .layout import (  # noqa: F401  (part C: more shape ops; Tensor.unfold is a method only)
    atleast_1d, atleast_2d, atleast_3d, diag, diag_embed, diagonal, dstack, hstack, meshgrid, moveaxis,
    movedim, repeat_interleave, row_stack, select, swapaxes, swapdims, tensor_split, trace, unbind, unflatten,
    vstack,
)
from .products import addmm, baddbmm, einsum, tensordot  # noqa: F401  (part C: products)
