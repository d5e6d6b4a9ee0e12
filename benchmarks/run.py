#!/usr/bin/env python
"""quasar's benchmark suite (issue 5): quasar side by side with NumPy and PyTorch.

    python benchmarks/run.py            # everything (a few minutes); writes RESULTS.md + results.json
    python benchmarks/run.py --quick    # reduced sizes, under a minute; prints only (add --write to save)
    python benchmarks/run.py --only overhead,mlp --threads 1
    python benchmarks/run.py --profile overhead   # cProfile of quasar on workload 1 (or: mlp)

Every library runs in this process, in the same run, with the same thread
count (torch.set_num_threads, qs.set_num_threads and threadpoolctl's limit
for NumPy's BLAS all get --threads; default: every core this process may use),
on the same input arrays. Each number is the median of >= 5 timed samples
(time.perf_counter) taken after a warm-up; a sample times enough calls to last
--min-time seconds. Ratios are always *time* ratios quasar/peer: below 1.00
quasar is faster. Timings are measurements, never pass/fail tests.

See benchmarks/README.md for what each workload measures.
"""

import argparse
import datetime
import gc
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time

try:
    import resource
except ImportError:  # not on Windows
    resource = None

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

# torch before quasar, on purpose. Both use an OpenMP runtime with the soname
# libgomp.so.1 (torch bundles its own, quasar's extension links the system's),
# and the dynamic loader maps only the first one loaded. With quasar first,
# torch ran on the system libgomp here and its small ops got ~30x slower after
# its first parallel region (torch.exp on 1e3 floats: 1.8 -> 68 us). With torch
# first, quasar's kernels run on torch's libgomp at the same speed as on their own.
_QUASAR_CHILD = "--_memory-child" in sys.argv and any(a.startswith("quasar:") for a in sys.argv)
try:
    if _QUASAR_CHILD:  # a memory child measuring quasar alone: keep torch out of the process
        raise ImportError
    import torch
except ImportError:  # PyTorch is optional: its columns read "-"
    torch = None

import quasar as qs  # noqa: E402

try:
    import threadpoolctl
except ImportError:
    threadpoolctl = None

MARK_START = "<!-- generated:start -->"
MARK_END = "<!-- generated:end -->"

# ============================================================== timing


class Timer:
    """Warm-up, calibrate the calls per sample, then the median of the samples.

    ``compare({"quasar": f, "torch": g, ...})`` times several libraries on one
    config, one library after the other. Before each library's turn on
    multi-threaded work (and before every config) the process idles ``gap``
    seconds: a thread pool keeps its threads spinning for a while after its
    last call (OpenBLAS ~0.1 s), and on a small machine they starve the next
    library's threads. Measured here: torch's 256x256 matmul ran at 5-80
    GFLOP/s right after NumPy's instead of 340, and NumPy's at 2-3 after torch's.
    """

    def __init__(self, min_time, repeats, warmup, quiet=0, gap=0.2):
        self.min_time, self.repeats, self.warmup, self.quiet, self.gap = min_time, repeats, warmup, quiet, gap
        self.log = []  # one dict per timing: label, median/min/max, calls per sample, background load

    def _calibrate(self, fn):
        t0 = time.perf_counter()
        fn()
        one = time.perf_counter() - t0
        calls = 1
        while time.perf_counter() - t0 < self.warmup or calls < 2:
            fn()
            calls += 1
        one = min(one, (time.perf_counter() - t0) / calls)
        return one, max(1, int(math.ceil(self.min_time / max(one, 1e-9))))

    @staticmethod
    def _sample(fn, number):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        return (time.perf_counter() - t0) / number

    @staticmethod
    def _faults():
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt if resource is not None else 0

    def compare(self, fns, repeats=None, label="", threaded=True):
        """{name: fn} -> {name: median seconds per call}; None values are skipped.

        threaded: whether any library may run this config on several threads
        (then each library's turn starts after an idle gap). With ``quiet``
        set (--wait-quiet), a config during which other processes used more
        than 0.15 cores is measured again once the machine is idle (at most
        twice more)."""
        fns = {k: f for k, f in fns.items() if f is not None}
        for attempt in range(3):
            before = cpu_snapshot()
            out = self._compare_once(fns, repeats, threaded)
            load = background_load(before, cpu_snapshot())
            if not self.quiet or load is None or load < 0.15 or attempt == 2:
                break
            wait_quiet(self.quiet)
        self.faults = {}
        for k, (median, ss, number, faults) in out.items():
            self.faults[k] = faults
            self.log.append({"label": f"{label} {k}".strip(), "median_s": median, "min_s": min(ss), "max_s": max(ss),
                             "calls_per_sample": number, "samples": len(ss), "background_cores": load,
                             "page_faults_per_call": faults, "attempts": attempt + 1})
        return {k: v[0] for k, v in out.items()}

    def _compare_once(self, fns, repeats, threaded):
        gc.collect()
        out = {}
        for i, (k, f) in enumerate(fns.items()):
            if threaded or i == 0:
                time.sleep(self.gap)
            one, number = self._calibrate(f)
            reps = repeats or self.repeats
            if one > 0.25:  # slow configs: fewer samples, never below 3
                reps = max(3, min(reps, 5))
            f0 = self._faults()
            ss = [self._sample(f, number) for _ in range(reps)]
            out[k] = (statistics.median(ss), ss, number, (self._faults() - f0) / (reps * number))
        return out

    def __call__(self, fn, repeats=None, label="", threaded=True):
        return self.compare({"_": fn}, repeats, label, threaded)["_"]


def ratio(q, peer):
    if q is None or peer is None or peer == 0:
        return None
    return q / peer


