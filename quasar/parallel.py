"""How many threads the compiled kernels use.

Every kernel call asks ``threads_for(n_elements)``: below the parallel
threshold it runs serially (starting a parallel region costs more than a
small op takes), above it uses ``min(max_workers, omp_get_max_threads())``.
``omp_get_max_threads()`` is read at every call, so ``OMP_NUM_THREADS`` and
``threadpoolctl.threadpool_limits(1, user_api="openmp")`` are respected.

The settings are *per Python thread*: ``set_num_threads`` and
``init_parallel_autograd`` set the process-wide defaults and the calling
thread's settings; a thread that has not touched them starts from the
process-wide defaults; ``with config(...)`` changes only the calling thread,
for the block.

Also here:

* ``worker_threads(n)``, for n Python threads running quasar at once: each
  thread's kernels, and NumPy's BLAS (the matrix products), then use
  ``cores // n`` threads, so together they never ask for more threads than
  there are cores.
* Fork safety: a process forked from this one (a ``multiprocessing`` pool
  with the ``fork`` start method) runs every kernel on one thread. GNU
  OpenMP is not fork-safe: a child that entered a parallel region after the
  parent had run one would hang. ``spawn`` or ``forkserver`` children start
  fresh and use all their threads.
* The seed's parallel ops, ``par_add``, ``par_mul``, ``par_matmul`` and
  ``par_relu``: their forward *and* backward kernels take the parallel path
  whatever the tensors' size (for demonstrations and benchmarks).

This module imports even when the extension is not built: then
``openmp_enabled()`` is False and ``threads_for`` always returns 1.
"""

import contextlib
import dataclasses
import os
import sys
import threading

from .autograd import Function  # autograd imports nothing of quasar at load time

# How the kernels' OpenMP workers wait between parallel regions.
#
# libgomp reads OMP_WAIT_POLICY / GOMP_SPINCOUNT once, when it is loaded; by
# default an idle worker busy-waits ~3 ms after every parallel region. That
# is harmless only when nothing else wants the cores, and here something
# always does: the Python code between two kernels and, above all, NumPy's
# BLAS threads, which need the same cores for every matmul. Measured on the
# 2-core development machine, a training-like step (matmul 192x192, then add,
# exp and sum on 131072 floats):
#     1 thread 0.45 ms; 2 spinning threads 12.7 ms; 2 sleeping threads 0.5 ms.
# So quasar's workers spin only briefly (SPIN_COUNT) and then sleep.
#
# A process has ONE runtime called libgomp.so.1, and PyTorch bundles its own
# under that name: whichever library was imported first used to set the
# policy for both. PyTorch first: quasar ran on PyTorch's spinning workers
# (MLP step 2.35x slower); quasar first: PyTorch ran on sleeping ones (its
# small-model step 1.83x slower). So the extension links a private copy of
# libgomp (quasar/_libs/libgomp-quasar.so.1, see setup.py), loaded here with
# RTLD_DEEPBIND, so that its GOMP_* symbols come from that copy even when
# another libgomp was loaded globally before. The policy is put into the
# environment only while the copy loads, then the environment is restored:
# a runtime loaded later (PyTorch's) sees what the user set, nothing else.
# A value the user set (OMP_WAIT_POLICY or GOMP_SPINCOUNT) is left alone.
#
# SPIN_COUNT: iterations of libgomp's spin loop (~100 per microsecond) before
# a worker sleeps. Long enough that back-to-back kernels find their workers
# awake (waking a sleeping worker costs 5-100 us on the development VM), short
# enough that a following matmul's BLAS threads get the cores. Measured on
# the 2-core development VM, quiet, best of 7 (add at 1M float32 elements /
# MLP 784-1024-1024-10 step, batch 512 / MLP 784-256-256-10, batch 128):
#     sleep at once (PASSIVE), threshold 524288:  164-182 us / 30-32 ms / 1.4 ms
#     GOMP_SPINCOUNT=3000 (~30 us), threshold 65536:  96-105 us / 32-33 ms / 1.4 ms
#     10000:  98-108 us / 31-35 ms / 1.6-2.5 ms
#     30000:  97-106 us / 42-52 ms / 2.7-4.5 ms
#     300000 (libgomp's default, ~3 ms): 97-101 us / 74-86 ms / 10 ms
#     PyTorch (its own runtime, spinning): 85-87 us / 35-56 ms / 1.4-1.6 ms
SPIN_COUNT = 3000


