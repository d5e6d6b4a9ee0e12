# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""quasar's compiled kernels: one extension module, ``quasar._kernels``.

Each kernel family lives in its own include file, read here in order as if
its text stood at the ``include``; the backend wrapper that calls it is
named after it::

    _omp.pxi          OpenMP facts for quasar.parallel      (quasar/parallel.py)
    _buffers.pxi      the large-buffer cache of the outputs  (quasar/buffers.py)
    _elementwise.pxi  arithmetic, comparisons, unary maps    backends/compiled.py
    _reduce.pxi       sum, max, min over any axes            backends/compiled.py
    _rowwise.pxi      softmax family, cross-entropy          backends/compiled.py
    _optim.pxi        optimizer updates                      backends/compiled.py
    _index.pxi        scatter-add, cumsum, arg-extrema, ...  backends/compiled_index.py
    _pointwise.pxi    the rest of libm, scans                backends/compiled_pointwise.py
    _select.pxi       reducing scatter                       backends/compiled_select.py
    _sequence.pxi     attention rows, LSTM/GRU cells         backends/compiled_sequence.py
    _conv.pxi         im2col, pooling, batch norm            backends/compiled_conv.py

The helpers the families share are in _kernels.pxd (the inline ``nogil``
loops' building blocks, and the thread policy) and just below (the ndarray
helpers); every ``omp_*`` call goes through _omp.pxd.

One module, not one per family: one import, one shared copy of Cython's
runtime code, and the families share helpers without cimports. All families
share one namespace, so a family's module-level names must be unique across
the families: where two families wanted the same name, the later one carries
its family's prefix (``pointwise_unary``, ``PointwiseUnaryOp``,
``SCATTER_SUM``). The directives above apply to every family.
"""

cimport numpy as cnp

cnp.import_array()


# ------------------------------------------------------------------ shared helpers

cdef double TWO_OVER_SQRT_PI = 1.1283791670955126   # erf'(x) = 2/sqrt(pi) exp(-x^2): _index, _pointwise


cdef cnp.ndarray _c_array(object x, int typenum):
    """x as a C-contiguous, aligned, native array of typenum (x itself when it is one)."""
    if (cnp.PyArray_Check(x) and cnp.PyArray_TYPE(<cnp.ndarray>x) == typenum
            and cnp.PyArray_ISCARRAY_RO(<cnp.ndarray>x) and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>x)):
        return <cnp.ndarray>x
    return cnp.PyArray_FROM_OTF(x, typenum, cnp.NPY_ARRAY_CARRAY_RO | cnp.NPY_ARRAY_FORCECAST)


cdef int _float_type(cnp.ndarray x) except -1:
    """x's type number, if it is float32 or float64; else TypeError."""
    cdef int typenum = cnp.PyArray_TYPE(x)
    if typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE:
        raise TypeError(f"expected a float32 or float64 array, got {x.dtype}")
    return typenum


# ------------------------------------------------------------------ the families

include "_omp.pxi"
include "_buffers.pxi"
include "_elementwise.pxi"
include "_reduce.pxi"
include "_rowwise.pxi"
include "_optim.pxi"
include "_index.pxi"
include "_pointwise.pxi"
include "_select.pxi"
include "_sequence.pxi"
include "_conv.pxi"
