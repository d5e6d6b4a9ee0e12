"""Shape and regularisation layers that go with convolutions: Flatten,
Unflatten and Dropout2d (whole channels dropped)."""

import numpy as np

from .. import creation
from ..ops.loss import Dropout
from ..tensor import Tensor
from .module import Module


class Flatten(Module):
    """Flatten dims start_dim..end_dim into one: (N, C, H, W) -> (N, C * H * W) by default."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``: Unflatten(1, (C, H, W)) undoes Flatten."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        dim = self.dim % x.ndim if x.ndim else 0
        return x.reshape(*x.shape[:dim], *self.unflattened_size, *x.shape[dim + 1 :])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


def dropout2d(input, p=0.5, training=True):
    """Zero whole channels of (N, C, H, W) or (C, H, W) input with probability p,
    scaling the rest by 1/(1-p); identity when not training. The mask comes
    from quasar's generator (``qs.manual_seed`` makes it repeatable)."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"dropout2d: probability p must be a number in [0, 1], got {p!r}")
    if not isinstance(input, Tensor) or input.ndim not in (3, 4) or input.dtype.kind != "f":
        got = f"{input.dtype} tensor of shape {input.shape}" if isinstance(input, Tensor) else type(input).__name__
        raise ValueError(f"dropout2d: expected a float (N, C, H, W) or (C, H, W) tensor, got {got}")
    if not training or p == 0:
        return input
    channels = input.shape[:-2]  # one draw per channel, broadcast over the image
    keep = creation.generator().random(channels) >= p
    scale = 0.0 if p == 1 else 1 / (1 - p)
    mask = np.where(keep, scale, 0.0).astype(input.dtype).reshape(*channels, 1, 1)
    return Dropout.apply(input, mask=np.ascontiguousarray(np.broadcast_to(mask, input.shape)))


class Dropout2d(Module):
    """Zero whole channels with probability p while training; see ``dropout2d``."""

    def __init__(self, p=0.5):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise ValueError(f"Dropout2d: probability p must be in [0, 1], got {p!r}")
        self.p = p

    def forward(self, x):
        return dropout2d(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class Upsample(Module):
    """Resize by ``size`` or ``scale_factor``; see ``F.interpolate``."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, x):
        from .functional import interpolate

        return interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                           self.recompute_scale_factor)

    def extra_repr(self):
        given = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{given}, mode={self.mode!r}"


class PixelShuffle(Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x):
        from .functional import pixel_shuffle

        return pixel_shuffle(x, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class _Pad2d(Module):
    mode = "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = (padding,) * 4 if isinstance(padding, int) else tuple(padding)
        if len(self.padding) != 4:
            raise ValueError(f"{type(self).__name__}: padding must be an int or (left, right, top, bottom), "
                             f"got {padding!r}")

    def forward(self, x):
        from .functional import pad

        return pad(x, self.padding, self.mode)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad2d(_Pad2d):
    """Pad the last two dims with zeros: padding (left, right, top, bottom) or one int."""


class ReflectionPad2d(_Pad2d):
    """Pad the last two dims with their mirror image (the edge not repeated)."""

    mode = "reflect"


class ReplicationPad2d(_Pad2d):
    """Pad the last two dims by repeating the edge."""

    mode = "replicate"
