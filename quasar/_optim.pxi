# Optimizer updates: one in-place pass over a parameter and its state.
#
# Each kernel reads grad and the state once and writes param and the state
# once: no temporaries, however many terms the update has (the NumPy reference
# allocates several arrays per step). Elements are independent, so chunks of
# CHUNK elements run in parallel.
#
# The coefficients arrive as Python floats and are cast to the parameter's
# dtype exactly where the NumPy reference's arithmetic does it, so the two
# backends agree to the last bit (see adam_step for the one float64 detour).

cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt


cnp.import_array()


cdef void _sgd_chunk(floating* param, const floating* grad, floating* buf, Py_ssize_t n,
                     floating lr, floating weight_decay, floating momentum,
                     floating one_minus_dampening, bint use_weight_decay,
                     bint use_momentum, bint nesterov, bint first) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating d, b
    for i in range(n):
        d = grad[i]
        if use_weight_decay:
            d = d + weight_decay * param[i]
        if use_momentum:
            if first:
                b = d
            else:
                b = buf[i] * momentum + one_minus_dampening * d
            buf[i] = b
            d = d + momentum * b if nesterov else b
        param[i] = param[i] - lr * d


cdef inline void _sgd_item(floating* param, const floating* grad, floating* buf,
                          Py_ssize_t n, Py_ssize_t chunk, double lr, double momentum,
                          double dampening, double weight_decay, bint nesterov,
                          bint first) noexcept nogil:
    """Chunk ``chunk`` of sgd_step (buf is NULL without momentum). The
    coefficients are cast to the dtype here, as the reference's NumPy
    arithmetic casts Python floats."""
    cdef Py_ssize_t start = chunk * CHUNK
    _sgd_chunk(param + start, grad + start, buf + start if buf != NULL else NULL,
               min(<Py_ssize_t>CHUNK, n - start),
               <floating>lr, <floating>weight_decay, <floating>momentum,
               <floating>(1 - dampening), weight_decay != 0, buf != NULL, nesterov, first)


cdef void _adam_chunk(floating* param, const floating* grad, floating* m, floating* v,
                      Py_ssize_t n, bint decoupled_decay, floating decay_factor,
                      bint coupled_decay, floating weight_decay,
                      floating beta1, floating one_minus_beta1,
                      floating beta2, floating one_minus_beta2,
                      floating step_size, double sqrt_bias2, double eps) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating d, mi, vi
    cdef double denom
    for i in range(n):
        if decoupled_decay:                     # AdamW
            param[i] = param[i] * decay_factor
        d = grad[i]
        if coupled_decay:                       # Adam's L2 term
            d = d + weight_decay * param[i]
        mi = m[i] * beta1 + one_minus_beta1 * d
        vi = v[i] * beta2 + one_minus_beta2 * d * d
        m[i] = mi
        v[i] = vi
        # The reference divides sqrt(v) (in the param dtype) by np.sqrt(bias2),
        # a float64 scalar, so its denominator and update are float64 even for
        # float32 params; we follow it to agree to the bit.
        denom = <double>q_sqrt(vi) / sqrt_bias2 + eps
        param[i] = <floating>(<double>param[i] - <double>(step_size * mi) / denom)


cdef inline void _adam_item(floating* param, const floating* grad, floating* m, floating* v,
                           Py_ssize_t n, Py_ssize_t chunk, double lr, double beta1,
                           double beta2, double eps, double weight_decay, bint decoupled,
                           double bias1, double sqrt_bias2) noexcept nogil:
    """Chunk ``chunk`` of adam_step; the coefficients are cast to the dtype
    exactly where the reference's NumPy arithmetic casts them."""
    cdef Py_ssize_t start = chunk * CHUNK
    _adam_chunk(param + start, grad + start, m + start, v + start,
                min(<Py_ssize_t>CHUNK, n - start),
                weight_decay != 0 and decoupled, <floating>(1 - lr * weight_decay),
                weight_decay != 0 and not decoupled, <floating>weight_decay,
                <floating>beta1, <floating>(1 - beta1),
                <floating>beta2, <floating>(1 - beta2),
                <floating>(lr / bias1), sqrt_bias2, eps)


