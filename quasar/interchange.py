"""Exchange tensors with other libraries: DLPack (zero-copy) and safetensors files.

DLPack
------
``np.from_dlpack(t)`` (or ``torch.from_dlpack(t)``, ``jax.dlpack.from_dlpack``)
views a quasar tensor's memory without copying it, through
``Tensor.__dlpack__`` / ``__dlpack_device__``; ``qs.from_dlpack(x)`` does the
reverse for anything that has ``__dlpack__`` (a NumPy array, a CPU torch
tensor). Both sides then share one buffer: a change on one shows on the other.
As in PyTorch, a tensor that requires grad can't be exported (the other
library would change it behind autograd's back): export ``t.detach()``.

safetensors
-----------
``qs.save(model.state_dict(), "model.safetensors")`` and
``qs.load("model.safetensors")`` read and write the format that PyTorch
models are shared in on the Hugging Face hub, through the ``safetensors``
package's NumPy API (an optional dependency: ``pip install safetensors``).
quasar's parameter names are PyTorch's (``0.weight``, ``0.bias``), so a
file saved from ``torch.nn.Sequential(torch.nn.Linear(...), ...)`` loads into
the same quasar model with ``load_state_dict``, and back. A safetensors file
holds one flat dict of named arrays: nested checkpoints (optimizer state,
epoch numbers) need ``.npz``.
"""

from __future__ import annotations

import os
from typing import Any, TypeGuard

import numpy as np

from .tensor import SUPPORTED, Tensor, _to_array

SAFETENSORS_SUFFIX = ".safetensors"


def from_dlpack(ext_tensor: Any) -> Tensor:
    """A Tensor sharing the memory of ``ext_tensor`` (anything with ``__dlpack__``
    on the CPU: a NumPy array, a torch tensor, a JAX array), like ``torch.from_dlpack``."""
    if isinstance(ext_tensor, Tensor):
        ext_tensor = ext_tensor.detach()  # the same memory, as torch.from_dlpack(torch_tensor)
    if not hasattr(ext_tensor, "__dlpack__"):
        raise TypeError(
            f"from_dlpack: expected an object with __dlpack__ (a NumPy array, a torch tensor, ...), "
            f"got {type(ext_tensor).__name__}"
        )
    try:
        array = np.from_dlpack(ext_tensor)
    except (BufferError, RuntimeError, TypeError) as exc:  # on a GPU, or an unsupported dtype
        raise type(exc)(f"from_dlpack: can't view this {type(ext_tensor).__name__} as a CPU array: {exc}") from None
    if array.dtype not in SUPPORTED:
        raise TypeError(
            f"from_dlpack: dtype {array.dtype} (shape {array.shape}) is not one quasar holds; "
            "convert it to float32, float64, int64, int32 or bool first"
        )
    return Tensor._wrap(array)


def is_safetensors_path(path: Any) -> TypeGuard[str | os.PathLike]:
    """True for a file name (str or path-like) ending in ``.safetensors``."""
    return isinstance(path, (str, os.PathLike)) and os.fspath(path).endswith(SAFETENSORS_SUFFIX)


def safetensors_bytes(obj: Any) -> bytes:
    """A flat dict of name -> Tensor or ndarray (a state dict) in the safetensors
    format; ``qs.save`` writes these bytes atomically, like an ``.npz``."""
    numpy_api = _import_safetensors("save")
    if not isinstance(obj, dict):
        raise TypeError(
            f"save: a .safetensors file holds a dict of name -> tensor (a state_dict()), "
            f"got a {type(obj).__name__}; use a .npz file for other objects"
        )
    arrays = {}
    for name, value in obj.items():
        if not isinstance(name, str):
            raise TypeError(f"save: safetensors names must be strings, got {name!r}")
        if isinstance(value, Tensor):
            value = value.array
        if not isinstance(value, np.ndarray):
            raise TypeError(
                f"save: {name!r} is a {type(value).__name__}; a .safetensors file holds only tensors "
                "(nested checkpoints with optimizer state or numbers need a .npz file)"
            )
        if value.dtype not in SUPPORTED:
            raise TypeError(f"save: {name!r} has dtype {value.dtype}, which quasar does not hold")
        arrays[name] = np.ascontiguousarray(value)  # the format stores C order
    return numpy_api.save(arrays)


def load_safetensors(path: str | os.PathLike) -> dict[str, Tensor]:
    """Read a safetensors file into a dict of name -> Tensor (requires_grad False)."""
    numpy_api = _import_safetensors("load")
    state = {}
    for name, array in numpy_api.load_file(os.fspath(path)).items():
        if array.dtype not in SUPPORTED:
            raise TypeError(
                f"load: {os.fspath(path)!r} holds {name!r} with dtype {array.dtype} (shape {array.shape}); "
                "quasar holds float32, float64, int64, int32 and bool: convert the file's tensors first "
                "(in PyTorch: {k: v.float() for k, v in state_dict.items()})"
            )
        state[name] = Tensor._wrap(_to_array(array, copy=False, op=f"load ({name})"))
    return state


def _import_safetensors(verb):
    try:
        import safetensors.numpy
    except ImportError:
        raise ImportError(
            f"{verb}: .safetensors files need the 'safetensors' package: pip install safetensors "
            "(or pip install quasar[safetensors]); .npz files need nothing extra"
        ) from None
    return safetensors.numpy
