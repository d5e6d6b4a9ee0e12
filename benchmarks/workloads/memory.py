"""Workload 6, memory, each measurement in a fresh interpreter holding one
library's model and data: the peak of one training step, RSS growth over many
steps, and the RSS a kept graph holds. Runs its own child processes
(run.py --_memory-child LIB:MODE:STEPS)."""

import gc
import os
import re
import statistics

import numpy as np

from harness import fmt, mib, print_result, require_only, run_child, table, torch_installed

from .common import module
from .mlp import MLP

NAME = "memory"
TITLE = "6. Memory"
IN_PARENT = True
RUN_PY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "run.py")


def _status_kb(key):
    with open("/proc/self/status") as f:
        m = re.search(rf"^{key}:\s+(\d+) kB", f.read(), re.M)
    return int(m.group(1)) if m else None


def _reset_hwm():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM (peak RSS) to the current RSS (Linux >= 4.0)


def _state_bytes(tensors):
    return sum(int(t.nbytes) for t in tensors if t is not None)


def child(lib, mode, steps):
    """Runs in a fresh interpreter (only ``lib``'s model and data live in it); prints one JSON line."""
    out = {"lib": lib, "mode": mode}
    if mode == "tracemalloc":  # quasar: every NumPy buffer and Python object since before the model existed
        import tracemalloc

        tracemalloc.start()
        m = MLP(lib, (784, 256, 256, 10), 128)
        for _ in range(3):
            m.step()
        gc.collect()
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        m.step()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out.update(traced_before_bytes=base, traced_peak_bytes=peak)
    elif mode == "peak":
        gc.collect()
        rss0 = _status_kb("VmRSS")  # after the imports, before the model and the data exist
        m = MLP(lib, (784, 256, 256, 10), 128)
        step = m.step
        for _ in range(3):
            step()
        gc.collect()
        # resident state counted from the tensors: parameters, their gradients, the batch
        if lib == "quasar":
            params = list(m.model.parameters())
            state = _state_bytes([p.array for p in params] + [p.grad.array for p in params if p.grad is not None])
        else:
            params = list(m.model.parameters())
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
        mod = module(lib)
        x, w = mod.tensor(x), mod.tensor(w, requires_grad=True)
        loss = lambda: mod.tanh(x @ w).sum()
        kept = [loss() for _ in range(5)]  # warm up the allocator and the library
        gc.collect()
        before = _status_kb("VmRSS")
        kept += [loss() for _ in range(steps)]
        gc.collect()
        out["kept_bytes_per_graph"] = (_status_kb("VmRSS") - before) * 1024 / steps
        out["tanh_output_bytes"] = 128 * 256 * 4
    else:  # growth: RSS over many steps of a small network
        m = MLP(lib, (784, 64, 10), 32)
        step = m.step
        every = max(1, steps // 10)
        marks = []
        for i in range(1, steps + 1):
            step()
            if i % every == 0:
                marks.append((i, _status_kb("VmRSS") * 1024))
        out["marks"] = marks
        out["growth_bytes"] = marks[-1][1] - marks[0][1]
    require_only([lib])
    print_result(out)


def _child(lib, mode, threads, steps, extra_env=None):
    out = run_child([RUN_PY, "--_memory-child", f"{lib}:{mode}:{steps}", "--threads", str(threads)], extra_env)
    out.setdefault("lib", lib)
    out.setdefault("mode", mode)
    return out


def run(timer, args):
    libraries = ["quasar"] + (["torch"] if torch_installed() else [])
    # a fixed mmap threshold: every buffer >= 64 KiB is mmap'd and unmapped on free, so RSS
    # follows what each library holds instead of what glibc keeps cached in its heap
    fixed = {"MALLOC_MMAP_THRESHOLD_": "65536"}
    peak = {lib: _child(lib, "peak", args.threads, 0, fixed) for lib in libraries}
    traced = _child("quasar", "tracemalloc", args.threads, 0)
    if "error" not in traced:
        peak["quasar"].update(traced)
    kept = {lib: _child(lib, "kept", args.threads, 100, fixed) for lib in libraries}
    steps = 1000 if args.quick else 10_000
    growth = {lib: _child(lib, "growth", args.threads, steps) for lib in libraries}
    return {"peak": peak, "growth": growth, "growth_steps": steps, "kept": kept}


def section(res):
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


def targets(res, add):
    if "peak" not in res:
        add("memory targets", None, res.get("skipped", "not run"))
        return
    q, t = res["peak"].get("quasar", {}), res["peak"].get("torch", {})
    if "state_bytes" in q and "state_bytes" in t:
        qt = q["state_bytes"] + q["rss_peak_delta_bytes"]
        tt = t["state_bytes"] + t["rss_peak_delta_bytes"]
        rr = qt / tt
        add("peak memory ≤ 1.2× PyTorch", rr <= 1.2,
            f"{mib(qt):.2f} vs {mib(tt):.2f} MiB = {rr:.2f}×" + ("" if rr <= 1.2 else f" (missed by {100 * (rr / 1.2 - 1):.0f}%)"))
    else:
        add("peak memory ≤ 1.2× PyTorch", None, "PyTorch not available or a child failed")
    g = res["growth"].get("quasar", {})
    if "growth_bytes" in g:
        grow = g["growth_bytes"]
        add(f"no RSS growth over {res['growth_steps']:,} steps", grow <= 1 << 20,
            f"{mib(grow):+.2f} MiB from step {g['marks'][0][0]} to {g['marks'][-1][0]} (met: ≤ 1 MiB, allocator noise)")
    else:
        add("no RSS growth", None, g.get("error", "not run")[-200:])
    kept = res.get("kept", {})
    if "kept_bytes_per_graph" in kept.get("quasar", {}):
        qk, tk = kept["quasar"]["kept_bytes_per_graph"], kept.get("torch", {}).get("kept_bytes_per_graph")
        rr = qk / tk if tk else None
        add("kept-graph memory ≤ 1.2× PyTorch", None if rr is None else rr <= 1.2,
            "PyTorch not available" if rr is None else f"{rr:.2f}× PyTorch's")
