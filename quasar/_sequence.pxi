# Sequence-model kernels: attention's fused scale + mask + softmax, and the
# fused gate updates of one LSTM or GRU time step.
#
# Attention. The scores ``q @ k^T`` come from BLAS; what follows them is one
# pass per row here: scale, add or apply the mask (or the causal triangle),
# subtract the row max, exponentiate, normalise. Backward is one pass per row
# too: ``scale * P * (dP - sum(dP * P))``. A row is one unit of work; rows run
# in parallel, each on one thread in a fixed order, so the results do not
# depend on the thread count. A row that every key is masked out of gets NaN,
# as the softmax of all ``-inf`` does (PyTorch's math backend does the same).
#
# Recurrent cells. A time step's matrix products are BLAS calls made by the
# op; everything elementwise between them (adding the input and hidden
# projections, the four or three gate nonlinearities, the cell update, the
# new hidden state, and their derivatives) is one kernel call here. The rows of the batch run in
# parallel.
#
# Gate orders are PyTorch's: LSTM (i, f, g, o), GRU (r, z, n).

cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport INFINITY
from libc.stdint cimport int64_t


cnp.import_array()


cpdef enum MaskKind:
    NO_MASK
    BOOL_MASK           # True: attend; False: the score becomes -inf
    FLOAT_MASK          # added to the scaled score


# ------------------------------------------------------------------ attention rows

cdef void _attention_row(const floating* scores, const unsigned char* bool_mask,
                         const floating* float_mask, floating* out, Py_ssize_t S,
                         Py_ssize_t visible, floating scale) noexcept nogil:
    """One row of softmax(scale * scores + mask). Keys from ``visible`` on
    are hidden (the causal triangle); bool_mask / float_mask may be NULL.

    Hidden keys never reach exp, and masked ones (-inf) are kept off the
    vector exp (libmvec), which falls back to its slow scalar path for a whole
    vector when one lane is -inf or far below the underflow point, and a
    padded row has many: _rowwise.pxi's _exp_shifted gives them exactly the
    0 that exp would."""
    cdef Py_ssize_t j
    cdef floating m, total
    for j in range(S):
        out[j] = scores[j] * scale
    if float_mask != NULL:
        for j in range(S):
            out[j] = out[j] + float_mask[j]
    if bool_mask != NULL:
        for j in range(S):
            out[j] = out[j] if bool_mask[j] else -INFINITY
    m = max_lanes(out, visible)
    _exp_shifted_in_place(out, m, visible)  # NaN throughout a fully masked row (m = -inf)
    for j in range(visible, S):
        out[j] = 0
    total = <floating>sum_contiguous(out, S)
    for j in range(S):
        out[j] = out[j] / total


cdef inline void _attention_item(const floating* scores, const unsigned char* bool_mask,
                                 const floating* float_mask, const int64_t* mask_offsets,
                                 floating* out, Py_ssize_t L, Py_ssize_t S, floating scale,
                                 bint causal, Py_ssize_t row) noexcept nogil:
    cdef Py_ssize_t n = row // L, i = row % L
    cdef Py_ssize_t visible = min(i + 1, S) if causal else S
    cdef Py_ssize_t offset = mask_offsets[n] + i * S if mask_offsets != NULL else 0
    _attention_row(scores + row * S, bool_mask + offset if bool_mask != NULL else NULL,
                   float_mask + offset if float_mask != NULL else NULL, out + row * S, S,
                   visible, scale)


cdef void _attention_run(const floating* scores, const unsigned char* bool_mask,
                         const floating* float_mask, const int64_t* mask_offsets, floating* out,
                         Py_ssize_t rows, Py_ssize_t L, Py_ssize_t S, floating scale, bint causal,
                         int num_threads) noexcept nogil:
    cdef Py_ssize_t r
    if num_threads > 1:
        for r in prange(rows, schedule='static', num_threads=num_threads):
            _attention_item(scores, bool_mask, float_mask, mask_offsets, out, L, S, scale, causal, r)
    else:
        for r in range(rows):
            _attention_item(scores, bool_mask, float_mask, mask_offsets, out, L, S, scale, causal, r)


