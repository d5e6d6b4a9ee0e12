"""quasar.distributed and DistributedDataParallel, run for real under mpiexec.

Each test launches ``mpiexec -n N python tests/mpi/worker.py SCENARIO ...``
(MPICH from the ``mpich`` wheel, which ``make test`` installs) and reads what
every rank printed. On 2 cores each rank uses one thread.
"""

import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import quasar as qs
from quasar.data import DataLoader, DistributedSampler, TensorDataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, "tests", "mpi", "worker.py")


def mpiexec():
    beside_python = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = beside_python if os.path.exists(beside_python) else shutil.which("mpiexec")
    assert found, "mpiexec not found: `make test` installs mpi4py and mpich into the venv"
    return found


def launch(n, *args, timeout=120):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("OMP_NUM_THREADS", None)
    return subprocess.run([mpiexec(), "-n", str(n), sys.executable, WORKER, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def expect_ok(result, n, what):
    assert result.returncode == 0, f"mpiexec failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    for rank in range(n):
        assert f"rank {rank}: OK {what}" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("opt", ["sgd", "adam"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_ddp_matches_one_process_with_the_whole_batch(n, opt, dtype):
    # 25 MB: one bucket for the whole model
    expect_ok(launch(n, "ddp", opt, dtype, "25"), n, f"ddp {opt} {dtype}")


@pytest.mark.parametrize("n", [2, 3])
def test_ddp_with_buckets_smaller_than_one_parameter(n):
    result = launch(n, "ddp", "adam", "float64", "0.0001")
    expect_ok(result, n, "ddp adam float64 buckets=4")  # every parameter in a bucket of its own


def test_collectives():
    expect_ok(launch(3, "collectives"), 3, "collectives")


def test_no_sync_accumulates_then_averages():
    expect_ok(launch(2, "no_sync"), 2, "no_sync")


def test_unused_parameters_error_or_handled():
    expect_ok(launch(2, "unused"), 2, "unused")


def test_model_mismatch_is_one_clear_error_on_every_rank():
    result = launch(2, "mismatch")
    expect_ok(result, 2, "mismatch")
    assert result.stdout.count("rank 0 has parameter weight (16, 8)") == 2


def test_exception_on_one_rank_ends_the_job():
    start = time.monotonic()
    result = launch(2, "crash", timeout=60)
    assert result.returncode != 0
    assert "deliberate failure on rank 1" in result.stderr
    assert time.monotonic() - start < 30


def test_threads_are_shared_between_ranks():
    result = launch(2, "threads")
    expect_ok(result, 2, "threads")
    per_rank = max(1, qs.parallel.usable_cores() // 2)
    assert result.stdout.count(f"OK threads {per_rank} ") == 2
    assert "2 process(es) on this machine" in result.stdout


def test_the_example_trains_data_parallel():
    env = dict(os.environ, PYTHONPATH=ROOT, QUASAR_EXAMPLE_FAST="1", MPLBACKEND="Agg")
    result = subprocess.run([mpiexec(), "-n", "2", sys.executable, os.path.join(ROOT, "examples", "ddp_digits.py")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test accuracy" in result.stdout


# ---------------------------------------------------------------- no MPI needed


def test_distributed_sampler_shares_indices_as_pytorch():
    data = list(range(10))
    shares = [list(DistributedSampler(data, num_replicas=3, rank=r, shuffle=False)) for r in range(3)]
    assert shares == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]  # padded from the start
    dropped = [list(DistributedSampler(data, num_replicas=3, rank=r, shuffle=False, drop_last=True)) for r in range(3)]
    assert dropped == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    sampler = DistributedSampler(data, num_replicas=2, rank=0, seed=5)
    first = list(sampler)
    assert list(sampler) == first  # the same epoch gives the same order
    sampler.set_epoch(1)
    assert list(sampler) != first
    both = set(DistributedSampler(data, 2, 0, seed=5)) | set(DistributedSampler(data, 2, 1, seed=5))
    assert both == set(data)
    with pytest.raises(ValueError, match="rank"):
        DistributedSampler(data, num_replicas=2, rank=2)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(data)


def test_dataloader_with_a_dataset_and_a_sampler():
    x = np.arange(20.0).reshape(10, 2)
    y = np.arange(10)
    dataset = TensorDataset(qs.tensor(x), qs.tensor(y))
    assert len(dataset) == 10
    loader = DataLoader(dataset, batch_size=3, sampler=DistributedSampler(dataset, 2, 1, shuffle=False))
    batches = list(loader)
    assert len(loader) == len(batches) == 2
    np.testing.assert_array_equal(batches[0][1].numpy(), [1, 3, 5])
    np.testing.assert_array_equal(batches[0][0].numpy(), x[[1, 3, 5]])
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(dataset, shuffle=True, sampler=[0, 1])
    with pytest.raises(ValueError, match="first dimension"):
        TensorDataset(qs.zeros(3), qs.zeros(4))


def test_collectives_need_init():
    import quasar.distributed as dist

    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.all_reduce(qs.zeros(2))
    with pytest.raises(RuntimeError, match="init_process_group"):
        qs.nn.parallel.DistributedDataParallel(qs.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="backend"):
        dist.init_process_group("nccl")
    with pytest.raises(NotImplementedError, match="group"):  # never silently the whole job
        dist.all_reduce(qs.zeros(2), group=object())
    with pytest.raises(NotImplementedError, match="process_group"):
        qs.nn.parallel.DistributedDataParallel(qs.nn.Linear(2, 2), process_group=object())
