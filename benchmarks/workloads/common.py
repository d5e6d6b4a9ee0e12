"""Helpers over the few places where quasar's and PyTorch's APIs differ."""

import numpy as np

from harness import libs


def module(lib):
    """The loaded library object for "quasar" or "torch"."""
    mod = {"quasar": libs.qs, "torch": libs.torch}[lib]
    if mod is None:
        raise RuntimeError(f"{lib} is not loaded in this process")
    return mod


def tensor(lib, array, requires_grad=False):
    """A tensor of ``lib`` holding a copy of a NumPy array."""
    return module(lib).tensor(np.array(array), requires_grad=requires_grad)


def to_numpy(t):
    """A tensor of either library as a NumPy array."""
    return t.detach().numpy()


def set_parameters(lib, model, arrays):
    """Overwrite the model's parameters (in parameters() order) with the arrays."""
    params = list(model.parameters())
    if len(params) != len(arrays):
        raise RuntimeError(f"{lib} model has {len(params)} parameters, {len(arrays)} arrays given")
    for p, a in zip(params, arrays):
        if tuple(p.shape) != a.shape:
            raise RuntimeError(f"{lib} parameter shape {tuple(p.shape)} != {a.shape}")
        if lib == "quasar":
            p.array[...] = a
        else:
            with libs.torch.no_grad():
                p.copy_(libs.torch.from_numpy(a))
