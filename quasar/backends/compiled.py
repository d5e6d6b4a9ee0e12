"""The compiled backend: the functions of ``reference.py``, on Cython kernels.

Same names, signatures, semantics and return conventions as the reference
(see its docstring). Each wrapper only moves data: it computes the output
shape, allocates the output with ``np.empty``, picks the thread count with
``quasar.parallel.threads_for`` and calls one kernel. All arithmetic,
comparisons, reductions, softmaxes and optimizer updates happen in the
kernels (``quasar/_*.pyx``); ``matmul`` is NumPy's BLAS on purpose.

The wrappers run on every op, also on 16-element tensors, so they avoid
Python work that small arrays would notice: no copies of contiguous inputs,
no ``np.broadcast_to`` (the elementwise kernels broadcast by strides), op
codes bound to module constants.
"""

import math

import numpy as np

# isort: off
# parallel first: it configures OpenMP before the kernel modules load it
from ..parallel import threads_for as _threads_for
from .. import _elementwise as _ew
from .. import _optim
from .. import _reduce
from .. import _rowwise
# isort: on

name = "compiled"

_binary_kernel = _ew.binary
_unary_kernel = _ew.unary
_compare_kernel = _ew.compare
_where_kernel = _ew.where
_broadcast = np.broadcast
_empty = np.empty
_bool = np.dtype(np.bool_)
_NAN = math.nan


# Op codes as plain ints: an enum attribute lookup would cost ~40 ns per call.
def _codes(enum, names):
    return [int(enum[name]) for name in names.split()]


(_ADD, _SUB, _MUL, _DIV, _POW, _MAXIMUM, _MINIMUM, _RELU_BACKWARD, _ABS_BACKWARD,
 _TANH_BACKWARD, _SIGMOID_BACKWARD, _CLAMP_BACKWARD, _POW_SCALAR_BACKWARD,
 _SQUARE_BACKWARD) = _codes(
    _ew.BinaryOp, "ADD SUB MUL DIV POW MAXIMUM MINIMUM RELU_BACKWARD ABS_BACKWARD "
    "TANH_BACKWARD SIGMOID_BACKWARD CLAMP_BACKWARD POW_SCALAR_BACKWARD SQUARE_BACKWARD")
(_NEG, _EXP, _LOG, _SQRT, _ABS, _TANH, _SIGMOID, _RELU, _SIN, _COS, _CLAMP, _POW_SCALAR,
 _SQUARE) = _codes(
    _ew.UnaryOp, "NEG EXP LOG SQRT ABS TANH SIGMOID RELU SIN COS CLAMP POW_SCALAR SQUARE")
_LT, _LE, _GT, _GE, _EQ, _NE = _codes(_ew.CompareOp, "LT LE GT GE EQ NE")
_SUM, _MAX, _MIN = _codes(_reduce.ReduceOp, "SUM MAX MIN")
_SOFTMAX, _LOG_SOFTMAX, _SOFTMAX_BACKWARD, _LOG_SOFTMAX_BACKWARD = _codes(
    _rowwise.RowOp, "SOFTMAX LOG_SOFTMAX SOFTMAX_BACKWARD LOG_SOFTMAX_BACKWARD")

# How much work one element is, for threads_for, in elements of an add.
# Measured with benchmarks/crossover.py (the add crossover divided by the
# op's): with glibc's vector libm, exp, log, tanh, ... cost about what an
# add costs at the sizes where a second thread pays (both are bound by
# memory and by the page faults of the fresh output), so they count 1; pow
# stays several times dearer; a reduction writes nothing and counts 1/4.
_POW_WEIGHT = 4
_BINARY_WEIGHT = {_POW: _POW_WEIGHT, _POW_SCALAR_BACKWARD: _POW_WEIGHT}
_UNARY_WEIGHT = {_POW_SCALAR: _POW_WEIGHT}
_REDUCTION_DIVISOR = 4

# ---------------------------------------------------------------- helpers


def _out_shape(a, b):
    """The broadcast shape of a and b, without NumPy's general machinery in
    the common cases (same shape, one side 0-d)."""
    shape_a, shape_b = a.shape, b.shape
    if shape_a == shape_b or not shape_b:
        return shape_a
    if not shape_a:
        return shape_b
    return _broadcast(a, b).shape


def _binary(op, a, b, p0=0.0, p1=0.0):
    """op(a, b) for same-dtype float arrays whose shapes broadcast."""
    out = _empty(_out_shape(a, b), a.dtype)
    if out.size:
        _binary_kernel(op, a, b, out, p0, p1, _threads_for(out.size * _BINARY_WEIGHT.get(op, 1)))
    return out


