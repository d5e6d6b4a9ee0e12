"""``quasar.nn.init``: PyTorch's parameter initialisers, same names and numbers.

Each function fills a tensor in place (outside autograd, as PyTorch's run
under ``no_grad``), bumps its version counter and returns it::

    layer = qs.nn.Linear(128, 64)
    qs.nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    qs.nn.init.zeros_(layer.bias)

Draws come from quasar's generator, so ``qs.manual_seed`` makes them
repeatable. Fan-in and fan-out follow PyTorch: for a weight of shape
``(out, in, *kernel)``, fan_in = in * prod(kernel), fan_out = out * prod(kernel).
"""

import math

import numpy as np

from .. import random as _random
from ..tensor import Tensor


def _fill(tensor, values, op):
    """Write ``values`` into ``tensor``'s memory in place and bump its version."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"nn.init.{op}: expected a Tensor, got {type(tensor).__name__}")
    if tensor.array.dtype.kind != "f":
        raise TypeError(f"nn.init.{op}: expected a float tensor, got dtype {tensor.array.dtype}")
    tensor.array[...] = values
    tensor._version[0] += 1
    return tensor


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (PyTorch's table)."""
    linear_like = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                   "conv_transpose3d", "sigmoid")
    if nonlinearity in linear_like:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight shaped (out, in, *kernel); needs >= 2 dims."""
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError(
            f"nn.init: fan in and fan out can not be computed for a tensor with fewer than 2 "
            f"dimensions (shape {tuple(shape)})"
        )
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _fan(tensor, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"nn.init: mode {mode!r} is not supported, use 'fan_in' or 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with U(a, b)."""
    rng = _random.numpy_generator("uniform_", generator)
    return _fill(tensor, rng.uniform(a, b, tensor.shape), "uniform_")


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with N(mean, std^2)."""
    rng = _random.numpy_generator("normal_", generator)
    return _fill(tensor, rng.normal(mean, std, tensor.shape), "normal_")


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with N(mean, std^2) restricted to [a, b] (redrawing values outside it)."""
    if not a < b:
        raise ValueError(f"trunc_normal_: need a < b, got a={a}, b={b}")
    rng = _random.numpy_generator("trunc_normal_", generator)
    values = rng.normal(mean, std, tensor.shape)
    outside = (values < a) | (values > b)
    while outside.any():  # rejection sampling: exact, and quick unless [a, b] is far in a tail
        values[outside] = rng.normal(mean, std, int(outside.sum()))
        outside = (values < a) | (values > b)
    return _fill(tensor, values, "trunc_normal_")


def constant_(tensor, val):
    """Fill with ``val``."""
    return _fill(tensor, val, "constant_")


def ones_(tensor):
    return _fill(tensor, 1.0, "ones_")


def zeros_(tensor):
    return _fill(tensor, 0.0, "zeros_")


def eye_(tensor):
    """The identity matrix (2-D tensors only)."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape {tuple(tensor.shape)}")
    return _fill(tensor, np.eye(*tensor.shape), "eye_")


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He: U(-bound, bound), bound = gain * sqrt(3 / fan). PyTorch's Linear and Conv use
    a=sqrt(5), which gives bound = 1/sqrt(fan_in)."""
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor  # an empty weight: nothing to draw (PyTorch warns and returns)
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He: N(0, std^2), std = gain / sqrt(fan)."""
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), generator)


def orthogonal_(tensor, gain=1.0, generator=None):
    """A (semi-)orthogonal matrix from the QR decomposition of a normal one, as PyTorch:
    the tensor is viewed as (shape[0], prod(shape[1:]))."""
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, "
                         f"got shape {tuple(tensor.shape)}")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    rng = _random.numpy_generator("orthogonal_", generator)
    flat = rng.standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # make the decomposition unique (uniform over orthogonal matrices)
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape), "orthogonal_")