# ------------------------------------------------------------------ entry points
# ndarrays of any shape, updated in place (no typed memoryviews: acquiring
# one costs ~0.2 us, and a step acquires four or five per parameter). A
# parameter or state array the loops cannot write directly (not C-contiguous,
# say a transposed view) is updated through a contiguous copy that is then
# written back. The thread count: ``thread_count``, the thread policy of
# _kernels.pxd, with the parameter's elements as the work.

cdef int _parameter_float_type(cnp.ndarray param) except -1:
    """param's type number, if it is float32 or float64; else TypeError."""
    cdef int typenum = cnp.PyArray_TYPE(param)
    if typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE:
        raise TypeError(f"expected a float32 or float64 parameter, got {param.dtype}")
    return typenum


cdef cnp.ndarray _updatable(cnp.ndarray x, int typenum, Py_ssize_t size, str name):
    """x itself if the loops can update it in place (C-contiguous, aligned,
    native, writeable, of typenum); else a C-contiguous copy for _write_back."""
    if cnp.PyArray_TYPE(x) != typenum:
        raise TypeError(f"{name} is {x.dtype}, the parameter {cnp.PyArray_DescrFromType(typenum)}")
    if cnp.PyArray_SIZE(x) != size:
        raise ValueError(f"{name} has {cnp.PyArray_SIZE(x)} elements, the parameter {size}")
    if cnp.PyArray_ISCARRAY(x) and cnp.PyArray_ISNOTSWAPPED(x):
        return x
    if not cnp.PyArray_ISWRITEABLE(x):
        raise ValueError(f"{name} is read-only")
    return cnp.PyArray_FROM_OTF(x, typenum, cnp.NPY_ARRAY_CARRAY | cnp.NPY_ARRAY_ENSURECOPY)


cdef cnp.ndarray _readable(object x, int typenum, Py_ssize_t size, str name):
    """x as a C-contiguous aligned native array of typenum (x itself when it is one)."""
    cdef cnp.ndarray arr = cnp.PyArray_FROM_OTF(x, typenum, cnp.NPY_ARRAY_CARRAY_RO)
    if cnp.PyArray_SIZE(arr) != size:
        raise ValueError(f"{name} has {cnp.PyArray_SIZE(arr)} elements, the parameter {size}")
    return arr


cdef int _write_back(cnp.ndarray original, cnp.ndarray updated) except -1:
    """Finish an update that went through a copy (see _updatable)."""
    if updated is not original:
        cnp.PyArray_CopyInto(original, updated)
    return 0


cdef void _sgd_run(floating* param, const floating* grad, floating* buf, Py_ssize_t n,
                   double lr, double momentum, double dampening, double weight_decay,
                   bint nesterov, bint first, int num_threads) noexcept nogil:
    cdef Py_ssize_t c, n_chunks = (n + CHUNK - 1) // CHUNK
    if num_threads > 1:
        for c in prange(n_chunks, schedule='static', num_threads=num_threads):
            _sgd_item(param, grad, buf, n, c, lr, momentum, dampening, weight_decay, nesterov, first)
    else:
        for c in range(n_chunks):
            _sgd_item(param, grad, buf, n, c, lr, momentum, dampening, weight_decay, nesterov, first)


def sgd_step(cnp.ndarray param not None, grad, cnp.ndarray buf, double lr, double momentum,
             double dampening, double weight_decay, bint nesterov, bint first,
             threshold, threads_for):
    """PyTorch's SGD, in place.

    param        IN/OUT  float32/float64 parameter, any shape and strides
    grad         IN      its gradient: as many elements, the same dtype
    buf          IN/OUT  momentum buffer like param, or None when momentum == 0
    lr, momentum, dampening, weight_decay, nesterov
                 IN      the hyper-parameters
    first        IN      True on the first step (buf is then overwritten with d)
    threshold, threads_for  IN   the calling thread's thread policy (_kernels.pxd)
    """
    cdef int typenum = _parameter_float_type(param)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(param)
    cdef bint use_momentum = momentum != 0
    if use_momentum and buf is None:
        raise ValueError("sgd_step: momentum != 0 needs a momentum buffer")
    cdef cnp.ndarray p = _updatable(param, typenum, n, "param")
    cdef cnp.ndarray g = _readable(grad, typenum, n, "grad")
    cdef cnp.ndarray b = _updatable(buf, typenum, n, "buf") if use_momentum else None
    if n == 0:
        return
    cdef int num_threads = thread_count(n, threshold, threads_for)
    cdef void* pp = cnp.PyArray_DATA(p)
    cdef const void* pg = cnp.PyArray_DATA(g)
    cdef void* pb = cnp.PyArray_DATA(b) if use_momentum else NULL
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            _sgd_run(<float*>pp, <const float*>pg, <float*>pb, n, lr, momentum, dampening,
                     weight_decay, nesterov, first, num_threads)
        else:
            _sgd_run(<double*>pp, <const double*>pg, <double*>pb, n, lr, momentum, dampening,
                     weight_decay, nesterov, first, num_threads)
    _write_back(param, p)
    if use_momentum:
        _write_back(buf, b)


