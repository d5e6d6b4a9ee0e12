"""Tensor: a NumPy array, its gradient, and its place in the graph.

A Tensor holds

* ``array``: the ``numpy.ndarray`` with the values (float32, float64, int64,
  int32, int16, int8, uint8 or bool; see ``quasar.dtypes``). This is the
  engine's own name for the raw memory; ``data`` is PyTorch's: a detached
  Tensor sharing that memory (see below);
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

from . import autograd, backends
from .dtypes import FLOAT32, INT64, SUPPORTED, SUPPORTED_NAMES, check_integer_range, checked_cast, get_default_dtype
from .errors import ConversionError


def _to_array(data, dtype=None, copy=True, op="tensor"):
    """Validate and convert user data to an ndarray of a supported dtype.

    NumPy arrays keep their dtype when quasar holds it (float32, float64,
    int64, int32, int16, int8, uint8, bool); float16 becomes float32 (quasar
    computes in float32/float64), other integer types int64. Python floats
    take the default dtype, Python ints int64. Converting nan, inf or an
    out-of-range value to an integer type raises ConversionError (a
    RuntimeError and OverflowError), as PyTorch raises, instead of wrapping.
    """
    if isinstance(data, Tensor):
        data = data.array
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype not in SUPPORTED:
            raise TypeError(f"{op}: unsupported dtype {dtype}; use {SUPPORTED_NAMES}")
    if isinstance(data, np.generic):
        data = np.asarray(data)  # a NumPy scalar keeps its dtype, like an array
    from_python = not isinstance(data, np.ndarray)
    if from_python:
        try:
            arr = np.array(data)
        except ValueError as exc:  # ragged nested lists
            raise ValueError(f"{op}: data is not a rectangular array of numbers ({exc})") from None
        if arr.dtype == object or arr.dtype == np.uint64:  # Python ints beyond int64
            if all(isinstance(v, int) for v in np.asarray(arr, dtype=object).flat):
                if dtype is None or dtype.kind != "f":
                    raise ConversionError(f"{op}: an integer in the data does not fit in int64 (overflow)")
                arr = arr.astype(np.float64)  # tensor([2**63], dtype=float64) is fine, as in PyTorch
        if arr.dtype.kind == "f" and dtype is None:
            arr = arr.astype(get_default_dtype())  # Python floats take the default dtype, as in PyTorch
        copy = False
    else:
        arr = data
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{op}: expected numeric data, got an array of dtype {arr.dtype}")
    if dtype is None:
        if arr.dtype in SUPPORTED:
            dtype = arr.dtype
        elif arr.dtype.kind == "f":
            dtype = FLOAT32  # float16: quasar computes in float32/float64
        else:  # uint16/uint32/uint64: int64, checked
            dtype = INT64
            check_integer_range(arr, dtype, op)
    if arr.dtype != dtype:
        if from_python and dtype.kind in "iu" and arr.dtype.kind in "iu":
            check_integer_range(arr, dtype, op)  # tensor([300], dtype=uint8) raises, as in PyTorch
        return checked_cast(arr, dtype, op)
    return arr.copy() if copy else arr


class Tensor:
    """An n-dimensional array that records the ops applied to it.

    Create one with :func:`quasar.tensor` (copies) or :func:`quasar.from_numpy`
    (shares memory); ``Tensor(data, dtype=None, requires_grad=False)`` is the
    same as ``quasar.tensor``.
    """

    # _hooks (register_hook) is left unset on most tensors: read it with getattr(t, "_hooks", None)
    __slots__ = ("array", "_grad", "grad_fn", "requires_grad", "_version", "_is_view", "_hooks", "__weakref__")
    __array_priority__ = 1000  # numpy_array * tensor -> Tensor.__rmul__
    __hash__ = object.__hash__  # identity: two equal-valued leaves are distinct keys

    def __init__(self, data, dtype=None, requires_grad=False):
        self.array = _to_array(data, dtype)
        self._grad = None
        self.grad_fn = None
        self.requires_grad = False
        self._version = [0]
        self._is_view = False
        if requires_grad is not False:
            self.requires_grad_(requires_grad)

    @classmethod
    def _wrap(cls, array, version=None):
        """A new leaf around an existing array (no copy, no checks): the fast path
        every op's output takes. ``version`` shares a view's counter with its base."""
        t = object.__new__(cls)
        t.array = array
        t._grad = None
        t.grad_fn = None
        t.requires_grad = False
        t._version = [0] if version is None else version
        t._is_view = version is not None
        return t

    # ------------------------------------------------------------ properties
    @property
    def grad(self):
        """dL/d(self) as a Tensor of self's shape and dtype, or None until backward fills it."""
        return self._grad

    @grad.setter
    def grad(self, value):
        """``p.grad = g`` checks g as PyTorch does, so a wrong one fails here, not in ``opt.step()``."""
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"grad: assigned grad expected to be a Tensor or None but got grad of type "
                    f"{type(value).__name__}; wrap arrays with qs.tensor() or qs.from_numpy()"
                )
            if value.array.dtype != self.array.dtype:
                raise RuntimeError(
                    f"grad: assigned grad has data of a different type ({value.array.dtype}) "
                    f"than the tensor ({self.array.dtype})"
                )
            if value.array.shape != self.array.shape:
                raise RuntimeError(
                    f"grad: assigned grad has data of a different size (shape {value.array.shape}) "
                    f"than the tensor (shape {self.array.shape})"
                )
        self._grad = value

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
        if self.requires_grad and backends._local.module is not None:
            _check_not_differentiating(self, "item()")
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
        if self.requires_grad and backends._local.module is not None:
            _check_not_differentiating(self, "an ndarray (np.asarray)")
        arr = self.array
        if dtype is not None and arr.dtype != dtype:
            return arr.astype(dtype)
        return arr.copy() if copy else arr

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """DLPack export (``np.from_dlpack(t)``, ``torch.from_dlpack(t)``): the
        same memory, no copy (see quasar/interchange.py)."""
        if self.requires_grad:
            raise RuntimeError(
                "__dlpack__: can't export a tensor that requires grad (the other library could change it "
                "behind autograd's back); export t.detach() instead"
            )
        kwargs = {"stream": stream}  # NumPy accepts the newer keywords only when given
        if max_version is not None:
            kwargs["max_version"] = max_version
        if dl_device is not None:
            kwargs["dl_device"] = dl_device
        if copy is not None:
            kwargs["copy"] = copy
        return self.array.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        """(device type, device id): (1, 0), the CPU."""
        return self.array.__dlpack_device__()

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

    def to(self, *args, dtype=None, device=None, copy=False, non_blocking=False):
        """This tensor in another dtype (itself if nothing changes, unless copy=True);
        differentiable between floats. PyTorch's forms: ``to(dtype)``,
        ``to('cpu')``, ``to(other_tensor)``, ``to('cpu', dtype)``,
        ``to(device=..., dtype=...)``. quasar runs on the CPU only."""
        for arg in args:
            if isinstance(arg, Tensor):
                dtype = arg.array.dtype
            elif isinstance(arg, str) and arg.split(":")[0] in ("cpu", "cuda", "mps", "meta", "xpu"):
                device = arg
            elif dtype is None:
                dtype = arg
            else:
                raise TypeError(f"to: unexpected argument {arg!r}")
        if device is not None and str(device).split(":")[0] != "cpu":
            raise RuntimeError(f"to: quasar runs on the CPU only; device {device!r} is not available")
        dtype = self.array.dtype if dtype is None else np.dtype(dtype)
        if dtype == self.array.dtype:
            return ops.clone(self) if copy else self
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
        if not isinstance(requires_grad, (bool, np.bool_)):
            raise TypeError(
                f"requires_grad_: argument 'requires_grad' must be bool, not {type(requires_grad).__name__}"
            )
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

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate dself/dleaf into every leaf's ``.grad``.

        gradient: dL/dself, same shape as self; may be omitted for one-element
        tensors. retain_graph (default: create_graph) keeps the graph for
        another backward. create_graph=True makes the gradients tensors with
        a graph of their own, differentiable again. inputs: only these tensors
        (leaves or not) get ``.grad``.
        """
        if create_graph or inputs is not None:
            autograd.backward(self, gradient, retain_graph, create_graph, inputs)
            return
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
            grad = np.asarray(gradient.array if isinstance(gradient, Tensor) else gradient)
            if grad.dtype.kind not in "fiub":  # casting would drop an imaginary part or fail on text
                raise (RuntimeError if grad.dtype.kind == "c" else TypeError)(
                    f"backward: gradient has dtype {grad.dtype} but the tensor is {self.array.dtype}; "
                    "a real tensor needs a real gradient"
                )
            grad = grad.astype(self.array.dtype, copy=False)
            if grad.shape != self.array.shape:
                raise ValueError(
                    f"backward: gradient has shape {grad.shape} but the tensor has shape {self.shape}"
                )
        if self.grad_fn is None:  # a leaf: d self / d self = 1
            autograd._accumulate({self: grad}, (grad,))
            return
        autograd.run_backward((self,), (grad,), retain_graph=bool(retain_graph))

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
        return _elementwise.add(other, self)

    def __rsub__(self, other):
        return _elementwise.sub(other, self)

    def __rmul__(self, other):
        return _elementwise.mul(other, self)

    def __rtruediv__(self, other):
        return _elementwise.div(other, self)

    def __rpow__(self, other):
        return ops.pow(other, self)

    def __rmatmul__(self, other):
        return ops.matmul(other, self)

    def __pos__(self):
        return self

    def __setitem__(self, key, value):
        ops.setitem(self, key, value)

    # ------------------------------------------------------------ part A: PyTorch's tensor surface
    # (more methods are bound from ops at the bottom of this module)
    @property
    def device(self):
        """Always 'cpu': quasar computes on the CPU."""
        return "cpu"

    def cpu(self):
        return self

    def type_as(self, other):
        """This tensor in other's dtype."""
        if not isinstance(other, Tensor):
            raise TypeError(f"type_as: argument 'other' must be a Tensor, not {type(other).__name__}")
        return self.to(other.array.dtype)

    def nelement(self):
        return self.array.size

    def element_size(self):
        """Bytes per element."""
        return self.array.itemsize

    def where(self, condition, other):
        """self where condition is True, else other (PyTorch's method form of ``where``)."""
        return ops.where(condition, self, other)

    def short(self):
        return self.to(np.int16)

    def char(self):
        return self.to(np.int8)

    def byte(self):
        return self.to(np.uint8)

    def type(self, dtype=None):
        """PyTorch's ``type``: the dtype's name without an argument, else ``to(dtype)``."""
        return str(self.array.dtype) if dtype is None else self.to(dtype)

    def is_floating_point(self):
        return self.array.dtype.kind == "f"

    def new_tensor(self, data, dtype=None, requires_grad=False):
        """A new tensor from data, in this tensor's dtype unless dtype is given."""
        return Tensor(data, dtype=self.array.dtype if dtype is None else dtype, requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, requires_grad=False):
        return creation.zeros(*size, dtype=self.array.dtype if dtype is None else dtype, requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, requires_grad=False):
        return creation.ones(*size, dtype=self.array.dtype if dtype is None else dtype, requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, requires_grad=False):
        return creation.empty(*size, dtype=self.array.dtype if dtype is None else dtype, requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, requires_grad=False):
        return creation.full(
            size, fill_value, dtype=self.array.dtype if dtype is None else dtype, requires_grad=requires_grad
        )


