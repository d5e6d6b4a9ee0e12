"""The Quasar seed's first example: result = (x + y) * (x - y) = x² - y².

The same code as the README's quick tour, printing the same lines.
Run: .venv/bin/python examples/basic_usage.py   (from any directory)
"""

import numpy as np

import quasar as qs

x = qs.tensor(np.array([2.0, 3.0]), requires_grad=True)
y = qs.tensor(np.array([4.0, 5.0]), requires_grad=True)
result = (x + y) * (x - y)  # x² - y²  -> [-12., -16.]
print(result)
result.backward(qs.ones_like(result))  # a vector output needs dL/dresult
print(x.grad, y.grad)  # [4., 6.] = 2x   [-8., -10.] = -2y
