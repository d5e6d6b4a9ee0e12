"""``quasar.linalg``: PyTorch's ``torch.linalg`` names (so far ``vector_norm``)."""

from .ops.reductions import vector_norm  # noqa: F401
