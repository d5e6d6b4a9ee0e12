"""Data-parallel benchmarks: DDP's all-reduce against raw mpi4py, and a
training step on 2 ranks x 1 thread against 1 rank x 2 threads.

    python benchmarks/bench_ddp.py            # launches the mpiexec runs, prints a table

Run by hand (not by `make test`): timings are never asserted.
"""

import os
import subprocess
import sys

import numpy as np
from harness import ROOT
from harness import best_time as best  # the fastest of `repeats` calls


def model_and_batch(qs, world):
    """A compute-bound MLP step: 784-1024-1024-10, global batch 256."""
    qs.manual_seed(0)
    model = qs.nn.Sequential(qs.nn.Linear(784, 1024), qs.nn.ReLU(), qs.nn.Linear(1024, 1024), qs.nn.ReLU(),
                             qs.nn.Linear(1024, 10))
    rng = np.random.default_rng(0)
    x = qs.tensor(rng.standard_normal((256 // world, 784)).astype(np.float32))
    y = qs.tensor(rng.integers(0, 10, 256 // world))
    return model, x, y


def worker(kind):
    import quasar as qs
    import quasar.distributed as dist
    import quasar.nn.functional as F
    from mpi4py import MPI
    from quasar.nn.parallel import DistributedDataParallel

    dist.init_process_group("mpi")
    world, rank = dist.get_world_size(), dist.get_rank()
    if kind == "allreduce":
        model, x, y = model_and_batch(qs, world)
        ddp = DistributedDataParallel(model, bucket_cap_mb=25)
        nbytes = sum(b.flat.nbytes for b in ddp._buckets)

        def buckets():
            for b in ddp._buckets:
                b.work = dist.all_reduce_array(b.flat)
            for b in ddp._buckets:
                b.work.wait()

        flat = np.zeros(nbytes // 4, dtype=np.float32)
        raw = best(lambda: MPI.COMM_WORLD.Allreduce(MPI.IN_PLACE, flat), 20)
        ours = best(buckets, 20)
        if rank == 0:
            print(f"RESULT allreduce {nbytes / 1e6:.1f} MB raw {raw * 1e3:.2f} ms ddp {ours * 1e3:.2f} ms "
                  f"-> {raw / ours:.0%} of raw mpi4py")
    else:
        model, x, y = model_and_batch(qs, world)
        if world > 1:
            model = DistributedDataParallel(model)
        opt = qs.optim.SGD(model.parameters(), lr=0.01)

        def step():
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()

        step()
        t = best(step, 10)
        if rank == 0:
            print(f"RESULT step {world} rank(s) x {qs.get_num_threads()} thread(s): {t * 1e3:.1f} ms")
    dist.destroy_process_group()


def launch(n, kind, threads=None):
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([mpiexec, "-n", str(n), sys.executable, __file__, kind], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    lines = [line[7:] for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    return lines or [f"failed: {out.stderr[-500:]}"]


if __name__ == "__main__":
    if len(sys.argv) > 1:
        worker(sys.argv[1])
    else:
        for n, kind in ((2, "allreduce"), (1, "step"), (2, "step")):
            for line in launch(n, kind):
                print(line)
