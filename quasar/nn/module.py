"""``Module`` and ``Parameter``: the bookkeeping every layer shares.

A Module notices, in ``__setattr__``, every :class:`Parameter` and every
sub-module assigned to it, in assignment order; ``register_buffer`` adds
tensors that are state but not learnable (batch norm's running statistics).
From that registry come ``parameters()``, ``buffers()``, ``state_dict()``, ``train()``/``eval()``, casting and the
nested ``repr``: a layer only creates its parameters and writes ``forward``.
"""

from collections import OrderedDict

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a module's learnable weight: requires grad, and a
    Module registers it when it is assigned as an attribute.

    ``Parameter(tensor)`` shares the tensor's memory, as in PyTorch; other data is copied.
    """

    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        super().__init__(data)  # validates (and copies) the data
        if isinstance(data, Tensor):
            self.array = data.array  # Parameter(tensor) wraps the same memory, as in PyTorch
        if self.array.dtype.kind != "f":
            raise TypeError(f"Parameter: parameters must be float32 or float64, got dtype {self.array.dtype}")
        self.requires_grad_(requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of layers and models: subclass it, assign layers and
    Parameters in ``__init__`` (after ``super().__init__()``), write ``forward``.

        class TwoLayer(qs.nn.Module):
            def __init__(self):
                super().__init__()
                self.hidden = qs.nn.Linear(4, 8)
                self.out = qs.nn.Linear(8, 1)

            def forward(self, x):
                return self.out(self.hidden(x).relu())
    """

    def __init__(self):
        # object.__setattr__: our own __setattr__ needs these dicts to exist
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "training", True)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward() method")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() is called; "
                f"call super().__init__() first in {type(self).__name__}.__init__"
            )
        if name in self._buffers:  # assigning to a buffer replaces its tensor, as in PyTorch
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r} (a Tensor or None)")
            self._buffers[name] = value
            object.__setattr__(self, name, value)
            return
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers.pop(name, None)
        self._non_persistent.discard(name)
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        """``setattr(self, name, param)`` for a name chosen at run time."""
        setattr(self, name, param)

    def register_buffer(self, name, tensor, persistent=True):
        """Keep ``tensor`` (or None) as module state that is not a parameter: it
        follows ``to()``, and ``state_dict()`` holds it unless ``persistent=False``."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"register_buffer: buffer name must be a non-empty string without '.', got {name!r}")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: buffer {name!r} must be a Tensor or None, got {type(tensor).__name__}")
        if name in self._parameters or name in self._modules:
            raise KeyError(f"register_buffer: attribute {name!r} already exists as a parameter or module")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name, module):
        """``setattr(self, name, module)`` for a name chosen at run time (Sequential's "0", "1", ...)."""
        if not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        setattr(self, name, module)

    # ------------------------------------------------------------ walking the tree
    def named_children(self):
        return iter(self._modules.items())

    def children(self):
        return iter(self._modules.values())

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(dotted name, module) for this module and every module inside it, parents
        first; a module reachable twice (shared) comes once unless remove_duplicate=False."""
        stack = [(prefix, self)]
        seen = set() if memo is None else memo
        while stack:
            name, module = stack.pop()
            if remove_duplicate:
                if module in seen:  # memo holds modules, as PyTorch's does (hashed by identity)
                    continue
                seen.add(module)
            yield name, module
            children = [(f"{name}.{child}" if name else child, m) for child, m in module._modules.items()]
            stack.extend(reversed(children))

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, Parameter) for every parameter: "0.weight", ... A Parameter
        shared by two modules (tied weights) comes once, under its first name, so an
        optimizer updates it once; recurse=False: this module's own parameters only."""
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, param in module._parameters.items():
                if param is None:
                    continue
                if remove_duplicate:
                    if id(param) in seen:
                        continue
                    seen.add(id(param))
                yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self, recurse=True):
        """Every learnable Parameter, in registration order (what an optimizer takes)."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix=""):
        """(dotted name, tensor) for every buffer that is not None: "0.running_mean", ..."""
        seen = set()
        for module_name, module in self.named_modules(prefix=prefix):
            for name, buffer in module._buffers.items():
                if buffer is not None and id(buffer) not in seen:
                    seen.add(id(buffer))
                    yield (f"{module_name}.{name}" if module_name else name), buffer

    def buffers(self):
        for _, buffer in self.named_buffers():
            yield buffer

    def _state_items(self):
        """(dotted name, tensor) for every parameter and persistent buffer, module by
        module (each module's parameters, then its buffers), as PyTorch orders a state dict.
        A tied weight appears under each of its names, as in PyTorch's state dict
        (nanoGPT's checkpoints hold both ``transformer.wte.weight`` and ``lm_head.weight``)."""
        for module_name, module in self.named_modules(remove_duplicate=False):
            entries = list(module._parameters.items()) + [
                (name, b) for name, b in module._buffers.items() if name not in module._non_persistent
            ]
            for name, tensor in entries:
                if tensor is not None:
                    yield (f"{module_name}.{name}" if module_name else name), tensor

    def apply(self, fn):
        """Call fn(module) on every sub-module (children first, as in PyTorch), then on
        self; returns self. The usual way to initialise: ``model.apply(init_weights)``."""
        for module in self._modules.values():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------ training state
    def zero_grad(self, set_to_none=True):
        """Forget every parameter's gradient (or fill it with zeros)."""
        for param in self.parameters():
            if set_to_none or param.grad is None:
                param.grad = None
            else:
                param.grad.array[...] = 0

    def train(self, mode=True):
        """Training mode (Dropout drops) for this module and all inside it; returns self."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self):
        """Evaluation mode (Dropout is the identity); same as ``train(False)``."""
        return self.train(False)

    # ------------------------------------------------------------ saving and loading
    def state_dict(self):
        """{dotted name: tensor} for every parameter and persistent buffer; the
        tensors share the module's memory (copy them, or ``qs.save`` them, to keep a snapshot)."""
        return OrderedDict((name, tensor.detach()) for name, tensor in self._state_items())

    def load_state_dict(self, state_dict, strict=True):
        """Copy values into the parameters, in place (an optimizer holding
        them keeps working). Raises KeyError naming missing or unexpected keys
        (strict) and ValueError naming a shape mismatch. Returns (missing, unexpected)."""
        params = dict(self._state_items())
        missing = [name for name in params if name not in state_dict]
        unexpected = [name for name in state_dict if name not in params]
        if strict and (missing or unexpected):
            problems = []
            if missing:
                problems.append(f"missing keys {missing}")
            if unexpected:
                problems.append(f"unexpected keys {unexpected}")
            raise KeyError(f"load_state_dict for {type(self).__name__}: " + "; ".join(problems))
        for name, param in params.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            value = value.array if isinstance(value, Tensor) else np.asarray(value)
            if value.shape != param.shape:
                raise ValueError(
                    f"load_state_dict for {type(self).__name__}: {name!r} has shape {value.shape} in the "
                    f"state dict but {param.shape} in the model"
                )
        with no_grad():
            for name, param in params.items():
                if name in state_dict:
                    value = state_dict[name]
                    value = value.array if isinstance(value, Tensor) else np.asarray(value)
                    param.array[...] = value.astype(param.array.dtype, copy=False)
                    param._version[0] += 1
        return missing, unexpected

    # ------------------------------------------------------------ dtype
    def to(self, dtype):
        """Cast every parameter (and its grad) and every float buffer to ``dtype``
        in place; returns self. Integer buffers (num_batches_tracked) keep theirs.

        The Parameter objects stay the same, but cast before building the
        optimizer: an optimizer's state (momentum, Adam's moments) keeps its dtype."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"Module.to: parameters must be float32 or float64, got {dtype}")
        for param in self.parameters():
            if param.array.dtype != dtype:
                param.array = param.array.astype(dtype)
                if param.grad is not None:
                    param.grad = Tensor._wrap(param.grad.array.astype(dtype))
                param._version[0] += 1
        for _, buffer in self.named_buffers():
            if buffer.array.dtype.kind == "f" and buffer.array.dtype != dtype:
                buffer.array = buffer.array.astype(dtype)
                buffer._version[0] += 1
        return self

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    # ------------------------------------------------------------ printing
    def extra_repr(self):
        """The text inside this module's parentheses: its settings (override in layers)."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        if not self._modules:
            return f"{type(self).__name__}({extra})"
        lines = extra.split("\n") if extra else []
        for name, module in self._modules.items():
            nested = repr(module).replace("\n", "\n  ")  # indent the child's own children
            lines.append(f"({name}): {nested}")
        return f"{type(self).__name__}(\n" + "\n".join("  " + line for line in lines) + "\n)"
