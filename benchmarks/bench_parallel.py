#!/usr/bin/env python
"""Parallel scaling (issue 3): each op on one thread and on every core.

    python benchmarks/bench_parallel.py                   # the full table; writes benchmarks/PARALLEL.md
    python benchmarks/bench_parallel.py --quick           # up to 1e6 elements, fewer samples; prints only
    python benchmarks/bench_parallel.py --wait-quiet 120  # first wait (up to 120 s per row) for an idle machine

For add, mul, relu, exp, tanh, sum and matmul on float32 tensors of 1e3,
1e4, 1e5, 1e6 and 1.6e7 elements (matmul: two square matrices of that many
elements each), the median time of one call in five configurations:

    quasar 1      parallel.config(max_workers=1); NumPy's BLAS limited to 1 thread
    quasar N      max_workers=None (N = every core) with the default parallel
                  threshold: below it a kernel stays on one thread, by design
    quasar N!     parallel_threshold=0: every kernel on N threads, whatever its
                  size, to show what the threshold saves (matmul: no quasar kernel)
    torch 1, N    torch.set_num_threads(1) and (N), when torch is importable

speedup = time on 1 thread / time on N. Forward only, no graph recorded.
torch runs in a child process of its own. In one process the two libraries
would share one OpenMP runtime (both load a libgomp.so.1, and the loader maps
the first), and with it one wait policy: quasar's OMP_WAIT_POLICY=PASSIVE
(see quasar/parallel.py) is read when libgomp loads, so with torch imported
first quasar's kernels would run on torch's spinning workers and measure a
runtime quasar never has on its own.
Each number: warm-up, then samples of enough calls to last --min-time, the
median of --repeats samples (fewer for calls over 0.2 s). Before each
configuration the process idles --gap seconds, so that the previous one's
threads (OpenBLAS spins ~0.1 s after its last call) have gone to sleep.
Timings are measurements, never pass/fail tests.
"""

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
from harness import (HERE, ROOT, background_load, cpu_model, cpu_snapshot, fmt_time, median_time, openmp_runtimes,
                     wait_quiet)

# The environment before quasar sets OMP_WAIT_POLICY=PASSIVE in it (harness keeps it from before any
# import): the torch child gets this one, so that torch runs with its own defaults.
from harness import CLEAN_ENVIRONMENT as ENVIRONMENT  # isort: skip

TORCH_CHILD = "--_torch-child"  # argv flag of the child process that times torch

# quasar is imported only in the parent, torch only in the child (see the docstring).
if TORCH_CHILD in sys.argv:
    import torch

    qs = parallel = threadpoolctl = None
else:
    import threadpoolctl

    import quasar as qs
    from quasar import parallel

    torch = None

OPS = ["add", "mul", "relu", "exp", "tanh", "sum", "matmul"]
SIZES = [1_000, 10_000, 100_000, 1_000_000, 16_000_000]
QUICK_SIZES = SIZES[:4]

def quasar_case(op, n, rng):
    """A zero-argument call of ``op`` on fresh float32 tensors of n elements."""
    if op == "matmul":
        side = round(math.sqrt(n))
        a = qs.tensor(rng.standard_normal((side, side), dtype=np.float32))
        b = qs.tensor(rng.standard_normal((side, side), dtype=np.float32))
        return lambda: a @ b
    a = qs.tensor(rng.standard_normal(n, dtype=np.float32))
    b = qs.tensor(rng.standard_normal(n, dtype=np.float32))
    return {"add": lambda: a + b, "mul": lambda: a * b, "relu": a.relu, "exp": a.exp, "tanh": a.tanh,
            "sum": a.sum}[op]


def torch_case(op, n, rng):
    if op == "matmul":
        side = round(math.sqrt(n))
        a = torch.from_numpy(rng.standard_normal((side, side), dtype=np.float32))
        b = torch.from_numpy(rng.standard_normal((side, side), dtype=np.float32))
        return lambda: torch.matmul(a, b)
    a = torch.from_numpy(rng.standard_normal(n, dtype=np.float32))
    b = torch.from_numpy(rng.standard_normal(n, dtype=np.float32))
    return {"add": lambda: torch.add(a, b), "mul": lambda: torch.mul(a, b), "relu": lambda: torch.relu(a),
            "exp": lambda: torch.exp(a), "tanh": lambda: torch.tanh(a), "sum": lambda: torch.sum(a)}[op]