cdef inline void _attention_backward_item(const floating* probs, const floating* grad, floating* out,
                                          Py_ssize_t S, floating scale, Py_ssize_t row) noexcept nogil:
    cdef const floating* p = probs + row * S
    cdef const floating* g = grad + row * S
    cdef floating* o = out + row * S
    cdef floating dot = <floating>dot_lanes(g, p, S)
    cdef Py_ssize_t j
    for j in range(S):
        o[j] = scale * (p[j] * (g[j] - dot))


cdef void _attention_backward_run(const floating* probs, const floating* grad, floating* out,
                                  Py_ssize_t rows, Py_ssize_t S, floating scale,
                                  int num_threads) noexcept nogil:
    cdef Py_ssize_t r
    if num_threads > 1:
        for r in prange(rows, schedule='static', num_threads=num_threads):
            _attention_backward_item(probs, grad, out, S, scale, r)
    else:
        for r in range(rows):
            _attention_backward_item(probs, grad, out, S, scale, r)


# ------------------------------------------------------------------ LSTM and GRU rows

cdef inline floating _sigmoid(floating x) noexcept nogil:
    return <floating>1 / (<floating>1 + q_exp(-x))


cdef void _lstm_row(const floating* x_gates, const floating* h_gates, const floating* c_prev,
                    floating* acts, floating* c, floating* h, Py_ssize_t H) noexcept nogil:
    """acts (4H) = the gate activations (i, f, g, o) of x_gates + h_gates;
    c = f * c_prev + i * g; h = o * tanh(c). One simple loop per stage, so
    each vectorizes (with glibc's vector exp and tanh where available)."""
    cdef Py_ssize_t j
    for j in range(2 * H):                  # i, f
        acts[j] = _sigmoid(x_gates[j] + h_gates[j])
    for j in range(2 * H, 3 * H):           # g
        acts[j] = q_tanh(x_gates[j] + h_gates[j])
    for j in range(3 * H, 4 * H):           # o
        acts[j] = _sigmoid(x_gates[j] + h_gates[j])
    for j in range(H):
        c[j] = acts[H + j] * c_prev[j] + acts[j] * acts[2 * H + j]
    for j in range(H):
        h[j] = acts[3 * H + j] * q_tanh(c[j])


cdef void _lstm_backward_row(const floating* acts, const floating* c_prev, const floating* c,
                             const floating* dh, floating* dc, floating* dgates,
                             Py_ssize_t H) noexcept nogil:
    """dgates (4H): dL/d(pre-activations); dc: dL/dc in (from the next step),
    dL/dc_prev out."""
    cdef Py_ssize_t j
    cdef floating i, f, g, o, tc, dcj
    for j in range(H):                      # tanh(c), kept in o's slot until the loop below
        dgates[3 * H + j] = q_tanh(c[j])
    for j in range(H):
        i = acts[j]
        f = acts[H + j]
        g = acts[2 * H + j]
        o = acts[3 * H + j]
        tc = dgates[3 * H + j]
        dcj = dc[j] + dh[j] * o * (<floating>1 - tc * tc)
        dgates[j] = dcj * g * i * (<floating>1 - i)
        dgates[H + j] = dcj * c_prev[j] * f * (<floating>1 - f)
        dgates[2 * H + j] = dcj * i * (<floating>1 - g * g)
        dgates[3 * H + j] = dh[j] * tc * o * (<floating>1 - o)
        dc[j] = dcj * f


cdef void _gru_row(const floating* gi, const floating* gh, const floating* h_prev, floating* acts,
                   floating* h, Py_ssize_t H) noexcept nogil:
    """gi, gh (3H): input and hidden projections (with their biases);
    acts (4H) out: r, z, n and the hidden part of n's pre-activation;
    h = (1 - z) * n + z * h_prev."""
    cdef Py_ssize_t j
    for j in range(2 * H):                  # r, z
        acts[j] = _sigmoid(gi[j] + gh[j])
    for j in range(H):
        acts[3 * H + j] = gh[2 * H + j]
        acts[2 * H + j] = q_tanh(gi[2 * H + j] + acts[j] * gh[2 * H + j])
    for j in range(H):
        h[j] = (<floating>1 - acts[H + j]) * acts[2 * H + j] + acts[H + j] * h_prev[j]


