"""``quasar.optim``: SGD, Adam, AdamW, RMSprop, Adagrad; schedulers in ``optim.lr_scheduler``.

An optimizer holds the parameters (in "param groups", each a dict of
``params`` and hyperparameters, as in PyTorch) and, per parameter, its state
(momentum buffer; Adam's moments and step count). ``step()`` updates each
parameter with ONE backend kernel call (``sgd_step`` / ``adam_step``) that
writes the parameter and its state in place: no temporaries per step, and
the same numbers on both backends. A parameter changed in place gets its
version counter bumped, so a graph that saved the old value refuses to
backward through it.
"""

import numpy as np

from .. import backends
from ..autograd import enable_grad, no_grad
from ..tensor import Tensor


class Optimizer:
    """Base class: param groups, ``zero_grad``, ``state_dict``/``load_state_dict``.

    params: an iterable of tensors that require grad, or of dicts
    ``{"params": [...], "lr": ...}`` (per-group hyperparameters); defaults:
    the hyperparameters a group gets when it does not set them.
    """

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}  # parameter -> its state dict (filled on its first step)
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of tensors (e.g. model.parameters()), "
                "got a single Tensor; wrap it in a list"
            )
        groups = list(params)
        if not groups:
            raise ValueError(
                f"{type(self).__name__} got an empty parameter list (did the model register any Parameters?)"
            )
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group):
        """Add ``{"params": [...], **hyperparameters}``; missing hyperparameters come from the defaults."""
        name = type(self).__name__
        if not isinstance(group, dict):
            raise TypeError(f"{name}: a param group must be a dict, got {type(group).__name__}")
        if "params" not in group:  # KeyError, as in PyTorch, but saying which key and where
            raise KeyError(f"{name}: a param group must have a 'params' entry; this one has keys {sorted(map(str, group))}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, not a Tensor")
            if not p.requires_grad or p.grad_fn is not None:
                raise ValueError(f"{name}: parameter {i} (shape {p.shape}) is not a leaf tensor that requires grad")
            if id(p) in seen:
                raise ValueError(f"{name}: parameter {i} (shape {p.shape}) appears more than once")
            seen.add(id(p))
        if not params:
            raise ValueError(f"{name} got a param group with no parameters")
        full = {**self.defaults, **group, "params": params}
        self._check_hyperparameters(full)
        self.param_groups.append(full)

    def _check_hyperparameters(self, group):
        lr = group["lr"]
        if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not lr >= 0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate lr={lr!r}; it must be a number >= 0")
        if group.get("weight_decay", 0) < 0:
            raise ValueError(f"{type(self).__name__}: invalid weight_decay={group['weight_decay']!r}; it must be >= 0")

    def _parameters(self):
        for group in self.param_groups:
            yield from group["params"]

    def zero_grad(self, set_to_none=True):
        """Forget every gradient (set_to_none=True, the default) or fill it with zeros."""
        for p in self._parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.array[...] = 0

    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` (optional)
        recomputes and returns the loss first (with gradients)."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        B = backends.current()
        with no_grad():
            for group in self.param_groups:
                self._check_hyperparameters(group)
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    grad = p.grad.array
                    if grad.shape != p.array.shape or grad.dtype != p.array.dtype:
                        raise ValueError(
                            f"{type(self).__name__}.step: a gradient of {grad.dtype}{grad.shape} for a "
                            f"parameter of {p.array.dtype}{p.array.shape}"
                        )
                    self._update(B, p, grad, self.state.setdefault(p, {}), group)
                    p._version[0] += 1  # p changed in place
        return loss

    def _update(self, B, param, grad, state, group):
        raise NotImplementedError

    # ------------------------------------------------------------ saving and loading
    def state_dict(self):
        """{"state": {index: {name: value}}, "param_groups": [{hyperparameters, "params": [index, ...]}]}.

        Parameters are numbered in group order, as in PyTorch; the arrays are
        the live state (``qs.save`` writes a copy).
        """
        index = {id(p): i for i, p in enumerate(self._parameters())}
        groups = [{**g, "params": [index[id(p)] for p in g["params"]]} for g in self.param_groups]
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if s}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyperparameters and state saved by ``state_dict()`` from an
        optimizer over parameters of the same shapes, in the same order."""
        name = type(self).__name__
        for key in ("state", "param_groups"):
            if key not in state_dict:
                raise KeyError(f"{name}.load_state_dict: missing key {key!r}")
        extra = sorted(set(state_dict) - {"state", "param_groups"})
        if extra:
            raise KeyError(f"{name}.load_state_dict: unexpected keys {extra}")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: {len(saved_groups)} param groups saved, this optimizer has "
                f"{len(self.param_groups)}"
            )
        params = list(self._parameters())
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: param group {i} saved {len(saved['params'])} parameters, "
                    f"this optimizer has {len(group['params'])}"
                )
        new_state = {}
        for key, saved in state_dict["state"].items():
            if not isinstance(key, (int, np.integer)) or not 0 <= key < len(params):
                raise KeyError(f"{name}.load_state_dict: state for parameter {key!r}, which does not exist")
            p = params[key]
            new_state[p] = {}
            for field, value in saved.items():
                if isinstance(value, (np.ndarray, Tensor)):
                    value = np.array(value.array if isinstance(value, Tensor) else value, dtype=p.array.dtype)
                    if value.shape != p.array.shape:
                        raise ValueError(
                            f"{name}.load_state_dict: state {field!r} of parameter {key} has shape "
                            f"{value.shape}, the parameter has shape {p.array.shape}"
                        )
                new_state[p][field] = value
        for saved, group in zip(saved_groups, self.param_groups):
            for key, value in saved.items():
                if key != "params":
                    group[key] = tuple(value) if isinstance(value, list) else value
        self.state = new_state

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in group.items() if k != "params"]
        return "\n".join(lines) + "\n)"


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's rule:

        d = grad + weight_decay * p
        buf = d (first step), else momentum * buf + (1 - dampening) * d
        d = d + momentum * buf  if nesterov  else  buf        (when momentum > 0)
        p = p - lr * d
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        if momentum < 0:
            raise ValueError(f"SGD: invalid momentum={momentum!r}; it must be >= 0")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov momentum needs momentum > 0 and dampening = 0")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov)
        super().__init__(params, defaults)

    def _update(self, B, param, grad, state, group):
        momentum = group["momentum"]
        buf = state.get("momentum_buffer")
        first = buf is None
        if momentum and first:
            buf = state["momentum_buffer"] = np.empty_like(param.array)  # filled by the kernel
        B.sgd_step(
            param.array, grad, buf if momentum else None, group["lr"], momentum, group["dampening"],
            group["weight_decay"], group["nesterov"], first,
        )


class Adam(Optimizer):
    """Adam (Kingma & Ba), PyTorch's rule, with bias correction:

        d = grad + weight_decay * p                 (Adam: L2 penalty in the gradient)
        m = beta1 * m + (1 - beta1) * d;   v = beta2 * v + (1 - beta2) * d**2
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
    """

    decoupled = False  # AdamW decays the weights directly instead

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        beta1, beta2 = betas
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= beta < 1:
                raise ValueError(f"{type(self).__name__}: invalid {name}={beta!r}; it must be in [0, 1)")
        if eps < 0:
            raise ValueError(f"{type(self).__name__}: invalid eps={eps!r}; it must be >= 0")
        super().__init__(params, dict(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay))

    def _update(self, B, param, grad, state, group):
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param.array)  # m, the first moment
            state["exp_avg_sq"] = np.zeros_like(param.array)  # v, the second moment
        state["step"] += 1
        beta1, beta2 = group["betas"]
        B.adam_step(
            param.array, grad, state["exp_avg"], state["exp_avg_sq"], state["step"], group["lr"],
            beta1, beta2, group["eps"], group["weight_decay"], self.decoupled,
        )


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): first
    p = p * (1 - lr * weight_decay), then Adam's step on the plain gradient."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


class RMSprop(Optimizer):
    """RMSprop (Hinton), PyTorch's rule:

        d = grad + weight_decay * p
        square_avg = alpha * square_avg + (1 - alpha) * d**2
        grad_avg = alpha * grad_avg + (1 - alpha) * d               (centered only)
        avg = sqrt(square_avg - grad_avg**2) + eps   if centered   else  sqrt(square_avg) + eps
        buf = momentum * buf + d / avg;  p = p - lr * buf           (momentum > 0)
        p = p - lr * d / avg                                        (otherwise)
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        if not 0 <= alpha:
            raise ValueError(f"RMSprop: invalid alpha={alpha!r}; it must be >= 0")
        if eps < 0 or momentum < 0:
            raise ValueError(f"RMSprop: invalid eps={eps!r} or momentum={momentum!r}; both must be >= 0")
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered)
        super().__init__(params, defaults)

    def _update(self, B, param, grad, state, group):
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(param.array)
            if group["momentum"] > 0:
                state["momentum_buffer"] = np.zeros_like(param.array)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(param.array)
        state["step"] += 1
        B.rmsprop_step(
            param.array, grad, state["square_avg"], state.get("grad_avg"),
            state.get("momentum_buffer") if group["momentum"] > 0 else None,
            group["lr"], group["alpha"], group["eps"], group["weight_decay"], group["momentum"],
        )


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.), PyTorch's rule, at step t (from 1):

        d = grad + weight_decay * p
        sum = sum + d**2                       (sum starts at initial_accumulator_value)
        p = p - lr / (1 + (t - 1) * lr_decay) * d / (sqrt(sum) + eps)
    """

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
        if lr_decay < 0 or initial_accumulator_value < 0 or eps < 0:
            raise ValueError(
                f"Adagrad: lr_decay={lr_decay!r}, initial_accumulator_value={initial_accumulator_value!r} "
                f"and eps={eps!r} must all be >= 0"
            )
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps)
        super().__init__(params, defaults)

    def _update(self, B, param, grad, state, group):
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(param.array, group["initial_accumulator_value"])
        state["step"] += 1
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        B.adagrad_step(param.array, grad, state["sum"], clr, group["eps"], group["weight_decay"])


from . import lr_scheduler  # noqa: E402,F401  (the schedulers need Optimizer)
from .lr_scheduler import CosineAnnealingLR, StepLR  # noqa: E402,F401  (also here, as before)
