"""quasar's exception classes.

PyTorch raises ``RuntimeError`` where NumPy raises ``ValueError`` (shapes
that do not broadcast, a bad reshape, matmul's inner sizes, cat, permute).
quasar's errors derive from both, so ``except RuntimeError`` (PyTorch
habits) and ``except ValueError`` (NumPy habits) both catch them.
"""


class ShapeError(ValueError, RuntimeError):
    """Shapes that don't fit the op: broadcasting, reshape, matmul, cat, permute, ..."""


class ConversionError(OverflowError, RuntimeError):
    """A value that has no equivalent in the target dtype: nan, inf or an
    out-of-range number cast to an integer type (PyTorch raises RuntimeError)."""


class IntegerDivisionByZero(ZeroDivisionError, RuntimeError):
    """Integer floor division or remainder by zero (PyTorch: RuntimeError "ZeroDivisionError")."""


class CastError(TypeError, RuntimeError):
    """An in-place op whose result dtype can't be stored in the tensor's dtype
    (``int_tensor += 0.5``); PyTorch raises RuntimeError, NumPy habits expect TypeError."""