cdef void _gru_backward_row(const floating* acts, const floating* h_prev, const floating* dh,
                            floating* dgi, floating* dgh, floating* dh_prev,
                            Py_ssize_t H) noexcept nogil:
    """dgi, dgh (3H): dL/d(input and hidden projections); dh_prev: the part
    of dL/dh_prev that does not pass through the hidden projection (dh * z)."""
    cdef Py_ssize_t j
    cdef floating r, z, n, ghn, dn, dr, dz
    for j in range(H):
        r = acts[j]
        z = acts[H + j]
        n = acts[2 * H + j]
        ghn = acts[3 * H + j]
        dn = dh[j] * (<floating>1 - z) * (<floating>1 - n * n)
        dz = dh[j] * (h_prev[j] - n) * z * (<floating>1 - z)
        dr = dn * ghn * r * (<floating>1 - r)
        dgi[j] = dr
        dgi[H + j] = dz
        dgi[2 * H + j] = dn
        dgh[j] = dr
        dgh[H + j] = dz
        dgh[2 * H + j] = dn * r
        dh_prev[j] = dh[j] * z


cpdef enum CellOp:
    LSTM_FORWARD
    LSTM_BACKWARD
    GRU_FORWARD
    GRU_BACKWARD


cdef inline void _cell_item(int op, floating* a, floating* b, floating* c, floating* d,
                            floating* e, floating* f, Py_ssize_t H, Py_ssize_t row) noexcept nogil:
    """Row ``row`` of one cell op; a..f are the op's arrays in its entry point's order."""
    if op == LSTM_FORWARD:
        _lstm_row(a + row * 4 * H, b + row * 4 * H, c + row * H, d + row * 4 * H, e + row * H,
                  f + row * H, H)
    elif op == LSTM_BACKWARD:
        _lstm_backward_row(a + row * 4 * H, b + row * H, c + row * H, d + row * H, e + row * H,
                           f + row * 4 * H, H)
    elif op == GRU_FORWARD:
        _gru_row(a + row * 3 * H, b + row * 3 * H, c + row * H, d + row * 4 * H, e + row * H, H)
    else:
        _gru_backward_row(a + row * 4 * H, b + row * H, c + row * H, d + row * 3 * H,
                          e + row * 3 * H, f + row * H, H)


cdef void _cell_run(int op, floating* a, floating* b, floating* c, floating* d, floating* e,
                    floating* f, Py_ssize_t rows, Py_ssize_t H, int num_threads) noexcept nogil:
    cdef Py_ssize_t r
    if num_threads > 1:
        for r in prange(rows, schedule='static', num_threads=num_threads):
            _cell_item(op, a, b, c, d, e, f, H, r)
    else:
        for r in range(rows):
            _cell_item(op, a, b, c, d, e, f, H, r)


# ------------------------------------------------------------------ entry points

# _c_array and _float_type: shared with _rowwise, defined in _kernels.pyx


cdef int _check_shape(str op, str name, cnp.ndarray x, tuple shape) except -1:
    if (<object>x).shape != shape:
        raise ValueError(f"{op}: {name} must have shape {shape}, got {(<object>x).shape}")
    return 0


