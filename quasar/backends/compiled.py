"""The compiled backend: the functions of ``reference.py``, on Cython kernels.

Same names, signatures, semantics and return conventions as the reference
(see its docstring). Each wrapper is one kernel call: the kernels check
their inputs, broadcast, allocate the output and pick the thread count
themselves. All arithmetic, comparisons, reductions, softmaxes and
optimizer updates happen in the kernels (``quasar/_*.pxi``, in ``quasar._kernels``); ``matmul`` is
NumPy's BLAS on purpose.

The wrappers run on every op, also on 16-element tensors, where the Python
around a kernel is most of its cost; a 16-element add costs what ``np.add``
does (~0.2 us). So each wrapper calls its kernel directly, with every
argument spelled out (a shared helper would be one more Python call per
op), op codes are module constants, and the thread policy is passed, not
computed (see quasar/_kernels.pxd):

    threshold    this thread's parallel threshold: one attribute read of
                 ``quasar.parallel``'s per-thread settings
    threads_for  ``quasar.parallel.threads_for``, which the kernel calls only
                 when its work reaches the threshold
"""

import math

import numpy as np

# isort: off
# parallel first: it configures OpenMP before the kernel module loads it.
# _settings is the calling thread's settings (a threading.local); its
# .threshold is what threads_for compares with.
from ..parallel import _settings
from ..parallel import threads_for as _threads_for
from .. import _kernels as _k  # the _elementwise, _reduce, _rowwise and _optim families
# isort: on

name = "compiled"

_binary = _k.binary
_unary = _k.unary
_compare_kernel = _k.compare
_where_kernel = _k.where
_reduce_kernel = _k.reduce
_copy_kernel = _k.copy
_NAN = math.nan


# Op codes as plain ints: an enum attribute lookup would cost ~40 ns per call.
def _codes(enum, names):
    return [int(enum[name]) for name in names.split()]


(_ADD, _SUB, _MUL, _DIV, _POW, _MAXIMUM, _MINIMUM, _RELU_BACKWARD, _ABS_BACKWARD,
 _TANH_BACKWARD, _SIGMOID_BACKWARD, _CLAMP_BACKWARD, _POW_SCALAR_BACKWARD,
 _SQUARE_BACKWARD) = _codes(
    _k.BinaryOp, "ADD SUB MUL DIV POW MAXIMUM MINIMUM RELU_BACKWARD ABS_BACKWARD "
    "TANH_BACKWARD SIGMOID_BACKWARD CLAMP_BACKWARD POW_SCALAR_BACKWARD SQUARE_BACKWARD")
(_NEG, _EXP, _LOG, _SQRT, _ABS, _TANH, _SIGMOID, _RELU, _SIN, _COS, _CLAMP, _POW_SCALAR,
 _SQUARE) = _codes(
    _k.UnaryOp, "NEG EXP LOG SQRT ABS TANH SIGMOID RELU SIN COS CLAMP POW_SCALAR SQUARE")
_LT, _LE, _GT, _GE, _EQ, _NE = _codes(_k.CompareOp, "LT LE GT GE EQ NE")
_SUM, _MAX, _MIN = _codes(_k.ReduceOp, "SUM MAX MIN")
_SOFTMAX, _LOG_SOFTMAX, _SOFTMAX_BACKWARD, _LOG_SOFTMAX_BACKWARD = _codes(
    _k.RowOp, "SOFTMAX LOG_SOFTMAX SOFTMAX_BACKWARD LOG_SOFTMAX_BACKWARD")

# How much work one element is, for threads_for, in elements of an add.
# Measured with benchmarks/crossover.py (the add crossover divided by the
# op's): with glibc's vector libm, exp, log, tanh, ... cost about what an
# add costs at the sizes where a second thread pays (both are bound by
# memory and by the page faults of the fresh output), so they count 1; pow
# stays several times dearer; a reduction writes nothing and counts 1/4.
_POW_WEIGHT = 4  # the work_per_element of pow, pow_scalar and its backward
_REDUCTION_DIVISOR = 4  # the work_divisor of the reductions

