"""Tensor: a NumPy array, its gradient, and its place in the graph.

A Tensor holds

* ``array``: the ``numpy.ndarray`` with the values (float32, float64, int64,
  int32 or bool). This is the engine's own name for the raw memory; ``data``
  is PyTorch's: a detached Tensor sharing that memory (see below);
* ``requires_grad``: whether gradients flow to it;
* ``grad``: a Tensor of dL/d(self), filled by ``backward()`` (leaves only,
  unless ``retain_grad()``);
* ``grad_fn``: the graph node (a :class:`quasar.autograd.Function`) that made
  it, or ``None`` for a leaf;
* ``_version``: a one-element list shared by every view of the same memory,
  bumped by in-place ops so backward can detect a saved value that changed.

The arithmetic dunders and methods only delegate to ``quasar.ops``.
"""

import numbers

import numpy as np

from . import autograd

SUPPORTED = {
    np.dtype(np.float32),
    np.dtype(np.float64),
    np.dtype(np.int64),
    np.dtype(np.int32),
    np.dtype(np.bool_),
}


def _to_array(data, dtype=None, copy=True, op="tensor"):
    """Validate and convert user data to an ndarray of a supported dtype."""
    if isinstance(data, Tensor):
        data = data.array
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype not in SUPPORTED:
            raise TypeError(f"{op}: unsupported dtype {dtype}; use float32, float64, int64, int32 or bool")
    if isinstance(data, np.ndarray):
        arr = data
    else:
        try:
            arr = np.array(data)
        except ValueError as exc:  # ragged nested lists
            raise ValueError(f"{op}: data is not a rectangular array of numbers ({exc})") from None
        if arr.dtype.kind == "f" and dtype is None:
            arr = arr.astype(np.float32)  # Python floats default to float32, as in PyTorch
        copy = False
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{op}: expected numeric data, got an array of dtype {arr.dtype}")
    if dtype is None:
        if arr.dtype not in SUPPORTED:
            if arr.dtype.kind == "f":
                raise TypeError(f"{op}: unsupported dtype {arr.dtype}; use float32 or float64")
            dtype = np.dtype(np.int64)  # int8/uint16/... widen to int64
        else:
            dtype = arr.dtype
    if arr.dtype != dtype:
        return arr.astype(dtype)
    return arr.copy() if copy else arr


