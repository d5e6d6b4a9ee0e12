"""micrograd's classic demo: a 2-16-16-1 MLP separates two interleaved moons.

Binary classification with labels -1/+1 and a max-margin (hinge) loss,
    loss = mean(relu(1 - y * score)) + alpha * sum(p**2 for every parameter),
trained by full-batch SGD for 100 steps with a learning rate decaying from 1.0
to 0.1. Prints the loss and accuracy as it goes (99% at the end with these
seeds; 96-100% with others), and saves the learned decision boundary as moons.png.

Run:  python examples/moons.py          (QUASAR_EXAMPLE_FAST=1 for a 20-step run)
"""

import numpy as np
from _common import FAST, check_finite, require

import quasar as qs

matplotlib = require("matplotlib")
matplotlib.use("Agg")  # write files; no window needed
import matplotlib.pyplot as plt  # noqa: E402


def make_moons(n_samples, noise, rng):
    """Two half circles, one inside the other's curve (sklearn's make_moons,
    written out): X (n_samples, 2) float64, y (n_samples,) in {0, 1}."""
    n_outer = n_samples // 2
    n_inner = n_samples - n_outer
    t_outer = np.linspace(0, np.pi, n_outer)
    t_inner = np.linspace(0, np.pi, n_inner)
    outer = np.stack([np.cos(t_outer), np.sin(t_outer)], axis=1)
    inner = np.stack([1 - np.cos(t_inner), 0.5 - np.sin(t_inner)], axis=1)
    X = np.concatenate([outer, inner]) + noise * rng.standard_normal((n_samples, 2))
    y = np.concatenate([np.zeros(n_outer), np.ones(n_inner)])
    return X, y


rng = np.random.default_rng(0)
X_np, y01 = make_moons(100, noise=0.1, rng=rng)
X = qs.tensor(X_np)  # float64, as micrograd's Python floats
y = qs.tensor(y01 * 2 - 1)  # labels -1 / +1 for the hinge loss

qs.manual_seed(0)
model = qs.nn.MLP(2, [16, 16, 1], dtype=qs.float64)
print(model)
print("number of parameters:", sum(p.numel() for p in model.parameters()))

optimizer = qs.optim.SGD(model.parameters(), lr=1.0)
alpha = 1e-4  # strength of the L2 penalty
steps = 20 if FAST else 100


def loss_and_accuracy():
    scores = model(X).reshape(-1)  # (100,): > 0 means class +1
    data_loss = (1 - y * scores).relu().mean()  # hinge: zero once a point is beyond the margin
    reg_loss = alpha * sum((p * p).sum() for p in model.parameters())
    accuracy = float(((y.array > 0) == (scores.array > 0)).mean())
    return data_loss + reg_loss, accuracy


for step in range(steps):
    loss, accuracy = loss_and_accuracy()
    value = check_finite(loss, step)
    optimizer.zero_grad()
    loss.backward()
    optimizer.param_groups[0]["lr"] = 1.0 - 0.9 * step / steps  # micrograd's linear decay
    optimizer.step()
    if step % 10 == 0 or step == steps - 1:
        print(f"step {step:3d}  loss {value:.4f}  accuracy {accuracy:.0%}")

loss, accuracy = loss_and_accuracy()
print(f"final loss {loss.item():.4f}, accuracy {accuracy:.1%}")

# The decision boundary: the model's score on a fine grid over the data,
# shaded by its value (a smooth surface, not blocks) with the zero level drawn.
points = 100 if FAST else 300
x_min, x_max = X_np[:, 0].min() - 1, X_np[:, 0].max() + 1
y_min, y_max = X_np[:, 1].min() - 1, X_np[:, 1].max() + 1
xx, yy = np.meshgrid(np.linspace(x_min, x_max, points), np.linspace(y_min, y_max, points))
with qs.no_grad():
    grid_scores = model(qs.tensor(np.c_[xx.ravel(), yy.ravel()])).array.reshape(xx.shape)

fig, ax = plt.subplots(figsize=(7, 5.5))
limit = np.abs(grid_scores).max()
shading = ax.contourf(xx, yy, grid_scores, levels=np.linspace(-limit, limit, 41), cmap="RdBu", alpha=0.75)
ax.contour(xx, yy, grid_scores, levels=[0.0], colors="black", linewidths=2)
fig.colorbar(shading, ax=ax, label="model score (> 0: class +1)")
for label, colour, marker in [(0, "tab:red", "o"), (1, "tab:blue", "s")]:
    mask = y01 == label
    ax.scatter(X_np[mask, 0], X_np[mask, 1], c=colour, marker=marker, s=40, edgecolors="k",
               label=f"class {'-1' if label == 0 else '+1'} (moon {label + 1})")
ax.plot([], [], color="black", linewidth=2, label="decision boundary (score = 0)")
ax.set(xlim=(x_min, x_max), ylim=(y_min, y_max), xlabel="feature $x_1$", ylabel="feature $x_2$",
       title=f"Two moons: MLP(2, [16, 16, 1]) after {steps} SGD steps, accuracy {accuracy:.0%}")
ax.legend(loc="lower left", fontsize="small", framealpha=0.9)
fig.savefig("moons.png", dpi=100, bbox_inches="tight")
print("saved the decision boundary to moons.png")
