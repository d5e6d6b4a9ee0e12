"""Parallel computing, after the seed README's "Parallel Computing Example".

1. Thread settings: ``init_parallel_autograd(ParallelConfig(...))``, then
   ``qs.show_config()`` says what quasar will use.
2. Large tensors on one thread and on all of them: add, mul, relu, exp and
   tanh are quasar's OpenMP kernels; matmul is NumPy's BLAS (its pool is
   limited with threadpoolctl for the one-thread run). Median times and the
   speedup. On a 2-core machine expect at most 2x, and less for add and mul,
   which wait on memory more than on arithmetic.
3. The seed's parallel ops, ``par_add``, ``par_mul``, ``par_matmul`` and
   ``par_relu``: forward and backward on the parallel path whatever the
   tensor's size, with the same numbers as the plain ops.
4. Four Python threads, each training its own small network: every kernel
   releases the GIL, and grad mode, the graph and the thread settings are per
   thread, so the four train side by side. ``worker_threads(4)`` shares the
   cores out (quasar's kernels and BLAS use cores // 4 threads in each), so
   the threads never ask for more threads than there are cores. The wall
   time is compared with training the same four one after another with the
   same thread counts (cores // 4 per kernel and for BLAS: like with like,
   so the trained parameters must come out identical, bit for bit), as the
   median of repeated runs, with the machine's load average: a figure taken
   on a busy machine, or one no machine could give, is called unreliable.

Run:  python examples/parallel_neural_network.py     (QUASAR_EXAMPLE_FAST=1: small sizes)
"""

import os
import statistics
import threading
import time

import numpy as np
import threadpoolctl
from _common import FAST, check_finite

import quasar as qs
import quasar.nn.functional as F
from quasar import parallel
from quasar.parallel import ParallelConfig, init_parallel_autograd, par_add, par_matmul, par_mul, par_relu

# ---------------------------------------------------------------- 1. thread settings


def show_thread_settings():
    # The seed parallelised everything from 1000 elements up. Waking OpenMP's
    # threads costs more than an add on a few thousand floats takes, so quasar
    # keeps its measured default threshold; max_workers=None means every core.
    init_parallel_autograd(ParallelConfig(max_workers=None, parallel_threshold=parallel.DEFAULT_PARALLEL_THRESHOLD))
    qs.show_config()
    print(f"\nquasar will use up to {qs.get_num_threads()} threads per kernel on this machine")


# ---------------------------------------------------------------- 2. one thread against all of them


def median_seconds(fn, repeats):
    """Median wall time of ``fn()`` over ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timed(fn, threads, repeats):
    """fn's median time with ``threads`` threads for quasar's kernels and for NumPy's BLAS."""
    with parallel.config(max_workers=threads), threadpoolctl.threadpool_limits(threads, user_api="blas"):
        return median_seconds(fn, repeats)


def ops_on(shape, rng):
    """(name, elements, zero-argument call) for the ops timed on float32 tensors of ``shape``."""
    a = qs.tensor(rng.standard_normal(shape, dtype=np.float32))
    b = qs.tensor(rng.standard_normal(shape, dtype=np.float32))
    if len(shape) == 2:
        return [("matmul", a.numel(), lambda: a @ b)]
    return [("add", a.numel(), lambda: a + b), ("mul", a.numel(), lambda: a * b), ("relu", a.numel(), a.relu),
            ("exp", a.numel(), a.exp), ("tanh", a.numel(), a.tanh)]


def compare_one_thread_with_all():
    rng = np.random.default_rng(0)
    all_threads = qs.get_num_threads()
    elementwise_sizes = [100_000, 1_000_000] if FAST else [1_000_000, 16_000_000]
    matmul_sides = [128, 256] if FAST else [1000, 2000]  # 1e6 and 4e6 elements per matrix
    repeats = 3 if FAST else 7
    load, cores = load_average(), parallel.usable_cores()
    print(f"\nlarge tensors (float32), 1 thread vs {all_threads}; medians of {repeats} runs, "
          f"load average {'unknown' if load is None else f'{load:.1f}'} on {cores} cores")
    if load is not None and load > cores:
        print("the machine is busy: these speedups are unreliable")
    print(f"{'op':<8}{'elements':>12}{'1 thread':>12}{f'{all_threads} threads':>12}{'speedup':>10}")
    shapes = [(n,) for n in elementwise_sizes] + [(side, side) for side in matmul_sides]
    for shape in shapes:
        for name, elements, fn in ops_on(shape, rng):
            one, many = timed(fn, 1, repeats), timed(fn, all_threads, repeats)
            print(f"{name:<8}{elements:>12,}{one * 1e3:>10.2f}ms{many * 1e3:>10.2f}ms{one / many:>9.2f}x")


