# OpenMP facts for ``quasar.parallel`` (the declarations live in _omp.pxd).

from quasar._omp cimport QUASAR_OPENMP_ENABLED, omp_get_max_threads, omp_get_num_procs


def openmp_enabled():
    """True if the kernels were compiled with OpenMP (else they run serially)."""
    return QUASAR_OPENMP_ENABLED


def max_threads():
    """``omp_get_max_threads()`` for the calling thread, read now (1 without OpenMP)."""
    return omp_get_max_threads()


def num_procs():
    """Processors OpenMP sees (1 without OpenMP)."""
    return omp_get_num_procs()
