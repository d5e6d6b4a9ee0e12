"""dtypes: which ones quasar holds, the default float dtype, PyTorch's type
promotion, and checked conversions to integer types.

quasar computes in float32 and float64; integer tensors (int8, int16, int32,
int64, uint8) and bool tensors hold indices, labels, masks and images, and
integer arithmetic stays integer as in PyTorch.
"""

import numpy as np

from .errors import ConversionError

FLOAT32 = np.dtype(np.float32)
FLOAT64 = np.dtype(np.float64)
INT64 = np.dtype(np.int64)
BOOL = np.dtype(np.bool_)
FLOATS = (FLOAT32, FLOAT64)
SUPPORTED = frozenset(
    np.dtype(t) for t in (np.float32, np.float64, np.int64, np.int32, np.int16, np.int8, np.uint8, np.bool_)
)
SUPPORTED_NAMES = "float32, float64, int64, int32, int16, int8, uint8 or bool"

_default_float = [FLOAT32]  # a process-wide setting, as in PyTorch


def get_default_dtype():
    """The dtype of Python floats and of float factories (float32 unless changed)."""
    return _default_float[0]


def set_default_dtype(dtype):
    """Make float32 or float64 the dtype of Python floats and float factories."""
    dtype = np.dtype(dtype)
    if dtype not in FLOATS:
        raise TypeError(f"set_default_dtype: only float32 or float64 can be the default, got {dtype}")
    _default_float[0] = dtype


# PyTorch's categories: a 0-d tensor or a Python number widens an operand only
# when it is of a higher category (bool < integer < float).
CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def promote_types(a, b):
    """The dtype both of two dtypes convert to: the higher category wins; within a
    category the wider type (uint8 with int8 -> int16, float32 with float64 -> float64)."""
    if a is b:
        return a
    a, b = np.dtype(a), np.dtype(b)  # also accepts NumPy scalar types (np.int8)
    ca, cb = CATEGORY[a.kind], CATEGORY[b.kind]
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)


def scalar_dtype(value):
    """The dtype a Python number takes in an operation: bool, int64 or the default float."""
    if isinstance(value, (bool, np.bool_)):
        return BOOL
    if isinstance(value, (int, np.integer)):
        return INT64
    return _default_float[0]


def result_type(op, *operands):
    """PyTorch's result dtype for Tensors and Python numbers used together.

    Three tiers: tensors with dimensions, 0-d tensors, Python numbers. A later
    tier changes the result only when it is of a higher category, so
    ``float32[3] + float64 0-d -> float32``, ``int32[3] + 5 -> int32``,
    ``int64[3] + 2.5 -> the default float``, ``int32[3] + int64[3] -> int64``.
    """
    tiers = [None, None, None]
    for x in operands:
        array = getattr(x, "array", None)
        if array is not None:
            tier, dtype = (0 if array.ndim else 1), array.dtype
        elif isinstance(x, (int, float, bool, np.number, np.bool_)):
            tier, dtype = 2, scalar_dtype(x)
        else:
            raise TypeError(f"{op}: unsupported operand of type {type(x).__name__}")
        tiers[tier] = dtype if tiers[tier] is None else promote_types(tiers[tier], dtype)
    result = None
    for dtype in tiers:
        if dtype is not None and (result is None or CATEGORY[dtype.kind] > CATEGORY[result.kind]):
            result = dtype
    return result


def can_cast(from_, to):
    """PyTorch's ``can_cast``: False where the cast would go down a category
    (float to integer or bool, integer to bool), which in-place ops refuse."""
    return CATEGORY[np.dtype(from_).kind] <= CATEGORY[np.dtype(to).kind]


def _integer_bounds(dtype):
    """The open interval of floats that truncate into ``dtype``'s range."""
    info = np.iinfo(dtype)
    if info.bits == 64:  # -2**63 and 2**63 are exact floats; min - 1 would round back to min
        return (-(2.0**63) if info.min else -1.0), 2.0**info.bits if not info.min else 2.0**63
    return float(info.min) - 1.0, float(info.max) + 1.0


def checked_cast(array, dtype, op):
    """``array.astype(dtype)``, raising ConversionError where a value has no
    integer equivalent (nan, inf, out of range) instead of wrapping silently."""
    dtype = np.dtype(dtype)
    if dtype.kind in "iu" and array.dtype.kind == "f" and array.size:
        low, high = _integer_bounds(dtype)
        with np.errstate(invalid="ignore"):
            inside = (array > low) & (array < high)
        if low == -(2.0**63):
            inside |= array == low
        if not inside.all():
            bad = array[~inside].flat[0]
            raise ConversionError(
                f"{op}: value {bad} cannot be converted to type {dtype} without overflow"
            )
    return array.astype(dtype)


def check_integer_range(array, dtype, op):
    """Raise ConversionError if integer values don't fit ``dtype`` (Python data
    given with an explicit integer dtype: ``tensor([300], dtype=uint8)``)."""
    info = np.iinfo(dtype)
    if array.size and (array.min() < info.min or array.max() > info.max):
        raise ConversionError(f"{op}: value cannot be converted to type {np.dtype(dtype)} without overflow")
