"""``quasar.nn.utils.rnn``: batching sequences of different lengths."""

from ... import ops
from ...tensor import Tensor


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack tensors of shape (L_i, *) into (max L, B, *) ((B, max L, *) with
    batch_first), filling the missing steps with padding_value; differentiable.
    padding_side: 'right' (the default) or 'left'."""
    sequences = list(sequences)
    if not sequences or not all(isinstance(s, Tensor) for s in sequences):
        raise ValueError("pad_sequence: expected a non-empty list of tensors")
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got {padding_side!r}")
    trailing = sequences[0].shape[1:]
    for i, s in enumerate(sequences):
        if s.ndim < 1 or s.shape[1:] != trailing:
            raise ValueError(
                f"pad_sequence: every sequence must be (L, *{trailing}); sequence {i} has shape {s.shape}"
            )
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        missing = longest - s.shape[0]
        widths = [0, 0] * (s.ndim - 1) + ([0, missing] if padding_side == "right" else [missing, 0])
        padded.append(ops.pad(s, tuple(widths), value=padding_value) if missing else s)
    return ops.stack(padded, dim=0 if batch_first else 1)