# ---------------------------------------------------------------- 3. the seed's parallel ops


def check_par_ops():
    # As in the seed: two 1000 x 1000 matrices of i / 1000 and (i + 1) / 1000.
    side = 200 if FAST else 1000
    large_a = qs.tensor((np.arange(side * side, dtype=np.float32) / 1000).reshape(side, side), requires_grad=True)
    large_b = qs.tensor((np.arange(1, side * side + 1, dtype=np.float32) / 1000).reshape(side, side),
                        requires_grad=True)

    total = par_add(large_a, large_b)  # parallel addition
    product = par_mul(large_a, large_b)  # parallel multiplication
    matmul_result = par_matmul(large_a / side, large_b / side)  # parallel matrix product (scaled: no overflow)
    activated = par_relu(total - 500)  # parallel ReLU
    loss = (activated + product.tanh() + matmul_result).mean()
    loss.backward()  # the par_ ops' backward kernels run parallel too
    print(f"\npar_add, par_mul, par_matmul, par_relu on {side} x {side}: loss {loss.item():.6f}, "
          f"grad norms {np.linalg.norm(large_a.grad.array):.4f} and {np.linalg.norm(large_b.grad.array):.4f}")

    plain_a, plain_b = large_a.detach().requires_grad_(), large_b.detach().requires_grad_()
    plain_loss = (((plain_a + plain_b) - 500).relu() + (plain_a * plain_b).tanh()
                  + (plain_a / side) @ (plain_b / side)).mean()
    plain_loss.backward()
    same = (loss.array.tobytes() == plain_loss.array.tobytes()
            and large_a.grad.array.tobytes() == plain_a.grad.array.tobytes()
            and large_b.grad.array.tobytes() == plain_b.grad.array.tobytes())
    print(f"par_ ops equal the plain ops, forward and backward: {same}")


# ---------------------------------------------------------------- 4. four Python threads, four networks


def make_problem(i, hidden, batch):
    """Network i and its data: 32 inputs, 10 classes labelled by a random teacher network."""
    qs.manual_seed(i)  # quasar's generator is shared: build every model here, in the main thread
    model = qs.nn.Sequential(qs.nn.Linear(32, hidden), qs.nn.ReLU(), qs.nn.Linear(hidden, hidden), qs.nn.ReLU(),
                             qs.nn.Linear(hidden, 10))
    data_rng = np.random.default_rng(100 + i)
    x = data_rng.standard_normal((batch, 32)).astype(np.float32)
    teacher = data_rng.standard_normal((32, 10)).astype(np.float32)
    return model, qs.tensor(x), qs.tensor((x @ teacher).argmax(axis=1))


