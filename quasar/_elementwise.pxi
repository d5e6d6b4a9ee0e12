# Elementwise kernels: binary arithmetic, comparisons, ``where``, unary maps
# and the fused backward rules of the unary ops.
#
# How an elementwise kernel walks its operands
# --------------------------------------------
# The output is always a fresh C-contiguous array, allocated here (of the
# broadcast shape, ``_empty_broadcast``; a large one's memory comes from the
# buffer cache of _buffers.pxi, ``new_output``). The inputs may be anything NumPy can
# produce: transposed, sliced with steps (even negative), 0-d, or of a shape
# that broadcasts to the output. Four steps turn that into tight loops:
#
# 1. Broadcast (``_build_layout``): align each input's shape to the output's
#    from the right and give it an *element* stride per output dimension, 0
#    where it is broadcast (a size-1 or missing dim). This is exactly what
#    ``np.broadcast_to`` does, computed here in C because it runs on every op.
# 2. Coalesce: drop size-1 dims and merge neighbouring dims that every operand
#    steps through evenly (stride[d] == stride[d+1] * shape[d+1]). Two
#    C-contiguous same-shape operands collapse to one dim with stride 1, a
#    broadcast scalar to one dim with stride 0, a (64, 128) + (128,) bias add
#    to two dims.
# 3. Split into blocks: the last (coalesced) dim is a "row"; a block is either
#    one CHUNK of a long row or several whole short rows. Blocks are the units
#    of ``prange(schedule='static')``; a block finds its rows' offsets with one
#    unravel and then steps an odometer, so short rows cost no divisions.
# 4. Each row runs a 1-D loop specialised by stride pattern: both contiguous
#    (the loop the compiler vectorizes), one side a broadcast scalar, or general
#    strides.
#
# Most calls skip steps 1 and 2: when every operand is C-contiguous with the
# output's shape or a single element, the result of both is known (one row,
# strides 1 or 0), and "the flat fast path" below fills it in directly.
#
# Why ndarrays and raw pointers, not typed memoryviews (here as in _reduce,
# _rowwise and _optim): a memoryview has a fixed number of dimensions, and
# these kernels accept any rank; and acquiring three memoryviews costs ~0.5 us
# per call, more than a whole call costs on a 16-element tensor (~0.2 us,
# about what a NumPy ufunc costs), while reading the data pointer, shape and
# strides of an ndarray costs nanoseconds.
#
# The op arrives as an enum value. ``_binary_row`` and friends switch on it
# once per row, *outside* the element loop, and call a loop that Cython has
# generated for that one op (see "op tags" below): one source, one vectorized
# loop per op and dtype, no per-element dispatch.

cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int32_t, int64_t, uint8_t
from libc.string cimport memcmp, memcpy


cnp.import_array()


# =================================================================== op codes
# The runtime names of the ops (Python passes these ints).

cpdef enum BinaryOp:
    # a, b: the operands; for the backward rules a is the forward input x
    # (or output y) and b the upstream gradient g.
    ADD
    SUB
    MUL
    DIV
    POW
    MAXIMUM
    MINIMUM
    RELU_BACKWARD           # 0 if x <= 0 else g (a NaN x passes g, as PyTorch's threshold_backward)
    ABS_BACKWARD            # g * sign(x)
    TANH_BACKWARD           # g * (1 - y*y)
    SIGMOID_BACKWARD        # g * y * (1 - y)
    CLAMP_BACKWARD          # g if lo <= x <= hi else 0;  p0 = lo, p1 = hi (NaN = no bound)
    POW_SCALAR_BACKWARD     # g * (p * x**(p-1));         p0 = p, p1 = p - 1
    SQUARE_BACKWARD         # g * (p * x), the p == 2 case; p0 = 2


cpdef enum UnaryOp:
    NEG
    EXP
    LOG
    SQRT
    ABS
    TANH
    SIGMOID
    RELU
    SIN
    COS
    CLAMP                   # p0 = lo, p1 = hi (NaN = no bound)
    POW_SCALAR              # x ** p0
    SQUARE                  # x * x (pow_scalar with p == 2, exact and vectorizable)
    COPY                    # x itself: the strided and broadcast path of ``copy``


cpdef enum CompareOp:
    LT
    LE
    GT
    GE
    EQ
    NE


# =================================================================== op tags
# The compile-time names of the same ops. Each op is also an empty struct
# type, used only as a label: a function with a ``const BinaryTag*``
# argument is generated once per tag (a Cython fused type), and inside it
# ``if BinaryTag is Add`` is decided by Cython, not at run time. So every
# generated loop contains exactly one op, and the C compiler vectorizes it
# without having to inline or constant-fold anything. The tag pointer itself
# is always NULL and never read.
#
# (Relying on the C compiler instead, with one loop taking ``int op`` and
# inlined at constant call sites, worked for a few ops and then silently
# stopped: gcc's inline-unit-growth limit. Fused types make it explicit.)

cdef struct Add:
    char unused
cdef struct Sub:
    char unused
cdef struct Mul:
    char unused
cdef struct Div:
    char unused
cdef struct Pow:
    char unused
cdef struct Maximum:
    char unused
cdef struct Minimum:
    char unused
cdef struct ReluBackward:
    char unused
cdef struct AbsBackward:
    char unused
cdef struct TanhBackward:
    char unused
cdef struct SigmoidBackward:
    char unused
cdef struct ClampBackward:
    char unused
cdef struct PowScalarBackward:
    char unused
cdef struct SquareBackward:
    char unused

ctypedef fused BinaryTag:
    Add
    Sub
    Mul
    Div
    Pow
    Maximum
    Minimum
    ReluBackward
    AbsBackward
    TanhBackward
    SigmoidBackward
    ClampBackward
    PowScalarBackward
    SquareBackward

cdef struct Neg:
    char unused
cdef struct Exp:
    char unused
cdef struct Log:
    char unused
cdef struct Sqrt:
    char unused
cdef struct Abs:
    char unused
cdef struct Tanh:
    char unused
cdef struct Sigmoid:
    char unused
cdef struct Relu:
    char unused
cdef struct Sin:
    char unused
