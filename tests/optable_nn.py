"""The op table of the nn family: losses, softmax, activations, dropout and the
functional layers, in the format of tests/optable.py (``dict(name, fn, cases)``,
each case ``(rng, dtype) -> [(array, requires_grad), ...]``).

Class targets are int64 arrays that do not require grad; they ignore ``dtype``.
Logits of large magnitude (+-1e4, where only a fused, shifted log-softmax
stays finite) have entries of their own: a loss near 1e4 leaves finite
differences about 1e-6 of rounding noise, so they take a looser ``fd_tol``.
"""

from optable import case, normal, strided, transposed, unary_cases

import quasar as qs
import quasar.nn.functional as F


def labels(shape, classes):
    """Random class indices in [0, classes): int64, whatever the float dtype."""
    return lambda rng, dtype: rng.integers(0, classes, size=shape)


def large(shape, scale=1e4):
    """Logits of magnitude up to a few times ``scale``: exp() of them overflows."""
    return lambda rng, dtype: (scale * rng.standard_normal(shape)).astype(dtype)


def probabilities(shape):
    return lambda rng, dtype: rng.uniform(0.05, 0.95, shape).astype(dtype)


def classification_cases():
    """(logits, target) pairs: a batch, batch 1, one unbatched sample, many
    classes, huge logits, and non-contiguous logits."""
    grads = [True, False]
    return [
        case(normal((4, 5)), labels((4,), 5), grads=grads),
        case(normal((1, 3)), labels((1,), 3), grads=grads),
        case(normal((5,)), labels((), 5), grads=grads),
        case(normal((3, 12)), labels((3,), 12), grads=grads),
        case(normal((6, 2)), labels((6,), 2), grads=grads),
        case(transposed((4, 3)), labels((4,), 3), grads=grads),
        case(strided((3, 4)), labels((3,), 4), grads=grads),
    ]


def pair_cases(right=normal):
    """(input, target) of equal shapes; the target requires grad too."""
    shapes = [(3, 4), (5,), (1,), (), (2, 3, 2)]
    cases = [case(normal(s), right(s)) for s in shapes]
    return cases + [case(transposed((3, 4)), right((3, 4)))]


def along_cases():
    """Inputs for an op along one dim (softmax, log_softmax)."""
    return [
        case(normal((3, 4))),
        case(normal((5,))),
        case(normal((2, 3, 4))),
        case(normal((1, 1))),
        case(transposed((3, 4))),
        case(strided((2, 3))),
        case(large((2, 4), scale=1e3)),
    ]


def dropout_fixed_mask(x, p):
    """Dropout whose mask is the same on every call: finite differences and
    the backend comparison call fn many times and need one function."""
    qs.manual_seed(1234)
    return F.dropout(x, p)


