"""Workload 7, a Hessian-vector product (double backward) of the 784-256-10 MLP's
cross-entropy loss, batch 128: gradients with create_graph=True, then the
gradient of their dot product with a fixed vector v."""

import numpy as np

from harness import fmt, fmt_ratio, ratio, table

from .common import module, tensor, to_numpy
from .mlp import MLP

NAME = "hvp"
TITLE = "7. Hessian-vector product (double backward)"
LIBRARIES = ("quasar", "torch")  # nothing to time in a NumPy-only process

SIZES, BATCH = (784, 256, 10), 128
SAMPLE = 64  # values of each parameter's Hv sent to the parent for the cross-library check


def hvp_function(lib):
    """A zero-argument Hessian-vector product in lib, returning Hv per parameter."""
    mod = module(lib)
    m = MLP(lib, SIZES, BATCH)
    params = list(m.model.parameters())
    rng = np.random.default_rng(1)
    vectors = [tensor(lib, rng.standard_normal(tuple(p.shape)).astype(np.float32)) for p in params]

    def hvp():
        loss = mod.nn.functional.cross_entropy(m.model(m.x), m.t)
        grads = mod.autograd.grad(loss, params, create_graph=True)
        return mod.autograd.grad(sum((g * v).sum() for g, v in zip(grads, vectors)), params)

    return hvp


def run(timer, args, lib):
    hvp = hvp_function(lib)
    sample = [to_numpy(h).ravel()[:SAMPLE].tolist() for h in hvp()]
    row = {"arch": "-".join(map(str, SIZES)), "batch": BATCH, f"{lib}_hv_sample": sample,
           f"{lib}_s": timer(hvp, label=f"hvp {lib}")}
    return {"rows": [row]}


def finish(res):
    for r in res.get("rows", []):
        q, t = r.get("quasar_hv_sample"), r.get("torch_hv_sample")
        r["max_abs_diff"] = max(float(np.max(np.abs(np.array(a) - np.array(b)))) for a, b in zip(q, t)) if q and t else None


def section(res):
    if "rows" not in res:
        return res.get("skipped", "skipped")
    r = res["rows"][0]
    rows = [[r["arch"], r["batch"], fmt(r["quasar_s"] * 1e3 if r.get("quasar_s") else None, 3),
             fmt(r["torch_s"] * 1e3 if r.get("torch_s") else None, 3), fmt_ratio(ratio(r.get("quasar_s"), r.get("torch_s"))),
             "n/a" if r.get("max_abs_diff") is None else f"{r['max_abs_diff']:.1e}"]]
    return table(["architecture", "batch", "quasar ms", "PyTorch ms", "quasar/PyTorch", "max |Δ(Hv)|"], rows) + (
        "\n\nOne Hessian-vector product of the cross-entropy loss in the parameters: `grad(loss, params, "
        "create_graph=True)`, then `grad(sum(g * v), params)`; float32, the same init and batch in both libraries "
        f"(each in its own process; |Δ(Hv)| compares the first {SAMPLE} values of each parameter's Hv).")


def targets(res, add):
    if "rows" not in res:
        return
    q = ratio(res["rows"][0].get("quasar_s"), res["rows"][0].get("torch_s"))
    add("Hessian-vector product 784-256-10 b128 ≤ 1.5× PyTorch", None if q is None else q <= 1.5,
        "PyTorch not available" if q is None else f"{q:.2f}× PyTorch's time")
