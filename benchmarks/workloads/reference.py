"""Workload 5, what the compiled kernels buy: the MLP step at 784-64-10, batch 32,
under qs.backend("compiled") and qs.backend("reference") (plain NumPy kernels)."""

from harness import fmt, fmt_ratio, libs, ratio, table

from .mlp import MLP

NAME = "reference"
TITLE = "5. Reference backend (what the compiled kernels buy)"
LIBRARIES = ("quasar", "torch")  # nothing to time in a NumPy-only process

SIZES, BATCH = (784, 64, 10), 32


def run(timer, args, lib):
    m = MLP(lib, SIZES, BATCH)
    row = {"arch": "-".join(map(str, SIZES)), "batch": BATCH}
    if lib == "torch":
        row["torch_s"] = timer(m.step, label=f"reference {row['arch']} b{BATCH} torch")
        return {"rows": [row]}
    qs = libs.qs

    def on(name):
        def step():
            with qs.backend(name):
                m.step()

        return step

    compiled = getattr(qs.backends, "compiled", None) is not None
    fns = {"compiled": on("compiled") if compiled else None, "reference": on("reference")}
    row.update({k + "_s": v for k, v in timer.compare(fns, label=f"reference {row['arch']} b{BATCH}").items()})
    return {"rows": [row]}


def section(res):
    if "rows" not in res:
        return res.get("skipped", "skipped")
    r = res["rows"][0]
    ms = {k: fmt(r[k + "_s"] * 1e3 if r.get(k + "_s") else None, 3) for k in ("compiled", "reference", "torch")}
    rows = [[r["arch"], r["batch"], ms["compiled"], ms["reference"],
             fmt_ratio(ratio(r.get("compiled_s"), r.get("reference_s"))), ms["torch"]]]
    return table(["architecture", "batch", "compiled ms/step", "reference ms/step", "compiled/reference", "PyTorch ms/step"], rows) + (
        "\n\nThe same training step as workload 4 under `qs.backend('compiled')` and `qs.backend('reference')` (pure NumPy kernels).")