autograd.Tensor = Tensor  # type: ignore[assignment]  # Function.apply wraps its outputs in this class


def _check_not_differentiating(t, what):
    """Inside a backward formula run for create_graph=True, turning a tensor
    that requires grad into NumPy values would cut the graph: a wrong second
    derivative. Say so instead."""
    from .backends import differentiable

    if differentiable.is_active():
        raise differentiable.NotDifferentiable(
            f"its backward turns a tensor that requires grad (shape {t.shape}) into {what}, "
            "which would cut the graph"
        )


def as_tensor(data, dtype=None):
    """``data`` as a Tensor: itself if it already is one (cast if dtype differs)."""
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    return Tensor._wrap(_to_array(data, dtype, copy=False, op="as_tensor"))


def is_number(value):
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


from . import creation, ops  # noqa: E402  (both import Tensor from this module)
from .ops import arithmetic as _arithmetic, elementwise as _elementwise  # noqa: E402

# Operators and methods are the op functions themselves: ``x * y`` calls
# ``ops.mul(x, y)`` and ``x.sum(dim=1)`` calls ``ops.sum(x, dim=1)``.
for _dunder, _op in {
    "__pow__": "pow", "__matmul__": "matmul", "__neg__": "neg", "__abs__": "abs", "__getitem__": "getitem",
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

# the operators: the plain (fastest) forms of add, sub, mul and div
Tensor.__add__, Tensor.__sub__ = _elementwise.add, _elementwise.sub
Tensor.__mul__, Tensor.__truediv__ = _elementwise.mul, _elementwise.div

# part A: PyTorch's operators, in-place operators and methods beyond the core.
# ``a += b`` updates a in place (same object, same memory, views see it), as in
# PyTorch; ``@=`` has no in-place form and rebinds, as in PyTorch.
for _dunder, _op in {
    "__floordiv__": "floor_divide", "__mod__": "remainder", "__and__": "bitwise_and",
    "__or__": "bitwise_or", "__xor__": "bitwise_xor", "__lshift__": "bitwise_left_shift",
    "__rshift__": "bitwise_right_shift", "__invert__": "bitwise_not",
    "__iadd__": "add_", "__isub__": "sub_", "__imul__": "mul_", "__itruediv__": "div_",
    "__ifloordiv__": "floor_divide_", "__imod__": "remainder_", "__ipow__": "pow_",
    "__iand__": "bitwise_and_", "__ior__": "bitwise_or_", "__ixor__": "bitwise_xor_",
    "__ilshift__": "bitwise_left_shift_", "__irshift__": "bitwise_right_shift_",
}.items():
    setattr(Tensor, _dunder, getattr(ops, _op))
for _dunder, _op in {
    "__rfloordiv__": "rfloor_divide", "__rmod__": "rremainder", "__rand__": "rbitwise_and",
    "__ror__": "rbitwise_or", "__rxor__": "rbitwise_xor", "__rlshift__": "rbitwise_left_shift",
    "__rrshift__": "rbitwise_right_shift",
}.items():
    setattr(Tensor, _dunder, getattr(_arithmetic, _op))
for _name in (
    "add sub mul div true_divide floor_divide remainder matmul mm bmm mv dot outer clone contiguous "
    "bitwise_and bitwise_or bitwise_xor bitwise_not bitwise_left_shift bitwise_right_shift "
    "floor_divide_ remainder_ pow_ bitwise_and_ bitwise_or_ bitwise_xor_ bitwise_left_shift_ "
    "bitwise_right_shift_ bitwise_not_ neg_ abs_"
).split():
    setattr(Tensor, _name, getattr(ops, _name))

# part B: the math library and more reductions (issue 9), as Tensor methods
for _name in (
    "tan asin acos atan atan2 arctan2 sinh cosh asinh acosh atanh log2 log10 exp2 expm1 log1p rsqrt "
    "reciprocal square sign sgn floor ceil round trunc fix frac fmod copysign hypot logaddexp logaddexp2 "
    "lerp xlogy nan_to_num isnan isinf isfinite isposinf isneginf isclose allclose equal logit erfinv "
    "any all count_nonzero nansum nanmean aminmax median cumprod cummax cummin logcumsumexp"
).split():
    setattr(Tensor, _name, getattr(ops, _name))
# part C: sorting, selection, scatter, shape, products and random (a block of its own to ease merging)
for _name in (
    "sort argsort msort topk kthvalue unique unique_consecutive nonzero argwhere masked_select take "
    "scatter scatter_ scatter_add scatter_add_ scatter_reduce scatter_reduce_ "
    "index_add index_add_ index_copy index_copy_ index_fill index_fill_ index_put index_put_ "
    "unflatten movedim moveaxis swapaxes swapdims diagonal diag diag_embed trace tensor_split unbind select "
    "repeat_interleave addmm baddbmm"
).split():
    setattr(Tensor, _name, getattr(ops, _name))
Tensor.unfold = ops.layout.unfold
from . import random as _random  # noqa: E402

for _name in "uniform_ normal_ bernoulli_ exponential_ random_".split():
    setattr(Tensor, _name, getattr(_random, _name))
Tensor.bernoulli = _random.bernoulli
Tensor.multinomial = _random.multinomial
