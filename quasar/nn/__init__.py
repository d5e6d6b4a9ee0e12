"""``quasar.nn``: modules, layers and losses, named as in ``torch.nn``.

    model = qs.nn.Sequential(qs.nn.Linear(64, 128), qs.nn.ReLU(), qs.nn.Linear(128, 10))
    loss = qs.nn.CrossEntropyLoss()(model(x), y)
"""

from . import functional, init, parallel  # noqa: F401
from .layers import (  # noqa: F401
    GELU, MLP, BCEWithLogitsLoss, CrossEntropyLoss, Dropout, Embedding, LayerNorm, Linear, MSELoss, NLLLoss, ReLU,
    Sequential, Sigmoid, Tanh,
)
from .module import Module, Parameter  # noqa: F401