# ---------------------------------------------------------------- binary
#   _binary(op, a, b, p0, p1, work_per_element, threshold, threads_for)
#   _unary(op, x, p0, p1, work_per_element, threshold, threads_for)
# (IN/OUT: see binary and unary in _elementwise.pxi)


def add(a, b):
    return _binary(_ADD, a, b, 0.0, 0.0, 1, _settings.threshold, _threads_for)


def sub(a, b):
    return _binary(_SUB, a, b, 0.0, 0.0, 1, _settings.threshold, _threads_for)


def mul(a, b):
    return _binary(_MUL, a, b, 0.0, 0.0, 1, _settings.threshold, _threads_for)


def div(a, b):
    return _binary(_DIV, a, b, 0.0, 0.0, 1, _settings.threshold, _threads_for)


def pow(a, b):
    """a ** b elementwise (NaN for a negative base with a fractional power)."""
    return _binary(_POW, a, b, 0.0, 0.0, _POW_WEIGHT, _settings.threshold, _threads_for)


def maximum(a, b):
    return _binary(_MAXIMUM, a, b, 0.0, 0.0, 1, _settings.threshold, _threads_for)


def minimum(a, b):
    return _binary(_MINIMUM, a, b, 0.0, 0.0, 1, _settings.threshold, _threads_for)


# ---------------------------------------------------------------- compare
# The kernel reads float32/64, int64/32, uint8 and bool operands of one
# dtype and raises TypeError for anything else; then (rarely) both operands
# are widened to a dtype it reads and the call is repeated.

_COMPARE_DTYPES = frozenset(np.dtype(t) for t in (np.float32, np.float64, np.int64, np.int32, np.uint8, np.bool_))


def _compare_common(a, b):
    """a and b in one dtype the comparison kernel reads (int8/int16/uint16/
    uint32/float16 and mixed dtypes widen losslessly; uint64 cannot)."""
    common = np.result_type(a, b)
    if common not in _COMPARE_DTYPES:
        if common.kind == "u" and common.itemsize == 8:
            raise TypeError("compare: uint64 is not supported by the compiled kernels")
        common = np.dtype(np.float64) if common.kind == "f" else np.dtype(np.int64)
    return a.astype(common, copy=False), b.astype(common, copy=False)


def _compare(op, a, b):
    try:
        return _compare_kernel(op, a, b, _settings.threshold, _threads_for)
    except TypeError:
        a, b = _compare_common(a, b)
        return _compare_kernel(op, a, b, _settings.threshold, _threads_for)


def lt(a, b):
    return _compare(_LT, a, b)


def le(a, b):
    return _compare(_LE, a, b)


def gt(a, b):
    return _compare(_GT, a, b)


def ge(a, b):
    return _compare(_GE, a, b)


def eq(a, b):
    return _compare(_EQ, a, b)


def ne(a, b):
    return _compare(_NE, a, b)


def where(cond, a, b):
    """cond: bool array; a, b: same float dtype; all three broadcast together."""
    return _where_kernel(cond, a, b, _settings.threshold, _threads_for)


def copy(x):
    """An owned C-contiguous copy of x (any dtype), as ``x.copy()``; a large
    one's memory comes from the buffer cache (quasar.buffers), so it takes no
    page faults, and a large contiguous one is copied on several threads."""
    return _copy_kernel(x, _settings.threshold, _threads_for)


# ---------------------------------------------------------------- unary


def neg(x):
    return _unary(_NEG, x, 0.0, 0.0, 1, _settings.threshold, _threads_for)


def exp(x):
    return _unary(_EXP, x, 0.0, 0.0, 1, _settings.threshold, _threads_for)


def log(x):
    return _unary(_LOG, x, 0.0, 0.0, 1, _settings.threshold, _threads_for)


def sqrt(x):
    return _unary(_SQRT, x, 0.0, 0.0, 1, _settings.threshold, _threads_for)


def abs(x):
    return _unary(_ABS, x, 0.0, 0.0, 1, _settings.threshold, _threads_for)


def tanh(x):
    return _unary(_TANH, x, 0.0, 0.0, 1, _settings.threshold, _threads_for)


