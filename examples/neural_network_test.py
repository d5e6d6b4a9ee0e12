"""The Quasar seed: one linear layer and a ReLU, forward and backward by hand.

    output = relu(input @ weight + bias)        (2, 3) @ (3, 2) + (2,) -> (2, 2)
    loss   = output.sum()

Every gradient is printed next to the value worked out on paper, and checked
against finite differences with ``qs.gradcheck``.

Run:  python examples/neural_network_test.py
"""

import numpy as np
from _common import FAST

import quasar as qs

# float64 so the printed numbers are exact to many digits and gradcheck is tight
input = qs.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=qs.float64, requires_grad=True)
weight = qs.tensor([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], dtype=qs.float64, requires_grad=True)
bias = qs.tensor([0.1, 0.2], dtype=qs.float64, requires_grad=True)


def layer(input, weight, bias):
    return (input @ weight + bias).relu()


output = layer(input, weight, bias)
loss = output.sum()
print("output = relu(input @ weight + bias) =")
print(output.array)
print("loss = output.sum() =", round(loss.item(), 10))

loss.backward()

# Every output is positive, so the ReLU passes every gradient through and, with
# dloss/doutput = 1 everywhere:
#   dloss/dweight = input.T @ ones   (column sums of input, repeated per output)
#   dloss/dbias   = ones summed over the batch = number of rows
#   dloss/dinput  = ones @ weight.T  (row sums of weight, repeated per sample)
ones = np.ones((2, 2))
expected = {
    "input": ones @ weight.array.T,
    "weight": input.array.T @ ones,
    "bias": ones.sum(axis=0),
}
for name, tensor in (("input", input), ("weight", weight), ("bias", bias)):
    print(f"\ngrad of {name} =")
    print(tensor.grad.array)
    assert np.allclose(tensor.grad.array, expected[name]), f"grad of {name} differs from the worked-out value"
print("\nall gradients match the worked-out values")

# gradcheck perturbs each input element by +-eps and compares the change in a
# random weighting of the output with what backward said
checks = [(layer, (input, weight, bias), "relu(input @ weight + bias)")]
if not FAST:  # also check the loss itself, and a second layer on top
    second = qs.tensor([[0.7], [-0.2]], dtype=qs.float64, requires_grad=True)
    checks.append((lambda x, w, b, w2: (layer(x, w, b) @ w2).tanh().sum(), (input, weight, bias, second), "two layers"))
for fn, inputs, what in checks:
    assert qs.gradcheck(fn, [t.detach().requires_grad_(True) for t in inputs])
    print(f"gradcheck passed: {what}")