def train(model, x, y, steps, results, i):
    """Adam on the cross-entropy; leaves the final loss and parameters in results[i]."""
    optimizer = qs.optim.Adam(model.parameters(), lr=1e-3)
    for step in range(steps):
        loss = F.cross_entropy(model(x), y)
        value = check_finite(loss, step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    results[i] = value, [p.array.copy() for p in model.parameters()]


def train_one_after_another(n_networks, hidden, batch, steps, per_kernel):
    """(seconds, results): the networks trained in turn, ``per_kernel`` threads for kernels and BLAS."""
    results = [None] * n_networks
    problems = [make_problem(i, hidden, batch) for i in range(n_networks)]
    with parallel.config(max_workers=per_kernel), threadpoolctl.threadpool_limits(per_kernel, user_api="blas"):
        start = time.perf_counter()
        for i, (model, x, y) in enumerate(problems):
            train(model, x, y, steps, results, i)
        return time.perf_counter() - start, results


def train_in_threads(n_networks, hidden, batch, steps):
    """(seconds, results, per_kernel): one Python thread per network, the cores shared out."""
    results = [None] * n_networks
    problems = [make_problem(i, hidden, batch) for i in range(n_networks)]
    with parallel.worker_threads(n_networks) as per_kernel:
        threads = [threading.Thread(target=train, args=(*problems[i], steps, results, i)) for i in range(n_networks)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - start, results, per_kernel


def identical(results_a, results_b):
    """True when every network's final loss and parameters agree bit for bit."""
    return len(results_a) == len(results_b) and all(
        loss_a == loss_b and len(params_a) == len(params_b)
        and all(p.dtype == q.dtype and p.tobytes() == q.tobytes() for p, q in zip(params_a, params_b))
        for (loss_a, params_a), (loss_b, params_b) in zip(results_a, results_b)
    )


def load_average():
    """The 1-minute load average (runnable threads), or None where the OS has none."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def unreliable_reasons(sequential_times, threaded_times, load, cores, n_threads):
    """Why the speedup figure should not be trusted (an empty list when it can be)."""
    reasons = []
    if load is not None and load > cores:
        reasons.append(f"the machine was busy (load average {load:.1f} on {cores} cores)")
    for name, times in (("one after another", sequential_times), ("in threads", threaded_times)):
        if len(times) > 1 and max(times) > 1.25 * min(times):
            reasons.append(f"the runs {name} varied from {min(times):.3f} s to {max(times):.3f} s")
    speedup = statistics.median(sequential_times) / statistics.median(threaded_times)
    if speedup > 1.1 * min(n_threads, cores):
        reasons.append(f"{speedup:.2f}x is more than {min(n_threads, cores)} threads on {cores} cores can give")
    return reasons


def compare_threads_with_sequential(n_networks, hidden, batch, steps, repeats):
    """Train the networks in turn and in threads, ``repeats`` times each; a dict of what was seen.

    Both ways run with the same thread counts per kernel and for BLAS, so
    the two must give bit-identical parameters.
    """
    load_before = load_average()
    sequential_times, threaded_times, agree = [], [], True
    reference = None
    for _ in range(repeats):
        threaded_seconds, threaded, per_kernel = train_in_threads(n_networks, hidden, batch, steps)
        sequential_seconds, sequential = train_one_after_another(n_networks, hidden, batch, steps, per_kernel)
        reference = reference or sequential
        agree = agree and identical(sequential, threaded) and identical(reference, sequential)
        sequential_times.append(sequential_seconds)
        threaded_times.append(threaded_seconds)
    load_after = load_average()
    load = None if load_before is None else max(load_before, load_after)
    cores = parallel.usable_cores()
    return {
        "per_kernel": per_kernel, "identical": agree, "final_losses": [value for value, _ in threaded],
        "sequential": statistics.median(sequential_times), "threaded": statistics.median(threaded_times),
        "load": load, "cores": cores,
        "unreliable": unreliable_reasons(sequential_times, threaded_times, load, cores, n_networks),
    }


def report_threads(n_networks, hidden, batch, steps, repeats):
    print(f"\n{n_networks} networks ({hidden} hidden units, batch {batch}), {steps} Adam steps each, "
          f"medians of {repeats} run(s)")
    seen = compare_threads_with_sequential(n_networks, hidden, batch, steps, repeats)
    for i, value in enumerate(seen["final_losses"]):
        print(f"thread {i}: final loss {value:.4f}")
    load = "unknown" if seen["load"] is None else f"{seen['load']:.1f}"
    print(f"{seen['per_kernel']} thread(s) per kernel and for BLAS in both runs; "
          f"load average {load} on {seen['cores']} cores")
    print(f"one after another: {seen['sequential']:.3f} s; {n_networks} Python threads at once: "
          f"{seen['threaded']:.3f} s; speedup {seen['sequential'] / seen['threaded']:.2f}x")
    if seen["unreliable"]:
        print("this speedup is unreliable: " + "; ".join(seen["unreliable"]))
    print(f"identical results in threads and one after another: {seen['identical']}")


def main():
    show_thread_settings()
    compare_one_thread_with_all()
    check_par_ops()
    report_threads(4, hidden=64 if FAST else 256, batch=64 if FAST else 512, steps=15 if FAST else 60,
                   repeats=2 if FAST else 3)
    print("Parallel computation completed!")


if __name__ == "__main__":
    main()
