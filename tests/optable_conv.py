"""The op table of the convolution family: convolutions, unfold/fold, pooling,
batch norm and dropout2d, in the format of tests/optable.py (which gathers
this table in ``all_ops()``).

Each op runs over stride, padding, dilation and groups combinations, odd
sizes, batch 1, unbatched input and non-contiguous input. Sizes stay small:
every case is also checked against finite differences. Max pooling inputs
are a random permutation of well-separated values, so no window has a tie
that finite differences would cross.
"""

import numpy as np

import quasar as qs
import quasar.nn.functional as F
from optable import case, normal, strided, transposed


def distinct(shape):
    """Values spaced 0.1 apart in random order: every window has one clear maximum."""
    def make(rng, dtype):
        size = int(np.prod(shape))
        return (rng.permutation(size).reshape(shape) * 0.1 - size * 0.05).astype(dtype)

    return make


def distinct_transposed(shape):
    return lambda rng, dtype: distinct(shape[::-1])(rng, dtype).T


def conv2d_cases(groups=1, cin=4, cout=6, kernel=(3, 2)):
    w = (cout, cin // groups, *kernel)
    return [
        case(normal((2, cin, 6, 5)), normal(w), normal((cout,))),
        case(normal((1, cin, 5, 7)), normal(w), normal((cout,))),
        case(normal((cin, 5, 4)), normal(w), normal((cout,))),  # unbatched
        case(transposed((2, cin, 5, 4)), strided(w), normal((cout,))),
        case(normal((2, cin, 5, 5)), normal(w), normal((cout,)), grads=[False, True, True]),
        case(normal((2, cin, 5, 5)), normal(w), normal((cout,)), grads=[True, False, False]),
    ]


def conv1d_cases(groups=1, cin=4, cout=6, kernel=3):
    w = (cout, cin // groups, kernel)
    return [
        case(normal((2, cin, 9)), normal(w), normal((cout,))),
        case(normal((1, cin, 6)), normal(w), normal((cout,))),
        case(normal((cin, 7)), normal(w), normal((cout,))),
        case(strided((2, cin, 8)), transposed(w), normal((cout,))),
    ]


def transpose2d_cases(groups=1, cin=4, cout=6, kernel=(3, 2)):
    w = (cin, cout // groups, *kernel)
    return [
        case(normal((2, cin, 4, 3)), normal(w), normal((cout,))),
        case(normal((1, cin, 3, 5)), normal(w), normal((cout,))),
        case(transposed((2, cin, 3, 4)), normal(w), normal((cout,))),
    ]


def image_cases(make=normal, transposed_make=transposed):
    return [
        case(make((2, 3, 7, 6))),
        case(make((1, 2, 5, 5))),
        case(make((3, 6, 7))),  # unbatched
        case(transposed_make((2, 3, 6, 7))),
    ]


def signal_cases(make=normal, transposed_make=transposed):
    return [case(make((2, 3, 9))), case(make((1, 2, 6))), case(make((3, 8))), case(transposed_make((2, 3, 7)))]


def batch_norm_eval(x, w, b):
    channels = x.shape[1]
    mean = qs.tensor(np.linspace(-0.5, 0.5, channels))
    var = qs.tensor(np.linspace(0.5, 2.0, channels))
    return F.batch_norm(x, mean, var, w, b, training=False, eps=1e-3)


def batch_norm_cases():
    return [
        case(normal((4, 3, 5, 2)), normal((3,)), normal((3,))),
        case(normal((5, 3)), normal((3,)), normal((3,))),
        case(normal((2, 4, 3)), normal((4,)), normal((4,))),
        case(transposed((3, 2, 3, 4)), normal((2,)), normal((2,))),
        case(normal((1, 3, 3, 3)), normal((3,)), normal((3,))),  # batch 1: the image is the batch
        case(normal((4, 3, 2, 2)), normal((3,)), normal((3,)), grads=[False, True, True]),
    ]


def dropout2d_fixed_mask(x, p):
    qs.manual_seed(4321)  # the same mask on every call (finite differences call fn many times)
    return F.dropout2d(x, p)


OPS = [
    # ------------------------------------------------------------ convolution
    dict(name="conv2d", fn=lambda x, w, b: F.conv2d(x, w, b), cases=conv2d_cases()),
    dict(name="conv2d stride 2 padding 1", fn=lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
         cases=conv2d_cases()),
    dict(name="conv2d stride (2, 1) padding (1, 2) dilation (2, 1)",
         fn=lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2), dilation=(2, 1)),
         cases=conv2d_cases()[:4]),
    dict(name="conv2d same dilation 2", fn=lambda x, w, b: F.conv2d(x, w, b, padding="same", dilation=2),
         cases=conv2d_cases()[:4]),
    dict(name="conv2d valid no bias", fn=lambda x, w: F.conv2d(x, w, padding="valid"),
         cases=[case(normal((2, 4, 5, 6)), normal((3, 4, 2, 2)))]),
    dict(name="conv2d groups 2", fn=lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=2),
         cases=conv2d_cases(groups=2)[:4]),
    dict(name="conv2d depthwise", fn=lambda x, w, b: F.conv2d(x, w, b, padding=1, stride=2, groups=4),
         cases=conv2d_cases(groups=4, cout=4, kernel=(3, 3))[:4]),
    dict(name="conv2d depthwise multiplier 2 dilation 2",  # the stencil kernels with two outputs per channel
         fn=lambda x, w, b: F.conv2d(x, w, b, padding=(2, 1), dilation=(2, 1), groups=4),
         cases=conv2d_cases(groups=4, cout=8)[:4] + conv2d_cases(groups=4, cout=8)[4:]),
    dict(name="conv1d one input channel", fn=lambda x, w, b: F.conv1d(x, w, b, stride=2, padding="valid"),
         cases=[case(normal((2, 1, 9)), normal((3, 1, 4)), normal((3,))), case(strided((1, 1, 8)), normal((3, 1, 2)),
                                                                              normal((3,)))]),
    dict(name="conv1d", fn=lambda x, w, b: F.conv1d(x, w, b), cases=conv1d_cases()),
    dict(name="conv1d stride 2 padding 2 dilation 2",
         fn=lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=2, dilation=2), cases=conv1d_cases()),
    dict(name="conv1d same groups 2", fn=lambda x, w, b: F.conv1d(x, w, b, padding="same", groups=2),
         cases=conv1d_cases(groups=2, kernel=4)),
    dict(name="conv_transpose2d", fn=lambda x, w, b: F.conv_transpose2d(x, w, b), cases=transpose2d_cases()),
    dict(name="conv_transpose2d stride 2 padding 1 output_padding 1",
         fn=lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
         cases=transpose2d_cases()),
    dict(name="conv_transpose2d groups 2 dilation 2",
         fn=lambda x, w, b: F.conv_transpose2d(x, w, b, stride=(1, 2), groups=2, dilation=2),
         cases=transpose2d_cases(groups=2)),
    dict(name="conv_transpose2d depthwise", fn=lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, groups=4),
         cases=transpose2d_cases(groups=4, cout=4)),
    dict(name="conv_transpose1d", fn=lambda x, w, b: F.conv_transpose1d(x, w, b, stride=3, padding=1),
         cases=[case(normal((2, 4, 5)), normal((4, 3, 3)), normal((3,))),
                case(normal((4, 4)), normal((4, 3, 2)), normal((3,)))]),
    # ------------------------------------------------------------ unfold / fold
    dict(name="unfold", fn=lambda x: F.unfold(x, (2, 3)), cases=image_cases()),
    dict(name="unfold dilation padding stride",
         fn=lambda x: F.unfold(x, 3, dilation=(2, 1), padding=1, stride=(1, 2)), cases=image_cases()),
    dict(name="fold", fn=lambda c: F.fold(c, (5, 6), (2, 3), padding=1, stride=(2, 1)),
         cases=[case(normal((2, 18, 18))), case(normal((12, 18))), case(transposed((1, 6, 18)))]),
    # ------------------------------------------------------------ pooling
    dict(name="max_pool2d", fn=lambda x: F.max_pool2d(x, 2), cases=image_cases(distinct, distinct_transposed)),
    dict(name="max_pool2d 3 stride 2 padding 1 ceil",
         fn=lambda x: F.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
         cases=image_cases(distinct, distinct_transposed)),
    dict(name="max_pool2d dilation", fn=lambda x: F.max_pool2d(x, (2, 3), stride=1, dilation=(2, 1), padding=1),
         cases=image_cases(distinct, distinct_transposed)),
    dict(name="max_pool1d", fn=lambda x: F.max_pool1d(x, 3, stride=2, padding=1, ceil_mode=True),
         cases=signal_cases(distinct, distinct_transposed)),
    dict(name="avg_pool2d", fn=lambda x: F.avg_pool2d(x, 2), cases=image_cases()),
    dict(name="avg_pool2d 3 stride 2 padding 1 ceil",
         fn=lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True), cases=image_cases()),
    dict(name="avg_pool2d exclude pad", fn=lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True,
                                                                  count_include_pad=False), cases=image_cases()),
    dict(name="avg_pool2d divisor_override", fn=lambda x: F.avg_pool2d(x, (3, 2), 2, (1, 0), divisor_override=5),
         cases=image_cases()),
    dict(name="avg_pool1d", fn=lambda x: F.avg_pool1d(x, 3, stride=2, padding=1, count_include_pad=False),
         cases=signal_cases()),
    # ------------------------------------------------------------ normalization and dropout
    dict(name="batch_norm train", fn=lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
         cases=batch_norm_cases()),
    dict(name="batch_norm eval", fn=batch_norm_eval, cases=batch_norm_cases()),
    dict(name="batch_norm no affine", fn=lambda x: F.batch_norm(x, None, None, training=True),
         cases=[case(normal((3, 2, 4))), case(strided((4, 3)))]),
    dict(name="dropout2d", fn=lambda x: dropout2d_fixed_mask(x, 0.4), cases=image_cases()[:3]),
]


