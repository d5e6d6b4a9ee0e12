"""``quasar.nn.functional``: the layers and losses as plain functions (PyTorch's ``F``).

The differentiable ops live in ``quasar.ops.loss`` (forward and backward side
by side); the rest here is composed of ops that already have gradients.
"""

from ..tensor import Tensor
from ..ops import matmul, relu, sigmoid, sqrt, tanh  # noqa: F401  (re-exported: F.relu, ...)
from ..ops.linalg import linear  # noqa: F401
from ..ops.loss import (  # noqa: F401
    binary_cross_entropy_with_logits, cross_entropy, dropout, gelu, log_softmax, mse_loss, nll_loss,
    softmax,
)
from ..ops.attention import scaled_dot_product_attention  # noqa: F401
from ..ops.index import embedding, one_hot  # noqa: F401
from ..ops.mathops import elu, leaky_relu, softplus  # noqa: F401


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last len(normalized_shape) dims to mean 0, variance 1,
    then scale by weight and shift by bias (both of normalized_shape).

    Composed of differentiable ops; the variance is the biased one (divide by n), as in PyTorch.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"layer_norm: argument 'input' must be a Tensor, not {type(input).__name__}")
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    count = len(normalized_shape)
    if count == 0 or tuple(input.shape[input.ndim - count :]) != normalized_shape or input.ndim < count:
        raise ValueError(
            f"layer_norm: input of shape {input.shape} does not end in normalized_shape {normalized_shape}"
        )
    dims = tuple(range(input.ndim - count, input.ndim))
    centered = input - input.mean(dim=dims, keepdim=True)
    variance = (centered * centered).mean(dim=dims, keepdim=True)
    out = centered / sqrt(variance + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


from ..ops.conv import (  # noqa: E402,F401
    avg_pool1d, avg_pool2d, batch_norm, conv1d, conv2d, conv_transpose1d, conv_transpose2d, fold, group_norm,
    instance_norm, max_pool1d, max_pool2d, normalize, unfold,
)
from ..ops.resample import (  # noqa: E402,F401
    adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool2d, interpolate, max_unpool2d, pad, pixel_shuffle,
)
from .spatial import dropout2d  # noqa: E402,F401