def attention_softmax(cnp.ndarray scores not None, mask, int mask_kind, mask_offsets,
                      double scale, bint causal, threshold, threads_for):
    """softmax(scale * scores + mask) along the last axis, the causal triangle hidden.

    scores       IN   (N, L, S) float32/float64: q @ k^T for N (batch x head) pairs
    mask         IN   NO_MASK: None. BOOL_MASK: bool (M, L, S), True = attend.
                      FLOAT_MASK: (M, L, S) of scores' dtype, added to the scaled scores
    mask_offsets IN   (N,) int64: where pair n's (L, S) mask starts in mask (elements);
                      None with NO_MASK. Each offset + L*S <= mask.size (checked)
    scale        IN   the factor of the scores (1/sqrt(E) by default)
    causal       IN   hide key j from query i when j > i (top-left aligned, as PyTorch)
    threshold, threads_for  IN   the calling thread's thread policy (_kernels.pxd)
    returns      OUT  (N, L, S) C-contiguous, scores' dtype
    """
    cdef int typenum = _float_type(scores)
    if cnp.PyArray_NDIM(scores) != 3:
        raise ValueError(f"attention_softmax: scores must be (N, L, S), got {(<object>scores).shape}")
    scores = _c_array(scores, typenum)
    cdef Py_ssize_t N = cnp.PyArray_DIMS(scores)[0], L = cnp.PyArray_DIMS(scores)[1]
    cdef Py_ssize_t S = cnp.PyArray_DIMS(scores)[2]
    cdef cnp.ndarray masks = None, offsets = None
    cdef const void* pm = NULL
    cdef const int64_t* po = NULL
    if mask_kind != NO_MASK:
        masks = _c_array(mask, cnp.NPY_BOOL if mask_kind == BOOL_MASK else typenum)
        offsets = _c_array(mask_offsets, cnp.NPY_INT64)
        _check_shape("attention_softmax", "mask_offsets", offsets, (N,))
        if N and (offsets.min() < 0 or offsets.max() + L * S > cnp.PyArray_SIZE(masks)):
            raise ValueError("attention_softmax: a mask offset points outside the mask")
        pm = cnp.PyArray_DATA(masks)
        po = <const int64_t*>cnp.PyArray_DATA(offsets)
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(3, cnp.PyArray_DIMS(scores), typenum, 0)
    if N * L * S == 0:
        return out
    cdef int num_threads = thread_count(cnp.PyArray_SIZE(scores), threshold, threads_for)
    cdef const void* ps = cnp.PyArray_DATA(scores)
    cdef void* pout = cnp.PyArray_DATA(out)
    cdef const unsigned char* bool_mask = <const unsigned char*>pm if mask_kind == BOOL_MASK else NULL
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            _attention_run(<const float*>ps, bool_mask,
                           <const float*>pm if mask_kind == FLOAT_MASK else NULL, po,
                           <float*>pout, N * L, L, S, <float>scale, causal, num_threads)
        else:
            _attention_run(<const double*>ps, bool_mask,
                           <const double*>pm if mask_kind == FLOAT_MASK else NULL, po,
                           <double*>pout, N * L, L, S, scale, causal, num_threads)
    return out


def attention_softmax_backward(cnp.ndarray probs not None, cnp.ndarray grad not None, double scale,
                               threshold, threads_for):
    """dL/dscores of attention_softmax: scale * P * (g - sum(g * P)) per row.

    probs        IN   (..., S) the forward output P
    grad         IN   dL/dP, probs' shape and dtype
    scale        IN   the forward's scale
    threshold, threads_for  IN   the calling thread's thread policy (_kernels.pxd)
    returns      OUT  probs' shape, C-contiguous
    """
    cdef int typenum = _float_type(probs)
    if cnp.PyArray_TYPE(grad) != typenum:
        raise TypeError(f"attention_softmax_backward: probs {probs.dtype} and grad {grad.dtype} differ")
    _check_shape("attention_softmax_backward", "grad", grad, (<object>probs).shape)
    if cnp.PyArray_NDIM(probs) < 1:
        raise ValueError("attention_softmax_backward: probs must have at least one axis")
    probs, grad = _c_array(probs, typenum), _c_array(grad, typenum)
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(probs), cnp.PyArray_DIMS(probs), typenum, 0)
    cdef Py_ssize_t size = cnp.PyArray_SIZE(probs)
    cdef Py_ssize_t S = cnp.PyArray_DIMS(probs)[cnp.PyArray_NDIM(probs) - 1]
    if size == 0:
        return out
    cdef int num_threads = thread_count(size, threshold, threads_for)
    cdef const void* pp = cnp.PyArray_DATA(probs)
    cdef const void* pg = cnp.PyArray_DATA(grad)
    cdef void* pout = cnp.PyArray_DATA(out)
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            _attention_backward_run(<const float*>pp, <const float*>pg, <float*>pout, size // S, S,
                                    <float>scale, num_threads)
        else:
            _attention_backward_run(<const double*>pp, <const double*>pg, <double*>pout, size // S, S,
                                    scale, num_threads)
    return out


cdef tuple _cell_arrays(str op, tuple arrays, tuple widths, Py_ssize_t* rows, Py_ssize_t* H):
    """Check the cell op's arrays: all (B, widths[k] * H), one float dtype, C-contiguous
    (written ones are checked writeable by the caller's allocation)."""
    cdef cnp.ndarray first = arrays[0]
    cdef int typenum = _float_type(first)
    cdef cnp.ndarray x
    if cnp.PyArray_NDIM(first) != 2 or cnp.PyArray_DIMS(first)[1] % widths[0] != 0:
        raise ValueError(f"{op}: the first array must be (B, {widths[0]}H), got {(<object>first).shape}")
    rows[0] = cnp.PyArray_DIMS(first)[0]
    H[0] = cnp.PyArray_DIMS(first)[1] // widths[0]
    checked = []
    for k, array in enumerate(arrays):
        if not cnp.PyArray_Check(array) or cnp.PyArray_TYPE(<cnp.ndarray>array) != typenum:
            raise TypeError(f"{op}: array {k} must be an ndarray of {first.dtype}")
        x = <cnp.ndarray>array
        _check_shape(op, f"array {k}", x, (rows[0], widths[k] * H[0]))
        if not cnp.PyArray_ISCARRAY(x) or not cnp.PyArray_ISNOTSWAPPED(x):
            raise ValueError(f"{op}: array {k} must be C-contiguous and writeable")
        checked.append(x)
    return typenum, checked


