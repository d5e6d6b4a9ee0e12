"""Issue 16's matrix: each library alone in its process, and both together in
either import order.

Six configurations, each a fresh process (run.py --_order-child IMPORTS --_time LIB):

    quasar alone                    import quasar                  time quasar (torch never imported)
    torch alone                     import torch                   time torch (quasar never imported)
    quasar, torch imported first    import torch, then quasar      time quasar
    quasar, torch imported after    import quasar, then torch      time quasar
    torch, quasar imported first    import quasar, then torch      time torch
    torch, quasar imported after    import torch, then quasar      time torch

In the processes holding both, the library not timed first does a little work
(a 1e6-element add and a 256² matmul) so that its thread pools exist, as in a
notebook that uses both; then the process idles --gap seconds and times the
other. Every process sets one thread count for all (torch.set_num_threads,
qs.set_num_threads, threadpoolctl for NumPy's BLAS) and uses the same seeds and
shapes, float32 (the moons step: float64, as examples/moons.py). Each figure is
the best (min) over --procs fresh processes of that process's median; the
rounds go through the six configurations in turn, so slow drift of the
machine's load spreads over all of them.
"""

import os
import time

import numpy as np

from harness import (Timer, fmt, fmt_time, libs, library_facts, print_result, ratio, require_only, run_child, set_threads,
                     table, torch_installed)

from . import kernels, mlp, overhead
from .common import module

NAME = "importorder"
TITLE = "Import order: each library alone and both together (issue 16)"
IN_PARENT = True
RUN_PY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "run.py")

# (key, import order, timed library)
CONFIGS = [
    ("quasar alone", ("quasar",), "quasar"),
    ("torch alone", ("torch",), "torch"),
    ("quasar, torch imported first", ("torch", "quasar"), "quasar"),
    ("quasar, torch imported after", ("quasar", "torch"), "quasar"),
    ("torch, quasar imported first", ("quasar", "torch"), "torch"),
    ("torch, quasar imported after", ("torch", "quasar"), "torch"),
]
BIG = 16_000_000
MID = 1_000_000


def _step(make):
    def build(lib):
        return make(lib).step

    return build


def _kernel(op, n):
    def build(lib):
        x, y, _ = kernels.arrays(n)
        return kernels.forward(lib, op, x, y)

    return build


def _per_op(lib):
    return overhead.chain_functions(lib)[0]["forward+backward"]


# (row name, build(lib) -> zero-argument call, kernel row: report page faults)
WORKLOADS = [
    ("MLP step 784-1024-1024-10, batch 512", _step(lambda lib: mlp.MLP(lib, *mlp.LARGE)), False),
    ("MLP step 784-256-256-10, batch 128", _step(lambda lib: mlp.MLP(lib, *mlp.SMALL)), False),
    ("moons step 2-16-16-1, batch 100 (float64)", _step(mlp.Moons), False),
    ("per-op forward+backward, 16 elements (`z = z * y + x` ×100)", _per_op, False),
    ("add, 1e6 elements", _kernel("add", MID), True),
    ("mul, 1e6 elements", _kernel("mul", MID), True),
    ("relu, 1e6 elements", _kernel("relu", MID), True),
    ("sum, 1e6 elements", _kernel("sum", MID), True),
    ("add, 1.6e7 elements", _kernel("add", BIG), True),
]
ADD_BIG = "add, 1.6e7 elements"
LARGE_MLP = WORKLOADS[0][0]  # left out by --quick
ROOF = "np.copyto, 1.6e7 elements (the copy roof)"


def touch(lib):
    """Some parallel work in lib, so that its OpenMP team and BLAS pool exist."""
    mod = module(lib)
    x = np.ones(MID, np.float32)
    a = np.ones((256, 256), np.float32)
    if lib == "quasar":
        xt, at = mod.tensor(x), mod.tensor(a)
    else:
        xt, at = mod.from_numpy(x), mod.from_numpy(a)
    for _ in range(3):
        xt + xt
        at @ at


# ---------------------------------------------------------------- in the child process


def child(args, timed):
    """Time ``timed`` on every workload in this process (the libraries are already
    loaded, in their order); prints one RESULT line."""
    threads = set_threads(args.threads)
    quick = args.quick
    timer = Timer(args.min_time or (0.02 if quick else 0.05), 3 if quick else 5, 0.02 if quick else 0.1, gap=args.gap)
    if args.touch:
        for other in libs.order:
            if other != timed:
                touch(other)
    times, faults = {}, {}
    for name, build, _ in WORKLOADS:
        if quick and name == LARGE_MLP:
            continue
        fn = build(timed)
        times[name] = timer(fn, label=name)
        faults[name] = timer.faults["_"]
        fn = None
    x = np.ones(BIG, np.float32)
    dst = np.empty_like(x)
    times[ROOF] = timer(lambda: np.copyto(dst, x), label=ROOF)
    require_only(libs.order)
    print_result({"times": times, "faults": faults, "threads": threads, "facts": library_facts()})


