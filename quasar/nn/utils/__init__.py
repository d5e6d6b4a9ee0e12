"""``quasar.nn.utils``: gradient clipping, and ``nn.utils.rnn.pad_sequence``.

The clipping helpers work on the gradients in place, under ``no_grad``, with
quasar's own ops (one norm per parameter, then one scale of each gradient).
"""

import math

from ... import ops
from ...autograd import no_grad
from ...tensor import Tensor
from . import rnn  # noqa: F401


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale the gradients so that their total norm (the norm of all of them
    as one vector) is at most max_norm; returns the total norm before clipping
    (a 0-d tensor). Gradients are multiplied by min(1, max_norm / (norm + 1e-6)),
    as in PyTorch. ``norm_type`` may be ``inf``."""
    grads = _grads(parameters)
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not grads:
        return Tensor(0.0)
    with no_grad():
        norms = [ops.norm(g, norm_type).to(grads[0].dtype) for g in grads]
        total = ops.norm(ops.stack(norms), norm_type)
        total_value = total.item()
        if error_if_nonfinite and not math.isfinite(total_value):
            raise RuntimeError(
                f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total_value}, "
                "so they cannot be clipped; set error_if_nonfinite=False to clip anyway"
            )
        scale = min(1.0, max_norm / (total_value + 1e-6))
        for g in grads:
            g.mul_(scale)
    return total


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient element to [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g.clamp_(-clip_value, clip_value)
