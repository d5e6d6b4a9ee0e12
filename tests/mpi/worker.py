"""Run under mpiexec by tests/test_distributed.py: one scenario per invocation.

    mpiexec -n 2 python tests/mpi/worker.py ddp sgd float64 25

Each rank prints ``rank R: OK ...`` when its checks pass; any failed check
raises, which (after init_process_group) aborts the whole job.
"""

import sys

import numpy as np

import quasar as qs
import quasar.distributed as dist
import quasar.nn.functional as F
from quasar import nn
from quasar.nn.parallel import DistributedDataParallel as DDP


class WithUnused(nn.Module):
    """A layer that forward never calls: its parameters get no gradient."""

    def __init__(self, body, dtype):
        super().__init__()
        self.body = body
        self.unused = nn.Linear(3, 3, dtype=dtype)

    def forward(self, x):
        return self.body(x)


def make_model(dtype, extra_unused=False):
    qs.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16, dtype=dtype), nn.Tanh(), nn.Linear(16, 3, dtype=dtype))
    return WithUnused(model, dtype) if extra_unused else model


def make_optimizer(name, params):
    if name == "sgd":
        return qs.optim.SGD(params, lr=0.1, momentum=0.9)
    return qs.optim.Adam(params, lr=0.01)


def data(dtype, rows):
    rng = np.random.default_rng(42)
    x = rng.standard_normal((rows, 8)).astype(dtype)
    y = rng.integers(0, 3, rows)
    return x, y


def ddp(opt_name, dtype_name, bucket_cap_mb, steps=20, per_rank=4):
    """N ranks with batch b end where one process with batch N*b ends."""
    dtype = np.dtype(dtype_name)
    rank, world = dist.get_rank(), dist.get_world_size()
    x, y = data(dtype, steps * world * per_rank)
    reference = make_model(dtype)  # one process, the whole global batch
    ref_opt = make_optimizer(opt_name, reference.parameters())
    model = DDP(make_model(dtype), bucket_cap_mb=bucket_cap_mb)
    opt = make_optimizer(opt_name, model.parameters())
    for step in range(steps):
        rows = slice(step * world * per_rank, (step + 1) * world * per_rank)
        mine = slice(rows.start + rank * per_rank, rows.start + (rank + 1) * per_rank)
        for m, o, r in ((reference, ref_opt, rows), (model, opt, mine)):
            o.zero_grad()
            F.cross_entropy(m(qs.tensor(x[r])), qs.tensor(y[r])).backward()
            o.step()
    tolerance = 1e-9 if dtype == np.float64 else 1e-6
    worst = 0.0
    for (name, p), (_, q) in zip(model.module.named_parameters(), reference.named_parameters()):
        a, b = p.detach().numpy(), q.detach().numpy()
        worst = max(worst, float(np.max(np.abs(a - b) / (np.abs(b) + 1e-3))))
        np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance, err_msg=name)
    print(f"rank {rank}: OK ddp {opt_name} {dtype_name} buckets={len(model._buckets)} worst_rel={worst:.2e}")