class Tensor:
    """An n-dimensional array that records the ops applied to it.

    Create one with :func:`quasar.tensor` (copies) or :func:`quasar.from_numpy`
    (shares memory); ``Tensor(data, dtype=None, requires_grad=False)`` is the
    same as ``quasar.tensor``.
    """

    # _hooks (register_hook) is left unset on most tensors: read it with getattr(t, "_hooks", None)
    __slots__ = ("array", "grad", "grad_fn", "requires_grad", "_version", "_is_view", "_hooks", "__weakref__")
    __array_priority__ = 1000  # numpy_array * tensor -> Tensor.__rmul__
    __hash__ = object.__hash__  # identity: two equal-valued leaves are distinct keys

    def __init__(self, data, dtype=None, requires_grad=False):
        self.array = _to_array(data, dtype)
        self.grad = None
        self.grad_fn = None
        self.requires_grad = False
        self._version = [0]
        self._is_view = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, array, version=None):
        """A new leaf around an existing array (no copy, no checks): the fast path
        every op's output takes. ``version`` shares a view's counter with its base."""
        t = object.__new__(cls)
        t.array = array
        t.grad = None
        t.grad_fn = None
        t.requires_grad = False
        t._version = [0] if version is None else version
        t._is_view = version is not None
        return t

    # ------------------------------------------------------------ properties
    @property
    def data(self):
        """PyTorch's ``.data``: the same memory as a Tensor cut from the graph.

        ``p.data.mul_(0.5)`` or ``m.weight.data.normal_(0, 0.02)`` change ``p``
        itself without autograd noticing, as in PyTorch: unlike ``detach()``,
        the result has a version counter of its own, so such changes are not
        caught by backward's in-place check. ``t.numpy()`` or ``np.asarray(t)``
        give the NumPy array.
        """
        return Tensor._wrap(self.array)

    @data.setter
    def data(self, value):
        """``p.data = t`` swaps in another tensor's values (shape and dtype may change)."""
        if not isinstance(value, Tensor):
            raise TypeError(
                f"data: assigned data must be a Tensor, got {type(value).__name__}; "
                "wrap arrays with qs.tensor() or qs.from_numpy()"
            )
        self.array = value.array

    @property
    def shape(self):
        return self.array.shape

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def ndim(self):
        return self.array.ndim

    def dim(self):
        return self.array.ndim

    def size(self, dim=None):
        return self.array.shape if dim is None else self.array.shape[dim]

    def numel(self):
        return self.array.size

    def __len__(self):
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def T(self):
        return ops.permute(self, tuple(reversed(range(self.array.ndim))))

    @property
    def mT(self):
        return ops.transpose(self, -2, -1)

    # ------------------------------------------------------------ conversion
    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.array.size != 1:
            raise ValueError(
                f"item: only one-element tensors can be converted to a Python number, "
                f"got shape {self.shape}"
            )
        return self.array.reshape(()).item()

    def numpy(self):
        """The underlying array (shared memory). Detach first if it requires grad."""
        if self.requires_grad:
            raise RuntimeError("numpy: can't call numpy() on a tensor that requires grad; use .detach().numpy()")
        return self.array

    def tolist(self):
        return self.array.tolist()

    def __array__(self, dtype=None, copy=None):
        arr = self.array
        if dtype is not None and arr.dtype != dtype:
            return arr.astype(dtype)
        return arr.copy() if copy else arr

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(
                f"bool: the truth value of a tensor with {self.array.size} elements is ambiguous"
            )
        return bool(self.array.reshape(()).item())

    def __index__(self):
        if self.array.dtype.kind not in "iu" or self.array.size != 1:
            raise TypeError("only one-element integer tensors can be used as an index")
        return int(self.array.reshape(()).item())

    def to(self, dtype):
        """This tensor in another dtype (itself if it already is); differentiable between floats."""
        dtype = np.dtype(dtype)
        if dtype == self.array.dtype:
            return self
        return ops.cast(self, dtype)

    astype = to

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def long(self):
        return self.to(np.int64)

    def int(self):
        return self.to(np.int32)

    def bool(self):
        return self.to(np.bool_)

    # ------------------------------------------------------------ autograd
    def requires_grad_(self, requires_grad=True):
        """Mark a leaf as needing gradients (in place); returns self."""
        if requires_grad and self.array.dtype.kind != "f":
            raise RuntimeError(
                f"requires_grad: only float tensors can require gradients, got dtype {self.array.dtype}"
            )
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError("requires_grad_: can only change the flag of a leaf tensor")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self):
        """The same values (shared memory, shared version counter), cut from the graph."""
        return Tensor._wrap(self.array, self._version)

    def detach_(self):
        self.grad_fn = None
        self.requires_grad = False
        return self

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor during backward."""
        if self.grad_fn is not None:
            import weakref

            self.grad_fn._retained = weakref.ref(self)
        elif not self.requires_grad:
            raise RuntimeError("retain_grad: can't retain_grad on a tensor that does not require grad")

    def register_hook(self, hook):
        """Call ``hook(grad)`` each time the gradient of this tensor is computed.

        grad is a Tensor of this tensor's shape; the hook may return a new
        gradient (a Tensor of the same shape) to use in its place, or None. On
        a leaf it runs before the gradient is added into ``.grad``; on a
        non-leaf before the gradient flows further back. Returns a handle whose
        ``remove()`` unregisters the hook.
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            if self.grad_fn._hooks is None:
                self.grad_fn._hooks = autograd.Hooks()
            table = self.grad_fn._hooks.pre
        else:
            table = self._hook_table().pre
        handle = autograd.RemovableHandle(table)
        table[handle.id] = hook
        return handle

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` once per backward, after this leaf's ``.grad``
        holds its final value (the optimizer-in-backward and DDP hook).

        Leaves only, as in PyTorch. Returns a handle with ``remove()``.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "register_post_accumulate_grad_hook: cannot register a hook on a tensor that doesn't require gradient"
            )
        if self.grad_fn is not None:
            raise RuntimeError(
                "register_post_accumulate_grad_hook: post accumulate grad hooks cannot be registered on non-leaf tensors"
            )
        table = self._hook_table().post
        handle = autograd.RemovableHandle(table)
        table[handle.id] = hook
        return handle

    def _hook_table(self):
        hooks = getattr(self, "_hooks", None)
        if hooks is None:
            hooks = self._hooks = autograd.Hooks()
        return hooks

    def backward(self, gradient=None, retain_graph=False):
        """Accumulate dself/dleaf into every leaf's ``.grad``.

        gradient: dL/dself, same shape as self; may be omitted for one-element tensors.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward: element 0 of tensors does not require grad and does not have a grad_fn"
            )
        if gradient is None:
            if self.array.size != 1:
                raise RuntimeError(
                    f"backward: grad can be implicitly created only for scalar outputs; this tensor "
                    f"has shape {self.shape}, pass gradient= of that shape"
                )
            grad = np.ones(self.array.shape, dtype=self.array.dtype)
        else:
            # no copy: backward never writes into it, and a leaf that would keep it copies it
            grad = np.asarray(gradient.array if isinstance(gradient, Tensor) else gradient, dtype=self.array.dtype)
            if grad.shape != self.array.shape:
                raise ValueError(
                    f"backward: gradient has shape {grad.shape} but the tensor has shape {self.shape}"
                )
        if self.grad_fn is None:  # a leaf: d self / d self = 1
            autograd._accumulate({self: grad}, grad)
            return
        autograd.run_backward(self, grad, retain_graph=retain_graph)

    def zero_(self):
        return ops.zero_(self)

    # ------------------------------------------------------------ printing
    def __repr__(self):
        body = np.array2string(self.array, separator=", ", prefix="tensor(", precision=4)
        extras = []
        if self.array.dtype not in (np.dtype(np.float32), np.dtype(np.int64), np.dtype(np.bool_)):
            extras.append(f"dtype={self.array.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # ------------------------------------------------------------ operators
    # (a op b) is bound straight to the op function at the bottom of this
    # module, saving a Python call on every op; the reflected forms swap.
    def __radd__(self, other):
        return ops.add(other, self)

    def __rsub__(self, other):
        return ops.sub(other, self)

    def __rmul__(self, other):
        return ops.mul(other, self)

    def __rtruediv__(self, other):
        return ops.div(other, self)

    def __rpow__(self, other):
        return ops.pow(other, self)

    def __rmatmul__(self, other):
        return ops.matmul(other, self)

    def __pos__(self):
        return self

    def __setitem__(self, key, value):
        ops.setitem(self, key, value)


autograd.Tensor = Tensor  # Function.apply wraps its outputs in this class


def as_tensor(data, dtype=None):
    """``data`` as a Tensor: itself if it already is one (cast if dtype differs)."""
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    return Tensor._wrap(_to_array(data, dtype, copy=False, op="as_tensor"))


def is_number(value):
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


from . import ops  # noqa: E402  (ops import Tensor from this module)

# Operators and methods are the op functions themselves: ``x * y`` calls
# ``ops.mul(x, y)`` and ``x.sum(dim=1)`` calls ``ops.sum(x, dim=1)``.
for _dunder, _op in {
    "__add__": "add", "__sub__": "sub", "__mul__": "mul", "__truediv__": "div", "__pow__": "pow",
    "__matmul__": "matmul", "__neg__": "neg", "__abs__": "abs", "__getitem__": "getitem",
    "__lt__": "lt", "__le__": "le", "__gt__": "gt", "__ge__": "ge", "__eq__": "eq", "__ne__": "ne",
}.items():
    setattr(Tensor, _dunder, getattr(ops, _op))
for _name in (
    "exp log sqrt abs tanh sigmoid relu sin cos neg clamp clip pow maximum minimum "
    "sum mean max min amax amin matmul reshape view transpose permute squeeze unsqueeze "
    "flatten expand broadcast_to "
    "gather index_select take_along_dim masked_fill masked_fill_ repeat tile flip roll tril triu "
    "split chunk narrow logsumexp var std norm prod cumsum argmax argmin erf softmax log_softmax "
    "add_ sub_ mul_ div_ fill_ clamp_ clip_ copy_"
).split():
    setattr(Tensor, _name, getattr(ops, _name))
