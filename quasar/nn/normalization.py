"""Batch normalization layers: BatchNorm1d and BatchNorm2d, with PyTorch's
parameters (weight, bias) and buffers (running_mean, running_var,
num_batches_tracked), so a PyTorch state dict loads as it is."""

import numpy as np

from ..tensor import Tensor
from . import functional as F
from .layers import _float_dtype
from .module import Module, Parameter


class _BatchNorm(Module):
    expected_dims: tuple[int, ...] = (2, 3, 4)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, dtype=None):
        super().__init__()
        name = type(self).__name__
        if isinstance(num_features, bool) or not isinstance(num_features, (int, np.integer)) or num_features < 1:
            raise ValueError(f"{name}: num_features must be a positive int, got {num_features!r}")
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum!r}")
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dtype = _float_dtype(dtype)
        self.weight = Parameter(np.ones(num_features, dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor._wrap(np.zeros(num_features, dtype)))
            self.register_buffer("running_var", Tensor._wrap(np.ones(num_features, dtype)))
            self.register_buffer("num_batches_tracked", Tensor._wrap(np.array(0, np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def forward(self, x):
        if not isinstance(x, Tensor) or x.ndim not in self.expected_dims:
            shape = x.shape if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"{type(self).__name__}: expected a {' or '.join(map(str, self.expected_dims))}-D "
                             f"input, got {shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: input shape {x.shape} has {x.shape[1]} channels, "
                             f"expected num_features={self.num_features}")
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array[...] += 1
            if self.momentum is None:  # a cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked.array)
        # statistics of the batch while training, or always without running statistics
        use_batch = self.training or not self.track_running_stats
        keep = self.training and self.track_running_stats  # update the running statistics only then
        return F.batch_norm(x, self.running_mean if keep or not use_batch else None,
                            self.running_var if keep or not use_batch else None,
                            self.weight, self.bias, use_batch, momentum, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Over (N, C) or (N, C, L) input: each of the C features normalised over the batch (and L)."""

    expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Over (N, C, H, W) input: each channel normalised over the batch and the image."""

    expected_dims = (4,)


class GroupNorm(Module):
    """Normalise each sample's channels in num_groups groups; weight (starts at 1) and
    bias (at 0) per channel; see ``F.group_norm``."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, dtype=None):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_groups ({num_groups}) must divide num_channels ({num_channels})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        dtype = _float_dtype(dtype)
        self.weight = Parameter(np.ones(num_channels, dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_channels, dtype)) if affine else None

    def forward(self, x):
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class _InstanceNorm(_BatchNorm):
    """PyTorch's defaults differ from batch norm's: affine=False, track_running_stats=False."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype)

    def forward(self, x):
        if not isinstance(x, Tensor) or x.ndim not in self.expected_dims:
            shape = x.shape if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"{type(self).__name__}: expected a {' or '.join(map(str, self.expected_dims))}-D "
                             f"input, got {shape}")
        unbatched = x.ndim == self.expected_dims[0]
        if unbatched:
            x = x.unsqueeze(0)
        if x.shape[1] != self.num_features and self.affine:
            raise ValueError(f"{type(self).__name__}: input shape {x.shape} has {x.shape[1]} channels, "
                             f"expected num_features={self.num_features}")
        use_input_stats = self.training or not self.track_running_stats
        out = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_input_stats,
                              self.momentum if self.momentum is not None else 0.1, self.eps)
        return out.squeeze(0) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Over (N, C, L) or (C, L): each channel of each sample normalised over L."""

    expected_dims = (2, 3)


class InstanceNorm2d(_InstanceNorm):
    """Over (N, C, H, W) or (C, H, W): each channel of each sample normalised over its image."""

    expected_dims = (3, 4)