def _load_kernels():
    """Import quasar._kernels with its private OpenMP runtime (or None if not built)."""
    policy = {}
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        policy = {"GOMP_SPINCOUNT": str(SPIN_COUNT)} if SPIN_COUNT else {"OMP_WAIT_POLICY": "PASSIVE"}
    os.environ.update(policy)
    flags = sys.getdlopenflags()
    deepbind = getattr(os, "RTLD_DEEPBIND", 0)
    if _private_runtime() and deepbind and not _under_address_sanitizer():
        sys.setdlopenflags(flags | deepbind)
    try:
        from . import _kernels
    except ImportError:  # the extension is not built: everything runs serially
        return None
    finally:
        sys.setdlopenflags(flags)
        for name in policy:
            os.environ.pop(name, None)
    return _kernels


def _under_address_sanitizer():
    """AddressSanitizer refuses RTLD_DEEPBIND; there the copy is loaded plainly
    (it still is a separate library, but another libgomp loaded globally first
    would lend it its symbols)."""
    import ctypes

    return hasattr(ctypes.CDLL(None), "__asan_init")


def _private_runtime():
    """True when the extension was linked against quasar/_libs/libgomp-quasar.so.1."""
    try:
        from . import _build_info as info
    except ImportError:
        return False
    runtime = getattr(info, "OPENMP_RUNTIME", None)
    return bool(runtime) and runtime.startswith("private")


# The kernel module, named here for the OpenMP facts it offers (openmp_enabled,
# max_threads, num_procs: quasar/_omp.pxi). Importing it loads libgomp, so
# this is the first import of it (the backends import this module first).
_omp = _load_kernels()

__all__ = [
    "DEFAULT_PARALLEL_THRESHOLD", "ParallelBackward", "ParallelConfig", "config", "current_config",
    "get_num_threads", "init_parallel_autograd", "openmp_enabled", "par_add", "par_matmul",
    "par_mul", "par_relu", "set_num_threads", "show_config", "threads_for", "usable_cores",
    "worker_threads",
]

# Below this many elements a kernel runs on one thread. Elements of an add:
# the compiled backend weights the ops that cost more (pow, x4) or less (a
# reduction, x1/4) per element; see _POW_WEIGHT there.
#
# Measured with ``python benchmarks/crossover.py`` on the development machine
# (a 2-vCPU VM, AVX-512, -march=native build with libmvec). It depends on
# how the workers wait (SPIN_COUNT above):
# * sleeping workers (SPIN_COUNT 0, OMP_WAIT_POLICY=PASSIVE): a second thread
#   pays from 524288 elements for add and exp, 131072 for pow and ~2M for a
#   full sum, because waking the worker costs 5-100 us on that VM;
# * workers that spin between back-to-back kernels (measured with GOMP_SPINCOUNT
#   300000; SPIN_COUNT 3000 keeps them as awake between back-to-back kernels):
#   add pays from 65536 elements (torch's grain is 32768), exp from 32768,
#   pow from 8192, a full sum from 262144 (its 1/4 weight lands there). At
#   1M elements the second thread halves add (186 -> 93 us) and a full sum
#   (51 -> 34 us).
# Either way: ``parallel.init_parallel_autograd(ParallelConfig(parallel_threshold=...))``.
DEFAULT_PARALLEL_THRESHOLD = 65536 if SPIN_COUNT else 524288

_UNSET = object()


def _check_workers(max_workers):
    if max_workers is None:
        return None
    if isinstance(max_workers, bool) or not isinstance(max_workers, int):
        raise ValueError(f"max_workers must be an int >= 1 or None, got {max_workers!r}")  # noqa: TRY004
    if max_workers < 1:
        raise ValueError(f"max_workers must be >= 1, got {max_workers}")
    return max_workers


def _check_threshold(threshold):
    if isinstance(threshold, bool) or not isinstance(threshold, int):
        raise ValueError(f"parallel_threshold must be an int >= 0, got {threshold!r}")  # noqa: TRY004
    if threshold < 0:
        raise ValueError(f"parallel_threshold must be >= 0, got {threshold}")
    return threshold


