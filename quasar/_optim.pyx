# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Optimizer updates: one in-place pass over a parameter and its state.

Each kernel reads grad and the state once and writes param and the state
once: no temporaries, however many terms the update has (the NumPy reference
allocates several arrays per step). Elements are independent, so chunks of
CHUNK elements run in parallel.

The coefficients arrive as Python floats and are cast to the parameter's
dtype exactly where the NumPy reference's arithmetic does it, so the two
backends agree to the last bit (see adam_step for the one float64 detour).
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt

from quasar._kernels cimport CHUNK, q_sqrt


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


def sgd_step(floating[::1] param, const floating[::1] grad, floating[::1] buf,
             double lr, double momentum, double dampening, double weight_decay,
             bint nesterov, bint first, int num_threads):
    """PyTorch's SGD, in place.

    param        IN/OUT  (n,) contiguous parameter
    grad         IN      (n,) its gradient
    buf          IN/OUT  (n,) momentum buffer, or None when momentum == 0
    lr, momentum, dampening, weight_decay, nesterov
                 IN      the hyper-parameters
    first        IN      True on the first step (buf is then overwritten with d)
    num_threads  IN      OpenMP threads; 1 runs serially
    """
    cdef Py_ssize_t n = param.shape[0], n_chunks, c
    cdef bint use_momentum = momentum != 0
    cdef floating* buf_ptr = NULL
    if grad.shape[0] != n:
        raise ValueError("sgd_step: param and grad differ in size")
    if use_momentum:
        if buf is None or buf.shape[0] != n:
            raise ValueError("sgd_step: momentum needs a buffer of param's size")
    if n == 0:
        return
    if use_momentum:
        buf_ptr = &buf[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    with nogil:
        if num_threads > 1:
            for c in prange(n_chunks, schedule='static', num_threads=num_threads):
                _sgd_item(&param[0], &grad[0], buf_ptr, n, c, lr, momentum, dampening,
                          weight_decay, nesterov, first)
        else:
            for c in range(n_chunks):
                _sgd_item(&param[0], &grad[0], buf_ptr, n, c, lr, momentum, dampening,
                          weight_decay, nesterov, first)


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


def adam_step(floating[::1] param, const floating[::1] grad, floating[::1] m,
              floating[::1] v, double lr, double beta1, double beta2, double eps,
              double weight_decay, bint decoupled, double bias1, double bias2,
              int num_threads):
    """PyTorch's Adam (decoupled=False) / AdamW (decoupled=True), in place.

    param        IN/OUT  (n,) contiguous parameter
    grad         IN      (n,) its gradient
    m, v         IN/OUT  (n,) first and second moment estimates
    lr, beta1, beta2, eps, weight_decay, decoupled
                 IN      the hyper-parameters
    bias1, bias2 IN      1 - beta1**step and 1 - beta2**step
    num_threads  IN      OpenMP threads; 1 runs serially
    """
    cdef Py_ssize_t n = param.shape[0], n_chunks, c
    cdef double sqrt_bias2 = sqrt(bias2)      # as np.sqrt(bias2): correctly rounded
    if grad.shape[0] != n or m.shape[0] != n or v.shape[0] != n:
        raise ValueError("adam_step: param, grad, m and v differ in size")
    if n == 0:
        return
    n_chunks = (n + CHUNK - 1) // CHUNK
    with nogil:
        if num_threads > 1:
            for c in prange(n_chunks, schedule='static', num_threads=num_threads):
                _adam_item(&param[0], &grad[0], &m[0], &v[0], n, c, lr, beta1, beta2, eps,
                           weight_decay, decoupled, bias1, sqrt_bias2)
        else:
            for c in range(n_chunks):
                _adam_item(&param[0], &grad[0], &m[0], &v[0], n, c, lr, beta1, beta2, eps,
                           weight_decay, decoupled, bias1, sqrt_bias2)
