"""Second-order autograd: gradients of gradients, two ways.

1. Newton's method on a logistic regression. Each Newton step solves
   H p = -g with conjugate gradient, touching the Hessian H only through
   Hessian-vector products: ``qs.autograd.functional.hvp``, one backward
   through a gradient computed with ``create_graph=True`` (the Hessian itself,
   d x d, is never formed). Compared with plain gradient descent on the same
   loss: a convergence plot, second_order_newton.png.
2. A physics-informed network solving u''(x) = f(x) on [0, 1] with
   u(0) = u(1) = 0. The network's second derivative in x comes from two
   ``qs.autograd.grad(..., create_graph=True)`` calls; the loss (the equation's
   residual plus the boundary conditions) is then trained by an ordinary
   backward through both. The exact solution is u(x) = sin(pi x) for
   f(x) = -pi^2 sin(pi x); the plot second_order_pinn.png shows both.

Run:  python examples/second_order.py      (QUASAR_EXAMPLE_FAST=1: a few seconds)
"""

import math

import numpy as np
from _common import FAST, check_finite, require

import quasar as qs
import quasar.nn.functional as F
from quasar.autograd.functional import hvp

matplotlib = require("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# ---------------------------------------------------------------- 1. Newton-CG against gradient descent

rng = np.random.default_rng(0)
n, d = (200, 10) if FAST else (1000, 30)
features = rng.standard_normal((n, d))
true_w = rng.standard_normal(d)
labels = (features @ true_w + 0.5 * rng.standard_normal(n) > 0).astype(np.float64)
X, y = qs.tensor(features), qs.tensor(labels)
L2 = 1e-2  # a little ridge keeps the minimum finite (and the Hessian positive definite)


def loss_fn(w):
    """Mean logistic loss plus (L2 / 2) |w|^2; w: (d,)."""
    return F.binary_cross_entropy_with_logits(X @ w, y) + 0.5 * L2 * (w * w).sum()


def gradient(w):
    w = w.detach().requires_grad_(True)
    (g,) = qs.autograd.grad(loss_fn(w), w)
    return g


def conjugate_gradient(w, g, iterations, tol=1e-10):
    """Solve H p = -g by CG, H = Hessian of the loss at w, seen through Hessian-vector products."""
    p = qs.zeros(d, dtype=qs.float64)
    r = -g  # residual -g - H p, with p = 0
    direction = r
    rr = (r * r).sum().item()
    for _ in range(iterations):
        _, hd = hvp(loss_fn, w, direction)
        alpha = rr / (direction * hd).sum().item()
        p = p + alpha * direction
        r = r - alpha * hd
        rr_next = (r * r).sum().item()
        if rr_next < tol**2:
            break
        direction = r + (rr_next / rr) * direction
        rr = rr_next
    return p


w = qs.zeros(d, dtype=qs.float64)
newton_losses = [loss_fn(w).item()]
for step in range(8):
    g = gradient(w)
    w = w + conjugate_gradient(w, g, iterations=d)
    newton_losses.append(check_finite(loss_fn(w), step))

w = qs.zeros(d, dtype=qs.float64)
gd_steps = 100 if FAST else 400
gd_losses = [loss_fn(w).item()]
for step in range(gd_steps):
    w = w - 1.0 * gradient(w)  # 1.0: about 1/L for standardised features
    gd_losses.append(check_finite(loss_fn(w), step))

best = min(newton_losses + gd_losses)
newton_gap = [max(v - best, 1e-16) for v in newton_losses]
gd_gap = [max(v - best, 1e-16) for v in gd_losses]
print(f"logistic regression: {n} samples, {d} features")
print(f"Newton-CG: loss {newton_losses[-1]:.10f} after {len(newton_losses) - 1} steps")
print(f"gradient descent: loss {gd_losses[-1]:.10f} after {gd_steps} steps")
print(f"Newton reaches within 1e-8 of the minimum in {next(i for i, v in enumerate(newton_gap) if v < 1e-8)} steps")

fig, ax = plt.subplots(figsize=(6, 4))
ax.semilogy(range(len(newton_gap)), newton_gap, "o-", label="Newton-CG (Hessian-vector products)")
ax.semilogy(range(len(gd_gap)), gd_gap, label="gradient descent (lr = 1)")
ax.set_xlabel("iteration")
ax.set_ylabel("loss - best loss found")
ax.set_title("Logistic regression: Newton's method vs gradient descent")
ax.legend()
fig.tight_layout()
fig.savefig("second_order_newton.png", dpi=100)
plt.close(fig)

# ---------------------------------------------------------------- 2. a physics-informed network


def f(x):
    return -(math.pi**2) * qs.sin(math.pi * x)


def exact(x):
    return np.sin(math.pi * x)


qs.manual_seed(0)
net = qs.nn.Sequential(qs.nn.Linear(1, 32), qs.nn.Tanh(), qs.nn.Linear(32, 32), qs.nn.Tanh(), qs.nn.Linear(32, 1))
optimizer = qs.optim.Adam(net.parameters(), lr=0.01)
points = qs.tensor(np.linspace(0, 1, 32 if FAST else 64).reshape(-1, 1))
boundary = qs.tensor(np.array([[0.0], [1.0]]))
steps = 300 if FAST else 3000


def second_derivative(x):
    """u''(x) at every point of x (N, 1): each u(x_i) depends on x_i alone, so
    the gradient of sum(u) is u'(x_i) point by point, and likewise for u''."""
    x = x.detach().requires_grad_(True)
    u = net(x)
    (du,) = qs.autograd.grad(u.sum(), x, create_graph=True)
    (d2u,) = qs.autograd.grad(du.sum(), x, create_graph=True)
    return d2u


for step in range(steps):
    residual = second_derivative(points) - f(points)
    loss = (residual * residual).mean() + (net(boundary) ** 2).mean() * 10
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    check_finite(loss, step)

grid = np.linspace(0, 1, 101).reshape(-1, 1)
with qs.no_grad():
    predicted = net(qs.tensor(grid)).numpy()
error = np.sqrt(np.mean((predicted - exact(grid)) ** 2)) / np.sqrt(np.mean(exact(grid) ** 2))
print(f"PINN: u''(x) = -pi^2 sin(pi x), u(0) = u(1) = 0: final loss {loss.item():.2e}, "
      f"relative L2 error against sin(pi x): {error:.2e}")

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(grid, exact(grid), "k-", label="exact: sin(pi x)")
ax.plot(grid, predicted, "r--", label=f"network after {steps} steps")
ax.plot(points.numpy(), np.zeros(len(points)), "b|", label="collocation points")
ax.set_xlabel("x")
ax.set_ylabel("u(x)")
ax.set_title("Physics-informed network for u'' = f on [0, 1]")
ax.legend()
fig.tight_layout()
fig.savefig("second_order_pinn.png", dpi=100)
plt.close(fig)
print("wrote second_order_newton.png and second_order_pinn.png")
