"""The Quasar seed's first example: result = (x + y) * (x - y) = x² - y².

Run: python examples/basic_usage.py
"""

import numpy as np

import quasar as qs

# Tensors with gradient tracking
x = qs.tensor(np.array([2.0, 3.0]), requires_grad=True)
y = qs.tensor(np.array([4.0, 5.0]), requires_grad=True)

# (x + y) * (x - y) = x² - y²
total = x + y
diff = x - y
result = total * diff

# result is a vector: backward needs dL/dresult; ones gives d(sum of result)
result.backward(qs.ones_like(result))

print("Result:", result.array.tolist())  # [-12.0, -16.0]
print("x.grad:", x.grad.array.tolist(), "= 2x")  # [4.0, 6.0]
print("y.grad:", y.grad.array.tolist(), "= -2y")  # [-8.0, -10.0]
print("backend:", qs.get_backend())