# ---------------------------------------------------------------- in the parent


def run(timer, args):
    configs = [c for c in CONFIGS if torch_installed() or "torch" not in c[1]]
    runs = {key: [] for key, _, _ in configs}
    errors = {}
    procs = args.procs
    for round_ in range(procs):
        for key, imports, timed in configs:
            argv = [RUN_PY, "--_order-child", ",".join(imports), "--_time", timed, "--threads", str(args.threads),
                    "--gap", str(args.gap)] + (["--quick"] if args.quick else []) + ([] if args.touch else ["--no-touch"])
            if args.min_time:
                argv += ["--min-time", str(args.min_time)]
            t0 = time.perf_counter()
            out = run_child(argv, timeout=600)
            if "error" in out:
                errors[key] = out["error"]
                print(f"\n  {key}: failed: {out['error'].splitlines()[-1] if out['error'] else '?'}", flush=True)
            else:
                runs[key].append(out)
            print(f" {round_ + 1}/{procs} {key} {time.perf_counter() - t0:.1f} s;", end="", flush=True)
    print(flush=True)
    return summarize(runs, errors, procs, args)


def summarize(runs, errors, procs, args):
    """Best (min) over processes per config and workload, with the faults of the fastest process."""
    best = {}
    for key, outs in runs.items():
        if not outs:
            continue
        entry = {"times": {}, "faults": {}, "procs": len(outs), "spread": {}}
        for name in outs[0]["times"]:
            ts = [o["times"][name] for o in outs]
            i = min(range(len(ts)), key=ts.__getitem__)
            entry["times"][name] = ts[i]
            entry["spread"][name] = max(ts) / ts[i] if ts[i] else None  # slowest / fastest process
            if name in outs[i]["faults"]:
                entry["faults"][name] = outs[i]["faults"][name]
        entry["facts"] = outs[0]["facts"]
        entry["threads"] = outs[0]["threads"]
        best[key] = entry
    return {"configs": best, "errors": errors, "procs": procs, "touch": args.touch,
            "workloads": [w[0] for w in WORKLOADS if any(w[0] in e["times"] for e in best.values())]}


def _time(res, key, name):
    return res["configs"].get(key, {}).get("times", {}).get(name)


def _roof_GBs(res, key):
    t = _time(res, key, ROOF)
    return 2 * 4 * BIG / t / 1e9 if t else None


def _add_big_GBs(res, key):
    t = _time(res, key, ADD_BIG)
    return 3 * 4 * BIG / t / 1e9 if t else None


