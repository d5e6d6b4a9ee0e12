# The one place where quasar talks to OpenMP.
#
# Every ``omp_*`` call in the kernels goes through the declarations below, so
# the extension still compiles when the C compiler has no OpenMP support:
# without ``-fopenmp`` the macro ``_OPENMP`` is undefined, ``<omp.h>`` is not
# included, and the functions become constants that describe a serial
# machine. (Cython's ``prange`` already degrades to a plain ``for`` loop in
# that case.) scikit-learn's ``_openmp_helpers.pxd`` uses the same pattern.

cdef extern from *:
    """
    #ifdef _OPENMP
        #include <omp.h>
        #define QUASAR_OPENMP_ENABLED 1
    #else
        #define QUASAR_OPENMP_ENABLED 0
        #define omp_get_max_threads() 1
        #define omp_get_thread_num() 0
        #define omp_get_num_procs() 1
    #endif
    """
    # 1 if this extension was compiled with OpenMP, else 0.
    bint QUASAR_OPENMP_ENABLED

    # Threads a parallel region started *by the calling thread* would use:
    # honours OMP_NUM_THREADS and omp_set_num_threads() (which is what
    # threadpoolctl.threadpool_limits(..., user_api="openmp") calls).
    int omp_get_max_threads() noexcept nogil
    int omp_get_thread_num() noexcept nogil
    int omp_get_num_procs() noexcept nogil
