"""``qs.save`` and ``qs.load``: state dicts in a NumPy ``.npz`` file, never pickle.

    qs.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 7}, "ckpt.npz")
    checkpoint = qs.load("ckpt.npz")
    model.load_state_dict(checkpoint["model"])

What can be saved: nested dicts (str or int keys), lists and tuples of
tensors, NumPy arrays, numbers, bools, strings and None. Each array becomes
one ``.npy`` entry of the archive, named ``<n>:<path>`` (``0:model.0.weight``);
the nesting and the plain values go into one JSON text entry, ``__quasar__``.
Loading uses ``allow_pickle=False``, so opening a stranger's file can never
run code: the worst it can do is fail to load.

A path ending in ``.safetensors`` reads and writes that format instead (a
flat state dict; quasar/interchange.py).
"""

from __future__ import annotations

import json
import numbers
import os
from typing import Any, BinaryIO

import numpy as np

from .interchange import is_safetensors_path, load_safetensors, save_safetensors
from .tensor import Tensor, _to_array

FORMAT = "quasar.save/1"
HEADER = "__quasar__"


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` (a state dict, or nested dicts/lists of tensors, arrays
    and numbers) to ``path`` (the name is used as given; ``.npz`` is a good suffix).
    A name ending in ``.safetensors`` writes that format (a flat state dict only)."""
    if is_safetensors_path(path):
        return save_safetensors(obj, path)
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, "", arrays)
    arrays[HEADER] = np.array(json.dumps({"format": FORMAT, "tree": tree}))
    with open(path, "wb") as f:  # a file object: np.savez would append ".npz" to a name
        np.savez(f, allow_pickle=False, **arrays)


def load(path: str | os.PathLike | BinaryIO) -> Any:
    """Read what ``save`` wrote: dicts, lists, tuples and numbers as they were,
    tensors as Tensors (requires_grad as saved), arrays as NumPy arrays.
    A ``.safetensors`` file gives a dict of name -> Tensor."""
    if is_safetensors_path(path):
        return load_safetensors(path)
    with np.load(path, allow_pickle=False) as archive:
        if HEADER not in archive.files:
            raise ValueError(f"load: {path} was not written by quasar.save (it has no {HEADER!r} entry)")
        header = json.loads(str(archive[HEADER]))
        if header.get("format") != FORMAT:
            raise ValueError(f"load: {path} has format {header.get('format')!r}; this quasar reads {FORMAT!r}")
        return _decode(header["tree"], archive, path)


def _encode(obj, path, arrays):
    """One JSON node for obj; its arrays go into ``arrays`` under fresh names."""
    if isinstance(obj, Tensor):
        return {"tensor": _store(obj.array, path, arrays), "requires_grad": bool(obj.requires_grad)}
    if isinstance(obj, np.ndarray):
        return {"array": _store(obj, path, arrays)}
    if isinstance(obj, np.generic):
        obj = obj.item()  # a NumPy scalar -> the Python number
    if obj is None or isinstance(obj, (bool, str, numbers.Integral, numbers.Real)):
        return {"value": obj if isinstance(obj, (bool, str, type(None))) else _plain_number(obj)}
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if isinstance(key, np.integer):
                key = int(key)
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(f"save: dict keys must be str or int, got {key!r} at {path or 'the top level'}")
            items.append([key, _encode(value, f"{path}.{key}" if path else str(key), arrays)])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_encode(v, f"{path}.{i}" if path else str(i), arrays) for i, v in enumerate(obj)]}
    hint = "; save its state_dict() instead" if hasattr(obj, "state_dict") else ""
    raise TypeError(f"save: can't store a {type(obj).__name__} at {path or 'the top level'!r}{hint}")


def _plain_number(x):
    return int(x) if isinstance(x, numbers.Integral) else float(x)


def _store(array, path, arrays):
    if array.dtype.kind not in "biuf":
        raise TypeError(f"save: the array at {path!r} has dtype {array.dtype}; only numeric arrays can be saved")
    name = f"{len(arrays)}:{path}"
    arrays[name] = array
    return name


def _decode(node, archive, path):
    if "tensor" in node:
        t = Tensor._wrap(_to_array(archive[node["tensor"]], copy=False, op=f"load ({path})"))
        return t.requires_grad_(True) if node.get("requires_grad") else t
    if "array" in node:
        return archive[node["array"]]
    if "value" in node:
        return node["value"]
    if "dict" in node:
        return {key: _decode(value, archive, path) for key, value in node["dict"]}
    if "list" in node:
        return [_decode(v, archive, path) for v in node["list"]]
    if "tuple" in node:
        return tuple(_decode(v, archive, path) for v in node["tuple"])
    raise ValueError(f"load: {path} holds an entry quasar does not understand: {sorted(node)}")
