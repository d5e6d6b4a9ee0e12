#!/usr/bin/env python
"""quasar's benchmark suite (issues 5 and 16): quasar beside NumPy and PyTorch.

    python benchmarks/run.py            # everything (~10 minutes); writes RESULTS.md + results.json
    python benchmarks/run.py --quick    # reduced sizes, 1 process per configuration; prints only (add --write to save)
    python benchmarks/run.py --only importorder --procs 3
    python benchmarks/run.py --only overhead,mlp --threads 1
    python benchmarks/run.py --profile overhead   # cProfile of quasar on workload 1 (or: mlp)

This driver imports neither quasar nor PyTorch: every number is taken in a
child process that imported only the library it times (``--_child LIB``),
except the import-order matrix (workloads/importorder.py), whose processes
import both in either order on purpose. Every process sets one thread count
(--threads; default every core this process may use) for every library it
holds, and uses the same seeds and shapes. Ratios are always *time* ratios
quasar/peer: below 1.00 quasar is faster. Timings are measurements, never
pass/fail tests. The workloads live in benchmarks/workloads/ (one module per
family), the timer and report helpers in benchmarks/harness.py; see
benchmarks/README.md.
"""

import argparse
import json
import os
import platform
import sys
import time

import harness
from harness import HERE, ROOT, Timer, background_load, cpu_snapshot, run_child, table, wait_quiet
from workloads import WORKLOADS
from workloads.importorder import issue16_targets

RUN_PY = os.path.abspath(__file__)
SPLIT_LIBRARIES = ("quasar", "numpy", "torch")  # the processes of a workload that times one library each

# ============================================================== in a child process


def child_timer(args):
    if args.quick:
        return Timer(args.min_time or 0.005, 5, 0.01, args.wait_quiet, args.gap)
    return Timer(args.min_time or 0.05, 7, 0.1, args.wait_quiet, args.gap)


def run_child_workload(args):
    """--_child LIB --only W: time one library on one workload; one RESULT line."""
    lib = args.child
    harness.load([lib])
    threads = harness.set_threads(args.threads)
    timer = child_timer(args)
    result = WORKLOADS[args.only].run(timer, args, lib)
    harness.require_only([lib])
    harness.print_result({"result": result, "facts": harness.library_facts(), "threads": threads, "timings": timer.log})


# ============================================================== in the parent


def merge(into, part):
    """Fill ``into`` with ``part``: lists of rows are merged row by row (each library's
    process produced the same rows in the same order, with its own columns)."""
    for k, v in part.items():
        old = into.get(k)
        if old is None:
            into[k] = v
        elif isinstance(old, dict) and isinstance(v, dict):
            merge(old, v)
        elif isinstance(old, list) and isinstance(v, list) and all(isinstance(r, dict) for r in old + v):
            if len(old) != len(v):
                raise RuntimeError(f"{k}: {len(old)} rows in one process, {len(v)} in another")
            for a, b in zip(old, v):
                merge(a, b)


def measure(name, args, facts, log):
    """One workload's results: run in the parent, or one child per library, merged."""
    module = WORKLOADS[name]
    if getattr(module, "IN_PARENT", False):
        res = module.run(child_timer(args), args)
        for key, lib in (("quasar alone", "quasar"), ("torch alone", "torch")):  # the matrix's processes
            if key in res.get("configs", {}):
                facts.setdefault(lib, res["configs"][key]["facts"])
                facts.setdefault("threads", {}).update(res["configs"][key]["threads"])
        return res
    res = {}
    libraries = [lib for lib in getattr(module, "LIBRARIES", SPLIT_LIBRARIES) if lib != "torch" or harness.torch_installed()]
    for lib in libraries:
        argv = [RUN_PY, "--_child", lib, "--only", name, "--threads", str(args.threads), "--gap", str(args.gap),
                "--wait-quiet", str(args.wait_quiet)] + (["--quick"] if args.quick else [])
        if args.min_time:
            argv += ["--min-time", str(args.min_time)]
        out = run_child(argv)
        if "error" in out:
            print(f"\n{name} ({lib}) failed:\n{out['error']}", file=sys.stderr, flush=True)
            res.setdefault("errors", {})[lib] = out["error"]
            continue
        facts.setdefault(lib, out["facts"])
        facts.setdefault("threads", {}).update({k: v for k, v in out["threads"].items()})
        log.extend(out["timings"])
        if out["result"] is not None:
            merge(res, out["result"])
    if "quasar" in res.get("errors", {}):
        return {"skipped": "failed: " + res["errors"]["quasar"].splitlines()[-1]}
    if hasattr(module, "finish"):
        module.finish(res)
    return res


def environment(args, facts):
    return {
        "date": harness.now(),
        "command": harness.command_line(),
        "cpu": harness.cpu_model(),
        "os": platform.platform(),
        "cores": harness.usable_cores(),
        "logical_cpus": os.cpu_count(),
        "threads": {"requested": args.threads, **facts.pop("threads", {})},
        "libraries": facts,
        "quick": args.quick,
        "gap": args.gap,
        "procs": args.procs,
    }


