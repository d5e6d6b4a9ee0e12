"""The layers: Linear, Sequential, activations, Dropout, LayerNorm, micrograd's
MLP, and the loss modules. Each creates its parameters and calls
``quasar.nn.functional`` in ``forward``; gradients come from the ops."""

import math

import numpy as np

from .. import creation
from ..dtypes import get_default_dtype
from . import functional as F
from .module import Module, Parameter


def _float_dtype(dtype):
    dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"layers hold float32 or float64 parameters, got dtype {dtype}")
    return dtype


def _uniform(bound, shape, dtype):
    """Uniform(-bound, bound) from quasar's generator, so ``qs.manual_seed`` fixes it."""
    return creation.generator().uniform(-bound, bound, shape).astype(dtype)


class Linear(Module):
    """y = x @ weight.T + bias: (..., in_features) -> (..., out_features).

    weight (out_features, in_features) and bias (out_features,) start as
    PyTorch's do: uniform in +-1/sqrt(in_features) (kaiming-uniform with a=sqrt(5)).
    """

    def __init__(self, in_features, out_features, bias=True, dtype=None):
        super().__init__()
        for name, n in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
                raise ValueError(f"Linear: {name} must be a non-negative int, got {n!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        dtype = _float_dtype(dtype)
        bound = 1 / math.sqrt(in_features) if in_features else 0.0
        self.weight = Parameter(_uniform(bound, (out_features, in_features), dtype))
        self.bias = Parameter(_uniform(bound, (out_features,), dtype)) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """A lookup table: integer indices (any shape) -> rows of ``weight``
    (num_embeddings, embedding_dim), drawn from N(0, 1) as in PyTorch.
    ``padding_idx``'s row starts at zero and gets no gradient."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, dtype=None):
        super().__init__()
        for name, n in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"Embedding: {name} must be a positive int, got {n!r}")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.padding_idx = padding_idx
        table = creation.generator().standard_normal((num_embeddings, embedding_dim)).astype(_float_dtype(dtype))
        if padding_idx is not None:
            table[padding_idx] = 0
        self.weight = Parameter(table)

    def forward(self, index):
        return F.embedding(index, self.weight, padding_idx=self.padding_idx)

    def extra_repr(self):
        extra = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{extra}"


class Sequential(Module):
    """Modules applied one after another; ``model[0]`` is the first, named "0"."""

    def __init__(self, *modules):
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def __getitem__(self, index):
        items = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*items[index])
        return items[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x


class MLP(Sequential):
    """micrograd's multi-layer perceptron: ``MLP(2, [16, 16, 1])`` is
    Linear(2, 16), ReLU, Linear(16, 16), ReLU, Linear(16, 1): a ReLU between
    layers, none after the last (so the output is a raw score)."""

    def __init__(self, nin, nouts, dtype=None):
        sizes = [nin, *nouts]
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
            layers.append(Linear(n_in, n_out, dtype=dtype))
            if i < len(nouts) - 1:
                layers.append(ReLU())
        super().__init__(*layers)


# ---------------------------------------------------------------- activations


class ReLU(Module):
    def forward(self, x):
        return F.relu(x)


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class Sigmoid(Module):
    def forward(self, x):
        return F.sigmoid(x)


class GELU(Module):
    """GELU: x * Phi(x); ``approximate='tanh'`` for the tanh approximation."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Dropout(Module):
    """Zero each element with probability p while training (scaling the rest by
    1/(1-p)); the identity after ``eval()``."""

    def __init__(self, p=0.5):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise ValueError(f"Dropout: probability p must be in [0, 1], got {p!r}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class LayerNorm(Module):
    """Normalise the last dims (normalized_shape) of each sample to mean 0 and
    variance 1, then scale by weight (starts at 1) and shift by bias (starts at 0)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        dtype = _float_dtype(dtype)
        self.elementwise_affine = elementwise_affine
        self.weight = Parameter(np.ones(shape, dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, dtype)) if elementwise_affine else None

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


# ---------------------------------------------------------------- losses


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """loss(input, target) = mean((input - target)**2); see ``F.mse_loss``."""

    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)


class CrossEntropyLoss(_Loss):
    """loss(logits (N, C), classes (N,)) = mean(-log softmax(logits)[class]); see ``F.cross_entropy``."""

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.reduction)


class NLLLoss(_Loss):
    """loss(log_probs (N, C), classes (N,)) = mean(-log_probs[class]); see ``F.nll_loss``."""

    def forward(self, input, target):
        return F.nll_loss(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """loss(logits, targets in [0, 1]) = binary cross-entropy of sigmoid(logits); stable for any logits."""

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.reduction)
