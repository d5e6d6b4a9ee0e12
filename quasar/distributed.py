"""``quasar.distributed``: several processes training one model, over MPI.

PyTorch's names on top of MPI, the standard engine of multi-node training,
through ``mpi4py`` (NumPy buffers at C speed) and an MPI library from PyPI
(the ``mpich`` wheel): ``pip install quasar[distributed]``. Launch with
``mpiexec``::

    mpiexec -n 2 python train.py                       # two processes, this machine
    mpiexec -n 8 -f hosts python train.py              # a hostfile: several machines

    import quasar.distributed as dist
    dist.init_process_group("mpi")
    dist.all_reduce(t, op=dist.ReduceOp.SUM)           # in place, on every rank

Threads: ``init_process_group`` gives each of the n processes that share a
machine ``cores // n`` OpenMP and BLAS threads, so together they never
oversubscribe the cores; ``qs.show_config()`` says so.

Failure: after ``init_process_group`` an exception that escapes on one rank
prints its traceback and aborts the whole job (``MPI_Abort``), so the other
ranks never wait forever in a collective; ``mpiexec`` also ends the job when a
rank is killed by a signal.

Collectives take tensors and change them in place. With ``async_op=True``
they return a handle whose ``wait()`` completes them (non-blocking MPI).
"""

import sys
import traceback

import numpy as np

from . import parallel
from .tensor import Tensor

__all__ = [
    "ReduceOp", "Work", "all_gather", "all_reduce", "barrier", "broadcast", "destroy_process_group",
    "get_rank", "get_world_size", "init_process_group", "is_available", "is_initialized",
    "reduce_scatter",
]


class ReduceOp:
    """How a collective combines the ranks' values (``ReduceOp.SUM``, ...)."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


class _State:
    comm = None  # the job's communicator (a duplicate of COMM_WORLD), None before init
    threads = None  # threads per process chosen at init
    local_size = 1  # processes of this job on this machine
    blas_limit = None  # the threadpoolctl limit held while initialized
    saved_excepthook = None


_state = _State()


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError(
            "quasar.distributed needs mpi4py and an MPI library: pip install 'quasar[distributed]' "
            "(or pip install mpi4py mpich)"
        ) from exc
    return MPI


def is_available():
    """True when mpi4py and an MPI library can be imported."""
    try:
        _mpi()
    except ImportError:
        return False
    return True


def is_initialized():
    return _state.comm is not None


def _comm(op):
    if _state.comm is None:
        raise RuntimeError(f"{op}: the default process group has not been initialized; call "
                           "quasar.distributed.init_process_group('mpi') first")
    return _state.comm


def init_process_group(backend="mpi", init_method=None, world_size=-1, rank=-1, timeout=None):
    """Join the job started by ``mpiexec``; every rank must call it.

    backend: only "mpi". init_method and timeout are accepted for PyTorch's
    signature and unused (MPI knows its job); world_size and rank, when given,
    must agree with ``mpiexec``'s.
    """
    if backend not in ("mpi", None):
        raise ValueError(f"init_process_group: backend {backend!r} is not supported; quasar runs on 'mpi'")
    if _state.comm is not None:
        raise RuntimeError("init_process_group: trying to initialize the default process group twice")
    MPI = _mpi()
    comm = MPI.COMM_WORLD.Dup()
    for name, given, actual in (("world_size", world_size, comm.Get_size()), ("rank", rank, comm.Get_rank())):
        if given not in (-1, None) and given != actual:
            comm.Free()
            raise ValueError(f"init_process_group: {name}={given} but mpiexec started this process "
                             f"with {name} {actual}")
    local = comm.Split_type(MPI.COMM_TYPE_SHARED)
    _state.local_size = local.Get_size()
    local.Free()
    _state.comm = comm
    _share_cores()
    _abort_on_uncaught_exception()


def _share_cores():
    """Each of the n processes on this machine gets cores // n kernel and BLAS threads."""
    import threadpoolctl

    per_process = max(1, parallel.usable_cores() // _state.local_size)
    _state.threads = per_process
    parallel.set_num_threads(per_process)
    _state.blas_limit = threadpoolctl.threadpool_limits(per_process, user_api="blas")


def _abort_on_uncaught_exception():
    """An exception that escapes on one rank ends every rank (no rank left waiting)."""
    _state.saved_excepthook = sys.excepthook

    def abort_job(kind, value, tb):
        rank = _state.comm.Get_rank() if _state.comm is not None else "?"
        sys.stderr.write(f"quasar.distributed: rank {rank} raised an exception; aborting the job\n")
        traceback.print_exception(kind, value, tb)
        sys.stderr.flush()
        _mpi().COMM_WORLD.Abort(1)

    sys.excepthook = abort_job


def destroy_process_group():
    """Leave the job: free the communicator, give back the threads and the exception hook."""
    comm = _comm("destroy_process_group")
    comm.Free()
    _state.comm = None
    if _state.blas_limit is not None:
        _state.blas_limit.restore_original_limits()
        _state.blas_limit = None
    parallel.set_num_threads(parallel.usable_cores())
    if _state.saved_excepthook is not None:
        sys.excepthook = _state.saved_excepthook
        _state.saved_excepthook = None


def get_rank():
    """This process's number, 0 .. world_size - 1."""
    return _comm("get_rank").Get_rank()


def get_world_size():
    """How many processes the job has."""
    return _comm("get_world_size").Get_size()


def barrier():
    """Wait until every rank has reached this call."""
    _comm("barrier").Barrier()


# ---------------------------------------------------------------- collectives


class Work:
    """The handle of an ``async_op=True`` collective: ``wait()`` completes it."""

    def __init__(self, request, finish=None):
        self._request, self._finish, self._done = request, finish, False

    def is_completed(self):
        if not self._done and self._request.Test():
            self._complete()
        return self._done

    def wait(self, timeout=None):
        if not self._done:
            self._request.Wait()
            self._complete()
        return True

    def _complete(self):
        self._done = True
        if self._finish is not None:
            self._finish()


def _check_tensor(op, tensor):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(tensor).__name__}")
    return tensor


