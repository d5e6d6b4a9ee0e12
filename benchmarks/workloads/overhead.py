"""Workload 1, per-op overhead: 100 iterations of ``z = z * y + x`` on 16-element
float32 tensors (200 ops), forward with the graph recorded, forward under
no_grad, and forward + ``z.sum().backward()``; the same chain on plain NumPy
arrays is the floor. Kernels take nanoseconds here: this measures the Python
cost of dispatch, Function.apply, the graph and the backward walk."""

import numpy as np

from harness import fmt, fmt_ratio, ratio, table

from .common import module, to_numpy

NAME = "overhead"
TITLE = "1. Per-op overhead"

CHAIN = 100  # iterations of z = z * y + x: 2 ops each
CHAIN_OPS = 2 * CHAIN
VARIANTS = ("forward (graph recorded)", "forward (no_grad)", "forward+backward")


def inputs():
    rng = np.random.default_rng(0)
    return rng.standard_normal(16).astype(np.float32), (0.5 * rng.standard_normal(16)).astype(np.float32)


def numpy_chain():
    """The NumPy floor: the same arithmetic on plain arrays, no autograd."""
    xa, ya = inputs()

    def forward():
        z = xa
        for _ in range(CHAIN):
            z = z * ya + xa
        return z

    return forward


def chain_functions(lib):
    """{variant: zero-argument function} for "quasar" or "torch" (the same code on
    either library), and a function returning x.grad after one forward+backward."""
    mod = module(lib)
    xa, ya = inputs()
    x, y = mod.tensor(xa, requires_grad=True), mod.tensor(ya, requires_grad=True)

    def chain():
        z = x
        for _ in range(CHAIN):
            z = z * y + x
        return z

    def no_grad():
        with mod.no_grad():
            return chain()

    def forward_backward():
        x.grad = None
        y.grad = None
        chain().sum().backward()

    def x_grad():
        forward_backward()
        return to_numpy(x.grad)

    return dict(zip(VARIANTS, (chain, no_grad, forward_backward))), x_grad


def run(timer, args, lib):
    if lib == "numpy":
        return {"numpy_s": timer(numpy_chain(), label="overhead forward numpy", threaded=False)}
    fns, x_grad = chain_functions(lib)
    rows = [{"variant": v, f"{lib}_s": timer(fn, label=f"overhead {v} {lib}", threaded=False)} for v, fn in fns.items()]
    # the same gradients in both libraries, checked once (a sanity line in the report, not a test)
    return {"rows": rows, "x_grad": {lib: x_grad().tolist()}}


def finish(res):
    grads = res.get("x_grad", {})
    if "quasar" in grads and "torch" in grads:
        res["grad_check_max_abs_diff"] = float(np.max(np.abs(np.array(grads["quasar"]) - np.array(grads["torch"]))))


def us_per_op(seconds):
    return None if seconds is None else seconds * 1e6 / CHAIN_OPS


def section(res):
    if "rows" not in res:
        return res.get("skipped", "skipped")
    floor = us_per_op(res.get("numpy_s"))
    rows = [["forward", "-", "-", fmt(floor), "-", "-"]]
    for r in res["rows"]:
        q, t = us_per_op(r.get("quasar_s")), us_per_op(r.get("torch_s"))
        rows.append([
            r["variant"], fmt(q), fmt(r["quasar_s"] * 1e6, 0) if r.get("quasar_s") else "-",
            fmt(floor) if r["variant"].startswith("forward (") else "-", fmt(t), fmt_ratio(ratio(q, t)),
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


def targets(res, add):
    name = "per-op overhead fwd+bwd ≤ 1.0× PyTorch"
    if "rows" not in res:
        add(name, None, "not run")
        return
    r = next(r for r in res["rows"] if r["variant"] == "forward+backward")
    q, t = us_per_op(r.get("quasar_s")), us_per_op(r.get("torch_s"))
    if q is None or t is None:
        add(name, None, "PyTorch not available")
        return
    rr = q / t
    add(name, rr <= 1.0, f"{q:.2f} vs {t:.2f} µs/op = {rr:.2f}×" + ("" if rr <= 1 else f" (missed by {100 * (rr - 1):.0f}%)"))


def profile_work():
    """quasar's forward+backward chain, 300 times (for --profile overhead)."""
    fns, _ = chain_functions("quasar")

    def work():
        for _ in range(300):
            fns["forward+backward"]()

    return work

