"""PyTorch's arithmetic beyond the core ops: ``add``/``sub`` with ``alpha``,
``div`` with ``rounding_mode``, ``floor_divide`` (``//``), ``remainder``
(``%``), and the bitwise and shift ops (``& | ^ ~ << >>``).

Signs follow PyTorch (and Python): ``//`` rounds toward minus infinity and
``%`` takes the divisor's sign. ``remainder`` is differentiable (d/da = 1,
d/db = -floor(a / b)); ``floor_divide`` and the rounding ``div`` have no
gradient (their result is piecewise constant). Integer division by zero
raises ``IntegerDivisionByZero``, where NumPy would return 0.
"""

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from .common import FLOATS, backend, reduce_to_shape, tensor_pair
from .elementwise import _add, _div, _sub, integer_binary, mul


def _scaled(op, other, alpha, like):
    """alpha * other, with PyTorch's check that alpha fits the operands' category."""
    if alpha == 1:
        return other
    if isinstance(alpha, bool) or isinstance(alpha, Tensor):
        raise TypeError(f"{op}: alpha must be a Python number, got {type(alpha).__name__}")
    floats = any(isinstance(v, Tensor) and v.dtype in FLOATS or isinstance(v, float) for v in (other, like))
    if isinstance(alpha, float) and not floats:
        raise TypeError(f"{op}: for integral input tensors, argument alpha must not be a floating point number")
    return other * alpha if not isinstance(other, Tensor) else mul(other, alpha)


def add(input, other, *, alpha=1):
    """input + alpha * other (broadcasting, PyTorch's promotion)."""
    return _add(input, _scaled("add", other, alpha, input))


def sub(input, other, *, alpha=1):
    """input - alpha * other."""
    return _sub(input, _scaled("sub", other, alpha, input))


def div(input, other, *, rounding_mode=None):
    """input / other. rounding_mode None: true division (ints give the default
    float); 'trunc': rounded toward zero; 'floor': toward minus infinity. The
    rounded results keep integer dtypes and carry no gradient."""
    if rounding_mode is None:
        return _div(input, other)
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode != "trunc":
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
    return _rounded("trunc_divide", input, other)


def true_divide(input, other):
    """input / other, always true division (the same as div without rounding_mode)."""
    return _div(input, other)


def _rounded(kernel, a, b):
    a, b = tensor_pair(kernel, a, b)
    if a.array.dtype in FLOATS:
        return Tensor._wrap(getattr(backend(), kernel)(a.array, b.array))
    return integer_binary(kernel, kernel, a, b)


def floor_divide(input, other):
    """input // other, rounded toward minus infinity (PyTorch >= 1.13 and Python
    semantics). No gradient."""
    return _rounded("floor_divide", input, other)


class Remainder(Function):
    """a - b * floor(a / b): the sign of b."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return backend().remainder(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        B = backend()
        ga = reduce_to_shape(grad, a.shape) if ctx.needs_input_grad[0] else None
        gb = None
        if ctx.needs_input_grad[1]:  # d/db (a - b * floor(a/b)) = -floor(a/b) away from the jumps
            gb = reduce_to_shape(B.neg(B.mul(grad, B.floor_divide(a, b))), b.shape)
        return ga, gb


def remainder(input, other):
    """input % other with the sign of other (Python's and PyTorch's ``%``);
    differentiable in both operands on floats."""
    a, b = tensor_pair("remainder", input, other)
    if a.array.dtype in FLOATS:
        return Remainder.apply(a, b)
    return integer_binary("remainder", "remainder", a, b)


# ---------------------------------------------------------------- bitwise (integers and bools)


def _bitwise(op, kernel, bools=True):
    def apply(input, other):
        a, b = tensor_pair(op, input, other)
        dtype = a.array.dtype
        if dtype in FLOATS or (dtype == np.bool_ and not bools):
            raise TypeError(
                f"{op}: not implemented for dtype {dtype} (shapes {a.shape} and {b.shape}); "
                f"it needs integer{' or bool' if bools else ''} tensors"
            )
        if not bools and (b.array < 0).any():  # C leaves negative shifts undefined
            raise ValueError(f"{op}: shift counts must be non-negative (shapes {a.shape} and {b.shape})")
        return integer_binary(op, kernel, a, b)

    apply.__name__ = op
    apply.__doc__ = f"Elementwise {op} of integer{' or bool' if bools else ''} tensors (broadcasting)."
    return apply


bitwise_and = _bitwise("bitwise_and", "bitwise_and")
bitwise_or = _bitwise("bitwise_or", "bitwise_or")
bitwise_xor = _bitwise("bitwise_xor", "bitwise_xor")
bitwise_left_shift = _bitwise("bitwise_left_shift", "left_shift", bools=False)
bitwise_right_shift = _bitwise("bitwise_right_shift", "right_shift", bools=False)


def bitwise_not(input):
    """~input: bitwise not of an integer tensor, logical not of a bool tensor."""
    if not isinstance(input, Tensor):
        raise TypeError(f"bitwise_not: expected a Tensor, got {type(input).__name__}")
    if input.array.dtype in FLOATS:
        raise TypeError(f"bitwise_not: not implemented for dtype {input.dtype}; it needs integer or bool tensors")
    return Tensor._wrap(backend().bitwise_not(input.array))


def _reflected(fn):
    def swapped(self, other):
        return fn(other, self)

    swapped.__name__ = "r" + fn.__name__
    return swapped


rfloor_divide = _reflected(floor_divide)
rremainder = _reflected(remainder)
rbitwise_and = _reflected(bitwise_and)
rbitwise_or = _reflected(bitwise_or)
rbitwise_xor = _reflected(bitwise_xor)
rbitwise_left_shift = _reflected(bitwise_left_shift)
rbitwise_right_shift = _reflected(bitwise_right_shift)