def _unary(op, x, p0=0.0, p1=0.0):
    out = _empty(x.shape, x.dtype)
    if out.size:
        _unary_kernel(op, x, out, p0, p1, _threads_for(out.size * _UNARY_WEIGHT.get(op, 1)))
    return out


# dtypes the comparison kernel reads directly; others are widened first
_COMPARE_DTYPES = frozenset(np.dtype(t) for t in (np.float32, np.float64, np.int64, np.int32, np.uint8, np.bool_))


def _compare_operand(x, dtype):
    """x as a dtype the comparison kernel reads (a cast, only for odd dtypes)."""
    return x if x.dtype == dtype else x.astype(dtype)


def _compare(op, a, b):
    if a.dtype != b.dtype or a.dtype not in _COMPARE_DTYPES:
        common = np.result_type(a, b)
        if common not in _COMPARE_DTYPES:  # int8/int16/uint16/uint32/float16 widen losslessly
            common = np.dtype(np.float64) if common.kind == "f" else np.dtype(np.int64)
            if np.result_type(a, b).kind == "u" and np.result_type(a, b).itemsize == 8:
                raise TypeError("compare: uint64 is not supported by the compiled kernels")
        a, b = _compare_operand(a, common), _compare_operand(b, common)
    out = _empty(_out_shape(a, b), _bool)
    if out.size:
        _compare_kernel(op, a, b, out, _threads_for(out.size))
    return out


# ---------------------------------------------------------------- binary


def add(a, b):
    return _binary(_ADD, a, b)


def sub(a, b):
    return _binary(_SUB, a, b)


def mul(a, b):
    return _binary(_MUL, a, b)


def div(a, b):
    return _binary(_DIV, a, b)


def pow(a, b):
    """a ** b elementwise (NaN for a negative base with a fractional power)."""
    return _binary(_POW, a, b)


def maximum(a, b):
    return _binary(_MAXIMUM, a, b)


def minimum(a, b):
    return _binary(_MINIMUM, a, b)


# ---------------------------------------------------------------- compare


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
    if cond.dtype != _bool:
        cond = cond.astype(_bool)
    if cond.shape == a.shape == b.shape:
        shape = a.shape
    else:
        shape = _broadcast(cond, a, b).shape
    out = _empty(shape, a.dtype)
    if out.size:
        _where_kernel(cond, a, b, out, _threads_for(out.size))
    return out


# ---------------------------------------------------------------- unary


def neg(x):
    return _unary(_NEG, x)


def exp(x):
    return _unary(_EXP, x)


def log(x):
    return _unary(_LOG, x)


def sqrt(x):
    return _unary(_SQRT, x)


def abs(x):
    return _unary(_ABS, x)


def tanh(x):
    return _unary(_TANH, x)


def sigmoid(x):
    """1 / (1 + exp(-x)), computed without overflow for large |x|."""
    return _unary(_SIGMOID, x)


def relu(x):
    return _unary(_RELU, x)


def sin(x):
    return _unary(_SIN, x)


def cos(x):
    return _unary(_COS, x)


def clamp(x, lo, hi):
    """Clip x to [lo, hi]; lo or hi may be None (no bound). NaN stays NaN."""
    # The kernel reads a NaN bound as "no bound".
    return _unary(_CLAMP, x, _NAN if lo is None else lo, _NAN if hi is None else hi)


def pow_scalar(x, p):
    """x ** p for a Python float p."""
    if p == 2:  # x * x: bit-identical to pow(x, 2) and vectorizable
        return _unary(_SQUARE, x)
    return _unary(_POW_SCALAR, x, p)


# ---------------------------------------------------------------- backward helpers


def relu_backward(x, g):
    """g where x > 0, else 0."""
    return _binary(_RELU_BACKWARD, x, g)


def abs_backward(x, g):
    """g * sign(x); 0 at x == 0."""
    return _binary(_ABS_BACKWARD, x, g)


def tanh_backward(y, g):
    """g * (1 - y**2), y = tanh(x)."""
    return _binary(_TANH_BACKWARD, y, g)


def sigmoid_backward(y, g):
    """g * y * (1 - y), y = sigmoid(x)."""
    return _binary(_SIGMOID_BACKWARD, y, g)