def sigmoid(x):
    """1 / (1 + exp(-x)), computed without overflow for large |x|."""
    return _unary(_SIGMOID, x, 0.0, 0.0, 1, _settings.threshold, _threads_for)


def relu(x):
    """max(x, 0); NaN stays NaN."""
    return _unary(_RELU, x, 0.0, 0.0, 1, _settings.threshold, _threads_for)


def sin(x):
    return _unary(_SIN, x, 0.0, 0.0, 1, _settings.threshold, _threads_for)


def cos(x):
    return _unary(_COS, x, 0.0, 0.0, 1, _settings.threshold, _threads_for)


def clamp(x, lo, hi):
    """Clip x to [lo, hi]; lo or hi may be None (no bound). NaN stays NaN."""
    # The kernel reads a NaN bound as "no bound".
    lo, hi = _NAN if lo is None else lo, _NAN if hi is None else hi
    return _unary(_CLAMP, x, lo, hi, 1, _settings.threshold, _threads_for)


def pow_scalar(x, p):
    """x ** p for a Python float p."""
    if p == 2:  # x * x: bit-identical to pow(x, 2) and vectorizable
        return _unary(_SQUARE, x, 0.0, 0.0, 1, _settings.threshold, _threads_for)
    if p == 0.5:  # sqrt, as PyTorch computes x ** 0.5: (-inf) ** 0.5 is NaN there, +inf in C's pow
        return sqrt(x)
    return _unary(_POW_SCALAR, x, p, 0.0, _POW_WEIGHT, _settings.threshold, _threads_for)


# ---------------------------------------------------------------- backward helpers


def relu_backward(x, g):
    """0 where x <= 0, else g (a NaN x passes g)."""
    return _binary(_RELU_BACKWARD, x, g, 0.0, 0.0, 1, _settings.threshold, _threads_for)


def abs_backward(x, g):
    """g * sign(x); 0 at x == 0."""
    return _binary(_ABS_BACKWARD, x, g, 0.0, 0.0, 1, _settings.threshold, _threads_for)


def tanh_backward(y, g):
    """g * (1 - y**2), y = tanh(x)."""
    return _binary(_TANH_BACKWARD, y, g, 0.0, 0.0, 1, _settings.threshold, _threads_for)


def sigmoid_backward(y, g):
    """g * y * (1 - y), y = sigmoid(x)."""
    return _binary(_SIGMOID_BACKWARD, y, g, 0.0, 0.0, 1, _settings.threshold, _threads_for)


def clamp_backward(x, g, lo, hi):
    """g where lo <= x <= hi, else 0 (lo/hi None means unbounded)."""
    lo, hi = _NAN if lo is None else lo, _NAN if hi is None else hi
    return _binary(_CLAMP_BACKWARD, x, g, lo, hi, 1, _settings.threshold, _threads_for)


def pow_scalar_backward(x, g, p):
    """g * p * x**(p-1)."""
    if p == 2:  # x ** 1 == x exactly
        return _binary(_SQUARE_BACKWARD, x, g, 2.0, 0.0, 1, _settings.threshold, _threads_for)
    return _binary(_POW_SCALAR_BACKWARD, x, g, p, p - 1, _POW_WEIGHT, _settings.threshold,
                   _threads_for)


# ---------------------------------------------------------------- reductions
# One kernel call does the whole reduction, axes to result (_k.reduce).


def sum(x, axes, keepdims=False):
    return _reduce_kernel(_SUM, x, axes, keepdims, _REDUCTION_DIVISOR, _settings.threshold,
                          _threads_for)


def max(x, axes, keepdims=False):
    """Largest value over axes. The op layer rejects empty reductions."""
    return _reduce_kernel(_MAX, x, axes, keepdims, _REDUCTION_DIVISOR, _settings.threshold,
                          _threads_for)


def min(x, axes, keepdims=False):
    return _reduce_kernel(_MIN, x, axes, keepdims, _REDUCTION_DIVISOR, _settings.threshold,
                          _threads_for)


# ---------------------------------------------------------------- linear algebra