cdef void _adam_run(floating* param, const floating* grad, floating* m, floating* v,
                    Py_ssize_t n, double lr, double beta1, double beta2, double eps,
                    double weight_decay, bint decoupled, double bias1, double sqrt_bias2,
                    int num_threads) noexcept nogil:
    cdef Py_ssize_t c, n_chunks = (n + CHUNK - 1) // CHUNK
    if num_threads > 1:
        for c in prange(n_chunks, schedule='static', num_threads=num_threads):
            _adam_item(param, grad, m, v, n, c, lr, beta1, beta2, eps, weight_decay, decoupled,
                       bias1, sqrt_bias2)
    else:
        for c in range(n_chunks):
            _adam_item(param, grad, m, v, n, c, lr, beta1, beta2, eps, weight_decay, decoupled,
                       bias1, sqrt_bias2)


def adam_step(cnp.ndarray param not None, grad, cnp.ndarray m not None, cnp.ndarray v not None,
              double lr, double beta1, double beta2, double eps, double weight_decay,
              bint decoupled, double bias1, double bias2, threshold, threads_for):
    """PyTorch's Adam (decoupled=False) / AdamW (decoupled=True), in place.

    param        IN/OUT  float32/float64 parameter, any shape and strides
    grad         IN      its gradient: as many elements, the same dtype
    m, v         IN/OUT  first and second moment estimates, like param
    lr, beta1, beta2, eps, weight_decay, decoupled
                 IN      the hyper-parameters
    bias1, bias2 IN      1 - beta1**step and 1 - beta2**step
    threshold, threads_for  IN   the calling thread's thread policy (_kernels.pxd)
    """
    cdef int typenum = _parameter_float_type(param)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(param)
    cdef double sqrt_bias2 = sqrt(bias2)      # as np.sqrt(bias2): correctly rounded
    cdef cnp.ndarray p = _updatable(param, typenum, n, "param")
    cdef cnp.ndarray g = _readable(grad, typenum, n, "grad")
    cdef cnp.ndarray m1 = _updatable(m, typenum, n, "m")
    cdef cnp.ndarray v1 = _updatable(v, typenum, n, "v")
    if n == 0:
        return
    cdef int num_threads = thread_count(n, threshold, threads_for)
    cdef void* pp = cnp.PyArray_DATA(p)
    cdef const void* pg = cnp.PyArray_DATA(g)
    cdef void* pm = cnp.PyArray_DATA(m1)
    cdef void* pv = cnp.PyArray_DATA(v1)
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            _adam_run(<float*>pp, <const float*>pg, <float*>pm, <float*>pv, n, lr, beta1, beta2,
                      eps, weight_decay, decoupled, bias1, sqrt_bias2, num_threads)
        else:
            _adam_run(<double*>pp, <const double*>pg, <double*>pm, <double*>pv, n, lr, beta1,
                      beta2, eps, weight_decay, decoupled, bias1, sqrt_bias2, num_threads)
    _write_back(param, p)
    _write_back(m, m1)
    _write_back(v, v1)


# ------------------------------------------------------------------ RMSprop and Adagrad
# The same shape as SGD and Adam above: one chunk function with the rule,
# one item function that casts the coefficients to the dtype, one run
# function with the serial and the parallel loop, one entry point.

