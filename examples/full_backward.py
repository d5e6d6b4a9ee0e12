"""A multi-step expression with shared subexpressions, differentiated end to end.

Each leaf's gradient is printed and checked against finite differences with
qs.gradcheck. Run: python examples/full_backward.py
"""

import numpy as np

import quasar as qs

qs.manual_seed(0)
a = qs.randn(3, 4, dtype=qs.float64, requires_grad=True)
b = qs.randn(4, dtype=qs.float64, requires_grad=True)
w = qs.randn(4, 2, dtype=qs.float64, requires_grad=True)


def model(a, b, w):
    h = (a * b).tanh()  # b broadcasts over the rows of a
    shared = h @ w  # used twice below: its gradient is the sum of both uses
    gate = shared.sigmoid()
    out = (gate * shared + shared.exp() / (1 + a.abs().sum())).relu()
    return out.mean() + (b**2).sum() * 0.1


loss = model(a, b, w)
loss.backward()
print(f"loss = {loss.item():.6f}")
for name, t in [("a", a), ("b", b), ("w", w)]:
    print(f"d loss / d {name}  shape {t.grad.shape}:")
    print(np.array2string(t.grad.array, precision=5, suppress_small=True))

ok = qs.gradcheck(model, [a, b, w])
print("gradcheck against finite differences:", "passed" if ok else "FAILED")