def measure_row(op, n, all_threads, args):
    """quasar's three configurations of one (op, size): {name: seconds or None}, background load."""
    q = quasar_case(op, n, np.random.default_rng(0))
    settings = {  # name: (quasar max_workers, threshold or None for the default, BLAS threads)
        "quasar 1": (1, None, 1),
        "quasar N": (None, None, all_threads),
        "quasar N!": (None, 0, all_threads),
    }
    times = {}
    before = cpu_snapshot()
    for name, (workers, threshold, blas) in settings.items():
        if name == "quasar N!" and op == "matmul":  # NumPy's BLAS alone: the threshold plays no part
            times[name] = None
            continue
        threshold = parallel.DEFAULT_PARALLEL_THRESHOLD if threshold is None else threshold
        with parallel.config(max_workers=workers, parallel_threshold=threshold), \
                threadpoolctl.threadpool_limits(blas, user_api="blas"):
            time.sleep(args.gap)
            times[name] = median_time(q, args.min_time, args.repeats)
    return times, background_load(before, cpu_snapshot())


def torch_rows(ops, sizes, all_threads, args):
    """In the child: torch on 1 and on all_threads threads for every (op, size); printed as JSON."""
    rows = []
    for op in ops:
        for size in sizes:
            if args.wait_quiet:
                wait_quiet(args.wait_quiet, window=1.0, say=False)
            t = torch_case(op, size, np.random.default_rng(0))
            times, before = {}, cpu_snapshot()
            for name, threads in (("torch 1", 1), ("torch N", all_threads)):
                torch.set_num_threads(threads)
                time.sleep(args.gap)
                times[name] = median_time(t, args.min_time, args.repeats)
            rows.append([op, size, times, background_load(before, cpu_snapshot())])
    json.dump({"torch": torch.__version__, "openmp": openmp_runtimes(), "rows": rows}, sys.stdout)


def run_torch_child(ops, all_threads, args):
    """torch's rows from a child process: {(op, size): (times, load)} and its facts; {} without torch."""
    command = [sys.executable, os.path.abspath(__file__), TORCH_CHILD, "--threads", str(all_threads),
               "--ops", ",".join(ops), "--repeats", str(args.repeats), "--min-time", str(args.min_time),
               "--gap", str(args.gap), "--wait-quiet", str(args.wait_quiet)] + (["--quick"] if args.quick else [])
    result = subprocess.run(command, capture_output=True, text=True, env=ENVIRONMENT)
    if result.returncode != 0:
        if "No module named 'torch'" not in result.stderr:
            print(f"torch child failed:\n{result.stderr}", file=sys.stderr)
        return {}, None
    data = json.loads(result.stdout)
    return {(op, size): (times, load) for op, size, times, load in data["rows"]}, data


# ============================================================== the table


def fmt_speedup(one, many):
    return "-" if one is None or many is None else f"{one / many:.2f}x"