def issue5_targets(results):
    out = []

    def add(name, met, detail):
        out.append({"target": name, "status": "n/a" if met is None else ("met" if met else "missed"), "detail": detail})

    for name, module in WORKLOADS.items():
        if name in results and hasattr(module, "targets"):
            module.targets(results[name], add)
    return out


def section_targets(tg, title):
    rows = [[t["target"], {"met": "**met**", "missed": "**missed**"}.get(t["status"], t["status"]), t["detail"]] for t in tg]
    return table([title, "status", "measured"], rows)


def render(env, results):
    tc = env["threads"]
    facts = env.get("libraries", {})
    q, t = facts.get("quasar", {}), facts.get("torch", {})
    lines = [
        "## Machine and versions",
        "",
        f"- date: {env['date']}",
        f"- command: `{env['command']}`" + (" (quick mode: reduced sizes)" if env["quick"] else ""),
        f"- CPU: {env['cpu']}; {env['cores']} usable cores ({env['logical_cpus']} logical CPUs); {env.get('os', '')}",
        f"- threads: {tc['requested']} for every library in every process (torch.get_num_threads() = "
        f"{tc.get('torch', '-')}, quasar = {tc.get('quasar', '-')}, NumPy's BLAS = {tc.get('blas', '-')})",
        f"- Python {q.get('python') or facts.get('numpy', {}).get('python')}; quasar {q.get('quasar', '?')} "
        f"(backend `{q.get('quasar_backend')}`, compiled kernels "
        f"{'available' if q.get('compiled_available') else 'NOT built: quasar numbers are the reference backend'}); "
        f"NumPy {q.get('numpy') or facts.get('numpy', {}).get('numpy')}; PyTorch {t.get('torch') or 'not installed'}",
        f"- BLAS / thread pools (threadpoolctl, quasar's process): {harness.blas_summary(q.get('threadpools'))}",
        "- processes: every workload below the import-order section times each library in a process of its own "
        "(quasar's never imported torch and torch's never imported quasar; NumPy's imported neither)",
    ]
    for lib in ("quasar", "torch"):
        if facts.get(lib, {}).get("openmp_runtimes_mapped"):
            lines.append(f"- OpenMP runtime(s) in {lib}'s process: {', '.join(facts[lib]['openmp_runtimes_mapped'])}")
    if q.get("quasar_build"):
        lines.append(f"- quasar build: {q['quasar_build']}")
    if q.get("quasar_parallel") is not None:
        lines.append(f"- quasar threading: {q['quasar_parallel']}")
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
        "Timings: median of ≥5 samples (3-5 for runs over 0.25 s) after warm-up, `time.perf_counter`; before "
        f"each multi-threaded config the process idles {env.get('gap', 0.2)} s (so no thread pool is still "
        "spinning when the next timing starts; see Timer in harness.py); ratios are time ratios quasar/peer "
        "(below 1.00× quasar is faster). Every sample's median/min/max is in results.json (`environment.timings`).",
    ]
    if "importorder" in results:
        lines += ["", "## Issue 16 targets", "", section_targets(issue16_targets(results["importorder"]), "issue 16 target")]
    for name, module in WORKLOADS.items():
        if name in results:
            lines += ["", f"## {module.TITLE}", "", module.section(results[name])]
    lines += ["", "## Issue 5 targets", "", section_targets(issue5_targets(results), "issue 5 target")]
    return "\n".join(lines) + "\n"


def merge_previous(path, results, env):
    """The previous run's results for the workloads not re-run now (when comparable)."""
    try:
        with open(path) as f:
            old = json.load(f)
    except (OSError, ValueError):
        print("(--merge: no previous results.json; writing this run alone)")
        return results, env
    oe = old.get("environment", {})
    def versions(e):
        facts = e.get("libraries", {})
        numpy = {f.get("numpy") for f in facts.values() if isinstance(f, dict) and f.get("numpy")}
        return facts.get("quasar", {}).get("quasar"), facts.get("torch", {}).get("torch"), numpy

    same = versions(oe) == versions(env) and all(oe.get(k) == env.get(k) for k in ("quick", "cpu")) and \
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
    env["elapsed_s"] = round(env.get("elapsed_s", 0) + (oe.get("elapsed_s") or 0), 1)
    return ordered, env


def write(args, env, results, body):
    os.makedirs(args.out, exist_ok=True)
    harness.write_markdown(os.path.join(args.out, "RESULTS.md"), body)
    targets = {"issue16": issue16_targets(results.get("importorder", {})), "issue5": issue5_targets(results)}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"environment": env, "results": results, "targets": targets}, f, indent=1, default=str)
    print(f"wrote {os.path.relpath(os.path.join(args.out, 'RESULTS.md'))} and results.json")