@dataclasses.dataclass(frozen=True)
class ParallelConfig:
    """Thread settings.

    max_workers         most threads one kernel may use; None = all that
                        OpenMP offers (omp_get_max_threads()).
    parallel_threshold  kernels on fewer elements than this run serially
                        (elements of an add; see DEFAULT_PARALLEL_THRESHOLD);
                        0 or 1 parallelises everything (used by the tests).
    """

    max_workers: "int | None" = None
    parallel_threshold: int = DEFAULT_PARALLEL_THRESHOLD

    def __post_init__(self):
        _check_workers(self.max_workers)
        _check_threshold(self.parallel_threshold)


# Process-wide defaults: what a thread starts from.
_defaults = ParallelConfig()


class _ThreadSettings(threading.local):
    """The calling thread's settings; __init__ runs once per thread, on first use."""

    def __init__(self):
        self.max_workers = _defaults.max_workers
        self.threshold = _defaults.parallel_threshold


_settings = _ThreadSettings()
# omp_get_max_threads, or None when every kernel must run serially (no
# OpenMP, or a forked child: see _serial_after_fork).
_max_threads = _omp.max_threads if _omp is not None else None
_forked_child = False


def _serial_after_fork():
    """Runs in the child of every ``os.fork()`` (multiprocessing's ``fork``
    start method included): from now on every kernel runs on one thread.

    Why: GNU OpenMP keeps its pool of worker threads across parallel regions,
    but ``fork`` copies only the calling thread. A child that enters a
    parallel region waits forever for workers that exist only in the parent.
    With ``_max_threads`` None, ``threads_for`` returns 1, and every kernel
    called with 1 thread runs a plain loop, never entering the OpenMP runtime,
    so the child cannot hang, whatever settings it inherited or changes.
    Parallel kernels in worker processes: use ``spawn`` or ``forkserver``.
    """
    global _max_threads, _forked_child
    _max_threads = None
    _forked_child = True


if _omp is not None and hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_serial_after_fork)


def threads_for(n_elements):
    """Threads for a kernel whose work is ``n_elements`` elements of an add
    (the wrappers weight expensive kernels up). Returns >= 1. Runs on every
    op, so it is kept to a few attribute reads."""
    settings = _settings
    if n_elements < settings.threshold or _max_threads is None:
        return 1
    available = _max_threads()
    workers = settings.max_workers
    if workers is None or workers > available:
        return available
    return workers


def set_num_threads(n):
    """Use at most ``n`` threads per kernel: the process default and this thread."""
    global _defaults
    if n is None:
        raise ValueError("set_num_threads needs an int >= 1, got None")
    _check_workers(n)
    _defaults = dataclasses.replace(_defaults, max_workers=n)
    _settings.max_workers = n


def get_num_threads():
    """Threads a large kernel would use now, in this thread."""
    return threads_for(max(_settings.threshold, 1))


def init_parallel_autograd(config=None):
    """Install ``config`` (a ParallelConfig; None = the defaults) as the
    process-wide defaults and as this thread's settings."""
    global _defaults
    if config is None:
        config = ParallelConfig()
    if not isinstance(config, ParallelConfig):
        raise TypeError(f"init_parallel_autograd needs a ParallelConfig, got {type(config).__name__}")
    _defaults = config
    _settings.max_workers = config.max_workers
    _settings.threshold = config.parallel_threshold


def current_config():
    """This thread's settings, as a ParallelConfig."""
    return ParallelConfig(_settings.max_workers, _settings.threshold)


@contextlib.contextmanager
def config(max_workers=_UNSET, parallel_threshold=_UNSET):
    """``with config(max_workers=2, parallel_threshold=1):`` changes this
    thread's settings for the block (arguments left out stay as they are;
    ``max_workers=None`` means all threads). Yields the ParallelConfig in force."""
    saved = current_config()
    new = ParallelConfig(
        saved.max_workers if max_workers is _UNSET else max_workers,
        saved.parallel_threshold if parallel_threshold is _UNSET else parallel_threshold,
    )
    _settings.max_workers, _settings.threshold = new.max_workers, new.parallel_threshold
    try:
        yield new
    finally:
        _settings.max_workers, _settings.threshold = saved.max_workers, saved.parallel_threshold


# ---------------------------------------------------------------- several Python threads


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity on Linux), at least 1."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # no sched_getaffinity (macOS, Windows)
        return os.cpu_count() or 1