cdef struct Cos:
    char unused
cdef struct Clamp:
    char unused
cdef struct PowScalar:
    char unused
cdef struct Square:
    char unused
cdef struct Copy:
    char unused

ctypedef fused UnaryTag:
    Neg
    Exp
    Log
    Sqrt
    Abs
    Tanh
    Sigmoid
    Relu
    Sin
    Cos
    Clamp
    PowScalar
    Square
    Copy

cdef struct Lt:
    char unused
cdef struct Le:
    char unused
cdef struct Gt:
    char unused
cdef struct Ge:
    char unused
cdef struct Eq:
    char unused
cdef struct Ne:
    char unused

ctypedef fused CompareTag:
    Lt
    Le
    Gt
    Ge
    Eq
    Ne


# Element types a comparison accepts. bool arrays are compared as uint8
# (NumPy stores them as bytes 0/1, and 0 < 1 matches False < True).
ctypedef fused cmp_t:
    float
    double
    int64_t
    int32_t
    uint8_t


# =================================================================== element ops
# The per-element maths, one branch per tag (only one survives in each
# generated function). Literals are typed ``floating`` where it matters: a
# bare ``1`` or ``0.5`` is a C double and would do float32 maths in double.

cdef inline floating _sign(floating x) noexcept nogil:
    """np.sign: -1, 0 or 1, NaN for NaN."""
    if x > 0:
        return 1
    if x < 0:
        return -1
    if x == 0:
        return 0
    return x


cdef inline bint _within(floating x, floating lo, floating hi) noexcept nogil:
    """lo <= x <= hi, where a NaN bound means 'no bound' (the wrapper passes
    NaN for None). ``|``/``&`` instead of or/and: no branches, so it vectorizes."""
    return ((x >= lo) | (lo != lo)) & ((x <= hi) | (hi != hi))


cdef inline floating _binary_op(const BinaryTag* tag, floating a, floating b,
                                floating p0, floating p1) noexcept nogil:
    cdef floating one = 1, zero = 0
    if BinaryTag is Add:
        return a + b
    elif BinaryTag is Sub:
        return a - b
    elif BinaryTag is Mul:
        return a * b
    elif BinaryTag is Div:
        return a / b                      # cdivision: IEEE inf/NaN, no exception
    elif BinaryTag is Pow:
        return q_pow(a, b)
    elif BinaryTag is Maximum:
        return pick_max(b, a)             # a if a > b or a is NaN, else b: np.maximum
    elif BinaryTag is Minimum:
        return pick_min(b, a)
    elif BinaryTag is ReluBackward:
        return zero if a <= 0 else b      # NaN passes the gradient, as in PyTorch
    elif BinaryTag is AbsBackward:
        return b * _sign(a)
    elif BinaryTag is TanhBackward:
        return b * (one - a * a)
    elif BinaryTag is SigmoidBackward:
        return b * a * (one - a)
    elif BinaryTag is ClampBackward:
        return b if _within(a, p0, p1) else zero
    elif BinaryTag is PowScalarBackward:
        return b * (p0 * q_pow(a, p1))
    else:  # SquareBackward
        return b * (p0 * a)


cdef inline floating _unary_op(const UnaryTag* tag, floating x,
                               floating p0, floating p1) noexcept nogil:
    cdef floating e, one = 1, zero = 0
    if UnaryTag is Neg:
        return -x
    elif UnaryTag is Exp:
        return q_exp(x)
    elif UnaryTag is Log:
        return q_log(x)
    elif UnaryTag is Sqrt:
        return q_sqrt(x)
    elif UnaryTag is Abs:
        return q_fabs(x)
    elif UnaryTag is Tanh:
        return q_tanh(x)
    elif UnaryTag is Sigmoid:
        # exp of a non-positive number never overflows: 1/(1+e^-x) for x >= 0,
        # e^x/(1+e^x) for x < 0 (NaN takes the second branch and stays NaN).
        e = q_exp(-q_fabs(x))
        return one / (one + e) if x >= 0 else e / (one + e)
    elif UnaryTag is Relu:
        return zero if x <= 0 else x      # NaN stays NaN, as in PyTorch
    elif UnaryTag is Sin:
        return q_sin(x)
    elif UnaryTag is Cos:
        return q_cos(x)
    elif UnaryTag is Clamp:
        # lower bound first, then upper (so hi wins if lo > hi); comparisons
        # with a NaN bound are false, and NaN x stays NaN.
        x = p0 if x < p0 else x
        return p1 if x > p1 else x
    elif UnaryTag is PowScalar:
        return q_pow(x, p0)
    elif UnaryTag is Square:
        return x * x
    else:  # Copy
        return x


cdef inline uint8_t _compare_op(const CompareTag* tag, cmp_t a, cmp_t b) noexcept nogil:
    if CompareTag is Lt:
        return a < b
    elif CompareTag is Le:
        return a <= b
    elif CompareTag is Gt:
        return a > b
    elif CompareTag is Ge:
        return a >= b
    elif CompareTag is Eq:
        return a == b
    else:  # Ne
        return a != b


# =================================================================== row loops
# One row: ``n`` output elements, contiguous; each input has an element
# stride along the row (1 = contiguous, 0 = a broadcast scalar). One
# function per (tag, dtype); the first loop is the one that matters most.