def profile(args):
    import cProfile
    import pstats

    from workloads import mlp, overhead

    harness.load(["quasar"])
    harness.set_threads(args.threads)
    work = (overhead if args.profile == "overhead" else mlp).profile_work()
    work()
    prof = cProfile.Profile()
    prof.enable()
    work()
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(30)


# ============================================================== main


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="reduced sizes and repeats, --procs 1 unless given (about a minute); prints only unless --write")
    p.add_argument("--threads", type=int, default=harness.usable_cores(), help="threads for every library (default: all usable cores)")
    p.add_argument("--only", default="", help="comma-separated workloads: " + ",".join(WORKLOADS))
    p.add_argument("--procs", type=int, default=None,
                   help="fresh processes per import-order configuration; a figure is their best (default 5; --quick 1)")
    p.add_argument("--no-touch", dest="touch", action="store_false",
                   help="import-order matrix: leave the library that is not timed unused (default: it does a little "
                        "parallel work first, so its thread pools exist)")
    p.add_argument("--write", action="store_true", help="write RESULTS.md/results.json even with --quick or --only")
    p.add_argument("--no-write", action="store_true", help="print only")
    p.add_argument("--merge", action="store_true",
                   help="with --only: keep the other workloads' results from the existing results.json "
                        "(same threads, versions and mode) and rewrite the whole report; implies --write")
    p.add_argument("--out", default=HERE, help="folder for RESULTS.md and results.json (default: benchmarks/)")
    p.add_argument("--min-time", type=float, default=None, help="seconds per timed sample")
    p.add_argument("--gap", type=float, default=0.2,
                   help="idle seconds before each timing of multi-threaded work (default 0.2)")
    p.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                   help="wait up to SECONDS for other processes to go idle before each workload, and re-measure "
                        "a config during which they used > 0.15 cores (up to twice)")
    p.add_argument("--profile", choices=["overhead", "mlp"], help="cProfile quasar on a workload instead of benchmarking")
    p.add_argument("--render-only", action="store_true",
                   help="rewrite RESULTS.md from the existing results.json (no measuring)")
    p.add_argument("--_child", dest="child", choices=harness.LIBRARIES, help=argparse.SUPPRESS)
    p.add_argument("--_order-child", dest="order_child", help=argparse.SUPPRESS)
    p.add_argument("--_time", dest="time_lib", help=argparse.SUPPRESS)
    p.add_argument("--_memory-child", dest="memory_child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.procs is None:
        args.procs = 1 if args.quick else 5
    return p, args


def main():
    p, args = parse_args()
    if args.child:
        return run_child_workload(args)
    if args.order_child:
        from workloads import importorder

        harness.load(args.order_child.split(","))
        return importorder.child(args, args.time_lib)
    if args.memory_child:
        from workloads import memory

        lib, mode, steps = args.memory_child.split(":")
        harness.load([lib])
        harness.set_threads(args.threads)
        return memory.child(lib, mode, int(steps))
    if args.profile:
        return profile(args)
    if args.render_only:
        with open(os.path.join(args.out, "results.json")) as f:
            saved = json.load(f)
        body = render(saved["environment"], saved["results"])
        write(args, saved["environment"], saved["results"], body)
        print(body)
        return None

    wanted = [w.strip() for w in args.only.split(",") if w.strip()] or list(WORKLOADS)
    for w in wanted:
        if w not in WORKLOADS:
            p.error(f"unknown workload {w!r}; choose from {', '.join(WORKLOADS)}")
    print(f"{harness.cpu_model()}: {args.threads} threads, PyTorch {'installed' if harness.torch_installed() else 'not installed'}",
          flush=True)
    facts, log, results = {}, [], {}
    started = harness.now()
    t_all = time.perf_counter()
    for w in wanted:
        if args.wait_quiet:
            wait_quiet(args.wait_quiet)
        t0 = time.perf_counter()
        snap = cpu_snapshot()
        print(f"[{w}] ...", end="", flush=True)
        try:
            results[w] = measure(w, args, facts, log)
        except Exception as exc:  # noqa: BLE001  (one broken workload must not hide the others)
            import traceback

            traceback.print_exc()
            results[w] = {"skipped": f"failed: {type(exc).__name__}: {exc}"}
        load = background_load(snap, cpu_snapshot())
        results[w]["background_cores"] = load
        results[w]["measured_at"] = started
        print(f" {time.perf_counter() - t0:.1f} s" + (f" (other processes used {load:.2f} cores)" if load is not None else ""),
              flush=True)
    env = environment(args, facts)
    env["elapsed_s"] = round(time.perf_counter() - t_all, 1)
    env["timings"] = log
    if args.only and args.merge:
        results, env = merge_previous(os.path.join(args.out, "results.json"), results, env)
    body = render(env, results)
    print()
    print(body)
    if (not args.no_write) and (args.write or args.merge or (not args.quick and not args.only)):
        write(args, env, results, body)
    return None


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    main()