@contextlib.contextmanager
def worker_threads(n: int):
    """``with worker_threads(n):`` around n Python threads that run quasar at once.

    Unchecked, each of the n threads may start an OpenMP team of every core
    in its kernels, and NumPy's BLAS its own team in every matrix product:
    n * cores threads on cores cores. An oversubscribed team is slower than
    a single thread (a parallel region ends when its last thread does, and
    some thread is always waiting for a core). So inside the block::

        per_thread = max(1, usable_cores() // n)

    limits every kernel of this thread and of every thread that starts inside
    the block (through the process defaults, which a new thread starts from;
    a lower ``max_workers`` already in force stays), and NumPy's BLAS pool
    (through threadpoolctl; that limit is process-wide). Then n threads use at
    most n * per_thread <= cores threads, or n when n > cores. Everything is
    restored on exit; yields per_thread.

    Enter it in the thread that starts the workers, before starting them: a
    thread that has already read its settings keeps them (it can use
    ``config(max_workers=...)`` itself). One thread at a time may be inside
    ``worker_threads``: it changes process-wide defaults.
    """
    global _defaults
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"worker_threads needs the number of Python threads, an int >= 1, got {n!r}")
    import threadpoolctl  # a dependency; imported here, where it scans the loaded libraries

    per_thread = max(1, usable_cores() // n)

    def capped(workers):
        return per_thread if workers is None else min(workers, per_thread)

    saved_defaults, saved_here = _defaults, current_config()
    _defaults = dataclasses.replace(_defaults, max_workers=capped(_defaults.max_workers))
    _settings.max_workers = capped(saved_here.max_workers)
    try:
        with threadpoolctl.threadpool_limits(per_thread, user_api="blas"):
            yield per_thread
    finally:
        _defaults = saved_defaults
        _settings.max_workers = saved_here.max_workers


def openmp_enabled():
    """True if the compiled kernels were built with OpenMP."""
    return _omp is not None and bool(_omp.openmp_enabled())


def _wait_policy_in_force():
    """What the kernels' runtime read when it loaded (the user's settings, or ours)."""
    user = {name: os.environ[name] for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT") if name in os.environ}
    if user:
        return ", ".join(f"{k}={v}" for k, v in user.items()) + " (set by the user)"
    if SPIN_COUNT:
        return f"spin {SPIN_COUNT} iterations, then sleep (quasar's GOMP_SPINCOUNT)"
    return "sleep at once (quasar's OMP_WAIT_POLICY=PASSIVE)"


def _build_info():
    try:
        from . import _build_info as info
    except ImportError:
        return None
    return info


def show_config(file=None):
    """Print how quasar was built and how it will run in this thread."""
    # imported late: backends imports the compiled module, which imports us
    from . import backends

    info = _build_info()
    lines = ["quasar configuration"]
    lines.append(f"  backend (this thread): {backends.get_backend()}")
    if _omp is None:
        lines.append("  compiled kernels:      NOT BUILT (reference backend only)")
    else:
        lines.append(f"  compiled kernels:      {_omp.__file__}")
    if info is not None:
        lines.append(f"  compiler:              {info.COMPILER}")
        lines.append(f"  compile flags:         {' '.join(info.COMPILE_ARGS)}")
        lines.append(f"  link flags:            {' '.join(info.LINK_ARGS) or '(none)'}")
        lines.append(f"  -march=native:         {'yes' if info.NATIVE else 'no (portable)'}")
        vector_libm = getattr(info, "LIBMVEC", False)
        if vector_libm and getattr(info, "LIBMVEC_MORE", False):
            vector_libm = "glibc libmvec (with the 2.35 functions: tan, asin, ..., atan2)"
        elif vector_libm:
            vector_libm = "glibc libmvec"
        lines.append(f"  vector libm:           {vector_libm or 'no (scalar libm calls)'}")
        lines.append(f"  built with:            numpy {info.NUMPY}, Cython {info.CYTHON}")
    else:
        lines.append("  build flags:           unknown (quasar/_build_info.py missing)")
    lines.append(f"  OpenMP:                {'enabled' if openmp_enabled() else 'disabled (serial kernels)'}")
    runtime = getattr(info, "OPENMP_RUNTIME", None) if info is not None else None
    lines.append(f"  OpenMP runtime:        {runtime or 'unknown'}")
    lines.append(f"  worker wait:           {_wait_policy_in_force()}")
    if _omp is not None:
        lines.append(f"  omp_get_max_threads(): {_omp.max_threads()}  (processors: {_omp.num_procs()})")
    if _forked_child:
        lines.append("  forked child:          yes: every kernel runs on one thread (GNU OpenMP is not fork-safe)")
    settings = current_config()
    workers = "all" if settings.max_workers is None else settings.max_workers
    lines.append(f"  max_workers:           {workers}  -> large kernels use {get_num_threads()} thread(s)")
    lines.append(f"  parallel_threshold:    {settings.parallel_threshold} elements")
    from . import distributed  # imported late, like backends

    if distributed.is_initialized():
        lines.append(f"  {distributed.describe()}")
    try:
        import threadpoolctl
    except ImportError:
        lines.append("  thread pools:          (install threadpoolctl to list them)")
    else:
        for pool in threadpoolctl.threadpool_info():
            what = "BLAS" if pool.get("user_api") == "blas" else pool.get("user_api", "?")
            layer = pool.get("threading_layer")
            lines.append(
                f"  {what + ' runtime:':<23}{pool.get('internal_api', '?')} {pool.get('version') or ''}"
                f"{' (' + layer + ')' if layer else ''}, {pool.get('num_threads')} threads, "
                f"{os.path.basename(pool.get('filepath', ''))}"
            )
    print("\n".join(lines), file=file)


# ---------------------------------------------------------------- the seed's parallel ops


def _every_kernel_parallel():
    """This thread's kernels take the parallel path whatever their size (with
    at most max_workers threads still: set_num_threads and worker_threads hold)."""
    return config(parallel_threshold=0)


class ParallelBackward(Function):
    """The graph node of a par_* op: the plain op's node, with its backward
    run with every kernel on the parallel path, as its forward was.

    A plain op records a node whose backward runs later, under the settings
    in force *then*: ``with config(parallel_threshold=0): y = qs.add(a, b)``
    makes the forward parallel, not a ``y.backward()`` after the block. So
    ``_run_parallel`` runs the plain op forced parallel, then puts this
    node in place of the op's own (``inner``): the same parents, inner's
    fields (its saved arrays, shapes, versions, ...) taken over, and as
    backward the op's own backward, called with this node as its ctx inside
    ``_every_kernel_parallel()``. Being an ordinary node, it is checked for
    in-place changes and freed by backward like any other.
    """

    @staticmethod
    def forward(ctx, *inputs):
        # never run: _run_parallel builds the node from the op's own (so double backward,
        # which may replay forward, says it cannot)
        raise TypeError("a parallel node is built from the op's own node, it has no forward of its own")

    @staticmethod
    def backward(ctx, grad):
        with _every_kernel_parallel():
            return ctx.op.backward(ctx, grad)

    def __repr__(self):
        return f"<Parallel{self.op.__name__}Backward>"


def _run_parallel(op, *args):
    """op(*args), a plain quasar op that records one node, with every kernel
    of its forward and of its backward on the parallel path."""
    with _every_kernel_parallel():
        out = op(*args)
    inner = out.grad_fn
    if inner is None:  # no graph was recorded (no_grad, or no input requires grad)
        return out
    # the same node, with the op's backward run on the parallel path
    node = object.__new__(ParallelBackward)
    node.__dict__.update(inner.__dict__)
    node.op = type(inner)
    node.parents, node.needs_input_grad = inner.parents, inner.needs_input_grad
    out.grad_fn = node
    return out


# The ops are imported when called: they import the backends, which import this module.


def par_add(a, b):
    """``a + b`` (broadcasting, like ``qs.add``), forward and backward on the parallel path."""
    from . import ops

    return _run_parallel(ops.add, a, b)


def par_mul(a, b):
    """``a * b`` (broadcasting, like ``qs.mul``), forward and backward on the parallel path."""
    from . import ops

    return _run_parallel(ops.mul, a, b)


def par_matmul(a, b):
    """``a @ b`` (like ``qs.matmul``): (..., n, k) @ (..., k, m) -> (..., n, m).

    The products themselves are NumPy's BLAS, parallel on its own for large
    matrices; what this forces parallel are quasar's kernels around them (the
    backward's sums over broadcast batch dims)."""
    from . import ops

    return _run_parallel(ops.matmul, a, b)


def par_relu(x):
    """``max(x, 0)`` (like ``qs.relu``), forward and backward on the parallel path."""
    from . import ops

    return _run_parallel(ops.relu, x)
