"""In-place ops. Each bumps the tensor's version counter, so a backward that
saved the old values notices the change and raises instead of computing a
wrong gradient."""

from ..autograd import is_grad_enabled
from .common import backend  # noqa: F401  (kernels for the in-place family)


def check_inplace(op, t):
    """In-place changes to a leaf that requires grad would corrupt its gradient."""
    if t.requires_grad and t.grad_fn is None and is_grad_enabled():
        raise RuntimeError(
            f"{op}: a leaf tensor that requires grad (shape {t.shape}) can't be changed in place; "
            "wrap the update in `with quasar.no_grad():`"
        )


def bump_version(t):
    t._version[0] += 1
    return t


def zero_(t):
    """Fill t with zeros in place; returns t."""
    check_inplace("zero_", t)
    t.data[...] = 0
    return bump_version(t)