cdef void _rmsprop_chunk(floating* param, const floating* grad, floating* square_avg,
                         floating* grad_avg, floating* buf, Py_ssize_t n, floating lr,
                         floating alpha, floating one_minus_alpha, floating eps,
                         floating weight_decay, floating momentum, bint use_weight_decay,
                         bint centered, bint use_momentum) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating d, sq, ga, avg, b
    for i in range(n):
        d = grad[i]
        if use_weight_decay:
            d = d + weight_decay * param[i]
        sq = square_avg[i] * alpha + one_minus_alpha * d * d
        square_avg[i] = sq
        if centered:
            ga = grad_avg[i] * alpha + one_minus_alpha * d
            grad_avg[i] = ga
            avg = q_sqrt(sq - ga * ga) + eps
        else:
            avg = q_sqrt(sq) + eps
        if use_momentum:
            b = buf[i] * momentum + d / avg
            buf[i] = b
            param[i] = param[i] - lr * b
        else:
            param[i] = param[i] - lr * (d / avg)


cdef inline void _rmsprop_item(floating* param, const floating* grad, floating* square_avg,
                               floating* grad_avg, floating* buf, Py_ssize_t n, Py_ssize_t chunk,
                               double lr, double alpha, double eps, double weight_decay,
                               double momentum) noexcept nogil:
    cdef Py_ssize_t start = chunk * CHUNK
    _rmsprop_chunk(param + start, grad + start, square_avg + start,
                   grad_avg + start if grad_avg != NULL else NULL,
                   buf + start if buf != NULL else NULL,
                   min(<Py_ssize_t>CHUNK, n - start), <floating>lr, <floating>alpha,
                   <floating>(1 - alpha), <floating>eps, <floating>weight_decay,
                   <floating>momentum, weight_decay != 0, grad_avg != NULL, buf != NULL)


cdef void _rmsprop_run(floating* param, const floating* grad, floating* square_avg,
                       floating* grad_avg, floating* buf, Py_ssize_t n, double lr, double alpha,
                       double eps, double weight_decay, double momentum,
                       int num_threads) noexcept nogil:
    cdef Py_ssize_t c, n_chunks = (n + CHUNK - 1) // CHUNK
    if num_threads > 1:
        for c in prange(n_chunks, schedule='static', num_threads=num_threads):
            _rmsprop_item(param, grad, square_avg, grad_avg, buf, n, c, lr, alpha, eps,
                          weight_decay, momentum)
    else:
        for c in range(n_chunks):
            _rmsprop_item(param, grad, square_avg, grad_avg, buf, n, c, lr, alpha, eps,
                          weight_decay, momentum)


def rmsprop_step(cnp.ndarray param not None, grad, cnp.ndarray square_avg not None,
                 cnp.ndarray grad_avg, cnp.ndarray buf, double lr, double alpha, double eps,
                 double weight_decay, double momentum, threshold, threads_for):
    """PyTorch's RMSprop, in place.

    param        IN/OUT  float32/float64 parameter, any shape and strides
    grad         IN      its gradient: as many elements, the same dtype
    square_avg   IN/OUT  running mean of grad**2, like param
    grad_avg     IN/OUT  running mean of grad (centered=True), or None
    buf          IN/OUT  momentum buffer (momentum > 0), or None
    lr, alpha, eps, weight_decay, momentum
                 IN      the hyper-parameters
    threshold, threads_for  IN   the calling thread's thread policy (_kernels.pxd)
    """
    cdef int typenum = _parameter_float_type(param)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(param)
    cdef bint use_momentum = momentum != 0
    if use_momentum and buf is None:
        raise ValueError("rmsprop_step: momentum != 0 needs a momentum buffer")
    cdef cnp.ndarray p = _updatable(param, typenum, n, "param")
    cdef cnp.ndarray g = _readable(grad, typenum, n, "grad")
    cdef cnp.ndarray sq = _updatable(square_avg, typenum, n, "square_avg")
    cdef cnp.ndarray ga = _updatable(grad_avg, typenum, n, "grad_avg") if grad_avg is not None else None
    cdef cnp.ndarray b = _updatable(buf, typenum, n, "buf") if use_momentum else None
    if n == 0:
        return
    cdef int num_threads = thread_count(n, threshold, threads_for)
    cdef void* pp = cnp.PyArray_DATA(p)
    cdef const void* pg = cnp.PyArray_DATA(g)
    cdef void* psq = cnp.PyArray_DATA(sq)
    cdef void* pga = cnp.PyArray_DATA(ga) if ga is not None else NULL
    cdef void* pb = cnp.PyArray_DATA(b) if use_momentum else NULL
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            _rmsprop_run(<float*>pp, <const float*>pg, <float*>psq, <float*>pga, <float*>pb, n,
                         lr, alpha, eps, weight_decay, momentum, num_threads)
        else:
            _rmsprop_run(<double*>pp, <const double*>pg, <double*>psq, <double*>pga, <double*>pb,
                         n, lr, alpha, eps, weight_decay, momentum, num_threads)
    _write_back(param, p)
    _write_back(square_avg, sq)
    if ga is not None:
        _write_back(grad_avg, ga)
    if use_momentum:
        _write_back(buf, b)


