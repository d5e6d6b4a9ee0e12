"""Workload 2, elementwise kernels and reductions: add, mul, relu, exp, tanh,
sigmoid, sum and their backward, float32, at 1e3 to 1.6e7 elements, in GB/s of
the arrays each kernel must read and write; the copy roofs beside them."""

import numpy as np

from harness import fmt, fmt_ratio, libs, ratio, short_n, table

from .common import module

NAME = "kernels"
TITLE = "2. Elementwise kernels and reductions"

# bytes moved per element, as float32 counts of arrays read + written by the kernel
# forward: binary 2 in + 1 out; unary 1 + 1; sum 1 (+ one scalar).
# backward (grad of every input from dL/dout g and what forward saved):
#   add: two owned copies of g (2 reads + 2 writes) = 4; mul: g*b and g*a = 6;
#   relu (x, g -> out), exp (out, g), tanh (out, g), sigmoid (out, g) = 3;
#   sum: the scalar broadcast to n elements = 1 write.
OPS = ["add", "mul", "relu", "exp", "tanh", "sigmoid", "sum"]
FWD_ARRAYS = {"add": 3, "mul": 3, "relu": 2, "exp": 2, "tanh": 2, "sigmoid": 2, "sum": 1}
BWD_ARRAYS = {"add": 4, "mul": 6, "relu": 3, "exp": 3, "tanh": 3, "sigmoid": 3, "sum": 1}
BINARY = {"add", "mul"}
QUICK_OPS = ["add", "mul", "relu", "sum"]  # --quick: issue 16's ops only
THREADED_N = 32768  # torch's elementwise grain size: from here on some library may use several threads


def arrays(n):
    """x, y, g: the same float32 inputs in every process."""
    rng = np.random.default_rng(1)
    return tuple(rng.standard_normal(n, dtype=np.float32) for _ in range(3))


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
    """The same formulas as quasar's reference backend, unfused."""
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


def library_op(mod, op):
    """op(a, b) through quasar's or torch's public API (the same names in both)."""
    if op == "add":
        return lambda a, b: a + b
    if op == "mul":
        return lambda a, b: a * b
    fn = getattr(mod, op)
    return lambda a, b: fn(a)


def _kernel_fwd(op, B):
    return {
        "add": lambda x, y: B.add(x, y),
        "mul": lambda x, y: B.mul(x, y),
        "relu": lambda x, y: B.relu(x),
        "exp": lambda x, y: B.exp(x),
        "tanh": lambda x, y: B.tanh(x),
        "sigmoid": lambda x, y: B.sigmoid(x),
        "sum": lambda x, y: B.sum(x, (0,), False),
    }[op]


def _kernel_bwd(op, B, x, y, out, g):
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


def forward(lib, op, x, y):
    """A zero-argument call of op's forward in lib ("quasar", "torch" or "numpy") on arrays x, y."""
    if lib == "numpy":
        fn = NP_FWD[op]
        return lambda: fn(x, y)
    mod = module(lib)
    a, b = (mod.tensor(x), mod.tensor(y)) if lib == "quasar" else (mod.from_numpy(x), mod.from_numpy(y))
    fn = library_op(mod, op)
    return lambda: fn(a, b)


def backward(lib, op, x, y, g):
    """A zero-argument ``out.backward(g, retain_graph=True)`` through lib's autograd
    (both inputs require grad for add/mul; their .grad reset each time)."""
    if lib == "numpy":
        out = NP_FWD[op](x, y)
        g_np = g if op != "sum" else np.float32(1)
        return lambda: _np_bwd(op, x, y, out, g_np)
    mod = module(lib)
    a = mod.tensor(x, requires_grad=True)
    b = mod.tensor(y, requires_grad=op in BINARY)
    out = library_op(mod, op)(a, b)
    grad = mod.tensor(g if op != "sum" else np.ones((), np.float32))

    def call():
        a.grad = None
        b.grad = None
        out.backward(grad, retain_graph=True)

    return call


def copy_roofs(lib, x):
    """{column: zero-argument copy of x} for lib: NumPy's copyto into a preallocated
    array and an allocating copy, torch's (threaded) copy_."""
    if lib == "numpy":
        dst = np.empty_like(x)
        return {"copyto": lambda: np.copyto(dst, x), "copy_alloc": lambda: x.copy()}
    if lib == "torch":
        src, dst = libs.torch.from_numpy(x), libs.torch.from_numpy(np.empty_like(x))
        return {"torch_copy": lambda: dst.copy_(src)}
    return {}