def _check_rank_list(op, name, tensors, like, size):
    """``tensors`` must be a list of ``size`` tensors (one per rank) of ``like``'s shape and dtype."""
    if not isinstance(tensors, list) or len(tensors) != size:
        raise ValueError(f"{op}: {name} must be a list of {size} tensors (one per rank)")
    for i, t in enumerate(tensors):
        _check_tensor(op, t)
        if t.shape != like.shape or t.dtype != like.dtype:
            raise ValueError(f"{op}: {name}[{i}] has shape {tuple(t.shape)} and dtype {t.dtype}; expected "
                             f"shape {tuple(like.shape)} and dtype {like.dtype}")


def _comm_for(op, group):
    """The job's communicator; quasar has one process group, so a ``group`` is
    refused rather than silently ignored."""
    if group is not None:
        raise NotImplementedError(f"{op}: process groups other than the default (group=None) are not supported")
    return _comm(op)


def _buffer(array):
    """A C-contiguous array MPI can write into, and how to copy it back into ``array``."""
    if array.flags.c_contiguous and array.flags.writeable:
        return array, None
    if not array.flags.writeable:
        raise RuntimeError("distributed: the tensor's memory is read-only")
    staging = np.ascontiguousarray(array)
    return staging, lambda: np.copyto(array, staging)


def _mpi_op(op_name, op):
    MPI = _mpi()
    ops = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
           ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX}
    if op not in ops:
        raise ValueError(f"{op_name}: unknown op {op!r}; use quasar.distributed.ReduceOp.SUM/AVG/PRODUCT/MIN/MAX")
    return ops[op]


def _then(*steps):
    steps = [s for s in steps if s is not None]
    if not steps:
        return None

    def run():
        for step in steps:
            step()

    return run