cdef void _adagrad_chunk(floating* param, const floating* grad, floating* total, Py_ssize_t n,
                         floating clr, floating eps, floating weight_decay,
                         bint use_weight_decay) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating d, s
    for i in range(n):
        d = grad[i]
        if use_weight_decay:
            d = d + weight_decay * param[i]
        s = total[i] + d * d
        total[i] = s
        param[i] = param[i] - clr * (d / (q_sqrt(s) + eps))


cdef inline void _adagrad_item(floating* param, const floating* grad, floating* total,
                               Py_ssize_t n, Py_ssize_t chunk, double clr, double eps,
                               double weight_decay) noexcept nogil:
    cdef Py_ssize_t start = chunk * CHUNK
    _adagrad_chunk(param + start, grad + start, total + start, min(<Py_ssize_t>CHUNK, n - start),
                   <floating>clr, <floating>eps, <floating>weight_decay, weight_decay != 0)


cdef void _adagrad_run(floating* param, const floating* grad, floating* total, Py_ssize_t n,
                       double clr, double eps, double weight_decay, int num_threads) noexcept nogil:
    cdef Py_ssize_t c, n_chunks = (n + CHUNK - 1) // CHUNK
    if num_threads > 1:
        for c in prange(n_chunks, schedule='static', num_threads=num_threads):
            _adagrad_item(param, grad, total, n, c, clr, eps, weight_decay)
    else:
        for c in range(n_chunks):
            _adagrad_item(param, grad, total, n, c, clr, eps, weight_decay)


def adagrad_step(cnp.ndarray param not None, grad, cnp.ndarray total not None, double clr,
                 double eps, double weight_decay, threshold, threads_for):
    """PyTorch's Adagrad, in place.

    param        IN/OUT  float32/float64 parameter, any shape and strides
    grad         IN      its gradient: as many elements, the same dtype
    total        IN/OUT  the running sum of grad**2 ("sum" in PyTorch's state), like param
    clr          IN      this step's learning rate, lr / (1 + (step - 1) * lr_decay)
    eps, weight_decay  IN  the hyper-parameters
    threshold, threads_for  IN   the calling thread's thread policy (_kernels.pxd)
    """
    cdef int typenum = _parameter_float_type(param)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(param)
    cdef cnp.ndarray p = _updatable(param, typenum, n, "param")
    cdef cnp.ndarray g = _readable(grad, typenum, n, "grad")
    cdef cnp.ndarray s = _updatable(total, typenum, n, "sum")
    if n == 0:
        return
    cdef int num_threads = thread_count(n, threshold, threads_for)
    cdef void* pp = cnp.PyArray_DATA(p)
    cdef const void* pg = cnp.PyArray_DATA(g)
    cdef void* ps = cnp.PyArray_DATA(s)
    with nogil:
        if typenum == cnp.NPY_FLOAT:
            _adagrad_run(<float*>pp, <const float*>pg, <float*>ps, n, clr, eps, weight_decay,
                         num_threads)
        else:
            _adagrad_run(<double*>pp, <const double*>pg, <double*>ps, n, clr, eps, weight_decay,
                         num_threads)
    _write_back(param, p)
    _write_back(total, s)
