"""Workload 3, matmul: square n×n @ n×n, float32 and float64, forward and backward
(both operands' gradients from a given dL/dC), in GFLOP/s."""

import numpy as np

from harness import fmt, fmt_ratio, ratio, table

from .common import module

NAME = "matmul"
TITLE = "3. matmul"


def configs(quick):
    sizes = [256, 1024] if quick else [256, 1024, 2048]
    return [(dtype, n) for dtype in (np.float32, np.float64) for n in sizes]


def functions(lib, a, b, g):
    """(forward, backward) zero-argument calls for lib on arrays a, b and dL/dC g."""
    if lib == "numpy":
        return (lambda: a @ b), (lambda: (g @ b.T, a.T @ g))
    mod = module(lib)
    at, bt = mod.tensor(a), mod.tensor(b)
    ag, bg = mod.tensor(a, requires_grad=True), mod.tensor(b, requires_grad=True)
    c, gt = ag @ bg, mod.tensor(g)

    def bwd():
        ag.grad = None
        bg.grad = None
        c.backward(gt, retain_graph=True)

    return (lambda: at @ bt), bwd


def run(timer, args, lib):
    rng = np.random.default_rng(2)
    rows = []
    for dtype, n in configs(args.quick):
        a, b, g = (rng.standard_normal((n, n)).astype(dtype) for _ in range(3))
        reps = 5 if n >= 2048 else None
        name = np.dtype(dtype).name
        fwd, bwd = functions(lib, a, b, g)
        for direction, fn, flops in (("fwd", fwd, 2 * n**3), ("bwd", bwd, 4 * n**3)):
            r = {"n": n, "dtype": name, "dir": direction, "flops": flops}
            r.update({k + "_s": v for k, v in timer.compare({lib: fn}, reps, f"matmul {n} {name} {direction}").items()})
            rows.append(r)
        fwd = bwd = None
    return {"rows": rows}


def finish(res):
    for r in res.get("rows", []):
        for lib in ("quasar", "numpy", "torch"):
            s = r.get(lib + "_s")
            r[lib + "_GFLOPs"] = r["flops"] / s / 1e9 if s else None


def section(res):
    if "rows" not in res:
        return res.get("skipped", "skipped")
    rows = []
    for r in res["rows"]:
        rows.append([
            r["n"], r["dtype"], r["dir"], fmt(r.get("quasar_GFLOPs")), fmt(r.get("numpy_GFLOPs")), fmt(r.get("torch_GFLOPs")),
            fmt_ratio(ratio(r.get("quasar_s"), r.get("numpy_s"))), fmt_ratio(ratio(r.get("quasar_s"), r.get("torch_s"))),
            fmt(r["quasar_s"] * 1e3 if r.get("quasar_s") else None),
        ])
    return table(["n", "dtype", "pass", "quasar GFLOP/s", "NumPy GFLOP/s", "PyTorch GFLOP/s", "quasar/NumPy (time)",
                  "quasar/PyTorch (time)", "quasar ms"], rows) + (
        "\n\nSquare n×n @ n×n. Forward: `a @ b` (2n³ flops). Backward: both operands' gradients from a given "
        "dL/dC through autograd (`c.backward(g, retain_graph=True)`, 4n³ flops); NumPy: `g @ b.T` and `a.T @ g`.")


def targets(res, add):
    if "rows" not in res:
        add("matmul within 5% of NumPy", None, "not run")
        return
    have = [r for r in res["rows"] if r.get("quasar_s") and r.get("numpy_s")]
    misses = [f"{r['n']} {r['dtype']} {r['dir']} {r['quasar_s'] / r['numpy_s']:.2f}×" for r in have
              if r["quasar_s"] > 1.05 * r["numpy_s"]]
    add("matmul within 5% of NumPy (fwd and bwd)", not misses if have else None,
        f"{len(have) - len(misses)}/{len(have)} configs met" + (
            "; slower than 1.05× (time vs NumPy): " + ", ".join(misses) if misses else ""))