cdef void _binary_loops(const BinaryTag* tag, Py_ssize_t n,
                        const floating* a, Py_ssize_t sa,
                        const floating* b, Py_ssize_t sb,
                        floating* out, floating p0, floating p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating a0, b0
    if sa == 1 and sb == 1:
        for i in range(n):
            out[i] = _binary_op(tag, a[i], b[i], p0, p1)
    elif sa == 0 and sb == 1:
        a0 = a[0]
        for i in range(n):
            out[i] = _binary_op(tag, a0, b[i], p0, p1)
    elif sa == 1 and sb == 0:
        b0 = b[0]
        for i in range(n):
            out[i] = _binary_op(tag, a[i], b0, p0, p1)
    else:
        for i in range(n):
            out[i] = _binary_op(tag, a[i * sa], b[i * sb], p0, p1)


cdef void _binary_row(int op, Py_ssize_t n,
                      const floating* a, Py_ssize_t sa,
                      const floating* b, Py_ssize_t sb,
                      floating* out, floating p0, floating p1) noexcept nogil:
    """Run op on one row: the runtime op code picks the generated loop."""
    if op == ADD:
        _binary_loops(<Add*>NULL, n, a, sa, b, sb, out, p0, p1)
    elif op == SUB:
        _binary_loops(<Sub*>NULL, n, a, sa, b, sb, out, p0, p1)
    elif op == MUL:
        _binary_loops(<Mul*>NULL, n, a, sa, b, sb, out, p0, p1)
    elif op == DIV:
        _binary_loops(<Div*>NULL, n, a, sa, b, sb, out, p0, p1)
    elif op == POW:
        _binary_loops(<Pow*>NULL, n, a, sa, b, sb, out, p0, p1)
    elif op == MAXIMUM:
        _binary_loops(<Maximum*>NULL, n, a, sa, b, sb, out, p0, p1)
    elif op == MINIMUM:
        _binary_loops(<Minimum*>NULL, n, a, sa, b, sb, out, p0, p1)
    elif op == RELU_BACKWARD:
        _binary_loops(<ReluBackward*>NULL, n, a, sa, b, sb, out, p0, p1)
    elif op == ABS_BACKWARD:
        _binary_loops(<AbsBackward*>NULL, n, a, sa, b, sb, out, p0, p1)
    elif op == TANH_BACKWARD:
        _binary_loops(<TanhBackward*>NULL, n, a, sa, b, sb, out, p0, p1)
    elif op == SIGMOID_BACKWARD:
        _binary_loops(<SigmoidBackward*>NULL, n, a, sa, b, sb, out, p0, p1)
    elif op == CLAMP_BACKWARD:
        _binary_loops(<ClampBackward*>NULL, n, a, sa, b, sb, out, p0, p1)
    elif op == POW_SCALAR_BACKWARD:
        _binary_loops(<PowScalarBackward*>NULL, n, a, sa, b, sb, out, p0, p1)
    elif op == SQUARE_BACKWARD:
        _binary_loops(<SquareBackward*>NULL, n, a, sa, b, sb, out, p0, p1)


cdef void _unary_loops(const UnaryTag* tag, Py_ssize_t n, const floating* x, Py_ssize_t sx,
                       floating* out, floating p0, floating p1) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating y0
    if sx == 1:
        for i in range(n):
            out[i] = _unary_op(tag, x[i], p0, p1)
    elif sx == 0:                       # a broadcast element: compute once, fill
        y0 = _unary_op(tag, x[0], p0, p1)
        for i in range(n):
            out[i] = y0
    else:
        for i in range(n):
            out[i] = _unary_op(tag, x[i * sx], p0, p1)


cdef void _unary_row(int op, Py_ssize_t n, const floating* x, Py_ssize_t sx,
                     floating* out, floating p0, floating p1) noexcept nogil:
    if op == NEG:
        _unary_loops(<Neg*>NULL, n, x, sx, out, p0, p1)
    elif op == EXP:
        _unary_loops(<Exp*>NULL, n, x, sx, out, p0, p1)
    elif op == LOG:
        _unary_loops(<Log*>NULL, n, x, sx, out, p0, p1)
    elif op == SQRT:
        _unary_loops(<Sqrt*>NULL, n, x, sx, out, p0, p1)
    elif op == ABS:
        _unary_loops(<Abs*>NULL, n, x, sx, out, p0, p1)
    elif op == TANH:
        _unary_loops(<Tanh*>NULL, n, x, sx, out, p0, p1)
    elif op == SIGMOID:
        _unary_loops(<Sigmoid*>NULL, n, x, sx, out, p0, p1)
    elif op == RELU:
        _unary_loops(<Relu*>NULL, n, x, sx, out, p0, p1)
    elif op == SIN:
        _unary_loops(<Sin*>NULL, n, x, sx, out, p0, p1)
    elif op == COS:
        _unary_loops(<Cos*>NULL, n, x, sx, out, p0, p1)
    elif op == CLAMP:
        _unary_loops(<Clamp*>NULL, n, x, sx, out, p0, p1)
    elif op == POW_SCALAR:
        _unary_loops(<PowScalar*>NULL, n, x, sx, out, p0, p1)
    elif op == SQUARE:
        _unary_loops(<Square*>NULL, n, x, sx, out, p0, p1)
    elif op == COPY:
        _unary_loops(<Copy*>NULL, n, x, sx, out, p0, p1)


cdef void _compare_loops(const CompareTag* tag, Py_ssize_t n,
                         const cmp_t* a, Py_ssize_t sa,
                         const cmp_t* b, Py_ssize_t sb,
                         uint8_t* out) noexcept nogil:
    cdef Py_ssize_t i
    cdef cmp_t a0, b0
    if sa == 1 and sb == 1:
        for i in range(n):
            out[i] = _compare_op(tag, a[i], b[i])
    elif sa == 0 and sb == 1:
        a0 = a[0]
        for i in range(n):
            out[i] = _compare_op(tag, a0, b[i])
    elif sa == 1 and sb == 0:
        b0 = b[0]
        for i in range(n):
            out[i] = _compare_op(tag, a[i], b0)
    else:
        for i in range(n):
            out[i] = _compare_op(tag, a[i * sa], b[i * sb])


cdef void _compare_row(int op, Py_ssize_t n,
                       const cmp_t* a, Py_ssize_t sa,
                       const cmp_t* b, Py_ssize_t sb,
                       uint8_t* out) noexcept nogil:
    if op == LT:
        _compare_loops(<Lt*>NULL, n, a, sa, b, sb, out)
    elif op == LE:
        _compare_loops(<Le*>NULL, n, a, sa, b, sb, out)
    elif op == GT:
        _compare_loops(<Gt*>NULL, n, a, sa, b, sb, out)
    elif op == GE:
        _compare_loops(<Ge*>NULL, n, a, sa, b, sb, out)
    elif op == EQ:
        _compare_loops(<Eq*>NULL, n, a, sa, b, sb, out)
    else:
        _compare_loops(<Ne*>NULL, n, a, sa, b, sb, out)


cdef enum:
    WHERE_BLOCK = 256       # elements whose condition is widened at a time


cdef void _where_row(Py_ssize_t n, const uint8_t* cond, Py_ssize_t sc,
                     const floating* a, Py_ssize_t sa,
                     const floating* b, Py_ssize_t sb,
                     floating* out) noexcept nogil:
    cdef Py_ssize_t i, start, m
    cdef floating x, y
    cdef floating mask[WHERE_BLOCK]
    if sc == 1 and sa == 1 and sb == 1:
        # Contiguous: first widen a block of condition bytes to the value
        # width, then select. (A select mixing 1-byte conditions with 8-byte
        # values in one loop is not vectorized by gcc 12 with 256-bit vectors.)
        start = 0
        while start < n:
            m = min(<Py_ssize_t>WHERE_BLOCK, n - start)
            for i in range(m):
                mask[i] = cond[start + i]
            for i in range(m):
                x = a[start + i]            # both loads unconditional: a select,
                y = b[start + i]            # not a branch
                out[start + i] = x if mask[i] != 0 else y
            start += WHERE_BLOCK
    else:
        for i in range(n):
            x = a[i * sa]
            y = b[i * sb]
            out[i] = x if cond[i * sc] else y


# =================================================================== layout

cdef enum:
    MAX_INPUTS = 3        # where() has three


cdef struct Layout:
    # The iteration space after broadcasting and coalescing (see the module
    # docstring). The output is C-contiguous with this shape.
    int ndim                                   # >= 1
    Py_ssize_t shape[MAX_DIMS]
    Py_ssize_t strides[MAX_INPUTS][MAX_DIMS]   # element strides, 0 = broadcast
    Py_ssize_t inner                           # shape[ndim - 1]: the row length
    Py_ssize_t n_rows                          # product of shape[:ndim - 1]
    Py_ssize_t rows_per_block                  # > 1 when rows are shorter than CHUNK
    Py_ssize_t chunks_per_row                  # > 1 when rows are longer than CHUNK
    Py_ssize_t n_blocks                        # the prange trip count


cdef struct Cursor:
    # Where one block is: its rows, its columns, and for the current row the
    # element offset of column ``first_col`` in every input.
    Py_ssize_t first_row
    Py_ssize_t n_rows
    Py_ssize_t first_col
    Py_ssize_t n_cols
    Py_ssize_t index[MAX_DIMS]                 # odometer over dims[:ndim - 1]
    Py_ssize_t offset[MAX_INPUTS]


cdef cnp.ndarray _empty_broadcast(tuple inputs, int typenum):
    """A new C-contiguous array of type ``typenum`` and the inputs' broadcast
    shape (NumPy's rules: align from the right; a dim of size 1 stretches).
    ValueError if the shapes do not broadcast."""
    cdef cnp.npy_intp dims[MAX_DIMS]
    cdef cnp.npy_intp size
    cdef int nd = 0, lead, d
    cdef cnp.ndarray arr
    for arr in inputs:
        nd = max(nd, cnp.PyArray_NDIM(arr))
    for d in range(nd):
        dims[d] = 1
    for arr in inputs:
        lead = nd - cnp.PyArray_NDIM(arr)
        for d in range(cnp.PyArray_NDIM(arr)):
            size = cnp.PyArray_DIMS(arr)[d]
            if size == 1 or size == dims[lead + d]:
                continue
            if dims[lead + d] != 1:
                shapes = " ".join(str((<object>x).shape) for x in inputs)
                raise ValueError(f"operands could not be broadcast together with shapes {shapes}")
            dims[lead + d] = size
    return new_output(nd, dims, typenum)


cdef int _build_layout(Layout* L, cnp.ndarray out, tuple inputs) except -1:
    """Fill L for writing ``out`` (C-contiguous) from ``inputs`` (broadcast to
    out.shape). Raises ValueError instead of letting a kernel read out of
    bounds when an input does not fit."""
    cdef int nd = cnp.PyArray_NDIM(out)
    cdef int n_inputs = len(inputs)
    cdef cnp.npy_intp* out_shape = cnp.PyArray_DIMS(out)
    cdef Py_ssize_t full[MAX_INPUTS][MAX_DIMS]
    cdef Py_ssize_t size, itemsize, step, tmp
    cdef int k, d, lead, m, lo, hi
    cdef bint mergeable
    cdef cnp.ndarray arr

    if not cnp.PyArray_IS_C_CONTIGUOUS(out) or not cnp.PyArray_ISWRITEABLE(out):
        raise ValueError("kernel output must be a writeable C-contiguous array")

    # 1. broadcast: element strides aligned to the output's dims
    for k in range(n_inputs):
        arr = inputs[k]
        if cnp.PyArray_NDIM(arr) > nd:
            raise ValueError(f"input of shape {(<object>arr).shape} does not broadcast to {(<object>out).shape}")
        if not cnp.PyArray_ISALIGNED(arr):
            raise ValueError("kernel inputs must be aligned (copy the array first)")
        itemsize = cnp.PyArray_ITEMSIZE(arr)
        lead = nd - cnp.PyArray_NDIM(arr)
        for d in range(nd):
            if d < lead:
                full[k][d] = 0
                continue
            size = cnp.PyArray_DIMS(arr)[d - lead]
            step = cnp.PyArray_STRIDES(arr)[d - lead]
            if size == out_shape[d]:
                if step % itemsize:
                    raise ValueError("kernel inputs must have whole-element strides")
                full[k][d] = step // itemsize
            elif size == 1:
                full[k][d] = 0
            else:
                raise ValueError(f"input of shape {(<object>arr).shape} does not broadcast to {(<object>out).shape}")

    # 2. coalesce, innermost first (collected in reverse order, then flipped)
    m = 0
    for d in range(nd - 1, -1, -1):
        size = out_shape[d]
        if size == 0:                       # empty output: nothing to do
            L.ndim = 1
            L.inner = L.n_rows = L.n_blocks = 0
            L.rows_per_block = L.chunks_per_row = 1
            return 0
        if size == 1:
            continue
        mergeable = m > 0
        for k in range(n_inputs):
            if not mergeable:
                break
            mergeable = full[k][d] == L.strides[k][m - 1] * L.shape[m - 1]
        if mergeable:
            L.shape[m - 1] *= size          # keeps the inner dim's strides
        else:
            L.shape[m] = size
            for k in range(n_inputs):
                L.strides[k][m] = full[k][d]
            m += 1
    if m == 0:                              # 0-d, or all dims of size 1
        L.shape[0] = 1
        for k in range(n_inputs):
            L.strides[k][0] = 0
        m = 1
    lo, hi = 0, m - 1
    while lo < hi:
        L.shape[lo], L.shape[hi] = L.shape[hi], L.shape[lo]
        for k in range(n_inputs):
            tmp = L.strides[k][lo]
            L.strides[k][lo] = L.strides[k][hi]
            L.strides[k][hi] = tmp
        lo += 1
        hi -= 1
    L.ndim = m

    # 3. blocks
    _set_blocks(L)
    return 0


cdef inline void _set_blocks(Layout* L) noexcept nogil:
    """Step 3: cut the coalesced iteration space (L.ndim, L.shape, at least
    one element) into the blocks of the parallel loop."""
    cdef int d
    L.inner = L.shape[L.ndim - 1]
    L.n_rows = 1
    for d in range(L.ndim - 1):
        L.n_rows *= L.shape[d]
    if L.inner >= CHUNK:
        L.rows_per_block = 1
        L.chunks_per_row = (L.inner + CHUNK - 1) // CHUNK
        L.n_blocks = L.n_rows * L.chunks_per_row
    else:
        L.rows_per_block = CHUNK // L.inner
        L.chunks_per_row = 1
        L.n_blocks = (L.n_rows + L.rows_per_block - 1) // L.rows_per_block


# ------------------------------------------------------------------- the flat fast path
# Most calls on an autograd graph are the simplest case: operands that are
# C-contiguous with the output's shape (``z * y``, the ``+=`` of gradient
# accumulation), or a single element against one (``x * 2``). For those the
# layout is known without looking at a stride: one row, stride 1 (or 0 for
# the single element). The general path (``_empty_broadcast`` and
# ``_build_layout`` above) costs ~80 ns more, a third of a whole 16-element
# add; checking for the fast case first costs a few comparisons. The flat
# layout is exactly the one ``_build_layout`` coalesces such operands to, so
# both paths run the same blocks and give the same bits.

cdef inline bint _reads_flat(cnp.ndarray x, cnp.ndarray like) noexcept:
    """x can be read as a flat run next to ``like``, whose shape the output
    takes: x is aligned and either C-contiguous with like's shape or a single
    element with no more dims than like (broadcast with stride 0)."""
    cdef int nd = cnp.PyArray_NDIM(x)
    if not cnp.PyArray_ISALIGNED(x):
        return False
    if cnp.PyArray_SIZE(x) == 1:
        return nd <= cnp.PyArray_NDIM(like)
    return (nd == cnp.PyArray_NDIM(like) and cnp.PyArray_IS_C_CONTIGUOUS(x)
            and memcmp(cnp.PyArray_DIMS(x), cnp.PyArray_DIMS(like),
                       nd * sizeof(cnp.npy_intp)) == 0)


cdef inline cnp.ndarray _shape_source(cnp.ndarray a, cnp.ndarray b):
    """Of two operands, the one whose shape a flat broadcast would give the
    output: b if a is a single element with no more dims than b, else a.
    (Only a guess: _reads_flat then checks every operand against it.)"""
    if cnp.PyArray_SIZE(a) == 1 and cnp.PyArray_NDIM(b) >= cnp.PyArray_NDIM(a):
        return b
    return a


cdef inline void _flat_layout(Layout* L, Py_ssize_t n) noexcept nogil:
    """L as one row of n >= 1 elements (set each input's stride with _flat_input)."""
    L.ndim = 1
    L.shape[0] = n
    _set_blocks(L)


cdef inline void _flat_input(Layout* L, int k, cnp.ndarray x) noexcept:
    """Input k of a flat layout: stride 1, or 0 for a broadcast single element."""
    L.strides[k][0] = 0 if cnp.PyArray_SIZE(x) == 1 else 1


cdef inline void _cursor_begin(const Layout* L, Py_ssize_t block, int n_inputs,
                               Cursor* c) noexcept nogil:
    """Position c at the first row of ``block``: one unravel of the row
    number over the outer dims."""
    cdef Py_ssize_t row, rest, i
    cdef int d, k
    if L.chunks_per_row > 1:                # a chunk of one long row
        row = block // L.chunks_per_row
        c.first_col = (block - row * L.chunks_per_row) * CHUNK
        c.n_cols = min(<Py_ssize_t>CHUNK, L.inner - c.first_col)
        c.n_rows = 1
    else:                                   # whole short rows
        row = block * L.rows_per_block
        c.first_col = 0
        c.n_cols = L.inner
        c.n_rows = min(L.rows_per_block, L.n_rows - row)
    c.first_row = row
    for k in range(n_inputs):
        c.offset[k] = c.first_col * L.strides[k][L.ndim - 1]
    rest = row
    for d in range(L.ndim - 2, -1, -1):
        i = rest % L.shape[d]
        rest = rest // L.shape[d]
        c.index[d] = i
        for k in range(n_inputs):
            c.offset[k] += i * L.strides[k][d]


cdef inline void _cursor_next_row(const Layout* L, int n_inputs, Cursor* c) noexcept nogil:
    """Advance c to the next row: an odometer over the outer dims (no division)."""
    cdef int d = L.ndim - 2, k
    while d >= 0:
        c.index[d] += 1
        for k in range(n_inputs):
            c.offset[k] += L.strides[k][d]
        if c.index[d] < L.shape[d]:
            return
        c.index[d] = 0                      # wrap this digit, carry to the next
        for k in range(n_inputs):
            c.offset[k] -= L.shape[d] * L.strides[k][d]
        d -= 1


# =================================================================== blocks
# One function per kernel family: walk a block's rows and call the row loop.
# (Kept out of the prange body so the Cursor is a private local.)

cdef void _binary_block(int op, const Layout* L, Py_ssize_t block, floating* out,
                        const floating* a, const floating* b,
                        floating p0, floating p1) noexcept nogil:
    cdef Cursor c
    cdef Py_ssize_t r, last = L.ndim - 1
    _cursor_begin(L, block, 2, &c)
    for r in range(c.n_rows):
        _binary_row(op, c.n_cols,
                    a + c.offset[0], L.strides[0][last],
                    b + c.offset[1], L.strides[1][last],
                    out + (c.first_row + r) * L.inner + c.first_col, p0, p1)
        _cursor_next_row(L, 2, &c)


cdef void _unary_block(int op, const Layout* L, Py_ssize_t block, floating* out,
                       const floating* x, floating p0, floating p1) noexcept nogil:
    cdef Cursor c
    cdef Py_ssize_t r, last = L.ndim - 1
    _cursor_begin(L, block, 1, &c)
    for r in range(c.n_rows):
        _unary_row(op, c.n_cols, x + c.offset[0], L.strides[0][last],
                   out + (c.first_row + r) * L.inner + c.first_col, p0, p1)
        _cursor_next_row(L, 1, &c)


cdef void _compare_block(int op, const Layout* L, Py_ssize_t block, uint8_t* out,
                         const cmp_t* a, const cmp_t* b) noexcept nogil:
    cdef Cursor c
    cdef Py_ssize_t r, last = L.ndim - 1
    _cursor_begin(L, block, 2, &c)
    for r in range(c.n_rows):
        _compare_row(op, c.n_cols,
                     a + c.offset[0], L.strides[0][last],
                     b + c.offset[1], L.strides[1][last],
                     out + (c.first_row + r) * L.inner + c.first_col)
        _cursor_next_row(L, 2, &c)


cdef void _where_block(const Layout* L, Py_ssize_t block, floating* out,
                       const uint8_t* cond, const floating* a, const floating* b) noexcept nogil:
    cdef Cursor c
    cdef Py_ssize_t r, last = L.ndim - 1
    _cursor_begin(L, block, 3, &c)
    for r in range(c.n_rows):
        _where_row(c.n_cols,
                   cond + c.offset[0], L.strides[0][last],
                   a + c.offset[1], L.strides[1][last],
                   b + c.offset[2], L.strides[2][last],
                   out + (c.first_row + r) * L.inner + c.first_col)
        _cursor_next_row(L, 3, &c)


# The parallel loops: blocks split statically (contiguous ranges of blocks
# per thread). With one thread there is no parallel region at all: OpenMP's
# ``if`` clause (Cython's ``use_threads_if``) would still enter the runtime
# and build a team of one, which costs more than a 16-element kernel.

cdef void _binary_run(int op, const Layout* L, floating* out, const floating* a,
                      const floating* b, floating p0, floating p1,
                      int num_threads) noexcept nogil:
    cdef Py_ssize_t block
    if num_threads > 1:
        for block in prange(L.n_blocks, schedule='static', num_threads=num_threads):
            _binary_block(op, L, block, out, a, b, p0, p1)
    else:
        for block in range(L.n_blocks):
            _binary_block(op, L, block, out, a, b, p0, p1)


cdef void _unary_run(int op, const Layout* L, floating* out, const floating* x,
                     floating p0, floating p1, int num_threads) noexcept nogil:
    cdef Py_ssize_t block
    if num_threads > 1:
        for block in prange(L.n_blocks, schedule='static', num_threads=num_threads):
            _unary_block(op, L, block, out, x, p0, p1)
    else:
        for block in range(L.n_blocks):
            _unary_block(op, L, block, out, x, p0, p1)


cdef void _compare_run(int op, const Layout* L, uint8_t* out, const cmp_t* a,
                       const cmp_t* b, int num_threads) noexcept nogil:
    cdef Py_ssize_t block
    if num_threads > 1:
        for block in prange(L.n_blocks, schedule='static', num_threads=num_threads):
            _compare_block(op, L, block, out, a, b)
    else:
        for block in range(L.n_blocks):
            _compare_block(op, L, block, out, a, b)


cdef void _where_run(const Layout* L, floating* out, const uint8_t* cond,
                     const floating* a, const floating* b, int num_threads) noexcept nogil:
    cdef Py_ssize_t block
    if num_threads > 1:
        for block in prange(L.n_blocks, schedule='static', num_threads=num_threads):
            _where_block(L, block, out, cond, a, b)
    else:
        for block in range(L.n_blocks):
            _where_block(L, block, out, cond, a, b)


# =================================================================== dtype checks

cdef enum Kind:
    # What the kernels can read: native-endian float32/float64/int64/int32,
    # and 1-byte uint8/bool.
    KIND_OTHER
    KIND_F32
    KIND_F64
    KIND_I64
    KIND_I32
    KIND_U8


cdef inline Kind _kind(cnp.ndarray arr) noexcept:
    cdef Py_ssize_t size = cnp.PyArray_ITEMSIZE(arr)
    if not cnp.PyArray_ISNOTSWAPPED(arr):
        return KIND_OTHER
    if cnp.PyArray_ISFLOAT(arr):
        return KIND_F32 if size == 4 else (KIND_F64 if size == 8 else KIND_OTHER)
    if cnp.PyArray_ISSIGNED(arr):
        return KIND_I64 if size == 8 else (KIND_I32 if size == 4 else KIND_OTHER)
    if cnp.PyArray_ISUNSIGNED(arr) or cnp.PyArray_ISBOOL(arr):
        return KIND_U8 if size == 1 else KIND_OTHER
    return KIND_OTHER


cdef Kind _float_kind(cnp.ndarray a, cnp.ndarray b) except KIND_OTHER:
    """The float kind of a and b (pass a twice for one array), or TypeError."""
    cdef Kind k = _kind(a)
    if k != KIND_F32 and k != KIND_F64:
        raise TypeError(f"expected float32 or float64 arrays, got {a.dtype}")
    if _kind(b) != k:
        raise TypeError(f"dtype mismatch: {a.dtype} and {b.dtype} operands")
    return k


cdef inline void* _data(cnp.ndarray arr) noexcept:
    return cnp.PyArray_DATA(arr)


cdef inline cnp.ndarray _array(object obj):
    """obj itself if it is an ndarray (the usual case, no cost), else a 0-d or
    n-d array of it (a NumPy scalar such as np.float32(2) is accepted too)."""
    if cnp.PyArray_Check(obj):
        return <cnp.ndarray>obj
    return cnp.PyArray_FROM_O(obj)


# =================================================================== entry points
# Each makes its output (a new C-contiguous array), validates what its loops
# rely on (dtypes, broadcastable shapes, aligned whole-element strides) and
# raises instead, picks its thread count (``thread_count``: the thread
# policy of _kernels.pxd), then drops the GIL and runs. The flat fast path is
# tried first; everything else goes through _build_layout.

def binary(int op, a_in, b_in, double p0, double p1, Py_ssize_t work_per_element,
           threshold, threads_for):
    """op(a, b), NumPy broadcasting; returns a new array.

    op                IN   a BinaryOp
    a, b              IN   float32/float64 arrays (or NumPy scalars) of one dtype;
                           any strides; shapes that broadcast
    p0, p1            IN   op parameters (see BinaryOp), cast to the dtype; else ignored
    work_per_element  IN   the cost of one element, in elements of an add
    threshold, threads_for  IN   the calling thread's thread policy (_kernels.pxd)
    returns           OUT  a C-contiguous array of the broadcast shape and the dtype
    """
    cdef cnp.ndarray a = _array(a_in), b = _array(b_in), out
    cdef cnp.ndarray like = _shape_source(a, b)
    cdef Kind k = _float_kind(a, b)
    cdef Layout L
    if op < ADD or op > SQUARE_BACKWARD:
        raise ValueError(f"binary: unknown op {op}")
    if _reads_flat(a, like) and _reads_flat(b, like):
        out = new_output(cnp.PyArray_NDIM(like), cnp.PyArray_DIMS(like), cnp.PyArray_TYPE(a))
        if cnp.PyArray_SIZE(out) == 0:
            return out
        _flat_layout(&L, cnp.PyArray_SIZE(out))
        _flat_input(&L, 0, a)
        _flat_input(&L, 1, b)
    else:
        out = _empty_broadcast((a, b), cnp.PyArray_TYPE(a))
        if cnp.PyArray_SIZE(out) == 0:
            return out
        _build_layout(&L, out, (a, b))
    cdef int num_threads = thread_count(cnp.PyArray_SIZE(out) * work_per_element,
                                        threshold, threads_for)
    cdef void* po = _data(out)
    cdef const void* pa = _data(a)
    cdef const void* pb = _data(b)
    with nogil:
        if k == KIND_F32:
            _binary_run(op, &L, <float*>po, <const float*>pa, <const float*>pb,
                        <float>p0, <float>p1, num_threads)
        else:
            _binary_run(op, &L, <double*>po, <const double*>pa, <const double*>pb,
                        p0, p1, num_threads)
    return out


def unary(int op, x_in, double p0, double p1, Py_ssize_t work_per_element,
          threshold, threads_for):
    """op(x); returns a new array.

    op                IN   a UnaryOp
    x                 IN   float32/float64 array (or NumPy scalar), any strides
    p0, p1            IN   op parameters (see UnaryOp), cast to the dtype; else ignored
    work_per_element  IN   the cost of one element, in elements of an add
    threshold, threads_for  IN   the calling thread's thread policy (_kernels.pxd)
    returns           OUT  a C-contiguous array of x's shape and dtype
    """
    cdef cnp.ndarray x = _array(x_in), out
    cdef Kind k = _float_kind(x, x)
    cdef Layout L
    if op < NEG or op > COPY:
        raise ValueError(f"unary: unknown op {op}")
    out = new_output(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x), cnp.PyArray_TYPE(x))
    if cnp.PyArray_SIZE(out) == 0:
        return out
    if _reads_flat(x, x):
        _flat_layout(&L, cnp.PyArray_SIZE(out))
        _flat_input(&L, 0, x)
    else:
        _build_layout(&L, out, (x,))
    cdef int num_threads = thread_count(cnp.PyArray_SIZE(out) * work_per_element,
                                        threshold, threads_for)
    cdef void* po = _data(out)
    cdef const void* px = _data(x)
    with nogil:
        if k == KIND_F32:
            _unary_run(op, &L, <float*>po, <const float*>px, <float>p0, <float>p1, num_threads)
        else:
            _unary_run(op, &L, <double*>po, <const double*>px, p0, p1, num_threads)
    return out