def run(timer, args, lib):
    sizes = [1_000, 1_000_000] if args.quick else [1_000, 100_000, 1_000_000, 16_000_000]
    ops = QUICK_OPS if args.quick else OPS
    B = libs.qs.backends.current() if lib == "quasar" else None
    rows, roofs = [], []
    for n in sizes:
        x, y, g = arrays(n)
        threaded = n >= THREADED_N
        roof = {"n": n}
        for k, sec in timer.compare(copy_roofs(lib, x), label=f"copy {n:.0e}", threaded=threaded).items():
            roof[k + "_GBs"] = 2 * 4 * n / sec / 1e9
        roofs.append(roof)
        for op in ops:
            label = f"kernels {op} {n:.0e}"
            fns = {lib: forward(lib, op, x, y)}
            if B is not None:
                fns["kernel"] = (lambda kf: lambda: kf(x, y))(_kernel_fwd(op, B))
            r = {"op": op, "n": n, "dir": "fwd", "bytes": FWD_ARRAYS[op] * 4 * n}
            r.update({k + "_s": v for k, v in timer.compare(fns, label=label + " fwd", threaded=threaded).items()})
            r.update({k + "_faults": v for k, v in timer.faults.items()})
            rows.append(r)
            fns = {lib: backward(lib, op, x, y, g)}
            if B is not None:
                out = getattr(B, op)(x) if op in ("exp", "tanh", "sigmoid") else None  # what forward saved
                fns["kernel"] = _kernel_bwd(op, B, x, y, out, g)
            r = {"op": op, "n": n, "dir": "bwd", "bytes": BWD_ARRAYS[op] * 4 * n}
            r.update({k + "_s": v for k, v in timer.compare(fns, label=label + " bwd", threaded=threaded).items()})
            r.update({k + "_faults": v for k, v in timer.faults.items()})
            rows.append(r)
            fns = None  # free the big arrays before the next config allocates
    return {"rows": rows, "roofs": roofs}


def finish(res):
    for r in res.get("rows", []):
        for lib in ("quasar", "kernel", "numpy", "torch"):
            s = r.get(lib + "_s")
            r[lib + "_GBs"] = r["bytes"] / s / 1e9 if s else None


def _faults_cell(r):
    q, t = r.get("quasar_faults"), r.get("torch_faults")
    if q is None:
        return "-"
    return f"{q:.0f} / {t:.0f}" if t is not None else f"{q:.0f}"


def section(res):
    if "rows" not in res:
        return res.get("skipped", "skipped")
    roofs = {r["n"]: r for r in res["roofs"]}
    parts = []
    rr = [[short_n(r["n"]), fmt(r.get("copyto_GBs")), fmt(r.get("copy_alloc_GBs")), fmt(r.get("torch_copy_GBs"))]
          for r in res["roofs"]]
    parts.append("Copy roofs (GB/s, read + write):\n\n" + table(
        ["n", "np.copyto (preallocated)", "x.copy() (allocating)", "torch copy_ (threaded)"], rr))
    for direction in ("fwd", "bwd"):
        rows = []
        for r in res["rows"]:
            if r["dir"] != direction:
                continue
            roof = roofs[r["n"]].get("copyto_GBs")
            rows.append([
                r["op"], short_n(r["n"]),
                fmt(r.get("quasar_GBs")), fmt(r.get("kernel_GBs")), fmt(r.get("numpy_GBs")), fmt(r.get("torch_GBs")),
                fmt_ratio(ratio(r.get("quasar_s"), r.get("torch_s"))), fmt_ratio(ratio(r.get("quasar_s"), r.get("numpy_s"))),
                f"{100 * r['quasar_GBs'] / roof:.0f}%" if roof and r.get("quasar_GBs") else "-",
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
        "not the kernel. Each library runs in a process of its own (see the import-order section for the "
        "processes that hold both)."
    )
    return "\n\n".join(parts)


def targets(res, add):
    if "rows" not in res:
        add("kernels", None, "not run")
        return
    at = [r for r in res["rows"] if r["n"] == 1_000_000 and r.get("torch_s") and r.get("quasar_s")]
    if at:
        misses = [f"{r['op']} {r['dir']} {r['quasar_s'] / r['torch_s']:.2f}×" for r in at if r["quasar_s"] > r["torch_s"]]
        add("kernels at 1e6 ≥ PyTorch throughput", not misses,
            f"{len(at) - len(misses)}/{len(at)} op×direction pairs met" + (
                "; missed (time vs PyTorch): " + ", ".join(misses) if misses else ""))
    else:
        add("kernels at 1e6 ≥ PyTorch throughput", None, "PyTorch not available")
    roofs = {r["n"]: r for r in res["roofs"]}
    big = [r for r in res["rows"] if r["n"] == 16_000_000 and r.get("quasar_GBs")]
    roof = roofs.get(16_000_000, {}).get("copyto_GBs")
    if big and roof:
        misses = [f"{r['op']} {r['dir']} {100 * r['quasar_GBs'] / roof:.0f}%" for r in big if r["quasar_GBs"] < 0.85 * roof]
        add("kernels at 1.6e7 ≥ 85% of copy bandwidth", not misses,
            f"copy roof {roof:.1f} GB/s; {len(big) - len(misses)}/{len(big)} met" + (
                "; below 85% (share of copy): " + ", ".join(misses) if misses else ""))
    else:
        add("kernels at 1.6e7 ≥ 85% of copy bandwidth", None, "not measured (--quick)")
