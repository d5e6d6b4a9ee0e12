"""``quasar.nn.parallel.DistributedDataParallel``: PyTorch's DDP, over MPI.

Every rank holds a full copy of the model and trains on its own slice of
each batch (see ``quasar.data.DistributedSampler``); after backward every
rank holds the *average* of all ranks' gradients, so the optimizers take the
same step everywhere and the copies stay identical::

    dist.init_process_group("mpi")
    model = DistributedDataParallel(Net())
    for x, y in loader:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(); loss.backward(); opt.step()

How the gradients travel, as in PyTorch:

* Parameters are packed, in reverse order of registration (roughly the order
  backward produces their gradients), into flat buckets of at most
  ``bucket_cap_mb`` megabytes (a larger parameter gets a bucket of its own).
* A hook on each parameter fires when its ``.grad`` is final
  (``register_post_accumulate_grad_hook``); when the last parameter of a
  bucket is ready, its gradients are copied into the bucket and a
  non-blocking all-reduce starts, while backward carries on.
* At the end of backward every all-reduce is waited for, divided by the
  world size, and copied back into the ``.grad`` of each parameter.
"""

import contextlib

import numpy as np

from .. import autograd
from .. import distributed as dist
from ..tensor import Tensor
from .module import Module


class _Bucket:
    """Parameters whose gradients are all-reduced together, as one flat array."""

    def __init__(self, params):
        self.params = params  # [(name, Parameter)]
        sizes = [p.array.size for _, p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.flat = np.zeros(int(self.offsets[-1]), dtype=params[0][1].array.dtype)
        self.ready = 0
        self.work = None
        self.used = np.zeros(len(params), dtype=np.uint8)  # 1: this rank produced the gradient

    def reset(self):
        self.ready, self.work = 0, None
        self.used[:] = 0

    def launch(self):
        """Pack the gradients (zeros for an unused parameter) and start the all-reduce."""
        for i, (_, p) in enumerate(self.params):
            piece = self.flat[self.offsets[i]:self.offsets[i + 1]]
            if self.used[i] and p.grad is not None:
                piece[...] = p.grad.array.reshape(-1)
            else:
                piece[...] = 0
        self.work = dist.all_reduce_array(self.flat)

    def finish(self, world_size, used_anywhere):
        """Wait for the all-reduce and write the averaged gradients back."""
        self.work.wait()
        self.flat /= world_size
        for i, (_, p) in enumerate(self.params):
            if not used_anywhere[i]:
                continue  # no rank produced this gradient: leave .grad as it was (PyTorch)
            averaged = self.flat[self.offsets[i]:self.offsets[i + 1]].reshape(p.array.shape)
            if p.grad is None:  # unused on this rank, used elsewhere
                p.grad = Tensor._wrap(averaged.copy())
            else:
                p.grad.array[...] = averaged


class DistributedDataParallel(Module):
    """Wrap ``module`` so that backward averages its gradients over all ranks.

    module: the model (identical architecture on every rank).
    bucket_cap_mb: the size of a gradient bucket (megabytes).
    broadcast_buffers: copy rank 0's buffers (batch-norm statistics) to every
        rank at the start of each forward.
    find_unused_parameters: allow parameters that get no gradient in some
        iteration (they count as zero on that rank); otherwise such a
        parameter is an error at the end of backward, naming it.
    device_ids, output_device, dim, gradient_as_bucket_view, static_graph:
    accepted for PyTorch's signature (CPU only); process_group must be None
    (one process group).
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=25, find_unused_parameters=False,
                 gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a quasar.nn.Module, got {type(module).__name__}")
        if process_group is not None:
            raise NotImplementedError("DistributedDataParallel: only the default process group "
                                      "(process_group=None) is supported")
        if not dist.is_initialized():
            raise RuntimeError("DistributedDataParallel: call quasar.distributed.init_process_group('mpi') first")
        if not (isinstance(bucket_cap_mb, (int, float)) and bucket_cap_mb > 0):
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be > 0, got {bucket_cap_mb!r}")
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.bucket_cap_mb = bucket_cap_mb
        self.world_size = dist.get_world_size()
        named = [(name, p) for name, p in module.named_parameters() if p.requires_grad]
        _check_same_on_every_rank(named, _named_buffers(module))
        for _, p in named:  # every rank starts from rank 0's weights
            dist.broadcast(p.detach(), src=0)
        self._broadcast_buffers()
        self._buckets = _make_buckets(named, int(bucket_cap_mb * 1024 * 1024))
        self._where = {id(p): (bucket, i) for bucket in self._buckets for i, (_, p) in enumerate(bucket.params)}
        self._syncing = True
        self._in_backward = False
        for _, p in named:
            p.register_post_accumulate_grad_hook(self._grad_ready)

    # ------------------------------------------------------------ forward
    def forward(self, *args, **kwargs):
        if self._in_backward:  # the last backward failed part way: finish and drop its reduction
            for bucket in self._buckets:
                if bucket.work is not None:
                    bucket.work.wait()
                bucket.reset()
            self._in_backward = False
        if self.broadcast_buffers:
            self._broadcast_buffers()
        return self.module(*args, **kwargs)

    def _broadcast_buffers(self):
        for _, buffer in _named_buffers(self.module):
            dist.broadcast(buffer, src=0)

    @contextlib.contextmanager
    def no_sync(self):
        """Inside this block backward only accumulates gradients locally; the
        first backward after it averages everything accumulated."""
        saved, self._syncing = self._syncing, False
        try:
            yield
        finally:
            self._syncing = saved

    # ------------------------------------------------------------ backward
    def _grad_ready(self, param):
        """A parameter's .grad is final for this backward: launch its bucket when full."""
        if not self._syncing:
            return
        if not self._in_backward:  # the first gradient of this backward
            self._in_backward = True
            for bucket in self._buckets:
                bucket.reset()
            autograd.queue_callback(self._finish_reduction)
        bucket, i = self._where[id(param)]
        bucket.used[i] = 1
        bucket.ready += 1
        if bucket.ready == len(bucket.params):
            bucket.launch()

    def _finish_reduction(self):
        """End of backward: launch what is left, wait for every bucket, average."""
        self._in_backward = False
        missing = [name for bucket in self._buckets for i, (name, _) in enumerate(bucket.params)
                   if not bucket.used[i]]
        if missing and not self.find_unused_parameters:
            for bucket in self._buckets:  # complete the started all-reduces before raising
                if bucket.work is not None:
                    bucket.work.wait()
            raise RuntimeError(
                "DistributedDataParallel: these parameters received no gradient in this backward: "
                + ", ".join(missing[:10]) + ("..." if len(missing) > 10 else "")
                + ". If your model has parameters that are not used in every iteration, pass "
                "find_unused_parameters=True."
            )
        used_anywhere = None
        if self.find_unused_parameters:  # which parameters some rank used (max over ranks)
            flags = np.concatenate([b.used for b in self._buckets])
            dist.all_reduce_array(flags, op=dist.ReduceOp.MAX).wait()
            used_anywhere = np.split(flags, np.cumsum([len(b.params) for b in self._buckets])[:-1])
        for bucket in self._buckets:
            if bucket.work is None:
                bucket.launch()
        for k, bucket in enumerate(self._buckets):
            bucket.finish(self.world_size, used_anywhere[k] if used_anywhere is not None else bucket.used)

    def extra_repr(self):
        return f"world_size={self.world_size}, buckets={len(self._buckets)}, bucket_cap_mb={self.bucket_cap_mb}"


def _named_buffers(module):
    named = getattr(module, "named_buffers", None)
    return list(named()) if named is not None else []


def _make_buckets(named, cap_bytes):
    """Parameters in reverse registration order, cut into buckets of at most cap_bytes
    (one dtype per bucket; a parameter larger than the cap has its own)."""
    buckets, current, size = [], [], 0
    for name, p in reversed(named):
        nbytes = p.array.nbytes
        if current and (size + nbytes > cap_bytes or p.array.dtype != current[0][1].array.dtype):
            buckets.append(_Bucket(current))
            current, size = [], 0
        current.append((name, p))
        size += nbytes
    if current:
        buckets.append(_Bucket(current))
    return buckets


def _check_same_on_every_rank(named_params, named_buffers):
    """Every rank must wrap the same architecture: one clear error on every rank otherwise."""
    mine = [(kind, name, tuple(t.shape), str(t.dtype))
            for kind, items in (("parameter", named_params), ("buffer", named_buffers))
            for name, t in items]
    everyone = dist._allgather_objects(mine)
    reference = everyone[0]
    for rank, theirs in enumerate(everyone):
        if theirs == reference:
            continue
        for a, b in zip(reference, theirs):
            if a != b:
                detail = f"rank 0 has {a[0]} {a[1]} {a[2]} {a[3]}, rank {rank} has {b[0]} {b[1]} {b[2]} {b[3]}"
                break
        else:
            detail = f"rank 0 has {len(reference)} parameters and buffers, rank {rank} has {len(theirs)}"
        raise RuntimeError(f"DistributedDataParallel: the model differs between ranks: {detail}")