def _average(array, size, op):
    """AVG is a SUM followed by a division by the world size (integers: floor, as PyTorch refuses)."""
    if op != ReduceOp.AVG:
        return None
    if array.dtype.kind != "f":
        raise TypeError(f"all_reduce: ReduceOp.AVG needs a float tensor, got dtype {array.dtype}")
    return lambda: np.divide(array, size, out=array)


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine ``tensor`` over all ranks, in place, on every rank."""
    comm = _comm_for("all_reduce", group)
    _check_tensor("all_reduce", tensor)
    mpi_op = _mpi_op("all_reduce", op)
    array = tensor.array
    buf, copy_back = _buffer(array)
    average = _average(buf, comm.Get_size(), op)
    finish = _then(average, copy_back, lambda: tensor._version.__setitem__(0, tensor._version[0] + 1))
    MPI = _mpi()
    if async_op:
        return Work(comm.Iallreduce(MPI.IN_PLACE, buf, op=mpi_op), finish)
    comm.Allreduce(MPI.IN_PLACE, buf, op=mpi_op)
    finish()
    return None


def broadcast(tensor, src, group=None, async_op=False):
    """Copy rank ``src``'s ``tensor`` into every rank's ``tensor`` (same shape and dtype)."""
    comm = _comm_for("broadcast", group)
    _check_tensor("broadcast", tensor)
    if not 0 <= src < comm.Get_size():
        raise ValueError(f"broadcast: src {src} is not a rank of this job (world size {comm.Get_size()})")
    buf, copy_back = _buffer(tensor.array)
    finish = _then(copy_back, lambda: tensor._version.__setitem__(0, tensor._version[0] + 1))
    if async_op:
        return Work(comm.Ibcast(buf, root=src), finish)
    comm.Bcast(buf, root=src)
    finish()
    return None


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """``tensor_list[r]`` receives rank r's ``tensor`` on every rank."""
    comm = _comm_for("all_gather", group)
    _check_tensor("all_gather", tensor)
    size = comm.Get_size()
    _check_rank_list("all_gather", "tensor_list", tensor_list, tensor, size)
    send = np.ascontiguousarray(tensor.array)
    gathered = np.empty((size,) + send.shape, dtype=send.dtype)

    def scatter_into_list():
        for out, piece in zip(tensor_list, gathered):
            out.array[...] = piece
            out._version[0] += 1

    if async_op:
        return Work(comm.Iallgather(send, gathered), scatter_into_list)
    comm.Allgather(send, gathered)
    scatter_into_list()
    return None


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Rank r's ``output`` receives the reduction over ranks of ``input_list[r]``."""
    comm = _comm_for("reduce_scatter", group)
    _check_tensor("reduce_scatter", output)
    size = comm.Get_size()
    _check_rank_list("reduce_scatter", "input_list", input_list, output, size)
    mpi_op = _mpi_op("reduce_scatter", op)
    send = np.stack([np.ascontiguousarray(p.array) for p in input_list]) if input_list else None
    buf, copy_back = _buffer(output.array)
    finish = _then(_average(buf, size, op), copy_back,
                   lambda: output._version.__setitem__(0, output._version[0] + 1))
    if async_op:
        return Work(comm.Ireduce_scatter_block(send, buf, op=mpi_op), finish)
    comm.Reduce_scatter_block(send, buf, op=mpi_op)
    finish()
    return None


def all_reduce_array(array, op=ReduceOp.SUM):
    """Start a non-blocking in-place all-reduce of a C-contiguous ndarray (DDP's
    buckets); returns the Work handle. AVG is not offered here: callers divide."""
    comm = _comm("all_reduce")
    return Work(comm.Iallreduce(_mpi().IN_PLACE, array, op=_mpi_op("all_reduce", op)))


def _allgather_objects(obj):
    """Every rank's small Python object (metadata only: names, shapes, dtypes)."""
    return _comm("allgather").allgather(obj)


def describe():
    """One line for ``show_config``: the job and how threads are shared."""
    if _state.comm is None:
        return "distributed: not initialized"
    return (f"distributed: MPI rank {_state.comm.Get_rank()} of {_state.comm.Get_size()}, "
            f"{_state.local_size} process(es) on this machine, {_state.threads} kernel/BLAS thread(s) each "
            f"(cores // processes)")