OPS = [
    # ------------------------------------------------------------ classification
    dict(name="cross_entropy", fn=lambda x, t: F.cross_entropy(x, t), cases=classification_cases()),
    dict(name="cross_entropy sum", fn=lambda x, t: F.cross_entropy(x, t, reduction="sum"),
         cases=classification_cases()),
    dict(name="cross_entropy none", fn=lambda x, t: F.cross_entropy(x, t, reduction="none"),
         cases=classification_cases() + [case(normal((0, 3)), labels((0,), 3), grads=[True, False])]),
    dict(name="cross_entropy large logits", fn=lambda x, t: F.cross_entropy(x, t), fd_tol=1e-4,
         cases=[case(large((4, 5)), labels((4,), 5), grads=[True, False]),
                case(large((2, 3)), labels((2,), 3), grads=[True, False])]),
    dict(name="cross_entropy none large logits", fn=lambda x, t: F.cross_entropy(x, t, reduction="none"),
         fd_tol=1e-4, cases=[case(large((4, 5)), labels((4,), 5), grads=[True, False])]),
    dict(name="CrossEntropyLoss", fn=lambda x, t: qs.nn.CrossEntropyLoss()(x, t), cases=classification_cases()[:2]),
    dict(name="nll_loss", fn=lambda x, t: F.nll_loss(x, t), cases=classification_cases()),
    dict(name="nll_loss sum", fn=lambda x, t: F.nll_loss(x, t, reduction="sum"), cases=classification_cases()[:3]),
    dict(name="nll_loss none", fn=lambda x, t: F.nll_loss(x, t, reduction="none"), cases=classification_cases()[:3]),
    dict(name="nll_loss of log_softmax", fn=lambda x, t: F.nll_loss(F.log_softmax(x, dim=-1), t),
         cases=classification_cases()),
    # ------------------------------------------------------------ regression and binary
    dict(name="mse_loss", fn=lambda x, y: F.mse_loss(x, y), cases=pair_cases()),
    dict(name="mse_loss sum", fn=lambda x, y: F.mse_loss(x, y, reduction="sum"), cases=pair_cases()),
    dict(name="mse_loss none", fn=lambda x, y: F.mse_loss(x, y, reduction="none"), cases=pair_cases()),
    dict(name="bce_with_logits", fn=lambda x, y: F.binary_cross_entropy_with_logits(x, y),
         cases=pair_cases(probabilities) + [case(large((4, 3), scale=30), probabilities((4, 3)))]),
    dict(name="bce_with_logits sum", fn=lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="sum"),
         cases=pair_cases(probabilities)),
    dict(name="bce_with_logits none", fn=lambda x, y: F.binary_cross_entropy_with_logits(x, y, reduction="none"),
         cases=pair_cases(probabilities)),
    # ------------------------------------------------------------ softmax family
    dict(name="softmax", fn=lambda x: F.softmax(x, dim=-1), cases=along_cases() + [case(normal(()))]),
    dict(name="softmax dim 0", fn=lambda x: F.softmax(x, dim=0), cases=along_cases()),
    dict(name="log_softmax", fn=lambda x: F.log_softmax(x, dim=-1), cases=along_cases() + [case(normal(()))]),
    dict(name="log_softmax dim 1", fn=lambda x: F.log_softmax(x, dim=1), cases=along_cases()[2:4]),
    # ------------------------------------------------------------ activations and dropout
    dict(name="gelu", fn=F.gelu, cases=unary_cases()),
    dict(name="gelu tanh", fn=lambda x: F.gelu(x, approximate="tanh"), cases=unary_cases()),
    dict(name="GELU module", fn=lambda x: qs.nn.GELU()(x), cases=[case(normal((3, 4)))]),
    dict(name="dropout", fn=lambda x: dropout_fixed_mask(x, 0.3), cases=unary_cases()),
    dict(name="dropout p=1", fn=lambda x: dropout_fixed_mask(x, 1.0), cases=[case(normal((3, 4)))]),
    # ------------------------------------------------------------ functional layers
    dict(
        name="linear",
        fn=lambda x, w, b: F.linear(x, w, b),
        cases=[
            case(normal((4, 3)), normal((2, 3)), normal((2,))),
            case(normal((1, 3)), normal((5, 3)), normal((5,))),
            case(normal((2, 4, 3)), normal((2, 3)), normal((2,))),
            case(normal((3,)), normal((2, 3)), normal((2,))),
            case(transposed((4, 3)), strided((2, 3)), normal((2,))),
            case(normal((0, 3)), normal((2, 3)), normal((2,))),
            case(normal((4, 3)), normal((2, 3)), normal((2,)), grads=[False, True, True]),
        ],
    ),
    dict(name="linear no bias", fn=lambda x, w: F.linear(x, w), cases=[case(normal((4, 3)), normal((2, 3)))]),
    dict(
        name="layer_norm",
        fn=lambda x, w, b: F.layer_norm(x, w.shape, w, b),
        cases=[
            case(normal((3, 4)), normal((4,)), normal((4,))),
            case(normal((2, 3, 4)), normal((3, 4)), normal((3, 4))),
            case(normal((5,)), normal((5,)), normal((5,))),
            case(transposed((3, 4)), normal((4,)), normal((4,))),
        ],
    ),
    dict(name="layer_norm plain", fn=lambda x: F.layer_norm(x, x.shape[-1:]), cases=[case(normal((3, 6)))]),
]