def compare(int op, a_in, b_in, threshold, threads_for):
    """a <op> b, NumPy broadcasting; returns a new bool array.

    op           IN   a CompareOp
    a, b         IN   arrays of one dtype: float32, float64, int64, int32, uint8
                      or bool (else TypeError; the wrapper widens other dtypes);
                      any strides; shapes that broadcast
    threshold, threads_for  IN   the calling thread's thread policy (_kernels.pxd)
    returns      OUT  a C-contiguous bool array of the broadcast shape
    """
    cdef cnp.ndarray a = _array(a_in), b = _array(b_in), out
    cdef cnp.ndarray like = _shape_source(a, b)
    cdef Kind k = _kind(a)
    cdef Layout L
    if (k == KIND_OTHER or _kind(b) != k
            or cnp.PyArray_ISBOOL(a) != cnp.PyArray_ISBOOL(b)):
        raise TypeError(f"compare: unsupported dtypes {a.dtype}, {b.dtype} "
                        "(need one of float32, float64, int64, int32, uint8, bool)")
    if op < LT or op > NE:
        raise ValueError(f"compare: unknown op {op}")
    if _reads_flat(a, like) and _reads_flat(b, like):
        out = new_output(cnp.PyArray_NDIM(like), cnp.PyArray_DIMS(like), cnp.NPY_BOOL)
        if cnp.PyArray_SIZE(out) == 0:
            return out
        _flat_layout(&L, cnp.PyArray_SIZE(out))
        _flat_input(&L, 0, a)
        _flat_input(&L, 1, b)
    else:
        out = _empty_broadcast((a, b), cnp.NPY_BOOL)
        if cnp.PyArray_SIZE(out) == 0:
            return out
        _build_layout(&L, out, (a, b))
    cdef int num_threads = thread_count(cnp.PyArray_SIZE(out), threshold, threads_for)
    cdef uint8_t* po = <uint8_t*>_data(out)
    cdef const void* pa = _data(a)
    cdef const void* pb = _data(b)
    with nogil:
        if k == KIND_F32:
            _compare_run(op, &L, po, <const float*>pa, <const float*>pb, num_threads)
        elif k == KIND_F64:
            _compare_run(op, &L, po, <const double*>pa, <const double*>pb, num_threads)
        elif k == KIND_I64:
            _compare_run(op, &L, po, <const int64_t*>pa, <const int64_t*>pb, num_threads)
        elif k == KIND_I32:
            _compare_run(op, &L, po, <const int32_t*>pa, <const int32_t*>pb, num_threads)
        else:
            _compare_run(op, &L, po, <const uint8_t*>pa, <const uint8_t*>pb, num_threads)
    return out


