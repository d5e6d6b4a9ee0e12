"""The parallel runtime: thread control, several Python threads at once,
the forced-parallel ops (``qs.parallel.par_*``) and forked processes.

Nothing here measures speed. Where a test must show that two things ran at
the same time, it uses an order of events that could not happen otherwise
(see ``released_the_gil``), never a duration.
"""

import importlib
import os
import pathlib
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import threadpoolctl

import quasar as qs
import quasar.nn.functional as F
from quasar import _kernels, parallel

# The backend modules themselves (quasar.backends.compiled is also the name of
# the assembled namespace of every kernel family).
C = importlib.import_module("quasar.backends.compiled")
CI = importlib.import_module("quasar.backends.compiled_index")
CS = importlib.import_module("quasar.backends.compiled_sequence")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rand(shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def blas_threads():
    return [pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"]


# ---------------------------------------------------------------- the public names and their checks


def test_thread_control_is_exported_at_the_top_level():
    assert qs.parallel is parallel
    assert qs.set_num_threads is parallel.set_num_threads
    assert qs.get_num_threads is parallel.get_num_threads
    assert qs.show_config is parallel.show_config
    for name in ("par_add", "par_mul", "par_matmul", "par_relu", "worker_threads", "config", "ParallelConfig"):
        assert callable(getattr(qs.parallel, name)), name


@pytest.mark.parametrize("bad", [0, -3, 1.5, "2", None, True])
def test_bad_thread_counts_raise_a_clear_value_error(bad):
    with pytest.raises(ValueError, match="set_num_threads|max_workers"):
        qs.set_num_threads(bad)
    with pytest.raises(ValueError, match="worker_threads"):
        with parallel.worker_threads(bad):
            pass
    if bad is not None:  # None is a valid max_workers: "all threads"
        with pytest.raises(ValueError, match="max_workers"):
            parallel.ParallelConfig(max_workers=bad)
        with pytest.raises(ValueError, match="max_workers"):
            with parallel.config(max_workers=bad):
                pass


@pytest.mark.parametrize("bad", [-1, 2.5, "1000", None, False])
def test_bad_thresholds_raise_a_clear_value_error(bad):
    with pytest.raises(ValueError, match="parallel_threshold"):
        parallel.ParallelConfig(parallel_threshold=bad)
    with pytest.raises(ValueError, match="parallel_threshold"):
        with parallel.config(parallel_threshold=bad):
            pass
    assert parallel.current_config().parallel_threshold == parallel.DEFAULT_PARALLEL_THRESHOLD


def test_set_num_threads_changes_this_thread_and_new_threads():
    saved = parallel.current_config()
    seen = []
    try:
        qs.set_num_threads(1)
        assert qs.get_num_threads() == 1
        thread = threading.Thread(target=lambda: seen.append(qs.get_num_threads()))
        thread.start()
        thread.join()
    finally:
        parallel.init_parallel_autograd(saved)
    assert seen == [1]
    assert qs.get_num_threads() == parallel._omp.max_threads()


# ---------------------------------------------------------------- results do not depend on the thread count


def test_loss_reductions_are_bit_identical_for_any_thread_count():
    """The losses' 'mean' and 'sum' go through the core full sum (fixed chunks,
    combined in order), so 1, 2 or 16 threads give the same bits, forward and backward."""
    n = 20_000  # per-row losses: 5 chunks of the full sum
    logits, target = rand((n, 10), seed=1), np.random.default_rng(2).integers(0, 10, n)
    scores, labels = rand(3 * n, seed=3), (rand(3 * n, seed=4) > 0).astype(np.float32)
    losses = [
        lambda x, r: F.cross_entropy(x, qs.tensor(target), reduction=r),
        lambda x, r: F.nll_loss(F.log_softmax(x, dim=1), qs.tensor(target), reduction=r),
    ]
    pointwise = [
        lambda x, r: F.mse_loss(x, qs.tensor(labels), reduction=r),
        lambda x, r: F.binary_cross_entropy_with_logits(x, qs.tensor(labels), reduction=r),
    ]

    def run():
        out = []
        for loss_fns, data in ((losses, logits), (pointwise, scores)):
            for loss_fn in loss_fns:
                for reduction in ("mean", "sum"):
                    x = qs.tensor(data, requires_grad=True)
                    loss = loss_fn(x, reduction)
                    loss.backward()
                    out.append(loss.array.tobytes() + x.grad.array.tobytes())
        return out

    results = {}
    for workers in (1, 2, 16):
        with parallel.config(max_workers=workers, parallel_threshold=1):
            results[workers] = run()
    assert results[2] == results[1] and results[16] == results[1]
    # and the mean really is that sum, times 1/N
    per_row = F.cross_entropy(qs.tensor(logits), qs.tensor(target), reduction="none").numpy()
    mean = F.cross_entropy(qs.tensor(logits), qs.tensor(target)).numpy()
    assert mean.tobytes() == C.mul(C.sum(per_row, (0,)), np.float32(1 / n)).tobytes()


def test_index_kernels_are_bit_identical_for_any_thread_count():
    """Each task is computed by one thread in a fixed order, serial (1 thread,
    no parallel region) or not, with more threads than cores too."""
    x = rand((6, 300, 70), seed=5)
    g = rand((6, 70), seed=6)
    rows = rand((500, 77), seed=7)
    flat = rand(50_001, np.float64, seed=8)
    mask = (rand(50_001, seed=9) > 0).view(np.uint8)
    index = np.random.default_rng(10).integers(0, 300, 400)

    def run(t):
        k = _kernels  # the _index.pxi family
        outs = [np.empty((6, 300, 70), np.float32), np.empty((6, 70), np.float32),
                np.empty((6, 300, 70), np.float32), np.empty(500, np.float32), np.empty((6, 70), np.int64),
                np.zeros((6, 300, 70), np.float32)] + [np.empty_like(flat) for _ in range(5)]
        k.cumsum(x, outs[0], t)
        k.prod(x, outs[1], t)
        k.prod_backward(x, g, outs[2], t)
        k.logsumexp(rows, outs[3], t)
        k.arg_extreme(x, outs[4], True, t)
        k.index_add(np.ascontiguousarray(x[:, index % 300]), index, outs[5], t)
        k.masked_fill(flat, mask, np.array([7.0]), outs[6], t)
        k.elu(flat, 0.7, outs[7], t)
        k.softplus_backward(flat, flat, 1.5, 20.0, outs[8], t)
        k.erf(flat, outs[9], t)
        k.leaky_relu(flat, 0.01, outs[10], t)
        return [o.tobytes() for o in outs]

    serial = run(1)
    for threads in (2, 3, 16):
        assert run(threads) == serial


# ---------------------------------------------------------------- every kernel releases the GIL


def released_the_gil(call, patience=5.0):
    """True if ``call()``, run in a new thread, let this thread run Python
    before it returned.

    The switch interval is raised for the test so that the interpreter never
    takes the GIL away from a thread by itself: the worker keeps the GIL from
    its start until something in ``call`` releases it. This thread waits for
    the GIL meanwhile, and when it gets it, ``finished`` says whether the
    worker is still inside ``call``: proof by order of events, no clock.
    A released GIL goes back to the worker if it wants it again before this
    thread has been scheduled, so the worker repeats ``call`` until this
    thread has looked (or, if it never can, for ``patience`` seconds).
    """
    finished, looked = [], []

    def worker():
        give_up = time.monotonic() + patience
        call()
        while not looked and time.monotonic() < give_up:
            call()
        finished.append(True)

    saved = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        thread = threading.Thread(target=worker)
        thread.start()  # returns once this thread holds the GIL again
        inside = not finished
        looked.append(True)
        thread.join()
    finally:
        sys.setswitchinterval(saved)
    return inside


def _kernel_calls():
    """{name: (kernel module, call)}: calls through the compiled backend that
    reach every kernel entry point, on contiguous inputs (no NumPy copy that
    could itself release the GIL), big enough that a released GIL is usually
    picked up during the first call."""
    n = 2**18
    a, b = rand(n, seed=11), rand(n, seed=12)
    m, target = rand((512, 512), seed=13), np.arange(512) % 10
    lse, g_rows = C.cross_entropy(m, target)[1], rand(512, seed=14)
    x3, g2 = rand((16, 64, 256), seed=15), rand((16, 256), seed=16)
    state = [rand(n, seed=s) for s in (17, 18, 19)]
    mask = a > 0
    scores, attend = rand((64, 64, 64), seed=21), rand((64, 64), seed=22) > 0
    gates, cells = rand((256, 1024), seed=23), rand((256, 256), seed=24)
    lstm_acts, cell_next, _ = CS.lstm_cell(gates, gates, cells)
    gru_acts, _ = CS.gru_cell(gates[:, :768], gates[:, 256:], cells)
    return {
        "add": ("_elementwise", lambda: C.add(a, b)),
        "exp": ("_elementwise", lambda: C.exp(a)),
        "lt": ("_elementwise", lambda: C.lt(a, b)),
        "where": ("_elementwise", lambda: C.where(mask, a, b)),
        "copy": ("_elementwise", lambda: C.copy(a)),
        "copy of a view": ("_elementwise", lambda: C.copy(m.T)),
        "sum of everything": ("_reduce", lambda: C.sum(a, (0,))),
        "sum along an axis": ("_reduce", lambda: C.sum(m, (0,))),
        "softmax": ("_rowwise", lambda: C.softmax(m, 1)),
        "softmax_backward": ("_rowwise", lambda: C.softmax_backward(m, m, 1)),
        "cross_entropy": ("_rowwise", lambda: C.cross_entropy(m, target)),
        "cross_entropy_backward": ("_rowwise", lambda: C.cross_entropy_backward(m, target, lse, g_rows)),
        "sgd_step": ("_optim", lambda: C.sgd_step(state[0], b, state[1], 0.1, 0.9, 0.0, 0.0, False, False)),
        "adam_step": ("_optim", lambda: C.adam_step(state[0], b, state[1], np.abs(state[2]), 2, 1e-3, 0.9, 0.999,
                                                     1e-8, 0.0, False)),
        "scatter_add_flat": ("_index", lambda: CI.scatter_add_flat(a, np.arange(n) % 100, 100)),
        "index_add": ("_index", lambda: CI.index_add(x3, np.arange(64) % 4, 4)),
        "masked_fill": ("_index", lambda: CI.masked_fill(a, mask, 0.5)),
        "argmax": ("_index", lambda: CI.argmax(x3, 1)),
        "cumsum": ("_index", lambda: CI.cumsum(x3, 1)),
        "prod": ("_index", lambda: CI.prod(x3, 1)),
        "prod_backward": ("_index", lambda: CI.prod_backward(x3, g2, 1)),
        "logsumexp": ("_index", lambda: CI.logsumexp(m, (1,))),
        "leaky_relu": ("_index", lambda: CI.leaky_relu(a, 0.01)),
        "leaky_relu_backward": ("_index", lambda: CI.leaky_relu_backward(a, b, 0.01)),
        "elu": ("_index", lambda: CI.elu(a, 1.0)),
        "elu_backward": ("_index", lambda: CI.elu_backward(a, b, 1.0)),
        "softplus": ("_index", lambda: CI.softplus(a, 1.0, 20.0)),
        "softplus_backward": ("_index", lambda: CI.softplus_backward(a, b, 1.0, 20.0)),
        "erf": ("_index", lambda: CI.erf(a)),
        "erf_backward": ("_index", lambda: CI.erf_backward(a, b)),
        "gelu": ("_index", lambda: CI.gelu(a)),
        "gelu_backward": ("_index", lambda: CI.gelu_backward(a, b)),
        "rmsprop_step": ("_optim", lambda: C.rmsprop_step(state[0], b, np.abs(state[1]), state[2], state[2], 1e-3,
                                                           0.99, 1e-8, 0.0, 0.9)),
        "adagrad_step": ("_optim", lambda: C.adagrad_step(state[0], b, np.abs(state[1]), 1e-2, 1e-10, 0.0)),
        "attention_softmax": ("_sequence", lambda: CS.attention_softmax(scores, attend, 0.5, False)),
        "attention_softmax_backward": ("_sequence", lambda: CS.attention_softmax_backward(scores, scores, 0.5)),
        "lstm_cell": ("_sequence", lambda: CS.lstm_cell(gates, gates, cells)),
        "lstm_cell_backward": ("_sequence", lambda: CS.lstm_cell_backward(lstm_acts, cells, cell_next, cells, cells)),
        "gru_cell": ("_sequence", lambda: CS.gru_cell(gates[:, :768], gates[:, 256:], cells)),
        "gru_cell_backward": ("_sequence", lambda: CS.gru_cell_backward(gru_acts, cells, cells)),
        "matmul": ("NumPy's BLAS", lambda: C.matmul(m[:256, :256], m[:256, :256])),
    }


KERNEL_CALLS = _kernel_calls()


def test_every_kernel_family_has_a_gil_check_per_entry_point():
    """Each kernel family (quasar/_<family>.pxi, included into the one module
    quasar._kernels) gets at least one call above per public function it
    defines: a new kernel needs a new GIL check."""
    sources = pathlib.Path(parallel.__file__).parent
    for family in ("_elementwise", "_reduce", "_rowwise", "_optim", "_index", "_sequence"):
        defined = re.findall(r"^def (\w+)\(", (sources / f"{family}.pxi").read_text(), re.MULTILINE)
        entry_points = [name for name in defined if not name.startswith("_")]
        assert entry_points and all(callable(getattr(_kernels, name)) for name in entry_points), family
        checks = [call for call, (where, _) in KERNEL_CALLS.items() if where == family]
        assert len(checks) >= len(entry_points), f"{family}: entry points {entry_points}, GIL checks {checks}"


@pytest.mark.parametrize("threads", ["serial", "parallel"])
@pytest.mark.parametrize("name", sorted(KERNEL_CALLS))
def test_kernel_releases_the_gil(name, threads):
    settings = {"max_workers": 1} if threads == "serial" else {"max_workers": None, "parallel_threshold": 1}
    with parallel.config(**settings):
        assert released_the_gil(KERNEL_CALLS[name][1]), f"{name} kept the GIL ({threads})"


def test_the_gil_check_catches_a_call_that_keeps_the_gil():
    assert not released_the_gil(lambda: sum(range(10_000)), patience=0.2)


def test_two_threads_are_inside_kernels_at_the_same_time():
    """Two threads each run a serial kernel that writes its output front to
    back, again and again, each call into a fresh NaN-filled output that it
    publishes before the call. This thread takes the two current outputs and
    reads them in the order a[0], b[0], a[-1], b[-1]: finding both begun and
    neither done means that between the second and the third read both
    kernels were running, and this thread was running Python. Proof by order
    of events, no clock: the workers go on until it is seen (or, if it never
    can be, for ``patience`` seconds).

    The switch interval is lowered for the test: with the default 5 ms a
    worker that waits for the GIL to enter (or leave) its kernel can wait
    longer than a fast kernel runs, and the two calls never meet."""
    patience = 60.0
    x = rand(2_000_000, np.float64, seed=20)
    outputs = [np.zeros(1), np.zeros(1)]  # placeholders: already "done"
    seen = []

    def worker(slot):
        give_up = time.monotonic() + patience
        while not seen and time.monotonic() < give_up:
            out = np.full_like(x, np.nan)
            outputs[slot] = out  # published before the call begins
            _kernels.erf(x, out, 1)  # 1 thread: front to back

    saved = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        threads = [threading.Thread(target=worker, args=(slot,)) for slot in (0, 1)]
        for t in threads:
            t.start()
        while not seen and any(t.is_alive() for t in threads):
            a, b = outputs
            begun = not np.isnan(a[0]) and not np.isnan(b[0])
            if begun and np.isnan(a[-1]) and np.isnan(b[-1]):
                seen.append(True)
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(saved)
    assert seen, f"two serial kernels were never seen running at once in {patience:.0f} s"


# ---------------------------------------------------------------- settings and graphs per thread


def test_grad_mode_backend_and_thread_settings_are_per_thread():
    """Two threads inside different settings at the same time (a barrier
    holds both inside): each sees, and its ops obey, only its own."""
    barrier = threading.Barrier(2)
    seen = {}

    def report(name):
        x = qs.ones(3, requires_grad=True)
        seen[name] = (qs.is_grad_enabled(), qs.get_backend(), parallel.current_config(), (x * 2).requires_grad)

    def changed():
        with qs.no_grad(), qs.backend("reference"), parallel.config(max_workers=1, parallel_threshold=5):
            barrier.wait()
            report("changed")
            barrier.wait()

    def untouched():
        barrier.wait()
        report("untouched")
        barrier.wait()

    threads = [threading.Thread(target=changed), threading.Thread(target=untouched)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen["changed"] == (False, "reference", parallel.ParallelConfig(1, 5), False)
    default = parallel.ParallelConfig()
    assert seen["untouched"] == (True, "compiled", default, True)
    assert (qs.is_grad_enabled(), qs.get_backend(), parallel.current_config()) == (True, "compiled", default)


def test_graphs_built_in_different_threads_are_independent():
    """Two threads build graphs on one shared leaf at the same time; each
    backward frees only its own graph, and each private leaf gets only its
    own thread's gradient."""
    shared = qs.tensor(np.arange(6.0), requires_grad=True)
    both_built, first_done = threading.Barrier(2), threading.Event()
    private, errors = {}, []

    def run(me):
        try:
            x = qs.tensor(np.full(6, me + 2.0), requires_grad=True)
            loss = (shared * x * x).sum()
            both_built.wait()  # both graphs exist now
            if me == 1:
                first_done.wait()  # thread 0's backward has freed its graph
            loss.backward()
            first_done.set()
            private[me] = x.grad.array
        except Exception as exc:  # an assertion in a thread would be lost: re-raise in the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for me in (0, 1):
        np.testing.assert_array_equal(private[me], 2 * (me + 2.0) * np.arange(6.0))
    np.testing.assert_array_equal(shared.grad.numpy(), np.full(6, 2.0**2 + 3.0**2))


def test_backward_from_many_threads_into_one_leaf_loses_no_update():
    """8 threads x 50 backward passes into one shared leaf. Every term is a
    small integer, so the sum is exact in any order: the final grad must be
    exactly the sum of all 400 contributions."""
    n_threads, passes, size = 8, 50, 100_000
    weight = qs.zeros(size, dtype=qs.float64, requires_grad=True)
    coefficients = [(np.arange(size) % 7 + t).astype(np.float64) for t in range(n_threads)]
    barrier = threading.Barrier(n_threads)

    def run(t):
        c = qs.tensor(coefficients[t])
        barrier.wait()  # start together: the most contention
        for _ in range(passes):
            (weight * c).sum().backward()

    threads = [threading.Thread(target=run, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(weight.grad.array, passes * np.sum(coefficients, axis=0))


def _make_model(i):
    """Small models from qs.nn, alternating an MLP and a Linear-Tanh-Linear stack."""
    qs.manual_seed(100 + i)
    if i % 2:
        return qs.nn.Sequential(qs.nn.Linear(6, 12), qs.nn.Tanh(), qs.nn.Linear(12, 1))
    return qs.nn.MLP(6, [16, 16, 1])


def _train(model, seed, steps):
    """``steps`` SGD steps (with momentum) on a fixed regression batch; returns
    the final parameters and gradients as bytes."""
    rng = np.random.default_rng(seed)
    x = qs.tensor(rng.standard_normal((32, 6)).astype(np.float32))
    y = qs.tensor(rng.standard_normal((32, 1)).astype(np.float32))
    optimizer = qs.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    return [p.array.tobytes() for p in model.parameters()] + [p.grad.array.tobytes() for p in model.parameters()]


def test_stress_eight_threads_train_like_one_after_another():
    """8 threads x 200 forward/backward/SGD steps on separate models, all at
    once: parameters and gradients equal, bit for bit, the same work done
    sequentially."""
    n_threads, steps = 8, 200
    with parallel.worker_threads(n_threads):
        sequential = [_train(_make_model(i), i, steps) for i in range(n_threads)]
        models = [_make_model(i) for i in range(n_threads)]
        concurrent = [None] * n_threads
        barrier = threading.Barrier(n_threads)

        def run(i):
            barrier.wait()
            concurrent[i] = _train(models[i], i, steps)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert concurrent == sequential


# ---------------------------------------------------------------- no oversubscription


def test_worker_threads_shares_the_cores_and_restores_everything():
    cores = parallel.usable_cores()
    before_blas, before = blas_threads(), parallel.current_config()
    assert before_blas, "NumPy's BLAS should be visible to threadpoolctl"
    seen = {}

    def worker():
        seen["max_workers"] = parallel.current_config().max_workers
        seen["threads"] = parallel.get_num_threads()

    with parallel.worker_threads(2) as per_thread:
        assert per_thread == max(1, cores // 2)
        assert parallel.current_config().max_workers == per_thread
        assert blas_threads() == [per_thread] * len(before_blas)
        thread = threading.Thread(target=worker)  # started inside: begins from the shared-out defaults
        thread.start()
        thread.join()
    assert seen["max_workers"] == per_thread and 1 <= seen["threads"] <= per_thread
    assert blas_threads() == before_blas and parallel.current_config() == before

    with parallel.worker_threads(4 * cores) as per_thread:  # more Python threads than cores
        assert per_thread == 1 and qs.get_num_threads() == 1 and blas_threads() == [1] * len(before_blas)
    with parallel.config(max_workers=1), parallel.worker_threads(1) as per_thread:
        assert per_thread == cores and parallel.current_config().max_workers == 1  # a lower limit stays
    assert parallel.current_config() == before


# ---------------------------------------------------------------- par_add, par_mul, par_matmul, par_relu


def _recording_threads(monkeypatch):
    """Make the compiled backend's wrappers log the thread count of every kernel call."""
    calls = []
    real = C._threads_for

    def threads_for(n_elements):
        calls.append(real(n_elements))
        return calls[-1]

    monkeypatch.setattr(C, "_threads_for", threads_for)
    return calls


PAR_CASES = [  # (par op, plain op, input shapes): every backward calls a kernel (broadcast sums, relu')
    (parallel.par_add, qs.add, [(3, 4), (4,)]),
    (parallel.par_mul, qs.mul, [(3, 4), (4,)]),
    (parallel.par_matmul, qs.matmul, [(2, 3, 4), (4, 5)]),
    (parallel.par_relu, qs.relu, [(3, 4)]),
]


@pytest.mark.parametrize("par, plain, shapes", PAR_CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_par_ops_run_forward_and_backward_on_the_parallel_path(par, plain, shapes, monkeypatch):
    """Tiny tensors, the default threshold: the plain op runs every kernel on
    one thread, the par_ op on all of them, in forward *and* in a backward
    called outside any settings block; the numbers are the same."""
    calls = _recording_threads(monkeypatch)
    everything = parallel._omp.max_threads()
    results = {}
    for op in (plain, par):
        inputs = [qs.tensor(rand(s, seed=i), requires_grad=True) for i, s in enumerate(shapes)]
        calls.clear()
        out = op(*inputs)
        forward = list(calls)
        calls.clear()
        out.backward(qs.tensor(rand(out.shape, seed=9)))  # no .sum(): its kernel would be the plain one
        results[op] = (forward, list(calls), out.array.tobytes(), [t.grad.array.tobytes() for t in inputs])
    plain_forward, plain_backward = results[plain][:2]
    par_forward, par_backward = results[par][:2]
    # (kernels below the threshold may decide on one thread without asking: nothing logged)
    assert set(plain_forward + plain_backward) <= {1}
    assert par_backward and set(par_forward + par_backward) == {everything}
    assert plain is qs.matmul or par_forward  # matmul's forward is BLAS alone
    assert results[par][2:] == results[plain][2:]


def test_par_ops_keep_the_thread_limit_and_record_nothing_without_grad(monkeypatch):
    calls = _recording_threads(monkeypatch)
    x = qs.tensor(rand((3, 4)), requires_grad=True)
    with parallel.config(max_workers=1):
        out = parallel.par_relu(x)
        out.backward(qs.ones_like(out))
    assert calls and set(calls) == {1}
    with qs.no_grad():
        assert parallel.par_add(x, x).grad_fn is None
    assert repr(parallel.par_mul(x, 2.0).grad_fn) == "<ParallelMulBackward>"
    assert not parallel.par_relu(qs.tensor(rand(3))).requires_grad


def test_par_ops_are_ordinary_nodes_for_in_place_checks_and_freeing():
    import weakref

    x = qs.tensor(rand((3, 4)), requires_grad=True)
    hidden = parallel.par_mul(x, 3.0).exp()
    alive = weakref.ref(hidden)
    loss = parallel.par_relu(hidden).sum()
    del hidden
    loss.backward()
    assert alive() is None  # backward freed what the par_relu node saved
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()
    y = qs.tensor(rand(4), requires_grad=True) * 1.0
    out = parallel.par_mul(y, y)
    y.add_(1.0)  # changes an array par_mul saved for its backward
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        out.backward(qs.ones_like(out))


# ---------------------------------------------------------------- fork safety

FORK_SCRIPT = textwrap.dedent(
    """
    import multiprocessing as mp

    import numpy as np

    import quasar as qs
    from quasar import parallel


    def work(seed):
        x = qs.tensor(np.random.default_rng(seed).standard_normal(200_000).astype(np.float32),
                      requires_grad=True)
        with parallel.config(max_workers=None, parallel_threshold=1):  # every kernel wants all threads
            loss = (x.exp() * x).tanh().sum()
            loss.backward()
        return parallel.get_num_threads(), loss.array.tobytes(), x.grad.array.tobytes()


    if __name__ == "__main__":
        parent = work(0)  # parallel regions in the parent: what makes a forked child hang
        with mp.get_context("fork").Pool(2) as pool:
            forked = pool.map(work, [0, 0, 1])
        with mp.get_context("spawn").Pool(1) as pool:
            spawned = pool.map(work, [0])
        print("parent threads", parent[0])
        print("fork threads", *[child[0] for child in forked])
        print("spawn threads", spawned[0][0])
        print("same results", forked[0][1:] == parent[1:] == spawned[0][1:] == forked[1][1:])
    """
)


def test_a_forked_child_runs_serially_instead_of_hanging(tmp_path):
    script = tmp_path / "fork_after_parallel.py"
    script.write_text(FORK_SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]))
    # its own process group, so that a hung pool worker is killed with it
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env, start_new_session=True)
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail("a multiprocessing child hung after the parent ran a parallel kernel")
    assert process.returncode == 0, err
    everything = parallel._omp.max_threads()
    assert f"parent threads {everything}" in out
    assert "fork threads 1 1 1" in out  # serial in a forked child ...
    assert f"spawn threads {everything}" in out  # ... all threads in a spawned one
    assert "same results True" in out
