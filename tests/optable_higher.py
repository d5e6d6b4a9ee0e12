"""Op-table entries for the ops that exist for double backward (quasar/backends/differentiable.py).

IndexAdd (the scatter-add behind every gather's backward, made an op) and
LinearBackward (the backward of a linear op: a view, a sort's gather, window
extraction, average pooling, made an op) only appear in a gradient computed
with create_graph=True: each entry's fn returns such a gradient, so the table
checks their own backward.
"""

import numpy as np

import quasar as qs
from optable import case, normal

REPEATED = np.array([0, 2, 2, 1])  # repeats add up


def gather_gradient(x):
    """d/dx sum(tanh(x[idx])) as a tensor with a graph: IndexAdd inside."""
    (g,) = qs.autograd.grad(x[REPEATED].tanh().sum(), x, create_graph=True)
    return g


def mask_gradient(x):
    picked = x[x.detach() > 0]  # a bool mask: the flat scatter-add
    (g,) = qs.autograd.grad((picked * picked * picked).sum(), x, create_graph=True)
    return g


def linear_gradient(select):
    """d/dx sum(tanh(select(x))) with a graph: LinearBackward inside."""

    def fn(x):
        (g,) = qs.autograd.grad(select(x).tanh().sum(), x, create_graph=True)
        return g

    return fn


OPS = [
    dict(name="LinearBackward (diagonal's backward)", fn=linear_gradient(lambda x: x.diagonal(offset=1)),
         cases=[case(normal((3, 4))), case(normal((2, 3, 3)))]),
    dict(name="LinearBackward (avg_pool2d's backward)", fn=linear_gradient(lambda x: qs.nn.functional.avg_pool2d(x, 2, 1)),
         cases=[case(normal((1, 2, 3, 4))), case(normal((2, 1, 3, 3)))]),
    dict(name="LinearBackward (sort's backward)", fn=linear_gradient(lambda x: qs.sort(x, 1).values * 0.5),
         cases=[case(normal((3, 4))), case(normal((2, 5)))]),
    dict(name="index_add (gather's backward)", fn=gather_gradient,
         cases=[case(normal((3,))), case(normal((3, 2))), case(normal((3, 4)))]),
    dict(name="scatter_add_flat (mask's backward)", fn=mask_gradient,
         cases=[case(normal((3, 4), low=0.1)), case(normal((5,), low=0.1))]),
]