def where(cond_in, a_in, b_in, threshold, threads_for):
    """a where cond else b, NumPy broadcasting of all three; returns a new array.

    cond         IN   array, read as bool (a non-bool one is converted: nonzero is True)
    a, b         IN   float32/float64 arrays of one dtype
    threshold, threads_for  IN   the calling thread's thread policy (_kernels.pxd)
    returns      OUT  a C-contiguous array of the broadcast shape and a's dtype
    """
    cdef cnp.ndarray cond = _array(cond_in), a = _array(a_in), b = _array(b_in), out
    cdef Kind k = _float_kind(a, b)
    cdef Layout L
    if cnp.PyArray_TYPE(cond) != cnp.NPY_BOOL:
        cond = (<object>cond).astype(bool)
    cdef cnp.ndarray like = _shape_source(_shape_source(cond, a), b)
    if _reads_flat(cond, like) and _reads_flat(a, like) and _reads_flat(b, like):
        out = new_output(cnp.PyArray_NDIM(like), cnp.PyArray_DIMS(like), cnp.PyArray_TYPE(a))
        if cnp.PyArray_SIZE(out) == 0:
            return out
        _flat_layout(&L, cnp.PyArray_SIZE(out))
        _flat_input(&L, 0, cond)
        _flat_input(&L, 1, a)
        _flat_input(&L, 2, b)
    else:
        out = _empty_broadcast((cond, a, b), cnp.PyArray_TYPE(a))
        if cnp.PyArray_SIZE(out) == 0:
            return out
        _build_layout(&L, out, (cond, a, b))
    cdef int num_threads = thread_count(cnp.PyArray_SIZE(out), threshold, threads_for)
    cdef void* po = _data(out)
    cdef const uint8_t* pc = <const uint8_t*>_data(cond)
    cdef const void* pa = _data(a)
    cdef const void* pb = _data(b)
    with nogil:
        if k == KIND_F32:
            _where_run(&L, <float*>po, pc, <const float*>pa, <const float*>pb, num_threads)
        else:
            _where_run(&L, <double*>po, pc, <const double*>pa, <const double*>pb, num_threads)
    return out