cdef void* _data_at(list arrays, Py_ssize_t k):
    return cnp.PyArray_DATA(<cnp.ndarray>arrays[k]) if k < len(arrays) else NULL


def cell(int op, tuple arrays, threshold, threads_for):
    """One fused time step of an LSTM or GRU, row by row; arrays are updated in place.

    op = LSTM_FORWARD, arrays = (x_gates, h_gates, c_prev, acts, c, h):
        x_gates IN      (B, 4H) the input projection x W_ih^T + b_ih + b_hh
        h_gates IN      (B, 4H) the hidden projection h W_hh^T
        c_prev  IN      (B, H) the previous cell state
        acts    OUT     (B, 4H) the activations (i, f, g, o)
        c, h    OUT     (B, H) the new cell and hidden states
    op = LSTM_BACKWARD, arrays = (acts, c_prev, c, dh, dc, dgates):
        acts, c_prev, c  IN  (B, 4H), (B, H), (B, H) what the forward step saved
        dh      IN      (B, H) dL/dh of this step (output and recurrence)
        dc      IN/OUT  (B, H) dL/dc in, dL/dc_prev out
        dgates  OUT     (B, 4H) dL/d(pre-activations)
    op = GRU_FORWARD, arrays = (gi, gh, h_prev, acts, h):
        gi, gh  IN      (B, 3H) input and hidden projections, biases included
        h_prev  IN      (B, H)
        acts    OUT     (B, 4H) r, z, n and gh's n part, for the backward
        h       OUT     (B, H) the new hidden state
    op = GRU_BACKWARD, arrays = (acts, h_prev, dh, dgi, dgh, dh_prev):
        acts, h_prev, dh  IN  as saved; dh = dL/dh of this step
        dgi, dgh OUT    (B, 3H) dL/dgi and dL/dgh
        dh_prev  OUT    (B, H) dh * z, the direct part of dL/dh_prev
    threshold, threads_for  IN   the calling thread's thread policy (_kernels.pxd)
    """
    cdef tuple widths
    if op == LSTM_FORWARD:
        widths = (4, 4, 1, 4, 1, 1)
    elif op == LSTM_BACKWARD:
        widths = (4, 1, 1, 1, 1, 4)
    elif op == GRU_FORWARD:
        widths = (3, 3, 1, 4, 1)
    elif op == GRU_BACKWARD:
        widths = (4, 1, 1, 3, 3, 1)
    else:
        raise ValueError(f"cell: unknown op {op}")
    if len(arrays) != len(widths):
        raise ValueError(f"cell: op {op} takes {len(widths)} arrays, got {len(arrays)}")
    cdef Py_ssize_t rows = 0, H = 0   # set by _cell_arrays (0: gcc cannot see that it raises otherwise)
    cdef int typenum
    typenum_object, checked = _cell_arrays("cell", arrays, widths, &rows, &H)
    typenum = typenum_object
    if rows * H == 0:
        return
    cdef int num_threads = thread_count(rows * H * 8, threshold, threads_for)
    cdef void* a = _data_at(checked, 0)
    cdef void* b = _data_at(checked, 1)
    cdef void* c = _data_at(checked, 2)
    cdef void* d = _data_at(checked, 3)
    cdef void* e = _data_at(checked, 4)
    cdef void* f = _data_at(checked, 5)
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            _cell_run(op, <float*>a, <float*>b, <float*>c, <float*>d, <float*>e, <float*>f, rows, H,
                      num_threads)
        else:
            _cell_run(op, <double*>a, <double*>b, <double*>c, <double*>d, <double*>e, <double*>f,
                      rows, H, num_threads)