def unpool_indices(shape):
    """Each input (h, w) sent to (2h + w % 2, 2w + 1) of a 2x larger plane: distinct places."""
    h, w = shape[-2:]
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    flat = (2 * rows + cols % 2) * (2 * w) + 2 * cols + 1
    return np.broadcast_to(flat, shape).copy()


OPS += [
    # ------------------------------------------------------------ adaptive pooling and resampling
    dict(name="adaptive_avg_pool2d", fn=lambda x: F.adaptive_avg_pool2d(x, (3, 4)), cases=image_cases()),
    dict(name="adaptive_avg_pool2d None", fn=lambda x: F.adaptive_avg_pool2d(x, (None, 2)), cases=image_cases()[:2]),
    dict(name="adaptive_avg_pool1d", fn=lambda x: F.adaptive_avg_pool1d(x, 4), cases=signal_cases()),
    dict(name="adaptive_max_pool2d", fn=lambda x: F.adaptive_max_pool2d(x, (3, 4)),
         cases=image_cases(distinct, distinct_transposed)),
    dict(name="max_unpool2d", fn=lambda x: F.max_unpool2d(x, unpool_indices(x.shape), 2), cases=image_cases()),
    dict(name="interpolate nearest", fn=lambda x: F.interpolate(x, scale_factor=(1.5, 2)), cases=image_cases()[:2]),
    dict(name="interpolate nearest size", fn=lambda x: F.interpolate(x, size=5),
         cases=[c for i, c in enumerate(signal_cases()) if i != 2]),  # interpolate needs a batch dim
    dict(name="interpolate bilinear", fn=lambda x: F.interpolate(x, size=(9, 4), mode="bilinear"),
         cases=[case(normal((2, 3, 7, 6))), case(transposed((1, 2, 5, 5)))]),
    dict(name="interpolate bilinear align_corners",
         fn=lambda x: F.interpolate(x, scale_factor=1.7, mode="bilinear", align_corners=True),
         cases=[case(normal((2, 3, 7, 6)))]),
    dict(name="interpolate linear recompute",
         fn=lambda x: F.interpolate(x, scale_factor=2.3, mode="linear", recompute_scale_factor=True),
         cases=signal_cases()[:2]),
    dict(name="pixel_shuffle", fn=lambda x: F.pixel_shuffle(x, 2), cases=[case(normal((2, 8, 3, 2))),
                                                                          case(transposed((1, 4, 3, 3)))]),
    dict(name="pad reflect", fn=lambda x: F.pad(x, (2, 1, 1, 3), mode="reflect"), cases=image_cases()),
    dict(name="pad replicate", fn=lambda x: F.pad(x, (3, 0), mode="replicate"), cases=signal_cases()),
    dict(name="pad circular", fn=lambda x: F.pad(x, (1, 2, 2, 1), mode="circular"), cases=image_cases()),
    dict(name="pad constant", fn=lambda x: F.pad(x, (1, 1, 0, 2), value=0.5), cases=image_cases()[:2]),
    # ------------------------------------------------------------ group, instance and vector normalization
    dict(name="group_norm", fn=lambda x, w, b: F.group_norm(x, 2, w, b),
         cases=[case(normal((3, 4, 5)), normal((4,)), normal((4,))),
                case(normal((1, 4, 2, 3)), normal((4,)), normal((4,))),
                case(transposed((2, 4, 3)), normal((4,)), normal((4,)))]),
    dict(name="instance_norm", fn=lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
         cases=[case(normal((3, 2, 5)), normal((2,)), normal((2,))),
                case(transposed((2, 3, 3, 2)), normal((3,)), normal((3,)))]),
    dict(name="normalize", fn=lambda x: F.normalize(x), cases=[case(normal((3, 4))), case(normal((2, 3, 4))),
                                                               case(transposed((3, 4)))]),
]