# =================================================================== copy

cdef enum:
    COPY_BLOCK = 1 << 18    # bytes per parallel block of a contiguous copy


cdef void _copy_run(char* out, const char* x, Py_ssize_t nbytes, int num_threads) noexcept nogil:
    cdef Py_ssize_t block, start, n_blocks = (nbytes + COPY_BLOCK - 1) // COPY_BLOCK
    if num_threads > 1:
        for block in prange(n_blocks, schedule='static', num_threads=num_threads):
            start = block * COPY_BLOCK
            memcpy(out + start, x + start, min(<Py_ssize_t>COPY_BLOCK, nbytes - start))
    else:
        memcpy(out, x, nbytes)


def copy(x_in, threshold, threads_for):
    """An owned copy of x, as ``x.copy()``: what a gradient that must own its
    memory needs. A large one's memory comes from the buffer cache
    (_buffers.pxi), and a large one is copied on several threads (a
    contiguous one by memcpy, a float view by the elementwise walk).

    x        IN   an array (or NumPy scalar) of any dtype and strides
    threshold, threads_for  IN   the calling thread's thread policy (_kernels.pxd)
    returns  OUT  a C-contiguous array of x's shape and dtype, sharing no memory with x
    """
    cdef cnp.ndarray x = _array(x_in), out
    if not (cnp.PyArray_ISNUMBER(x) or cnp.PyArray_ISBOOL(x)) or not cnp.PyArray_ISNOTSWAPPED(x):
        return (<object>x).copy()          # object, string, byte-swapped ...: NumPy's own copy
    out = new_output(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x), cnp.PyArray_TYPE(x))
    cdef Py_ssize_t nbytes = cnp.PyArray_NBYTES(x)
    cdef Kind k = _kind(x)
    cdef Layout L
    cdef char* po = <char*>_data(out)
    cdef const char* px = <const char*>_data(x)
    cdef int num_threads = thread_count(cnp.PyArray_SIZE(x), threshold, threads_for)
    if not cnp.PyArray_IS_C_CONTIGUOUS(x):
        if ((k != KIND_F32 and k != KIND_F64) or not cnp.PyArray_ISALIGNED(x)
                or cnp.PyArray_SIZE(out) == 0):
            cnp.PyArray_CopyInto(out, x)    # NumPy's strided copy (serial)
            return out
        # a float view (transposed, sliced, broadcast: a gradient spread by
        # sum's backward): the elementwise walk, parallel, fills for stride 0
        _build_layout(&L, out, (x,))
        with nogil:
            if k == KIND_F32:
                _unary_run(COPY, &L, <float*>po, <const float*>px, 0, 0, num_threads)
            else:
                _unary_run(COPY, &L, <double*>po, <const double*>px, 0, 0, num_threads)
        return out
    with nogil:
        _copy_run(po, px, nbytes, num_threads)
    return out
