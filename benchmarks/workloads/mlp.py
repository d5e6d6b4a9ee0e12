"""Workload 4, training steps: an MLP step (zero_grad, forward Linear/ReLU,
cross_entropy, backward, SGD step) at 784-256-256-10 batch 128 and
784-1024-1024-10 batch 512, and examples/moons.py's step (2-16-16-1, float64,
100 points, hinge loss + L2 penalty). The same code builds the model in either
library; the initial parameters are drawn with NumPy from PyTorch's default
distribution, so both libraries start from the same weights in separate processes."""

import math

import numpy as np

from harness import fmt, fmt_ratio, ratio, table

from .common import module, set_parameters, tensor

NAME = "mlp"
TITLE = "4. Training steps: MLP and moons"
LIBRARIES = ("quasar", "torch")  # nothing to time in a NumPy-only process

SMALL, LARGE = ((784, 256, 256, 10), 128), ((784, 1024, 1024, 10), 512)
MOONS_SIZES = (2, 16, 16, 1)


def initial_parameters(sizes, dtype=np.float32, seed=0):
    """Weights (out, in) and biases, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as torch.nn.Linear
    draws them, in parameters() order."""
    rng = np.random.default_rng(seed)
    out = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        bound = 1 / math.sqrt(fan_in)
        out.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(dtype))
        out.append(rng.uniform(-bound, bound, fan_out).astype(dtype))
    return out


def build_mlp(lib, sizes, dtype=np.float32, seed=0):
    """Linear/ReLU/.../Linear in lib, with initial_parameters(sizes)."""
    mod = module(lib)
    dt = getattr(mod, np.dtype(dtype).name)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        layers.append(mod.nn.Linear(n_in, n_out, dtype=dt))
        if i < len(sizes) - 2:
            layers.append(mod.nn.ReLU())
    model = mod.nn.Sequential(*layers)
    set_parameters(lib, model, initial_parameters(sizes, dtype, seed))
    return model


class MLP:
    """One MLP training step in one library: cross-entropy on a fixed batch, SGD."""

    def __init__(self, lib, sizes, batch, lr=0.1, seed=0):
        mod = module(lib)
        self.lib, self.sizes, self.batch = lib, sizes, batch
        rng = np.random.default_rng(seed)
        self.X = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
        self.T = rng.integers(0, sizes[-1], batch).astype(np.int64)
        self.model = build_mlp(lib, sizes, seed=seed)
        self.opt = mod.optim.SGD(self.model.parameters(), lr=lr)
        self.x, self.t = tensor(lib, self.X), tensor(lib, self.T)
        self.cross_entropy = mod.nn.functional.cross_entropy

    def step(self):
        self.opt.zero_grad()
        loss = self.cross_entropy(self.model(self.x), self.t)
        loss.backward()
        self.opt.step()
        return loss


def make_moons(n_samples=100, noise=0.1, seed=0):
    """examples/moons.py's data: X (n, 2) float64, labels -1/+1."""
    rng = np.random.default_rng(seed)
    n_outer = n_samples // 2
    n_inner = n_samples - n_outer
    t_outer, t_inner = np.linspace(0, np.pi, n_outer), np.linspace(0, np.pi, n_inner)
    outer = np.stack([np.cos(t_outer), np.sin(t_outer)], axis=1)
    inner = np.stack([1 - np.cos(t_inner), 0.5 - np.sin(t_inner)], axis=1)
    X = np.concatenate([outer, inner]) + noise * rng.standard_normal((n_samples, 2))
    y = np.concatenate([np.zeros(n_outer), np.ones(n_inner)])
    return X, y * 2 - 1


class Moons:
    """examples/moons.py's training step: max-margin loss + alpha * sum(p**2), SGD(lr=1.0), float64."""

    def __init__(self, lib, alpha=1e-4):
        mod = module(lib)
        X, y = make_moons()
        self.x, self.y, self.alpha = tensor(lib, X), tensor(lib, y), alpha
        self.model = build_mlp(lib, MOONS_SIZES, dtype=np.float64)
        self.params = list(self.model.parameters())
        self.opt = mod.optim.SGD(self.params, lr=1.0)

    def step(self):
        scores = self.model(self.x).reshape(-1)
        loss = (1 - self.y * scores).relu().mean() + self.alpha * sum((p * p).sum() for p in self.params)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss


def cases(quick):
    """(row name, constructor(lib)) of every training step the workload times."""
    out = [("784-256-256-10 b128", lambda lib: MLP(lib, *SMALL))]
    if not quick:
        out.append(("784-1024-1024-10 b512", lambda lib: MLP(lib, *LARGE)))
    out.append(("moons 2-16-16-1 b100 float64", Moons))
    return out


def run(timer, args, lib):
    rows = []
    for name, make in cases(args.quick):
        # the first 3 losses of a fresh model: the report checks both libraries compute the same thing
        model = make(lib)
        losses = [float(model.step().item()) for _ in range(3)]
        rows.append({"name": name, f"{lib}_losses": losses, f"{lib}_s": timer(model.step, label=f"mlp {name} {lib}")})
    return {"rows": rows}


def finish(res):
    for r in res.get("rows", []):
        q, t = r.get("quasar_losses"), r.get("torch_losses")
        r["loss_diff_3_steps"] = max(abs(a - b) for a, b in zip(q, t)) if q and t else None


def section(res):
    if "rows" not in res:
        return res.get("skipped", "skipped")
    rows = [[r["name"], fmt(r["quasar_s"] * 1e3 if r.get("quasar_s") else None, 3),
             fmt(r["torch_s"] * 1e3 if r.get("torch_s") else None, 3),
             fmt_ratio(ratio(r.get("quasar_s"), r.get("torch_s"))),
             "-" if r.get("loss_diff_3_steps") is None else f"{r['loss_diff_3_steps']:.1e}"]
            for r in res["rows"]]
    return table(["step", "quasar ms/step", "PyTorch ms/step", "quasar/PyTorch", "max |Δloss| first 3 steps"], rows) + (
        "\n\nMLP step = `opt.zero_grad()`, forward (Linear/ReLU), `cross_entropy` (mean), `backward()`, "
        "`SGD(lr=0.1).step()`; float32. Moons step = examples/moons.py's: 100 points, float64, "
        "`relu(1 - y * score).mean() + 1e-4 * sum(p²)`, backward, `SGD(lr=1.0).step()`. Both libraries start "
        "from the same weights (drawn with NumPy from PyTorch's default init) and see the same batch, each in a "
        "process of its own; the loss column checks they compute the same thing.")


def targets(res, add):
    if "rows" not in res:
        add("MLP step ≤ PyTorch (both sizes)", None, res.get("skipped", "not run"))
        return
    for r in res["rows"]:
        q = ratio(r.get("quasar_s"), r.get("torch_s"))
        name = f"{r['name'] if r['name'].startswith('moons') else 'MLP step ' + r['name']} ≤ PyTorch"
        if q is None:
            add(name, None, "PyTorch not available")
        else:
            add(name, q <= 1.0, f"{q:.2f}× PyTorch's time" + ("" if q <= 1.0 else f" (missed by {100 * (q - 1):.0f}%)"))


def profile_work():
    """quasar's small MLP step, 300 times (for --profile mlp)."""
    m = MLP("quasar", *SMALL)

    def work():
        for _ in range(300):
            m.step()

    return work
