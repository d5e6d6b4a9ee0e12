# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # quasar in one sitting: from one derivative to a digit classifier
#
# This notebook is kept in git as `examples/tutorial.py` (jupytext's percent
# format: plain Python, readable diffs, no outputs). `make notebook` opens it
# in Jupyter; `make test` runs it top to bottom.
#
# 1. The derivative of one expression
# 2. The seed's example, and a picture of its graph
# 3. Checking gradients against finite differences
# 4. A small MLP separates two moons: its decision boundary
# 5. Handwritten digits

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import quasar as qs
import quasar.nn.functional as F

FAST = os.environ.get("QUASAR_EXAMPLE_FAST", "") not in ("", "0")  # the test suite's short run
print("quasar", qs.__version__, "on the", qs.get_backend(), "backend")

# %% [markdown]
# ## 1. The derivative of one expression
#
# $f(x) = x^2 \sin x$ has $f'(x) = 2x \sin x + x^2 \cos x$. quasar records
# each operation as it runs; `backward()` walks the record from the output
# back and leaves $df/dx$ in `x.grad`.

# %%
x = qs.tensor(1.5, dtype=qs.float64, requires_grad=True)
f = x**2 * x.sin()
f.backward()
by_hand = 2 * 1.5 * np.sin(1.5) + 1.5**2 * np.cos(1.5)
print(f"f(1.5) = {f.item():.6f},  df/dx = {x.grad.item():.6f},  by hand: {by_hand:.6f}")

# %% [markdown]
# The same for many points at once: a vector input, and `f.sum()` so that
# each element's gradient is its own derivative.

# %%
xs = qs.linspace(-4, 4, 200, dtype=qs.float64).requires_grad_()
fs = xs**2 * xs.sin()
fs.sum().backward()

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(xs.detach().numpy(), fs.detach().numpy(), label="$f(x) = x^2 \\sin x$")
ax.plot(xs.detach().numpy(), xs.grad.numpy(), label="$f'(x)$ from backward()")
ax.axhline(0, color="gray", linewidth=0.5)
ax.set(xlabel="$x$", ylabel="value", title="A function and the derivative autograd computed")
ax.legend()
plt.show()

# %% [markdown]
# ## 2. The seed's example and its graph
#
# `(x + y) * (x - y)` is $x^2 - y^2$: the gradients are $2x$ and $-2y$.
# `qs.viz.draw_graph` draws what autograd recorded: a box per leaf (blue:
# it requires grad) and per op, arrows in the direction the values flowed.

# %%
x = qs.tensor(np.array([2.0, 3.0]), requires_grad=True)
y = qs.tensor(np.array([4.0, 5.0]), requires_grad=True)
result = (x + y) * (x - y)
result.backward(qs.ones_like(result))
print(result)
print(x.grad, y.grad)
qs.viz.draw_graph(result, params={"x": x, "y": y}, show_data=True, show_grad=True)

# %% [markdown]
# A model's graph: name the parameters with `dict(model.named_parameters())`.

# %%
qs.manual_seed(0)
tiny = qs.nn.Sequential(qs.nn.Linear(2, 4), qs.nn.ReLU(), qs.nn.Linear(4, 1))
loss = (tiny(qs.randn(8, 2)) ** 2).mean()
qs.viz.draw_graph(loss, params=dict(tiny.named_parameters()))

# %% [markdown]
# ## 3. Checking gradients
#
# Every backward formula can be checked against central finite differences
# in float64: `qs.gradcheck` raises an error naming the input and element if
# they disagree, and returns True otherwise.

# %%
a = qs.randn(3, 4, dtype=qs.float64, requires_grad=True)
b = qs.randn(4, dtype=qs.float64, requires_grad=True)
print("tanh(a * b) @ b:", qs.gradcheck(lambda a, b: (a * b).tanh() @ b, (a, b)))
print("softmax cross-entropy:",
      qs.gradcheck(lambda a: F.cross_entropy(a, qs.tensor(np.array([0, 3, 1]))), (a,)))

# %% [markdown]
# A wrong backward is caught. Here is $x^3$ with a derivative that forgot the 3:

# %%
class WrongCube(qs.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x**2  # should be 3 * x**2


try:
    qs.gradcheck(WrongCube.apply, (qs.randn(3, dtype=qs.float64, requires_grad=True),))
except AssertionError as error:
    print(type(error).__name__, ":", str(error).splitlines()[0])

# %% [markdown]
# ## 4. Two moons: a small MLP and its decision boundary
#
# micrograd's demo: 100 points in two interleaved half circles, a 2-16-16-1
# MLP, a hinge loss with labels -1/+1, full-batch SGD.

# %%
from sklearn.datasets import make_moons  # noqa: E402

X_np, y01 = make_moons(n_samples=100, noise=0.1, random_state=0)
X, y = qs.tensor(X_np), qs.tensor(y01 * 2.0 - 1)  # float64; labels -1 / +1

qs.manual_seed(0)
model = qs.nn.MLP(2, [16, 16, 1], dtype=qs.float64)
optimizer = qs.optim.SGD(model.parameters(), lr=1.0)
steps = 30 if FAST else 100
for step in range(steps):
    scores = model(X).reshape(-1)
    loss = (1 - y * scores).relu().mean() + 1e-4 * sum((p * p).sum() for p in model.parameters())
    optimizer.zero_grad()
    loss.backward()
    optimizer.param_groups[0]["lr"] = 1.0 - 0.9 * step / steps
    optimizer.step()
accuracy = float(((scores.array > 0) == (y.array > 0)).mean())
print(f"after {steps} steps: loss {loss.item():.4f}, accuracy {accuracy:.0%}")

# %%
xx, yy = np.meshgrid(np.linspace(-2, 3, 200), np.linspace(-1.5, 2, 200))
with qs.no_grad():
    grid = model(qs.tensor(np.c_[xx.ravel(), yy.ravel()])).numpy().reshape(xx.shape)
fig, ax = plt.subplots(figsize=(7, 5))
limit = np.abs(grid).max()
shading = ax.contourf(xx, yy, grid, levels=np.linspace(-limit, limit, 41), cmap="RdBu", alpha=0.75)
ax.contour(xx, yy, grid, levels=[0.0], colors="black", linewidths=2)
fig.colorbar(shading, ax=ax, label="model score (> 0: class +1)")
for label, colour in [(0, "tab:red"), (1, "tab:blue")]:
    ax.scatter(*X_np[y01 == label].T, c=colour, edgecolors="k", label=f"class {2 * label - 1:+d}")
ax.plot([], [], color="black", label="decision boundary (score = 0)")
ax.set(xlabel="feature $x_1$", ylabel="feature $x_2$", title=f"Two moons: MLP decision boundary, accuracy {accuracy:.0%}")
ax.legend(loc="lower left")
plt.show()

# %% [markdown]
# ## 5. Handwritten digits
#
# scikit-learn's 8x8 digits (no download), a 64-256-10 MLP, Adam on the
# cross-entropy loss with mini-batches: the code a PyTorch user would write.

# %%
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

images, labels = load_digits(return_X_y=True)
x_train, x_test, y_train, y_test = train_test_split(
    (images / 16).astype(np.float32), labels, test_size=0.25, stratify=labels, random_state=0
)
qs.manual_seed(0)
net = qs.nn.Sequential(qs.nn.Linear(64, 256), qs.nn.ReLU(), qs.nn.Linear(256, 10))
opt = qs.optim.Adam(net.parameters(), lr=2e-3)
epochs = 3 if FAST else 20
test_accuracy = []
for epoch in range(epochs):
    net.train()
    for xb, yb in qs.data.DataLoader(x_train, y_train, batch_size=32, shuffle=True, seed=epoch):
        loss = F.cross_entropy(net(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with qs.no_grad():
        predicted = net(qs.tensor(x_test)).numpy().argmax(axis=1)
    test_accuracy.append(float((predicted == y_test).mean()))
print(f"test accuracy after {epochs} epochs: {test_accuracy[-1]:.1%}")

# %%
fig, axes = plt.subplots(2, 8, figsize=(10, 3))
for ax, image, guess, truth in zip(axes.flat, x_test, predicted, y_test):
    ax.imshow(image.reshape(8, 8), cmap="gray_r")
    ax.set_title(f"{guess}" + ("" if guess == truth else f" (is {truth})"), color="black" if guess == truth else "red")
    ax.axis("off")
fig.suptitle("Test digits and the model's guesses (red: wrong)")
plt.show()