def section(res):
    if "configs" not in res:
        return res.get("skipped", "skipped")
    r = lambda a, b: ratio(a, b)  # noqa: E731
    cell = lambda v: "-" if v is None else f"{v:.2f}×"  # noqa: E731
    rows = []
    for name in res["workloads"]:
        qa, ta = _time(res, "quasar alone", name), _time(res, "torch alone", name)
        rows.append([
            name, cell(r(qa, ta)),
            cell(r(_time(res, "quasar, torch imported first", name), qa)),
            cell(r(_time(res, "quasar, torch imported after", name), qa)),
            cell(r(_time(res, "torch, quasar imported first", name), ta)),
            cell(r(_time(res, "torch, quasar imported after", name), ta)),
        ])
    text = table(["workload", "quasar/PyTorch, each alone in its process",
                  "quasar with PyTorch imported first / quasar alone", "quasar with PyTorch imported after / quasar alone",
                  "PyTorch with quasar imported first / PyTorch alone", "PyTorch with quasar imported after / PyTorch alone"],
                 rows)
    keys = [k for k, _, _ in CONFIGS if k in res["configs"]]
    rows = [[name] + [fmt_time(_time(res, k, name)) for k in keys] for name in res["workloads"] + [ROOF]]
    text += "\n\nTimes per call (best of the processes) in each configuration:\n\n" + table(["workload"] + keys, rows)
    rows = []
    for name in [w[0] for w in WORKLOADS if w[2] and w[0] in res["workloads"]]:
        rows.append([name] + [fmt(res["configs"][k]["faults"].get(name), 1) for k in keys])
    rows.append([f"{ADD_BIG}: GB/s (% of the copy roof measured in the same processes)"] + [
        "-" if _add_big_GBs(res, k) is None else
        f"{_add_big_GBs(res, k):.1f} ({100 * _add_big_GBs(res, k) / _roof_GBs(res, k):.0f}%)" for k in keys])
    text += "\n\nMinor page faults per call (getrusage, in the fastest process), and add's bandwidth:\n\n" + table(
        ["kernel"] + keys, rows)
    spread = max((v for k in keys for v in res["configs"][k]["spread"].values() if v), default=None)
    facts = {k: res["configs"][k]["facts"] for k in keys}
    runtimes = {k: ", ".join(os.path.basename(p) for p in f.get("openmp_runtimes_mapped", [])) or "none"
                for k, f in facts.items()}
    text += (
        f"\n\nEach configuration ran in {res['procs']} fresh process(es); a figure is the best of them (each "
        "process's figure: the median of its samples after warm-up). Ratios are time ratios: below 1.00× the "
        "first is faster. "
        + ("In the processes holding both libraries, the one not timed first ran a 1e6-element add and a 256² "
           "matmul (its thread pools exist), then the process idled before timing. " if res.get("touch") else
           "The library not timed was imported but never used (--no-touch). ")
        + (f"The slowest process of a configuration took up to {spread:.2f}× the fastest's time for one "
           "workload (noise between processes). " if spread and res["procs"] > 1 else "")
        + "add at 1.6e7 moves 3 arrays (GB/s = 12 bytes × n / time); the roof is `np.copyto` into a "
        "preallocated array (2 arrays), timed in the same process. OpenMP runtimes mapped: "
        + "; ".join(f"{k}: {v}" for k, v in runtimes.items()) + ". OMP_WAIT_POLICY in os.environ after the imports (a runtime reads it when it loads): "
        + "; ".join(f"{k}: {f.get('OMP_WAIT_POLICY') or 'unset'}" for k, f in facts.items()) + ".")
    if res.get("errors"):
        text += "\n\nFailed: " + "; ".join(f"{k}: {v.splitlines()[-1] if v else '?'}" for k, v in res["errors"].items())
    return text


def issue16_targets(res):
    """[{target, status, detail}] for issue 16's goals, from the matrix."""
    out = []

    def add(name, met, detail):
        out.append({"target": name, "status": "n/a" if met is None else ("met" if met else "missed"), "detail": detail})

    if "configs" not in res:
        add("issue 16 matrix", None, res.get("skipped", "not run"))
        return out
    names = res["workloads"]
    # import order: each library's figure in every configuration within 1.1x of its best configuration
    misses, worst = [], 1.0
    for lib in ("quasar", "torch"):
        keys = [k for k, _, timed in CONFIGS if timed == lib and k in res["configs"]]
        if len(keys) < 2:
            continue
        for name in names:
            ts = {k: v for k in keys if (v := _time(res, k, name))}
            if not ts:
                continue
            best = min(ts.values())
            for k, v in ts.items():
                worst = max(worst, v / best)
                if v > 1.1 * best:
                    misses.append((v / best, f"{k}: {name} {v / best:.2f}×"))
    have_both = any("torch" in imports and "quasar" in imports for k, imports, _ in CONFIGS if k in res["configs"])
    add("import order within 1.1× (every workload, both libraries, both orders)", not misses if have_both else None,
        ("PyTorch not available" if not have_both else
         f"worst {worst:.2f}× of the library's best configuration" + (
             f"; {len(misses)} figures over 1.1×, the worst: " + ", ".join(m for _, m in sorted(misses, reverse=True)[:5])
             if misses else "")))

    def alone(name, limit, label):
        q, t = _time(res, "quasar alone", name), _time(res, "torch alone", name)
        rr = ratio(q, t)
        add(f"{label} ≤ {limit}× PyTorch (each alone)", None if rr is None else rr <= limit,
            "PyTorch not available" if rr is None else f"{rr:.2f}× ({fmt_time(q)} vs {fmt_time(t)})")

    per_op = next(n for n in names if n.startswith("per-op"))
    alone(per_op, 0.7, "per-op overhead fwd+bwd")
    for op in ("add", "mul", "relu", "sum"):
        alone(f"{op}, 1e6 elements", 1.0, f"{op} 1e6")
    gbs, roof = _add_big_GBs(res, "quasar alone"), _roof_GBs(res, "quasar alone")
    add("add 1.6e7 ≥ 90% of the copy roof", None if not gbs or not roof else gbs >= 0.9 * roof,
        "not measured" if not gbs or not roof else f"{gbs:.1f} GB/s = {100 * gbs / roof:.0f}% of np.copyto's {roof:.1f} GB/s")
    for name in names:
        if "step" in name:
            alone(name, 1.0, name.split(",")[0])
    return out