def clamp_backward(x, g, lo, hi):
    """g where lo <= x <= hi, else 0 (lo/hi None means unbounded)."""
    return _binary(_CLAMP_BACKWARD, x, g, _NAN if lo is None else lo, _NAN if hi is None else hi)


def pow_scalar_backward(x, g, p):
    """g * p * x**(p-1)."""
    if p == 2:  # x ** 1 == x exactly
        return _binary(_SQUARE_BACKWARD, x, g, 2.0)
    return _binary(_POW_SCALAR_BACKWARD, x, g, p, p - 1)


# ---------------------------------------------------------------- reductions


def _reduce_call(op, x, outer, n, inner):
    """One kernel call: contiguous x viewed as (outer, n, inner) -> (outer, inner)."""
    out = _empty((outer, inner), x.dtype)
    threads = _threads_for(x.size // _REDUCTION_DIVISOR)
    if outer == 1 and inner == 1:  # a full reduction: chunk-parallel
        _reduce.reduce_all(op, x.reshape(-1), out.reshape(1), threads)
    else:
        _reduce.reduce_axis(op, x.reshape(outer, n, inner), out, threads)
    return out


def _reduction(op, x, axes, keepdims):
    """op over ``axes`` as one or more (outer, n, inner) kernel calls.

    Size-1 dims are dropped, then neighbouring dims that are both reduced (or
    both kept) are merged into "runs". One kernel call reduces one reduced
    run, the last one first; its output is contiguous and becomes the next
    call's input: ``x.sum(axis=(0, 2))`` on (A, B, C) is two calls. The usual
    cases, everything or one axis, are one call.
    """
    shape = x.shape
    if keepdims:
        final = tuple(1 if d in axes else n for d, n in enumerate(shape))
    else:
        final = tuple(n for d, n in enumerate(shape) if d not in axes)
    if x.size == 0:
        if op == _SUM:
            return np.zeros(final, x.dtype)
        if math.prod(final):
            raise ValueError("zero-size array to reduction operation which has no identity")
        return _empty(final, x.dtype)
    if not x.flags.c_contiguous:
        x = np.ascontiguousarray(x)
    if len(axes) == len(shape):  # everything: one value
        return _reduce_call(op, x, 1, x.size, 1).reshape(final)
    if len(axes) == 1:  # one axis: one (outer, n, inner) call
        axis = axes[0]
        outer, inner = math.prod(shape[:axis]), math.prod(shape[axis + 1:])
        return _reduce_call(op, x, outer, shape[axis], inner).reshape(final)
    runs = []  # [size, reduced] for each run of non-size-1 dims
    for d, n in enumerate(shape):
        if n == 1:
            continue
        reduced = d in axes
        if runs and runs[-1][1] == reduced:
            runs[-1][0] *= n
        else:
            runs.append([n, reduced])
    current = x
    reduced_runs = [i for i, (_, reduced) in enumerate(runs) if reduced]
    if not reduced_runs:  # only size-1 axes are reduced: a reshaped copy
        return current.reshape(final).copy()
    while reduced_runs:
        last = reduced_runs.pop()
        outer = math.prod([size for size, _ in runs[:last]])
        inner = math.prod([size for size, _ in runs[last + 1:]])
        current = _reduce_call(op, current, outer, runs[last][0], inner)
        del runs[last]  # (the kept runs around it could merge; outer/inner products don't care)
    return current.reshape(final)


def sum(x, axes, keepdims=False):
    return _reduction(_SUM, x, axes, keepdims)


def max(x, axes, keepdims=False):
    """Largest value over axes. The op layer rejects empty reductions."""
    return _reduction(_MAX, x, axes, keepdims)


def min(x, axes, keepdims=False):
    return _reduction(_MIN, x, axes, keepdims)


# ---------------------------------------------------------------- linear algebra


def matmul(a, b):
    """NumPy matmul semantics (1-D, 2-D, batched with broadcast batch dims),
    on NumPy's BLAS. 1-D @ 1-D gives a 0-d array (np.matmul returns a scalar)."""
    out = np.matmul(a, b)
    return out if type(out) is np.ndarray else np.asarray(out)


# ---------------------------------------------------------------- softmax family


def _as_rows(x, axis):
    """x with ``axis`` moved last, as a C-contiguous (rows, n) matrix (a view
    when x is contiguous and axis is already last, else a copy)."""
    if axis != x.ndim - 1:
        x = np.moveaxis(x, axis, -1)
    if not x.flags.c_contiguous:
        x = np.ascontiguousarray(x)
    return x.reshape(-1, x.shape[-1])


def _rows_result(out_rows, like, axis):
    """The (rows, n) result back in ``like``'s shape, axis where it was."""
    last = like.ndim - 1
    if axis == last:
        return out_rows.reshape(like.shape)
    moved = np.moveaxis(like, axis, -1).shape
    return np.moveaxis(out_rows.reshape(moved), -1, axis)


def _softmax_forward(op, x, axis):
    if x.size == 0:
        return _empty(x.shape, x.dtype)
    rows = _as_rows(x, axis)
    out = _empty(rows.shape, x.dtype)
    _rowwise.softmax_rows(op, rows, out, _threads_for(x.size))
    return _rows_result(out, x, axis)


def _softmax_backward(op, y, g, axis):
    if y.size == 0:
        return _empty(y.shape, y.dtype)
    y_rows, g_rows = _as_rows(y, axis), _as_rows(g, axis)
    out = _empty(y_rows.shape, y.dtype)
    _rowwise.softmax_backward_rows(op, y_rows, g_rows, out, _threads_for(y.size))
    return _rows_result(out, y, axis)


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


def _contiguous(x, dtype):
    """x as a C-contiguous array of dtype (no copy when it already is one)."""
    return np.ascontiguousarray(x, dtype=dtype)


def cross_entropy(logits, target):
    """Per-row negative log-likelihood of integer targets.

    logits: (N, C) float; target: (N,) int64 with 0 <= target < C. Returns
    (loss, lse), both (N,); see reference.cross_entropy.
    """
    logits = _contiguous(logits, logits.dtype)
    target = _contiguous(target, np.int64)
    n_rows = logits.shape[0]
    loss, lse = _empty(n_rows, logits.dtype), _empty(n_rows, logits.dtype)
    bad = _rowwise.cross_entropy(logits, target, loss, lse, _threads_for(logits.size))
    if bad:
        raise IndexError(f"cross_entropy: {bad} target(s) outside [0, {logits.shape[1]})")
    return loss, lse


def cross_entropy_backward(logits, target, lse, g):
    """dL/dlogits = g[:, None] * (softmax(logits) - one_hot(target)); (N, C)."""
    dtype = logits.dtype
    logits = _contiguous(logits, dtype)
    out = _empty(logits.shape, dtype)
    bad = _rowwise.cross_entropy_backward(
        logits, _contiguous(target, np.int64), _contiguous(lse, dtype), _contiguous(g, dtype),
        out, _threads_for(logits.size),
    )
    if bad:
        raise IndexError(f"cross_entropy_backward: {bad} target(s) outside [0, {logits.shape[1]})")
    return out


# ---------------------------------------------------------------- optimizers


def _flat(x):
    """A 1-D view of x, or a contiguous 1-D copy when x is not C-contiguous."""
    return x.reshape(-1) if x.flags.c_contiguous else np.ascontiguousarray(x).reshape(-1)


def _write_back(original, flat):
    """Finish an in-place update that went through a copy (non-contiguous original)."""
    if not original.flags.c_contiguous:
        original[...] = flat.reshape(original.shape)


def sgd_step(param, grad, buf, lr, momentum, dampening, weight_decay, nesterov, first):
    """PyTorch's SGD for one parameter, in place on param (and buf). buf is
    the momentum buffer (or None when momentum == 0); first says whether buf
    is still uninitialised."""
    if momentum and buf is None:
        raise ValueError("sgd_step: momentum != 0 needs a momentum buffer")
    flat_param = _flat(param)
    flat_buf = _flat(buf) if momentum else None
    _optim.sgd_step(flat_param, _flat(grad), flat_buf, lr, momentum, dampening,
                    weight_decay, nesterov, first, _threads_for(flat_param.shape[0]))
    _write_back(param, flat_param)
    if momentum:
        _write_back(buf, flat_buf)


def adam_step(param, grad, m, v, step, lr, beta1, beta2, eps, weight_decay, decoupled):
    """PyTorch's Adam (decoupled=False) / AdamW (decoupled=True); step >= 1."""
    flat_param, flat_m, flat_v = _flat(param), _flat(m), _flat(v)
    _optim.adam_step(flat_param, _flat(grad), flat_m, flat_v, lr, beta1, beta2, eps,
                     weight_decay, decoupled, 1 - beta1**step, 1 - beta2**step,
                     _threads_for(flat_param.shape[0]))
    for original, flat in ((param, flat_param), (m, flat_m), (v, flat_v)):
        _write_back(original, flat)