def matmul(a, b):
    """NumPy matmul semantics (1-D, 2-D, batched with broadcast batch dims),
    on NumPy's BLAS. 1-D @ 1-D gives a 0-d array (np.matmul returns a scalar)."""
    out = np.matmul(a, b)
    return out if type(out) is np.ndarray else np.asarray(out)


# ---------------------------------------------------------------- softmax family
# The row kernels work along the last axis. Another axis is swapped there
# first (a view; the kernel copies it to C order) and the result's swapped
# back (a view of the new array): the rows are the same numbers either way.


def _softmax_forward(op, x, axis):
    last = x.ndim - 1
    if axis == last:
        return _k.softmax(op, x, _settings.threshold, _threads_for)
    out = _k.softmax(op, x.swapaxes(axis, last), _settings.threshold, _threads_for)
    return out.swapaxes(axis, last)


def _softmax_backward(op, y, g, axis):
    last = y.ndim - 1
    if axis == last:
        return _k.softmax_backward(op, y, g, _settings.threshold, _threads_for)
    out = _k.softmax_backward(op, y.swapaxes(axis, last), g.swapaxes(axis, last),
                                    _settings.threshold, _threads_for)
    return out.swapaxes(axis, last)


def softmax(x, axis):
    return _softmax_forward(_SOFTMAX, x, axis)


def log_softmax(x, axis):
    return _softmax_forward(_LOG_SOFTMAX, x, axis)


def softmax_backward(y, g, axis):
    """dL/dx for y = softmax(x): y * (g - sum(g * y))."""
    return _softmax_backward(_SOFTMAX_BACKWARD, y, g, axis)


def log_softmax_backward(y, g, axis):
    """dL/dx for y = log_softmax(x): g - exp(y) * sum(g)."""
    return _softmax_backward(_LOG_SOFTMAX_BACKWARD, y, g, axis)


def cross_entropy(logits, target):
    """Per-row negative log-likelihood of integer targets.

    logits: (N, C) float; target: (N,) int with 0 <= target < C (IndexError
    otherwise). Returns (loss, lse), both (N,); see reference.cross_entropy.
    """
    return _k.cross_entropy(logits, target, _settings.threshold, _threads_for)


def cross_entropy_backward(logits, target, lse, g):
    """dL/dlogits = g[:, None] * (softmax(logits) - one_hot(target)); (N, C)."""
    return _k.cross_entropy_backward(logits, target, lse, g, _settings.threshold,
                                           _threads_for)


# ---------------------------------------------------------------- optimizers
# In place, whatever param's layout: the kernels update a non-contiguous
# parameter (or state) through a contiguous copy and write it back.


def sgd_step(param, grad, buf, lr, momentum, dampening, weight_decay, nesterov, first):
    """PyTorch's SGD for one parameter, in place on param (and buf). buf is
    the momentum buffer (or None when momentum == 0); first says whether buf
    is still uninitialised."""
    _k.sgd_step(param, grad, buf, lr, momentum, dampening, weight_decay, nesterov, first,
                    _settings.threshold, _threads_for)


def adam_step(param, grad, m, v, step, lr, beta1, beta2, eps, weight_decay, decoupled):
    """PyTorch's Adam (decoupled=False) / AdamW (decoupled=True); step >= 1."""
    _k.adam_step(param, grad, m, v, lr, beta1, beta2, eps, weight_decay, decoupled,
                     1 - beta1**step, 1 - beta2**step, _settings.threshold, _threads_for)


def rmsprop_step(param, grad, square_avg, grad_avg, buf, lr, alpha, eps, weight_decay, momentum):
    """PyTorch's RMSprop for one parameter, in place on param and its state.
    grad_avg is None unless centered; buf is None unless momentum > 0."""
    _k.rmsprop_step(param, grad, square_avg, grad_avg, buf, lr, alpha, eps, weight_decay, momentum,
                        _settings.threshold, _threads_for)


def adagrad_step(param, grad, total, clr, eps, weight_decay):
    """PyTorch's Adagrad for one parameter, in place on param and total (the
    running sum of squared gradients); clr is this step's decayed lr."""
    _k.adagrad_step(param, grad, total, clr, eps, weight_decay, _settings.threshold, _threads_for)