def table(rows, all_threads):
    n = all_threads
    header = ["op", "elements", "quasar 1", f"quasar {n}", "speedup", f"quasar {n}, forced", "speedup",
              "torch 1", f"torch {n}", "speedup", "other load"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for (op, size), (times, load) in rows.items():
        elements = f"{size:,}" if op != "matmul" else f"{round(math.sqrt(size))}² = {size:,}"
        cells = [
            op, elements,
            fmt_time(times["quasar 1"]), fmt_time(times["quasar N"]), fmt_speedup(times["quasar 1"], times["quasar N"]),
            fmt_time(times["quasar N!"]), fmt_speedup(times["quasar 1"], times["quasar N!"]),
            fmt_time(times["torch 1"]), fmt_time(times["torch N"]), fmt_speedup(times["torch 1"], times["torch N"]),
            "-" if load is None else f"{load:.2f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(rows, all_threads, args, started, torch_facts):
    blas = [f"{p['internal_api']} {p.get('version') or ''} ({p.get('threading_layer') or '?'})"
            for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    build = getattr(parallel._build_info(), "COMPILE_ARGS", None)
    loads = [load for _, load in rows.values() if load is not None]
    n = all_threads
    return f"""# Parallel scaling: one thread against every core

Generated by `{' '.join(['python', os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])}` on {started}.
Regenerate it the same way; the method is in the script's docstring.

- Machine: {cpu_model(with_isa=False)}, {parallel.usable_cores()} usable cores ({os.cpu_count()} logical CPUs), Linux {platform.release()}
- Python {platform.python_version()}, NumPy {np.__version__}, torch {torch_facts["torch"] if torch_facts else '(not installed)'}
- quasar {qs.__version__}, compile flags: {' '.join(build) if build else 'unknown'}
- OpenMP runtimes: quasar {', '.join(openmp_runtimes()) or 'none'} (OMP_WAIT_POLICY={os.environ.get("OMP_WAIT_POLICY", "unset")}); torch, in its own process, {', '.join(torch_facts["openmp"]) if torch_facts else '-'} (OMP_WAIT_POLICY={ENVIRONMENT.get("OMP_WAIT_POLICY", "unset")})
- NumPy's BLAS (quasar's matmul): {'; '.join(blas) or 'unknown'}
- quasar's default parallel threshold: {parallel.DEFAULT_PARALLEL_THRESHOLD:,} elements (a sum counts a quarter per element)
- Other processes' load while measuring, in cores (last column, the larger of quasar's and torch's runs): median {statistics.median(loads) if loads else float('nan'):.2f}, max {max(loads) if loads else float('nan'):.2f}

Float32, forward only, median time per call. `quasar {n}` keeps the default threshold (below
it a kernel runs serially, so its speedup there is 1 by design); `quasar {n}, forced` sets
`parallel_threshold=0` and shows what a parallel region costs where the threshold avoids it.
matmul is NumPy's BLAS in quasar (threads set with threadpoolctl) and MKL/oneDNN in torch.

{table(rows, all_threads)}

How to read it:

- A speedup above 1 means the extra threads paid. Large elementwise ops are bound by memory
  bandwidth (and by the page faults of a fresh output array), so they scale less than exp,
  tanh and matmul, which do more arithmetic per byte.
- quasar's OpenMP workers sleep as soon as a parallel region ends (OMP_WAIT_POLICY=PASSIVE,
  chosen so that idle workers never take cores from BLAS or from Python: see
  quasar/parallel.py), so every parallel call pays for waking them, even back to back as here.
  torch runs in its own process with libgomp's default policy, whose workers spin for a while
  after each region. That is most of the difference between the two from 1e5 to 1e6
  elements. `OMP_WAIT_POLICY=ACTIVE python benchmarks/bench_parallel.py` shows quasar's
  kernels with spinning workers; `benchmarks/crossover.py` measures where a second thread pays.
- At 1.6e7 elements both quasar {n}-thread columns run the same code: their difference is the
  noise of that size (each call maps and faults in a fresh 64 MB output).
- A row whose other load is above ~0.2 cores was measured while another process held a core;
  on a small machine its multi-threaded numbers measure that process, not the kernel.
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="sizes up to 1e6, 3 samples; prints only")
    parser.add_argument("--repeats", type=int, default=None, help="samples per number (default 7; --quick 3)")
    parser.add_argument("--min-time", type=float, default=0.02, help="seconds per sample (default 0.02)")
    parser.add_argument("--gap", type=float, default=0.15, help="idle seconds before each configuration")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                        help="before each row, wait up to S seconds for other processes to go idle")
    parser.add_argument("--ops", default=",".join(OPS), help="comma-separated subset of " + ",".join(OPS))
    parser.add_argument("--output", default=os.path.join(HERE, "PARALLEL.md"))
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument(TORCH_CHILD, action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=None, help=argparse.SUPPRESS)  # the child's N
    args = parser.parse_args()
    args.repeats = args.repeats or (3 if args.quick else 7)
    ops = [op for op in args.ops.split(",") if op]
    unknown = set(ops) - set(OPS)
    if unknown:
        parser.error(f"unknown ops {sorted(unknown)}; choose from {OPS}")
    sizes = QUICK_SIZES if args.quick else SIZES
    if args._torch_child:
        torch_rows(ops, sizes, args.threads, args)
        return

    all_threads = parallel.get_num_threads()
    started = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    print(f"{cpu_model(with_isa=False)}: {all_threads} threads", flush=True)
    rows = {}
    for op in ops:
        for size in sizes:
            if args.wait_quiet:
                wait_quiet(args.wait_quiet, window=1.0, say=False)
            print(f"  {op:<7}{size:>12,} ...", end="", flush=True)
            rows[op, size] = measure_row(op, size, all_threads, args)
            times = rows[op, size][0]
            print(f" {fmt_speedup(times['quasar 1'], times['quasar N'])}", flush=True)
    print("torch, in a process of its own ...", flush=True)
    torch_times, torch_facts = run_torch_child(ops, all_threads, args)
    for key, (times, load) in rows.items():
        extra, extra_load = torch_times.get(key, ({"torch 1": None, "torch N": None}, None))
        times.update(extra)
        loads = [x for x in (load, extra_load) if x is not None]
        rows[key] = times, max(loads) if loads else None
    text = report(rows, all_threads, args, started, torch_facts)
    print()
    print(table(rows, all_threads))
    if not (args.quick or args.no_write):
        with open(args.output, "w") as f:
            f.write(text)
        print(f"\nwrote {os.path.relpath(args.output, ROOT)}")


if __name__ == "__main__":
    main()