def collectives():
    rank, world = dist.get_rank(), dist.get_world_size()
    t = qs.tensor([1.0, 2.0, 3.0]) * (rank + 1)
    dist.all_reduce(t)
    expected_sum = np.array([1.0, 2.0, 3.0]) * sum(range(1, world + 1))
    np.testing.assert_allclose(t.numpy(), expected_sum)
    for op, combine in ((dist.ReduceOp.MAX, max), (dist.ReduceOp.MIN, min)):
        t = qs.tensor([float(rank)])
        dist.all_reduce(t, op=op)
        assert t.item() == combine(range(world)), (op, t)
    t = qs.tensor([2.0])
    dist.all_reduce(t, op=dist.ReduceOp.PRODUCT)
    assert t.item() == 2.0**world
    t = qs.tensor([float(rank)], dtype=qs.float64)
    work = dist.all_reduce(t, op=dist.ReduceOp.AVG, async_op=True)
    work.wait()
    assert t.item() == sum(range(world)) / world
    # a non-contiguous tensor is reduced in place too
    base = qs.tensor(np.arange(12.0).reshape(3, 4))
    view = base.T
    dist.all_reduce(view)
    np.testing.assert_allclose(base.numpy(), np.arange(12.0).reshape(3, 4) * world)
    b = qs.tensor([float(rank)] * 4)
    dist.broadcast(b, src=world - 1)
    assert b.tolist() == [float(world - 1)] * 4
    b = qs.zeros(2)
    dist.broadcast(b, src=0, async_op=True).wait()
    out = [qs.zeros(2, dtype=qs.int64) for _ in range(world)]
    dist.all_gather(out, qs.tensor([rank, 10 * rank]))
    assert [o.tolist() for o in out] == [[r, 10 * r] for r in range(world)]
    output = qs.zeros(2)
    dist.reduce_scatter(output, [qs.full((2,), float(r + rank)) for r in range(world)])
    np.testing.assert_allclose(output.numpy(), [sum(rank + r for r in range(world))] * 2)
    dist.barrier()
    print(f"rank {rank}: OK collectives")


def no_sync():
    """Two backwards under no_sync then one outside: the same as three accumulated."""
    rank, world = dist.get_rank(), dist.get_world_size()
    x, y = data(np.float64, 3 * world * 2)
    model = DDP(make_model(np.float64))
    reference = make_model(np.float64)
    for k in range(3):
        rows = slice(k * world * 2, (k + 1) * world * 2)
        mine = slice(rows.start + rank * 2, rows.start + rank * 2 + 2)
        if k < 2:
            with model.no_sync():
                F.cross_entropy(model(qs.tensor(x[mine])), qs.tensor(y[mine])).backward()
        else:
            F.cross_entropy(model(qs.tensor(x[mine])), qs.tensor(y[mine])).backward()
        F.cross_entropy(reference(qs.tensor(x[rows])), qs.tensor(y[rows])).backward()
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-12)
    print(f"rank {rank}: OK no_sync")


def unused():
    rank = dist.get_rank()
    x, y = data(np.float64, 4)
    model = DDP(make_model(np.float64, extra_unused=True))
    try:
        F.cross_entropy(model(qs.tensor(x)), qs.tensor(y)).backward()
    except RuntimeError as exc:
        assert "unused.weight" in str(exc) and "find_unused_parameters=True" in str(exc), exc
    else:
        raise AssertionError("an unused parameter must be an error without find_unused_parameters")
    model = DDP(make_model(np.float64, extra_unused=True), find_unused_parameters=True)
    F.cross_entropy(model(qs.tensor(x)), qs.tensor(y)).backward()
    assert model.module.unused.weight.grad is None  # unused on every rank: left alone, as PyTorch
    assert model.module.body[0].weight.grad is not None
    print(f"rank {rank}: OK unused")


def mismatch():
    """Different architectures on different ranks: the same clear error on every rank."""
    rank = dist.get_rank()
    width = 16 if rank == 0 else 17
    model = nn.Linear(8, width)
    try:
        DDP(model)
    except RuntimeError as exc:
        assert "differs between ranks" in str(exc) and "weight" in str(exc), exc
        print(f"rank {rank}: OK mismatch: {exc}")
    else:
        raise AssertionError("a model that differs between ranks must raise")


def crash():
    """Rank 1 raises; the others would wait forever at the barrier without the abort."""
    if dist.get_rank() == 1:
        raise ValueError("deliberate failure on rank 1")
    dist.barrier()


def threads():
    print(f"rank {dist.get_rank()}: OK threads {qs.get_num_threads()} {dist.describe()}")


if __name__ == "__main__":
    scenario, args = sys.argv[1], sys.argv[2:]
    dist.init_process_group("mpi")
    if scenario == "ddp":
        ddp(args[0], args[1], float(args[2]))
    else:
        globals()[scenario]()
    dist.destroy_process_group()