# ============================================================== environment


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return platform.processor() or platform.machine()
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    flags = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
    name = model.group(1).strip() if model else platform.machine()
    if flags:
        have = set(flags.group(1).split())
        isa = [f for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16") if f in have]
        name += " [" + " ".join(isa) + "]"
    return name


def usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def set_threads(n):
    """One thread count for every library in the process."""
    info = {"requested": n}
    if torch is not None:
        torch.set_num_threads(n)
        info["torch"] = torch.get_num_threads()
    par = getattr(qs, "parallel", None)
    setter = getattr(qs, "set_num_threads", None) or getattr(par, "set_num_threads", None)
    getter = getattr(qs, "get_num_threads", None) or getattr(par, "get_num_threads", None)
    if setter is not None:
        setter(n)
        info["quasar"] = getter() if getter is not None else n
    else:
        info["quasar"] = "n/a (qs.set_num_threads missing)"
    if threadpoolctl is not None:
        # NumPy's BLAS only: torch and quasar set their own OpenMP pools above (limiting
        # torch's libgomp through threadpoolctl as well made its steps up to 40x slower here)
        threadpoolctl.threadpool_limits(n, user_api="blas")
    return info


def environment(args, threads):
    env = {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": " ".join(["python"] + [os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:]),
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "logical_cpus": os.cpu_count(),
        "threads": threads,
        "python": platform.python_version(),
        "quasar": getattr(qs, "__version__", "?"),
        "quasar_backend": qs.get_backend(),
        "compiled_available": _compiled_available(),
        "numpy": np.__version__,
        "torch": torch.__version__ if torch is not None else None,
        "quick": args.quick,
        "gap": args.gap,
    }
    try:
        from quasar import _build_info  # written by setup.py

        env["quasar_build"] = {k: v for k, v in vars(_build_info).items() if not k.startswith("_")}
    except Exception:
        pass
    par = getattr(qs, "parallel", None)
    if par is not None and hasattr(par, "current_config"):
        try:
            env["quasar_parallel"] = repr(par.current_config())
            if hasattr(par, "openmp_enabled"):
                env["quasar_parallel"] += f", OpenMP {'enabled' if par.openmp_enabled() else 'disabled'}"
        except Exception as exc:  # noqa: BLE001
            env["quasar_parallel"] = f"current_config() failed: {exc}"
    try:
        with open("/proc/self/maps") as f:
            env["openmp_runtimes_mapped"] = sorted(set(re.findall(r"/\S*lib[gi]omp\S*", f.read())))
    except OSError:
        pass
    if threadpoolctl is not None:
        env["threadpools"] = [
            {k: d.get(k) for k in ("user_api", "internal_api", "prefix", "version", "architecture", "num_threads")}
            for d in threadpoolctl.threadpool_info()
        ]
    return env


def _compiled_available():
    from quasar import backends

    return getattr(backends, "compiled", None) is not None


def cpu_snapshot():
    """(machine busy CPU-seconds, this process's + children's CPU-seconds, wall time)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        busy = (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait
    except (OSError, ValueError):
        busy = None
    t = os.times()
    return busy, t.user + t.system + t.children_user + t.children_system, time.perf_counter()


def background_load(before, after):
    """CPU the *other* processes used between two snapshots, in cores (0 = a quiet machine)."""
    if before[0] is None or after[0] is None:
        return None
    wall = after[2] - before[2]
    other = (after[0] - before[0]) - (after[1] - before[1])
    return max(0.0, other / wall) if wall > 0 else None


def wait_quiet(limit_s, threshold=0.15, window=2.0):
    """Wait (up to limit_s) for a window in which other processes use < threshold cores.

    Multi-threaded kernels on a small machine collapse when another process holds
    a core (an OpenMP barrier waits for a descheduled thread), so a benchmark
    taken under load measures the load. Returns the last load seen."""
    deadline = time.perf_counter() + limit_s
    said = False
    while True:
        before = cpu_snapshot()
        time.sleep(window)
        load = background_load(before, cpu_snapshot())
        if load is None or load < threshold or time.perf_counter() > deadline:
            return load
        if not said:
            print(f" (busy: other processes use {load:.2f} cores; waiting)", end="", flush=True)
            said = True


def blas_summary(env):
    parts = []
    for d in env.get("threadpools", []):
        label = d["internal_api"] or d["prefix"]
        if d.get("version"):
            label += " " + d["version"]
        if d.get("architecture"):
            label += f" ({d['architecture']})"
        parts.append(f"{label} [{d['prefix']}, {d['num_threads']} threads]")
    return "; ".join(parts) or "unknown (threadpoolctl missing)"


# ============================================================== workload 1: per-op overhead

CHAIN = 100  # iterations of z = z * y + x: 2 ops each
CHAIN_OPS = 2 * CHAIN


def w_overhead(timer, args):
    rng = np.random.default_rng(0)
    xa = rng.standard_normal(16).astype(np.float32)
    ya = (0.5 * rng.standard_normal(16)).astype(np.float32)

    # NumPy floor: the same arithmetic on plain arrays
    def np_fwd():
        z = xa
        for _ in range(CHAIN):
            z = z * ya + xa
        return z

    xq = qs.tensor(xa, requires_grad=True)
    yq = qs.tensor(ya, requires_grad=True)

    def q_chain():
        z = xq
        for _ in range(CHAIN):
            z = z * yq + xq
        return z

    def q_nograd():
        with qs.no_grad():
            return q_chain()

    def q_fwdbwd():
        xq.grad = None
        yq.grad = None
        q_chain().sum().backward()

    t_chain = t_nograd = t_fwdbwd = None
    check = None
    if torch is not None:
        xt = torch.tensor(xa, requires_grad=True)
        yt = torch.tensor(ya, requires_grad=True)

        def t_chain():
            z = xt
            for _ in range(CHAIN):
                z = z * yt + xt
            return z

        def t_nograd():
            with torch.no_grad():
                return t_chain()

        def t_fwdbwd():
            xt.grad = None
            yt.grad = None
            t_chain().sum().backward()

        # same values and same gradients, checked once (a sanity line in the report, not a test)
        q_fwdbwd()
        t_fwdbwd()
        check = float(np.max(np.abs(xq.grad.array - xt.grad.numpy())))

    rows = []

    def add(variant, lib, seconds):
        rows.append({"variant": variant, "lib": lib, "chain_us": seconds * 1e6, "us_per_op": seconds * 1e6 / CHAIN_OPS})

    for variant, q, t, n in (
        ("forward (graph recorded)", q_chain, t_chain, np_fwd),
        ("forward (no_grad)", q_nograd, t_nograd, None),
        ("forward+backward", q_fwdbwd, t_fwdbwd, None),
    ):
        res = timer.compare({"quasar": q, "torch": t, "numpy": n}, label=f"overhead {variant}", threaded=False)
        for lib, sec in res.items():
            add("forward" if lib == "numpy" else variant, lib, sec)
    return {"rows": rows, "grad_check_max_abs_diff": check}


# ============================================================== workload 2: kernels

# bytes moved per element, as float32 counts of arrays read + written by the kernel
# forward: binary 2 in + 1 out; unary 1 + 1; sum 1 (+ one scalar).
# backward (grad of every input from dL/dout g and what forward saved):
#   add: two owned copies of g (2 reads + 2 writes) = 4; mul: g*b and g*a = 6;
#   relu (x, g -> out), exp (out, g), tanh (out, g), sigmoid (out, g) = 3;
#   sum: the scalar broadcast to n elements = 1 write.
KERNEL_OPS = ["add", "mul", "relu", "exp", "tanh", "sigmoid", "sum"]
FWD_ARRAYS = {"add": 3, "mul": 3, "relu": 2, "exp": 2, "tanh": 2, "sigmoid": 2, "sum": 1}
BWD_ARRAYS = {"add": 4, "mul": 6, "relu": 3, "exp": 3, "tanh": 3, "sigmoid": 3, "sum": 1}
BINARY = {"add", "mul"}
THREADED_N = 32768  # torch's elementwise grain size: from here on some library may use several threads


def _np_sigmoid(x):
    # NumPy has no sigmoid ufunc: the fewest-pass composite, in place in one new buffer
    out = np.negative(x)
    np.exp(out, out=out)
    np.add(out, 1, out=out)
    np.reciprocal(out, out=out)
    return out


NP_FWD = {
    "add": lambda x, y: np.add(x, y),
    "mul": lambda x, y: np.multiply(x, y),
    "relu": lambda x, y: np.maximum(x, np.float32(0)),
    "exp": lambda x, y: np.exp(x),
    "tanh": lambda x, y: np.tanh(x),
    "sigmoid": lambda x, y: _np_sigmoid(x),
    "sum": lambda x, y: np.sum(x),
}


def _np_bwd(op, x, y, out, g):
    """The same formulas as quasar's reference backend, unfused NumPy."""
    if op == "add":
        return g.copy(), g.copy()
    if op == "mul":
        return np.multiply(g, y), np.multiply(g, x)
    if op == "relu":
        return np.where(x > 0, g, np.float32(0))
    if op == "exp":
        return np.multiply(g, out)
    if op == "tanh":
        return g * (1 - out * out)
    if op == "sigmoid":
        return g * out * (1 - out)
    if op == "sum":
        return np.full(x.shape, g, dtype=x.dtype)
    raise KeyError(op)


def _q_op(op):
    return {
        "add": lambda a, b: a + b,
        "mul": lambda a, b: a * b,
        "relu": lambda a, b: qs.relu(a),
        "exp": lambda a, b: qs.exp(a),
        "tanh": lambda a, b: qs.tanh(a),
        "sigmoid": lambda a, b: qs.sigmoid(a),
        "sum": lambda a, b: qs.sum(a),
    }[op]


def _t_op(op):
    return {
        "add": lambda a, b: a + b,
        "mul": lambda a, b: a * b,
        "relu": lambda a, b: torch.relu(a),
        "exp": lambda a, b: torch.exp(a),
        "tanh": lambda a, b: torch.tanh(a),
        "sigmoid": lambda a, b: torch.sigmoid(a),
        "sum": lambda a, b: torch.sum(a),
    }[op]


def _q_kernel_fwd(op, B):
    return {
        "add": lambda x, y: B.add(x, y),
        "mul": lambda x, y: B.mul(x, y),
        "relu": lambda x, y: B.relu(x),
        "exp": lambda x, y: B.exp(x),
        "tanh": lambda x, y: B.tanh(x),
        "sigmoid": lambda x, y: B.sigmoid(x),
        "sum": lambda x, y: B.sum(x, (0,), False),
    }[op]


def _q_kernel_bwd(op, B, x, y, out, g):
    """The backend kernels the op's backward calls; None where there is none (add, sum)."""
    return {
        "add": None,
        "mul": lambda: (B.mul(g, y), B.mul(g, x)),
        "relu": lambda: B.relu_backward(x, g),
        "exp": lambda: B.mul(g, out),
        "tanh": lambda: B.tanh_backward(out, g),
        "sigmoid": lambda: B.sigmoid_backward(out, g),
        "sum": None,
    }[op]


def w_kernels(timer, args):
    sizes = [1_000, 1_000_000] if args.quick else [1_000, 100_000, 1_000_000, 16_000_000]
    rng = np.random.default_rng(1)
    B = qs.backends.current()
    rows, roofs = [], []
    for n in sizes:
        x = rng.standard_normal(n, dtype=np.float32)
        y = rng.standard_normal(n, dtype=np.float32)
        g = rng.standard_normal(n, dtype=np.float32)
        dst = np.empty_like(x)
        nbytes = 4 * n
        roof = {"n": n}
        fns = {"copyto": lambda: np.copyto(dst, x), "copy_alloc": lambda: x.copy()}
        if torch is not None:
            xt0, dt0 = torch.from_numpy(x), torch.from_numpy(dst)
            fns["torch_copy"] = lambda: dt0.copy_(xt0)
        for k, sec in timer.compare(fns, label=f"copy {n:.0e}", threaded=n >= THREADED_N).items():
            roof[k + "_GBs"] = 2 * nbytes / sec / 1e9
        roofs.append(roof)
        for op in KERNEL_OPS:
            binary = op in BINARY
            fb, bb = FWD_ARRAYS[op] * nbytes, BWD_ARRAYS[op] * nbytes
            label = f"kernels {op} {n:.0e}"
            # ---------------- forward
            xq, yq = qs.tensor(x), qs.tensor(y)
            qop, kf, npf = _q_op(op), _q_kernel_fwd(op, B), NP_FWD[op]
            fns = {
                "quasar": lambda: qop(xq, yq),
                "kernel": lambda: kf(x, y),
                "numpy": lambda: npf(x, y),
            }
            if torch is not None:
                xt, yt = torch.from_numpy(x), torch.from_numpy(y)
                top = _t_op(op)
                fns["torch"] = lambda: top(xt, yt)
            r = {"op": op, "n": n, "dir": "fwd", "bytes": fb}
            r.update({k + "_s": v for k, v in timer.compare(fns, label=label + " fwd", threaded=n >= THREADED_N).items()})
            r.update({k + "_faults": v for k, v in timer.faults.items()})
            rows.append(r)
            # ---------------- backward: out.backward(g, retain_graph=True) through autograd
            xg = qs.tensor(x, requires_grad=True)
            yg = qs.tensor(y, requires_grad=binary)
            outq = qop(xg, yg)
            gq = g if op != "sum" else np.ones((), np.float32)

            def q_bwd():
                xg.grad = None
                yg.grad = None
                outq.backward(gq, retain_graph=True)

            out_np = NP_FWD[op](x, y)
            g_np = g if op != "sum" else np.float32(1)
            fns = {
                "quasar": q_bwd,
                "kernel": _q_kernel_bwd(op, B, x, y, outq.array, g),
                "numpy": lambda: _np_bwd(op, x, y, out_np, g_np),
            }
            if torch is not None:
                xtg = torch.tensor(x, requires_grad=True)
                ytg = torch.tensor(y, requires_grad=binary)
                outt = _t_op(op)(xtg, ytg)
                gt = torch.from_numpy(g) if op != "sum" else torch.ones(())

                def t_bwd():
                    xtg.grad = None
                    ytg.grad = None
                    outt.backward(gt, retain_graph=True)

                fns["torch"] = t_bwd
            r = {"op": op, "n": n, "dir": "bwd", "bytes": bb, "kernel_s": None}
            r.update({k + "_s": v for k, v in timer.compare(fns, label=label + " bwd", threaded=n >= THREADED_N).items()})
            r.update({k + "_faults": v for k, v in timer.faults.items()})
            rows.append(r)
            outq = fns = None  # free the big arrays before the next config allocates
    for r in rows:
        for lib in ("quasar", "kernel", "numpy", "torch"):
            s = r.get(lib + "_s")
            r[lib + "_GBs"] = r["bytes"] / s / 1e9 if s else None
    return {"rows": rows, "roofs": roofs}


# ============================================================== workload 3: matmul


def w_matmul(timer, args):
    sizes = [256, 1024] if args.quick else [256, 1024, 2048]
    rng = np.random.default_rng(2)
    rows = []
    for dtype in (np.float32, np.float64):
        for n in sizes:
            a = rng.standard_normal((n, n)).astype(dtype)
            b = rng.standard_normal((n, n)).astype(dtype)
            g = rng.standard_normal((n, n)).astype(dtype)
            reps = 5 if n >= 2048 else None
            label = f"matmul {n} {np.dtype(dtype).name}"
            # forward
            aq, bq = qs.tensor(a), qs.tensor(b)
            fns = {"quasar": lambda: aq @ bq, "numpy": lambda: a @ b}
            if torch is not None:
                at, bt = torch.from_numpy(a), torch.from_numpy(b)
                fns["torch"] = lambda: at @ bt
            r = {"n": n, "dtype": np.dtype(dtype).name, "dir": "fwd", "flops": 2 * n**3}
            r.update({k + "_s": v for k, v in timer.compare(fns, reps, label + " fwd").items()})
            rows.append(r)
            # backward: both operands' gradients, given dL/dC
            ag, bg = qs.tensor(a, requires_grad=True), qs.tensor(b, requires_grad=True)
            cq = ag @ bg

            def q_bwd():
                ag.grad = None
                bg.grad = None
                cq.backward(g, retain_graph=True)

            fns = {"quasar": q_bwd, "numpy": lambda: (g @ b.T, a.T @ g)}
            if torch is not None:
                atg = torch.tensor(a, requires_grad=True)
                btg = torch.tensor(b, requires_grad=True)
                ct = atg @ btg
                gt = torch.from_numpy(g)

                def t_bwd():
                    atg.grad = None
                    btg.grad = None
                    ct.backward(gt, retain_graph=True)

                fns["torch"] = t_bwd
            r = {"n": n, "dtype": np.dtype(dtype).name, "dir": "bwd", "flops": 4 * n**3}
            r.update({k + "_s": v for k, v in timer.compare(fns, reps, label + " bwd").items()})
            rows.append(r)
            cq = fns = None
    for r in rows:
        for lib in ("quasar", "numpy", "torch"):
            s = r.get(lib + "_s")
            r[lib + "_GFLOPs"] = r["flops"] / s / 1e9 if s else None
    return {"rows": rows}


# ============================================================== workloads 4/5: MLP training step


def nn_available():
    try:
        import quasar.nn  # noqa: F401
        import quasar.optim  # noqa: F401
    except Exception as exc:  # noqa: BLE001
        return str(exc)
    return None


class MLP:
    """One architecture, one init, in both libraries: torch's default init,
    copied into quasar's parameters; same data, same targets."""

    def __init__(self, sizes, batch, lr=0.1, seed=0, libs=("quasar", "torch")):
        import quasar.nn as qnn
        import quasar.optim as qoptim

        self.sizes, self.batch = sizes, batch
        rng = np.random.default_rng(seed)
        self.X = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
        self.T = rng.integers(0, sizes[-1], batch).astype(np.int64)

        def layers(lin, relu):
            out = []
            for i in range(len(sizes) - 1):
                out.append(lin(sizes[i], sizes[i + 1]))
                if i < len(sizes) - 2:
                    out.append(relu())
            return out

        self.qmodel = self.tmodel = None
        if "quasar" in libs:
            self.qmodel = qnn.Sequential(*layers(qnn.Linear, qnn.ReLU))
            self.qopt = qoptim.SGD(self.qmodel.parameters(), lr=lr)
            self.xq, self.tq = qs.tensor(self.X), qs.tensor(self.T)
        if torch is not None and "torch" in libs:
            torch.manual_seed(seed)
            self.tmodel = torch.nn.Sequential(*layers(torch.nn.Linear, torch.nn.ReLU))
            self.topt = torch.optim.SGD(self.tmodel.parameters(), lr=lr)
            self.xt, self.tt = torch.from_numpy(self.X), torch.from_numpy(self.T)
            if self.qmodel is not None:
                self._copy_init()

    def _copy_init(self):
        qp = list(self.qmodel.parameters())
        tp = list(self.tmodel.parameters())
        if len(qp) != len(tp):
            raise RuntimeError(f"quasar model has {len(qp)} parameters, torch {len(tp)}")
        for q, t in zip(qp, tp):
            arr = t.detach().numpy()
            if q.array.shape == arr.shape:
                q.array[...] = arr
            elif q.array.shape == arr.T.shape:  # a (in, out) weight layout
                q.array[...] = arr.T
            else:
                raise RuntimeError(f"parameter shapes differ: quasar {q.array.shape}, torch {arr.shape}")

    def q_step(self):
        import quasar.nn.functional as QF

        self.qopt.zero_grad()
        loss = QF.cross_entropy(self.qmodel(self.xq), self.tq)
        loss.backward()
        self.qopt.step()
        return loss

    def t_step(self):
        self.topt.zero_grad()
        loss = torch.nn.functional.cross_entropy(self.tmodel(self.xt), self.tt)
        loss.backward()
        self.topt.step()
        return loss

    def check(self, steps=3):
        """Same losses for a few steps (a sanity line in the report, not a test)."""
        if self.tmodel is None:
            return None
        diffs = []
        for _ in range(steps):
            diffs.append(abs(float(self.q_step().item()) - float(self.t_step().item())))
        return max(diffs)


def w_mlp(timer, args):
    err = nn_available()
    if err:
        return {"skipped": f"qs.nn / qs.optim not available ({err})"}
    configs = [((784, 256, 256, 10), 128)]
    if not args.quick:
        configs.append(((784, 1024, 1024, 10), 512))
    rows = []
    for sizes, batch in configs:
        m = MLP(sizes, batch)
        r = {"arch": "-".join(map(str, sizes)), "batch": batch, "loss_diff_3_steps": m.check()}
        fns = {"quasar": m.q_step, "torch": m.t_step if m.tmodel is not None else None}
        r.update({k + "_s": v for k, v in timer.compare(fns, label=f"mlp {r['arch']} b{batch}").items()})
        rows.append(r)
    return {"rows": rows}


def w_hvp(timer, args):
    """A Hessian-vector product of the 784-256-10 MLP's loss (batch 128): gradients
    with create_graph=True, then the gradient of their dot product with v."""
    err = nn_available()
    if err:
        return {"skipped": f"qs.nn / qs.optim not available ({err})"}
    import quasar.nn.functional as QF

    sizes, batch = (784, 256, 10), 128
    m = MLP(sizes, batch)
    rng = np.random.default_rng(1)
    qparams = list(m.qmodel.parameters())
    vectors = [rng.standard_normal(p.shape).astype(np.float32) for p in qparams]
    qv = [qs.tensor(v) for v in vectors]

    def q_hvp():
        loss = QF.cross_entropy(m.qmodel(m.xq), m.tq)
        grads = qs.autograd.grad(loss, qparams, create_graph=True)
        return qs.autograd.grad(sum((g * v).sum() for g, v in zip(grads, qv)), qparams)

    t_hvp = None
    diff = None
    if m.tmodel is not None:
        tparams = list(m.tmodel.parameters())
        tv = [torch.from_numpy(v if p.shape == tuple(t.shape) else v.T.copy())
              for v, p, t in zip(vectors, qparams, tparams)]

        def t_hvp():
            loss = torch.nn.functional.cross_entropy(m.tmodel(m.xt), m.tt)
            grads = torch.autograd.grad(loss, tparams, create_graph=True)
            return torch.autograd.grad(sum((g * v).sum() for g, v in zip(grads, tv)), tparams)

        diff = max(
            float(np.max(np.abs(q.numpy() - (t.numpy() if q.shape == tuple(t.shape) else t.numpy().T))))
            for q, t in zip(q_hvp(), t_hvp())
        )
    r = {"arch": "-".join(map(str, sizes)), "batch": batch, "max_abs_diff": diff}
    r.update({k + "_s": v for k, v in timer.compare({"quasar": q_hvp, "torch": t_hvp}, label="hvp").items()})
    return {"rows": [r]}


def w_reference(timer, args):
    err = nn_available()
    if err:
        return {"skipped": f"qs.nn / qs.optim not available ({err})"}
    sizes, batch = (784, 64, 10), 32
    m = MLP(sizes, batch)
    r = {"arch": "-".join(map(str, sizes)), "batch": batch}
    def on(name):
        def step():
            with qs.backend(name):
                m.q_step()

        return step

    fns = {
        "compiled": on("compiled") if _compiled_available() else None,
        "reference": on("reference"),
        "torch": m.t_step if m.tmodel is not None else None,
    }
    r.update({"compiled_s": None, "torch_s": None})
    r.update({k + "_s": v for k, v in timer.compare(fns, label=f"reference {r['arch']} b{batch}").items()})
    return {"rows": [r]}


# ============================================================== workload 6: memory (in fresh processes)


def _status_kb(key):
    with open("/proc/self/status") as f:
        m = re.search(rf"^{key}:\s+(\d+) kB", f.read(), re.M)
    return int(m.group(1)) if m else None


def _reset_hwm():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM (peak RSS) to the current RSS (Linux >= 4.0)


def _state_bytes(tensors):
    return sum(int(t.nbytes) for t in tensors if t is not None)


def memory_child(lib, mode, threads, steps):
    """Runs in a fresh interpreter (only ``lib``'s model and data live in it); prints one JSON line."""
    set_threads(threads)
    out = {"lib": lib, "mode": mode}
    if mode == "tracemalloc":  # quasar: every NumPy buffer and Python object since before the model existed
        import tracemalloc

        tracemalloc.start()
        m = MLP((784, 256, 256, 10), 128, libs=(lib,))
        for _ in range(3):
            m.q_step()
        gc.collect()
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        m.q_step()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out.update(traced_before_bytes=base, traced_peak_bytes=peak)
    elif mode == "peak":
        gc.collect()
        rss0 = _status_kb("VmRSS")  # after the imports, before the model and the data exist
        m = MLP((784, 256, 256, 10), 128, libs=(lib,))
        step = m.q_step if lib == "quasar" else m.t_step
        for _ in range(3):
            step()
        gc.collect()
        # resident state counted from the tensors: parameters, their gradients, the batch
        if lib == "quasar":
            params = list(m.qmodel.parameters())
            state = _state_bytes([p.array for p in params] + [p.grad.array for p in params if p.grad is not None])
        else:
            params = list(m.tmodel.parameters())
            state = sum(p.numel() * p.element_size() for p in params)
            state += sum(p.grad.numel() * p.grad.element_size() for p in params if p.grad is not None)
        out["state_bytes"] = state + m.X.nbytes + m.T.nbytes
        # peak RSS of one step (VmHWM reset through /proc/self/clear_refs), above the
        # post-import baseline (= everything this library holds at its peak) and above the pre-step RSS
        total, transient = [], []
        for _ in range(5):
            gc.collect()
            before = _status_kb("VmRSS")
            _reset_hwm()
            step()
            hwm = _status_kb("VmHWM")
            total.append((hwm - rss0) * 1024)
            transient.append((hwm - before) * 1024)
        out["rss_peak_bytes"] = statistics.median(total)
        out["rss_peak_delta_bytes"] = statistics.median(transient)
    elif mode == "kept":  # graphs kept alive, as a list of losses kept for a plot would
        rng = np.random.default_rng(0)
        x = rng.standard_normal((128, 784), dtype=np.float32)
        w = rng.standard_normal((784, 256), dtype=np.float32)
        if lib == "quasar":
            x, w = qs.tensor(x), qs.tensor(w, requires_grad=True)
            loss = lambda: qs.tanh(x @ w).sum()  # noqa: E731
        else:
            x, w = torch.from_numpy(x), torch.from_numpy(w).requires_grad_(True)
            loss = lambda: torch.tanh(x @ w).sum()  # noqa: E731
        kept = [loss() for _ in range(5)]  # warm up the allocator and the library
        gc.collect()
        before = _status_kb("VmRSS")
        kept += [loss() for _ in range(steps)]
        gc.collect()
        out["kept_bytes_per_graph"] = (_status_kb("VmRSS") - before) * 1024 / steps
        out["tanh_output_bytes"] = 128 * 256 * 4
    else:  # growth: RSS over many steps of a small network
        m = MLP((784, 64, 10), 32, libs=(lib,))
        step = m.q_step if lib == "quasar" else m.t_step
        every = max(1, steps // 10)
        marks = []
        for i in range(1, steps + 1):
            step()
            if i % every == 0:
                marks.append((i, _status_kb("VmRSS") * 1024))
        out["marks"] = marks
        out["growth_bytes"] = marks[-1][1] - marks[0][1]
    print("RESULT " + json.dumps(out))


def _run_child(lib, mode, threads, steps, extra_env=None):
    env = dict(os.environ)
    env.update(extra_env or {})
    cmd = [sys.executable, os.path.abspath(__file__), "--_memory-child", f"{lib}:{mode}:{steps}", "--threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"lib": lib, "mode": mode, "error": (proc.stderr or proc.stdout).strip()[-800:]}


def w_memory(timer, args):
    err = nn_available()
    if err:
        return {"skipped": f"qs.nn / qs.optim not available ({err})"}
    libs = ["quasar"] + (["torch"] if torch is not None else [])
    # a fixed mmap threshold: every buffer >= 64 KiB is mmap'd and unmapped on free, so RSS
    # follows what each library holds instead of what glibc keeps cached in its heap
    fixed = {"MALLOC_MMAP_THRESHOLD_": "65536"}
    peak = {lib: _run_child(lib, "peak", args.threads, 0, fixed) for lib in libs}
    traced = _run_child("quasar", "tracemalloc", args.threads, 0)
    if "error" not in traced:
        peak["quasar"].update(traced)
    kept = {lib: _run_child(lib, "kept", args.threads, 100, fixed) for lib in libs}
    steps = 1000 if args.quick else 10_000
    growth = {lib: _run_child(lib, "growth", args.threads, steps) for lib in libs}
    return {"peak": peak, "growth": growth, "growth_steps": steps, "kept": kept}


# ============================================================== profiling helper


def profile(args):
    import cProfile
    import pstats

    if args.profile == "overhead":
        x = qs.tensor(np.ones(16, np.float32), requires_grad=True)
        y = qs.tensor(np.full(16, 0.5, np.float32), requires_grad=True)

        def work():
            for _ in range(300):
                x.grad = y.grad = None
                z = x
                for _ in range(CHAIN):
                    z = z * y + x
                z.sum().backward()
    else:
        m = MLP((784, 256, 256, 10), 128)

        def work():
            for _ in range(300):
                m.q_step()

    work()
    prof = cProfile.Profile()
    prof.enable()
    work()
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(30)


# ============================================================== report


def fmt(v, digits=2):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.{digits}f}"


def fmt_ratio(v):
    return "-" if v is None else f"{v:.2f}x"


def table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines)


def mib(b):
    return None if b is None else b / 2**20


def section_overhead(res):
    if "rows" not in res:
        return res.get("skipped", "skipped")
    by = {(r["variant"], r["lib"]): r for r in res["rows"]}
    rows = []
    floor = by.get(("forward", "numpy"))
    rows.append(["forward", "-", "-", fmt(floor["us_per_op"]), "-", "-"])
    for variant in ("forward (graph recorded)", "forward (no_grad)", "forward+backward"):
        q, t = by.get((variant, "quasar")), by.get((variant, "torch"))
        rows.append([
            variant, fmt(q["us_per_op"]), fmt(q["chain_us"], 0) if q else "-",
            fmt(floor["us_per_op"]) if variant.startswith("forward (") else "-",
            fmt(t["us_per_op"]) if t else "-", fmt_ratio(ratio(q["us_per_op"], t["us_per_op"] if t else None)),
        ])
    text = table(["variant", "quasar µs/op", "quasar µs/chain", "NumPy µs/op", "PyTorch µs/op", "quasar/PyTorch"], rows)
    text += (
        f"\n\n{CHAIN} iterations of `z = z * y + x` on 16-element float32 tensors = {CHAIN_OPS} ops "
        "(each `*` and `+` counts as one op); forward+backward adds `z.sum().backward()` "
        "(x, y require grad; their .grad reset each time) and still divides by "
        f"{CHAIN_OPS}. NumPy row: the same chain on plain arrays (no autograd), the floor."
    )
    if res.get("grad_check_max_abs_diff") is not None:
        text += f" Gradient check quasar vs PyTorch: max |Δ x.grad| = {res['grad_check_max_abs_diff']:.2e}."
    return text


def _n(n):
    """1000 -> 1e3, 16000000 -> 1.6e7."""
    mant, exp = f"{n:.1e}".split("e")
    return f"{mant.rstrip('0').rstrip('.')}e{int(exp)}"


def _faults_cell(r):
    q, t = r.get("quasar_faults"), r.get("torch_faults")
    if q is None:
        return "-"
    return f"{q:.0f} / {t:.0f}" if t is not None else f"{q:.0f}"


def section_kernels(res):
    if "rows" not in res:
        return res.get("skipped", "skipped")
    roofs = {r["n"]: r for r in res["roofs"]}
    parts = []
    rr = [[_n(r["n"]), fmt(r["copyto_GBs"]), fmt(r["copy_alloc_GBs"]), fmt(r.get("torch_copy_GBs"))] for r in res["roofs"]]
    parts.append("Copy roofs (GB/s, read + write):\n\n" + table(["n", "np.copyto (preallocated)", "x.copy() (allocating)", "torch copy_ (threaded)"], rr))
    for direction in ("fwd", "bwd"):
        rows = []
        for r in res["rows"]:
            if r["dir"] != direction:
                continue
            roof = roofs[r["n"]]["copyto_GBs"]
            rows.append([
                r["op"], _n(r["n"]),
                fmt(r["quasar_GBs"]), fmt(r["kernel_GBs"]), fmt(r["numpy_GBs"]), fmt(r.get("torch_GBs")),
                fmt_ratio(ratio(r["quasar_s"], r.get("torch_s"))), fmt_ratio(ratio(r["quasar_s"], r["numpy_s"])),
                f"{100 * r['quasar_GBs'] / roof:.0f}%" if roof else "-",
                _faults_cell(r),
            ])
        title = "Forward" if direction == "fwd" else "Backward (through autograd: `out.backward(g, retain_graph=True)`)"
        parts.append(f"{title}, GB/s:\n\n" + table(
            ["op", "n", "quasar", "quasar kernel only", "NumPy", "PyTorch", "quasar/PyTorch (time)",
             "quasar/NumPy (time)", "quasar % of copyto", "page faults/call quasar / PyTorch"], rows))
    parts.append(
        "float32. GB/s counts the arrays each kernel must read and write (4 bytes × n per array): "
        "forward add/mul 3, unary 2, sum 1; backward add 4 (two owned copies of g), mul 6, "
        "relu/exp/tanh/sigmoid 3 (saved x or out, g -> grad), sum 1 (the broadcast gradient). "
        "*quasar* = the public op (`x + y`, `qs.relu(x)`, ...; backward: `out.backward(g, retain_graph=True)` "
        "with the inputs' .grad reset, both inputs requiring grad for add/mul) including Python dispatch; "
        "*quasar kernel only* = the active backend's kernel called directly on arrays (`B.relu(x)`, "
        "`B.relu_backward(x, g)`, ...; add and sum have no backward kernel: `-`). "
        "*NumPy* = the ufunc (`np.add`, `np.maximum(x, 0)`, `np.exp`, `np.tanh`, `np.sum`; sigmoid: "
        "`1/(1+exp(-x))` in 4 in-place passes); backward: the reference backend's formulas, unfused. "
        "*PyTorch* = the same op and the same `out.backward(g, retain_graph=True)`. Every op allocates "
        "its output (as in normal use); `np.copyto` into a preallocated array does not, so at 1.6e7 "
        "(64 MB, page faults on fresh memory) it is a roof no allocating op reaches; the allocating copy is shown beside it. "
        "*Page faults/call* (minor faults, getrusage): a large output that glibc serves with a fresh mmap costs one "
        "fault per 4 KiB page (~1,000 per 4 MB array; PyTorch asks for transparent huge pages, ~2 per 4 MB). Whether "
        "glibc maps fresh memory or reuses its heap depends on the process's allocation history (its mmap threshold "
        "rises after the first large free), so a row with thousands of faults per call measures the allocator, "
        "not the kernel."
    )
    return "\n\n".join(parts)


def section_matmul(res):
    if "rows" not in res:
        return res.get("skipped", "skipped")
    rows = []
    for r in res["rows"]:
        rows.append([
            r["n"], r["dtype"], r["dir"], fmt(r["quasar_GFLOPs"]), fmt(r["numpy_GFLOPs"]), fmt(r.get("torch_GFLOPs")),
            fmt_ratio(ratio(r["quasar_s"], r["numpy_s"])), fmt_ratio(ratio(r["quasar_s"], r.get("torch_s"))),
            fmt(r["quasar_s"] * 1e3),
        ])
    return table(["n", "dtype", "pass", "quasar GFLOP/s", "NumPy GFLOP/s", "PyTorch GFLOP/s", "quasar/NumPy (time)",
                  "quasar/PyTorch (time)", "quasar ms"], rows) + (
        "\n\nSquare n×n @ n×n. Forward: `a @ b` (2n³ flops). Backward: both operands' gradients from a given "
        "dL/dC through autograd (`c.backward(g, retain_graph=True)`, 4n³ flops); NumPy: `g @ b.T` and `a.T @ g`.")


def section_mlp(res):
    if "rows" not in res:
        return res.get("skipped", "skipped")
    rows = [[r["arch"], r["batch"], fmt(r["quasar_s"] * 1e3, 3), fmt(r.get("torch_s", 0) * 1e3 if r.get("torch_s") else None, 3),
             fmt_ratio(ratio(r["quasar_s"], r.get("torch_s"))), fmt(r.get("loss_diff_3_steps"), 1) if r.get("loss_diff_3_steps") is None else f"{r['loss_diff_3_steps']:.1e}"]
            for r in res["rows"]]
    return table(["architecture", "batch", "quasar ms/step", "PyTorch ms/step", "quasar/PyTorch", "max |Δloss| first 3 steps"], rows) + (
        "\n\nOne step = `opt.zero_grad()`, forward (Linear/ReLU), `cross_entropy` (mean), `backward()`, "
        "`SGD(lr=0.1).step()`; float32. Both models start from PyTorch's default init (copied into quasar's "
        "parameters) and see the same batch; the loss column checks they compute the same thing.")


def section_hvp(res):
    if "rows" not in res:
        return res.get("skipped", "skipped")
    r = res["rows"][0]
    rows = [[r["arch"], r["batch"], fmt(r["quasar_s"] * 1e3, 3), fmt(r["torch_s"] * 1e3 if r.get("torch_s") else None, 3),
             fmt_ratio(ratio(r["quasar_s"], r.get("torch_s"))),
             "n/a" if r.get("max_abs_diff") is None else f"{r['max_abs_diff']:.1e}"]]
    return table(["architecture", "batch", "quasar ms", "PyTorch ms", "quasar/PyTorch", "max |Δ(Hv)|"], rows) + (
        "\n\nOne Hessian-vector product of the cross-entropy loss in the parameters: `grad(loss, params, "
        "create_graph=True)`, then `grad(sum(g * v), params)`; float32, the same init and batch in both libraries.")


def section_reference(res):
    if "rows" not in res:
        return res.get("skipped", "skipped")
    r = res["rows"][0]
    rows = [[r["arch"], r["batch"], fmt(r["compiled_s"] * 1e3 if r["compiled_s"] else None, 3), fmt(r["reference_s"] * 1e3, 3),
             fmt_ratio(ratio(r["compiled_s"], r["reference_s"])), fmt(r["torch_s"] * 1e3 if r.get("torch_s") else None, 3)]]
    return table(["architecture", "batch", "compiled ms/step", "reference ms/step", "compiled/reference", "PyTorch ms/step"], rows) + (
        "\n\nThe same training step as workload 4 under `qs.backend('compiled')` and `qs.backend('reference')` (pure NumPy kernels).")


def section_memory(res):
    if "peak" not in res:
        return res.get("skipped", "skipped")
    rows = []
    for lib, p in res["peak"].items():
        if "error" in p:
            rows.append([lib, "error: " + p["error"].splitlines()[-1][:120], "", "", "", ""])
            continue
        tm = p.get("traced_peak_bytes")
        rows.append([lib, fmt(mib(p["state_bytes"])), fmt(mib(p["rss_peak_delta_bytes"])),
                     fmt(mib(p["state_bytes"] + p["rss_peak_delta_bytes"])), fmt(mib(p.get("rss_peak_bytes"))),
                     fmt(mib(tm)), fmt(mib(tm - p["traced_before_bytes"])) if tm is not None else "-"])
    text = "Peak memory of one training step, 784-256-256-10, batch 128, float32 (MiB):\n\n" + table(
        ["library", "state (params + grads + batch)", "step peak above the pre-step RSS", "step peak = state + that",
         "RSS added since the imports (incl. the library's lazy runtime init)", "tracemalloc peak",
         "tracemalloc above pre-step"], rows)
    rows = []
    for lib, g in res["growth"].items():
        if "error" in g:
            rows.append([lib, "error: " + g["error"].splitlines()[-1][:120], "", ""])
            continue
        first, last = g["marks"][0], g["marks"][-1]
        rows.append([lib, f"{fmt(mib(first[1]))} (step {first[0]})", f"{fmt(mib(last[1]))} (step {last[0]})", fmt(mib(g["growth_bytes"]), 3)])
    text += f"\n\nRSS over {res['growth_steps']:,} training steps of 784-64-10, batch 32 (MiB):\n\n" + table(
        ["library", "RSS early", "RSS at end", "growth"], rows)
    text += (
        "\n\nMethod. Each measurement runs in a fresh interpreter holding one library's model and data. "
        "*Peak RSS*: VmRSS is read after the imports (baseline); the model and the batch are built and 3 warm-up "
        "steps run; then `/proc/self/clear_refs` resets the peak RSS (VmHWM) to the current RSS, one step runs, "
        "and VmHWM minus the RSS just before the step is the step's transient peak (median of 5 steps; 0 when the "
        "step never goes above what the process held before it, e.g. because zero_grad freed the old gradients "
        "first). *Step peak* = that plus the state counted from the tensors; the target compares it. VmHWM minus "
        "the post-import baseline is also shown: it adds what each library allocates for itself on first use "
        "(PyTorch's kernels and thread pools, OpenBLAS's buffers, Python objects). The process runs with `MALLOC_MMAP_THRESHOLD_=65536` "
        "so every buffer of 64 KiB or more is mmap'd and returned on free, making RSS follow what each library "
        "holds. The same method for both libraries. *tracemalloc* (quasar only; NumPy reports its buffers to it): "
        "traced from before the model exists, so the peak is everything quasar allocated and still held at the "
        "step's peak (parameters, grads, batch, activations, Python objects). *Growth*: RSS (VmRSS) every "
        f"{max(1, res['growth_steps'] // 10):,} steps with the default allocator; growth = last mark minus first.")
    if "kept" in res:
        rows = [[lib, "error: " + k["error"].splitlines()[-1][:120] if "error" in k else fmt(k["kept_bytes_per_graph"] / 1024, 1),
                 "" if "error" in k else fmt(k["tanh_output_bytes"] / 1024, 1)] for lib, k in res["kept"].items()]
        text += ("\n\nGraphs kept alive: 100 losses `tanh(x @ w).sum()` (x 128x784, w 784x256, float32) kept in a "
                 "list, RSS added per kept loss (kB). A lean graph holds tanh's output (its backward needs only "
                 "that) and not `x @ w`:\n\n" + table(["library", "kB per kept graph", "tanh output alone (kB)"], rows))
    return text


# ---------------------------------------------------------------- targets


def targets(results):
    out = []

    def add(name, met, detail):
        out.append({"target": name, "status": "n/a" if met is None else ("met" if met else "missed"), "detail": detail})

    mlp = results.get("mlp", {})
    if "rows" in mlp:
        for r in mlp["rows"]:
            q = ratio(r["quasar_s"], r.get("torch_s"))
            name = f"MLP step {r['arch']} b{r['batch']} ≤ PyTorch"
            if q is None:
                add(name, None, "PyTorch not available")
            else:
                add(name, q <= 1.0, f"{q:.2f}× PyTorch's time" + ("" if q <= 1.0 else f" (missed by {100 * (q - 1):.0f}%)"))
    else:
        add("MLP step ≤ PyTorch (both sizes)", None, mlp.get("skipped", "not run"))

    kept = results.get("memory", {}).get("kept", {})
    if "quasar" in kept and "kept_bytes_per_graph" in kept["quasar"]:
        q = ratio(kept["quasar"]["kept_bytes_per_graph"], kept.get("torch", {}).get("kept_bytes_per_graph"))
        add("kept-graph memory ≤ 1.2× PyTorch", None if q is None else q <= 1.2,
            "PyTorch not available" if q is None else f"{q:.2f}× PyTorch's")

    hv = results.get("hvp", {})
    if "rows" in hv:
        q = ratio(hv["rows"][0]["quasar_s"], hv["rows"][0].get("torch_s"))
        name = "Hessian-vector product 784-256-10 b128 ≤ 1.5× PyTorch"
        add(name, None if q is None else q <= 1.5, "PyTorch not available" if q is None else f"{q:.2f}× PyTorch's time")

    ov = results.get("overhead", {})
    if "rows" in ov:
        by = {(r["variant"], r["lib"]): r for r in ov["rows"]}
        q, t = by.get(("forward+backward", "quasar")), by.get(("forward+backward", "torch"))
        if t:
            rr = q["us_per_op"] / t["us_per_op"]
            add("per-op overhead fwd+bwd ≤ 1.0× PyTorch", rr <= 1.0,
                f"{q['us_per_op']:.2f} vs {t['us_per_op']:.2f} µs/op = {rr:.2f}×" + ("" if rr <= 1 else f" (missed by {100 * (rr - 1):.0f}%)"))
        else:
            add("per-op overhead fwd+bwd ≤ 1.0× PyTorch", None, "PyTorch not available")
    else:
        add("per-op overhead fwd+bwd ≤ 1.0× PyTorch", None, "not run")

    kr = results.get("kernels", {})
    if "rows" in kr:
        at = [r for r in kr["rows"] if r["n"] == 1_000_000 and r.get("torch_s")]
        if at:
            misses = [f"{r['op']} {r['dir']} {r['quasar_s'] / r['torch_s']:.2f}×" for r in at if r["quasar_s"] > r["torch_s"]]
            add("kernels at 1e6 ≥ PyTorch throughput", not misses,
                f"{len(at) - len(misses)}/{len(at)} op×direction pairs met" + (
                    "; missed (time vs PyTorch): " + ", ".join(misses) if misses else ""))
        else:
            add("kernels at 1e6 ≥ PyTorch throughput", None, "PyTorch not available")
        roofs = {r["n"]: r for r in kr["roofs"]}
        big = [r for r in kr["rows"] if r["n"] == 16_000_000]
        if big:
            roof = roofs[16_000_000]["copyto_GBs"]
            misses = [f"{r['op']} {r['dir']} {100 * r['quasar_GBs'] / roof:.0f}%" for r in big if r["quasar_GBs"] < 0.85 * roof]
            add("kernels at 1.6e7 ≥ 85% of copy bandwidth", not misses,
                f"copy roof {roof:.1f} GB/s; {len(big) - len(misses)}/{len(big)} met" + (
                    "; below 85% (share of copy): " + ", ".join(misses) if misses else ""))
        else:
            add("kernels at 1.6e7 ≥ 85% of copy bandwidth", None, "not measured (--quick)")
    else:
        add("kernels", None, "not run")

    mm = results.get("matmul", {})
    if "rows" in mm:
        misses = [f"{r['n']} {r['dtype']} {r['dir']} {r['quasar_s'] / r['numpy_s']:.2f}×" for r in mm["rows"]
                  if r["quasar_s"] > 1.05 * r["numpy_s"]]
        add("matmul within 5% of NumPy (fwd and bwd)", not misses,
            f"{len(mm['rows']) - len(misses)}/{len(mm['rows'])} configs met" + (
                "; slower than 1.05× (time vs NumPy): " + ", ".join(misses) if misses else ""))
    else:
        add("matmul within 5% of NumPy", None, "not run")

    mem = results.get("memory", {})
    if "peak" in mem:
        q, t = mem["peak"].get("quasar", {}), mem["peak"].get("torch", {})
        if "state_bytes" in q and "state_bytes" in t:
            qt = q["state_bytes"] + q["rss_peak_delta_bytes"]
            tt = t["state_bytes"] + t["rss_peak_delta_bytes"]
            rr = qt / tt
            add("peak memory ≤ 1.2× PyTorch", rr <= 1.2,
                f"{mib(qt):.2f} vs {mib(tt):.2f} MiB = {rr:.2f}×" + ("" if rr <= 1.2 else f" (missed by {100 * (rr / 1.2 - 1):.0f}%)"))
        else:
            add("peak memory ≤ 1.2× PyTorch", None, "PyTorch not available or a child failed")
        g = mem["growth"].get("quasar", {})
        if "growth_bytes" in g:
            grow = g["growth_bytes"]
            add(f"no RSS growth over {mem['growth_steps']:,} steps", grow <= 1 << 20,
                f"{mib(grow):+.2f} MiB from step {g['marks'][0][0]} to {g['marks'][-1][0]} (met: ≤ 1 MiB, allocator noise)")
        else:
            add("no RSS growth", None, g.get("error", "not run")[-200:])
    else:
        add("memory targets", None, mem.get("skipped", "not run"))
    return out


def section_targets(tg):
    rows = [[t["target"], {"met": "**met**", "missed": "**missed**"}.get(t["status"], t["status"]), t["detail"]] for t in tg]
    return table(["issue 5 target", "status", "measured"], rows)


def render(env, results, tg):
    tc = env["threads"]
    lines = [
        "## Machine and versions",
        "",
        f"- date: {env['date']}",
        f"- command: `{env['command']}`" + (" (quick mode: reduced sizes)" if env["quick"] else ""),
        f"- CPU: {env['cpu']}; {env['cores']} usable cores ({env['logical_cpus']} logical CPUs)",
        f"- threads: {tc['requested']} for every library (torch.get_num_threads() = {tc.get('torch', '-')}, "
        f"quasar = {tc.get('quasar')})",
        f"- Python {env['python']}; quasar {env['quasar']} (backend `{env['quasar_backend']}`, compiled kernels "
        f"{'available' if env['compiled_available'] else 'NOT built: quasar numbers are the reference backend'}); "
        f"NumPy {env['numpy']}; PyTorch {env['torch'] or 'not installed'}",
        f"- BLAS / thread pools (threadpoolctl): {blas_summary(env)}",
    ]
    if env.get("openmp_runtimes_mapped"):
        lines.append(f"- OpenMP runtime(s) in the process: {', '.join(env['openmp_runtimes_mapped'])} "
                     "(torch is imported before quasar: see the note at the top of run.py)")
    if env.get("quasar_build"):
        lines.append(f"- quasar build: {env['quasar_build']}")
    if env.get("quasar_parallel") is not None:
        lines.append(f"- quasar threading: {env['quasar_parallel']}")
    loads = {k: v["background_cores"] for k, v in results.items()
             if isinstance(v, dict) and v.get("background_cores") is not None}
    if loads:
        timed = [v for k, v in loads.items() if k != "memory"]  # memory is measured in bytes, not seconds
        busy = bool(timed) and max(timed) > 0.1
        lines.append(
            "- background load (CPU cores used by *other* processes while each workload ran, of "
            f"{env['logical_cpus']}): " + ", ".join(f"{k} {v:.2f}" for k, v in loads.items())
            + (" — **the machine was not quiet: treat small differences as noise**" if busy else " (quiet)"))
    lines.append(f"- run time: {env.get('elapsed_s')} s")
    lines += [
        "",
        "Timings: median of ≥5 samples (3-5 for runs over 0.25 s) after warm-up, `time.perf_counter`; "
        "on each config the libraries run one after the other, each after a "
        f"{env.get('gap', 0.2)} s idle gap when the work is multi-threaded (so no library's pool threads are still spinning "
        "when the next one starts; see Timer in run.py); ratios are time ratios quasar/peer (below 1.00× quasar is faster). "
        "Every sample's median/min/max is in results.json (`environment.timings`).",
    ]
    for key, title, fn in (
        ("overhead", "1. Per-op overhead", section_overhead),
        ("kernels", "2. Elementwise kernels and reductions", section_kernels),
        ("matmul", "3. matmul", section_matmul),
        ("mlp", "4. MLP training step", section_mlp),
        ("reference", "5. Reference backend (what the compiled kernels buy)", section_reference),
        ("hvp", "7. Hessian-vector product (double backward)", section_hvp),
        ("memory", "6. Memory", section_memory),
    ):
        if key in results:
            lines += ["", f"## {title}", "", fn(results[key])]
    lines += ["", "## Issue 5 targets", "", section_targets(tg)]
    return "\n".join(lines) + "\n"


def write_markdown(path, body):
    generated = f"{MARK_START}\n{body}{MARK_END}"
    header = "# quasar benchmark results\n\nWritten by `benchmarks/run.py`; everything between the `generated` markers is regenerated on each run, hand-written sections (`## Notes`, ...) outside them are kept.\n\n"
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
        if MARK_START in old and MARK_END in old:
            pre, rest = old.split(MARK_START, 1)
            _, post = rest.split(MARK_END, 1)
            text = pre + generated + post
        else:  # keep hand-written sections of a file without markers
            kept = re.findall(r"(^## .*(?:note|crossover|profil).*$[\s\S]*?)(?=^## |\Z)", old, re.MULTILINE | re.IGNORECASE)
            text = header + generated + "\n\n" + "".join(kept)
    else:
        text = header + generated + "\n"
    with open(path, "w") as f:
        f.write(text)


def merge_previous(path, results, env):
    """The previous run's results for the workloads not re-run now (when comparable)."""
    try:
        with open(path) as f:
            old = json.load(f)
    except (OSError, ValueError):
        print("(--merge: no previous results.json; writing this run alone)")
        return results, env
    oe = old.get("environment", {})
    same = all(oe.get(k) == env.get(k) for k in ("quasar", "numpy", "torch", "quick", "cpu")) and \
        oe.get("threads", {}).get("requested") == env["threads"]["requested"]
    if not same:
        print("(--merge: the previous results.json used other threads/versions/mode; writing this run alone)")
        return results, env
    merged = dict(old.get("results", {}))
    merged.update(results)
    ordered = {k: merged[k] for k in WORKLOADS if k in merged}
    env = dict(env)
    env["command"] = f"{oe.get('command')} ({oe.get('date')}), then {env['command']}"
    env["timings"] = [t for t in oe.get("timings", []) if t.get("label", "").split(" ")[0] not in results] + env["timings"]
    loads = [v.get("background_cores") for v in ordered.values() if isinstance(v, dict) and v.get("background_cores") is not None]
    env["background_cores"] = max(loads) if loads else None
    env["elapsed_s"] = round(env.get("elapsed_s", 0) + (oe.get("elapsed_s") or 0), 1)
    return ordered, env


# ============================================================== main

WORKLOADS = {
    "overhead": w_overhead,
    "kernels": w_kernels,
    "matmul": w_matmul,
    "mlp": w_mlp,
    "reference": w_reference,
    "memory": w_memory,
    "hvp": w_hvp,
}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="reduced sizes and repeats (under a minute); prints only unless --write")
    p.add_argument("--threads", type=int, default=usable_cores(), help="threads for every library (default: all usable cores)")
    p.add_argument("--only", default="", help="comma-separated workloads: " + ",".join(WORKLOADS))
    p.add_argument("--write", action="store_true", help="write RESULTS.md/results.json even with --quick or --only")
    p.add_argument("--no-write", action="store_true", help="print only")
    p.add_argument("--merge", action="store_true",
                   help="with --only: keep the other workloads' results from the existing results.json "
                        "(same threads, versions and mode) and rewrite the whole report; implies --write")
    p.add_argument("--out", default=HERE, help="folder for RESULTS.md and results.json (default: benchmarks/)")
    p.add_argument("--min-time", type=float, default=None, help="seconds per timed sample")
    p.add_argument("--gap", type=float, default=0.2,
                   help="idle seconds before each library's turn on multi-threaded work (default 0.2)")
    p.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                   help="wait up to SECONDS for other processes to go idle before each workload, and re-measure "
                        "a config during which they used > 0.15 cores (up to twice)")
    p.add_argument("--profile", choices=["overhead", "mlp"], help="cProfile quasar on a workload instead of benchmarking")
    p.add_argument("--render-only", action="store_true",
                   help="rewrite RESULTS.md from the existing results.json (no measuring)")
    p.add_argument("--_memory-child", dest="memory_child", help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.memory_child:
        lib, mode, steps = args.memory_child.split(":")
        memory_child(lib, mode, args.threads, int(steps))
        return
    if args.render_only:
        with open(os.path.join(args.out, "results.json")) as f:
            saved = json.load(f)
        tg = targets(saved["results"])
        body = render(saved["environment"], saved["results"], tg)
        write_markdown(os.path.join(args.out, "RESULTS.md"), body)
        saved["targets"] = tg
        with open(os.path.join(args.out, "results.json"), "w") as f:
            json.dump(saved, f, indent=1, default=str)
        print(body)
        return
    threads = set_threads(args.threads)
    if args.profile:
        profile(args)
        return

    if args.quick:
        timer = Timer(args.min_time or 0.005, 5, 0.01, args.wait_quiet, args.gap)
    else:
        timer = Timer(args.min_time or 0.05, 7, 0.1, args.wait_quiet, args.gap)
    wanted = [w.strip() for w in args.only.split(",") if w.strip()] or list(WORKLOADS)
    for w in wanted:
        if w not in WORKLOADS:
            p.error(f"unknown workload {w!r}; choose from {', '.join(WORKLOADS)}")
    env = environment(args, threads)
    print(f"quasar {env['quasar']} ({env['quasar_backend']}), NumPy {env['numpy']}, PyTorch {env['torch']}, "
          f"{args.threads} threads, {env['cpu']}", flush=True)
    results = {}
    t_all = time.perf_counter()
    snap_all = cpu_snapshot()
    for w in wanted:
        if args.wait_quiet:
            wait_quiet(args.wait_quiet)
        t0 = time.perf_counter()
        snap = cpu_snapshot()
        print(f"[{w}] ...", end="", flush=True)
        try:
            results[w] = WORKLOADS[w](timer, args)
        except Exception as exc:  # noqa: BLE001  (one broken workload must not hide the others)
            import traceback

            traceback.print_exc()
            results[w] = {"skipped": f"failed: {type(exc).__name__}: {exc}"}
        load = background_load(snap, cpu_snapshot())
        if isinstance(results[w], dict):
            results[w]["background_cores"] = load
            results[w]["measured_at"] = env["date"]
        print(f" {time.perf_counter() - t0:.1f} s" + (f" (other processes used {load:.2f} cores)" if load is not None else ""), flush=True)
    env["elapsed_s"] = round(time.perf_counter() - t_all, 1)
    env["background_cores"] = background_load(snap_all, cpu_snapshot())
    env["timings"] = timer.log
    if args.only and args.merge:
        results, env = merge_previous(os.path.join(args.out, "results.json"), results, env)
    tg = targets(results)
    body = render(env, results, tg)
    print()
    print(body)
    write = (not args.no_write) and (args.write or args.merge or (not args.quick and not args.only))
    if write:
        os.makedirs(args.out, exist_ok=True)
        write_markdown(os.path.join(args.out, "RESULTS.md"), body)
        with open(os.path.join(args.out, "results.json"), "w") as f:
            json.dump({"environment": env, "results": results, "targets": tg}, f, indent=1, default=str)
        print(f"wrote {os.path.relpath(os.path.join(args.out, 'RESULTS.md'))} and results.json")


if __name__ == "__main__":
    main()
