"""Recurrent modules: ``RNN``, ``LSTM``, ``GRU`` and their one-step cells.

Names, layouts and initialisation are PyTorch's, so a PyTorch state dict
loads unchanged: ``weight_ih_l{k}`` (G*H, input), ``weight_hh_l{k}`` (G*H, H),
``bias_ih_l{k}``, ``bias_hh_l{k}`` (G*H,), with ``_reverse`` for the second
direction; G = 4 for LSTM (gates i, f, g, o), 3 for GRU (r, z, n), 1 for RNN.
Every weight starts uniform in +-1/sqrt(hidden_size).

The work is in ``quasar.ops.recurrent``: one graph node per layer and
direction, whose forward and backward run the time loop over fused kernels.
"""

import math

import numpy as np

from .. import ops
from ..ops.recurrent import GRULayer, LSTMLayer, RNNLayer
from ..tensor import Tensor
from . import functional as F
from . import init
from .layers import _float_dtype
from .module import Module, Parameter

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _positive_int(module, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{module}: {name} must be a positive int, got {value!r}")
    return int(value)


def _zeros(dtype, shape):
    return Tensor._wrap(np.zeros(shape, dtype))


def _run_layer(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse):
    """One layer and direction over x (T, N, I): (outputs (T, N, H), h_n, c_n or None)."""
    T = x.shape[0]
    if b_ih is None:  # bias=False: zero biases that take no gradient
        b_ih = b_hh = _zeros(x.dtype, w_ih.shape[:1])
    last = 0 if reverse else T - 1
    if mode == "LSTM":
        packed = LSTMLayer.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=reverse)
        outputs = packed[:T]
        return outputs, packed[last], packed[T]
    if mode == "GRU":
        outputs = GRULayer.apply(x, h0, w_ih, w_hh, b_ih, b_hh, reverse=reverse)
    else:
        nonlinearity = "tanh" if mode == "RNN_TANH" else "relu"
        outputs = RNNLayer.apply(x, h0, w_ih, w_hh, b_ih, b_hh, reverse=reverse, nonlinearity=nonlinearity)
    return outputs, outputs[last], None


def _check_input(name, input, input_size, batched_ndim):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
    if input.dtype.kind != "f":
        raise TypeError(
            f"{name}: input must be float32 or float64, got {input.dtype} (shape {input.shape}); "
            "convert with .float(), or embed integer tokens first"
        )
    if input.ndim not in (batched_ndim - 1, batched_ndim) or input.shape[-1] != input_size:
        raise ValueError(
            f"{name}: expected input of {batched_ndim}-D (batched) or {batched_ndim - 1}-D (unbatched) shape "
            f"ending in input_size={input_size}, got {input.shape}"
        )


def _check_dtype(name, input, weight):
    if input.dtype != weight.dtype:
        raise TypeError(
            f"{name}: the input is {input.dtype} but the parameters are {weight.dtype}; convert the input "
            f"(.float() / .double()) or the module (.to(dtype))"
        )


def _check_state(name, label, state, shape, dtype):
    if not isinstance(state, Tensor):
        raise TypeError(f"{name}: {label} must be a Tensor, got {type(state).__name__}")
    if state.shape != shape:
        raise ValueError(f"{name}: expected {label} of shape {shape}, got {state.shape}")
    if state.dtype != dtype:
        raise TypeError(f"{name}: {label} is {state.dtype} but the input is {dtype}")


class RNNBase(Module):
    """What RNN, LSTM and GRU share: the parameters, the checks, the layer loop."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, dtype=None):
        super().__init__()
        name = type(self).__name__
        self.mode = mode
        self.input_size = _positive_int(name, "input_size", input_size)
        self.hidden_size = _positive_int(name, "hidden_size", hidden_size)
        self.num_layers = _positive_int(name, "num_layers", num_layers)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
        if proj_size:
            raise NotImplementedError(f"{name}: proj_size is not supported")
        self.bias, self.batch_first, self.dropout = bool(bias), bool(batch_first), float(dropout)
        self.bidirectional, self.proj_size = bool(bidirectional), 0
        dtype = _float_dtype(dtype)
        directions = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        self._flat_weights_names = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = [("weight_ih", (gate_size, layer_input)), ("weight_hh", (gate_size, hidden_size))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                for prefix, shape in shapes:
                    setattr(self, prefix + suffix, Parameter(np.empty(shape, dtype)))
                    self._flat_weights_names.append(prefix + suffix)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def flatten_parameters(self):
        """PyTorch's cuDNN weight-packing call: nothing to do on quasar's CPU kernels."""

    def _layer_weights(self, layer, direction):
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh") if self.bias else ("weight_ih", "weight_hh")
        weights = [getattr(self, n + suffix) for n in names]
        return weights + [None, None] if not self.bias else weights

    def forward(self, input, hx=None):
        name = type(self).__name__
        _check_input(name, input, self.input_size, 3)
        _check_dtype(name, input, self.weight_ih_l0)
        batched = input.ndim == 3
        x = input if batched else input.unsqueeze(1)
        if batched and self.batch_first:
            x = x.transpose(0, 1)
        T, N = x.shape[:2]
        if T == 0:
            raise ValueError(f"{name}: the input sequence has length 0 (shape {input.shape})")
        directions = 2 if self.bidirectional else 1
        state_shape = (self.num_layers * directions, N, self.hidden_size)
        h0, c0 = self._initial_states(name, hx, state_shape, batched, x.dtype)
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                index = layer * directions + direction
                out, h, c = _run_layer(self.mode, x, h0[index], None if c0 is None else c0[index],
                                       *self._layer_weights(layer, direction), reverse=bool(direction))
                outputs.append(out)
                h_n.append(h)
                c_n.append(c)
            x = outputs[0] if directions == 1 else ops.cat(outputs, dim=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout)
        output, h_n = x, ops.stack(h_n)
        c_n = ops.stack(c_n) if c0 is not None else None
        if not batched:
            output, h_n = output.squeeze(1), h_n.squeeze(1)
            c_n = c_n.squeeze(1) if c_n is not None else None
        elif self.batch_first:
            output = output.transpose(0, 1)
        return (output, (h_n, c_n)) if self.mode == "LSTM" else (output, h_n)

    def _initial_states(self, name, hx, state_shape, batched, dtype):
        """(h0, c0) as (layers * directions, N, H) tensors; c0 is None except for LSTM."""
        shown = state_shape if batched else state_shape[:1] + state_shape[2:]
        if self.mode == "LSTM":
            if hx is None:
                return _zeros(dtype, state_shape), _zeros(dtype, state_shape)
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{name}: hx must be a tuple (h_0, c_0), got {type(hx).__name__}")
            states = []
            for label, state in zip(("h_0", "c_0"), hx):
                _check_state(name, label, state, shown, dtype)
                states.append(state if batched else state.unsqueeze(1))
            return states
        if hx is None:
            return _zeros(dtype, state_shape), None
        _check_state(name, "h_0", hx, shown, dtype)
        return (hx if batched else hx.unsqueeze(1)), None

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        for key, default in (("num_layers", 1), ("nonlinearity", "tanh"), ("bias", True), ("batch_first", False),
                             ("dropout", 0.0), ("bidirectional", False)):
            if getattr(self, key, default) != default:
                text += f", {key}={getattr(self, key)}"
        return text


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu).

    forward(input, h_0=None) -> (output, h_n): input (T, N, input_size)
    ((N, T, ...) with batch_first, (T, input_size) unbatched); output
    (T, N, directions * hidden_size); h_n (num_layers * directions, N, hidden_size).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory, PyTorch's gates (i, f, g, o):

        i, f, o = sigmoid(...), g = tanh(...)    (each x W_ih^T + b_ih + h W_hh^T + b_hh)
        c_t = f * c_{t-1} + i * g;   h_t = o * tanh(c_t)

    forward(input, (h_0, c_0)=None) -> (output, (h_n, c_n)); shapes as RNN's.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, dtype)


class GRU(RNNBase):
    """Gated recurrent unit, PyTorch's gates (r, z, n):

        r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr),  z likewise
        n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn));  h_t = (1 - z) * n + z * h_{t-1}

    forward(input, h_0=None) -> (output, h_n); shapes as RNN's.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype=dtype)


# ---------------------------------------------------------------- cells


class RNNCellBase(Module):
    """One time step: the layer ops with T = 1. Parameters ``weight_ih``,
    ``weight_hh``, ``bias_ih``, ``bias_hh``, uniform in +-1/sqrt(hidden_size)."""

    def __init__(self, mode, input_size, hidden_size, bias=True, dtype=None):
        super().__init__()
        name = type(self).__name__
        self.mode = mode
        self.input_size = _positive_int(name, "input_size", input_size)
        self.hidden_size = _positive_int(name, "hidden_size", hidden_size)
        self.bias = bool(bias)
        dtype = _float_dtype(dtype)
        gate_size = _GATES[self.mode] * hidden_size
        self.weight_ih = Parameter(np.empty((gate_size, input_size), dtype))
        self.weight_hh = Parameter(np.empty((gate_size, hidden_size), dtype))
        self.bias_ih = Parameter(np.empty(gate_size, dtype)) if bias else None
        self.bias_hh = Parameter(np.empty(gate_size, dtype)) if bias else None
        bound = 1.0 / math.sqrt(hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def _step(self, input, hx):
        """(h', c' or None) for input (N, I) or (I,) and hx as the module takes it."""
        name = type(self).__name__
        _check_input(name, input, self.input_size, 2)
        _check_dtype(name, input, self.weight_ih)
        batched = input.ndim == 2
        x = (input if batched else input.unsqueeze(0)).unsqueeze(0)  # (1, N, I)
        N = x.shape[1]
        shape = (N, self.hidden_size) if batched else (self.hidden_size,)
        lstm = self.mode == "LSTM"
        if hx is None:
            states = [_zeros(x.dtype, (N, self.hidden_size))] * (2 if lstm else 1)
        else:
            given = hx if lstm else (hx,)
            if lstm and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
                raise TypeError(f"{name}: hx must be a tuple (h, c), got {type(hx).__name__}")
            states = []
            for label, state in zip(("h", "c"), given):
                _check_state(name, label, state, shape, x.dtype)
                states.append(state if batched else state.unsqueeze(0))
        _, h, c = _run_layer(self.mode, x, states[0], states[1] if lstm else None, self.weight_ih, self.weight_hh,
                             self.bias_ih, self.bias_hh, reverse=False)
        if not batched:
            h = h.squeeze(0)
            c = c.squeeze(0) if c is not None else None
        return h, c

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu); forward(input, hx=None) -> h'."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, bias, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        return self._step(input, hx)[0]


class LSTMCell(RNNCellBase):
    """One LSTM step: forward(input, (h, c)=None) -> (h', c')."""

    def __init__(self, input_size, hidden_size, bias=True, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, bias, dtype)

    def forward(self, input, hx=None):
        return self._step(input, hx)


class GRUCell(RNNCellBase):
    """One GRU step: forward(input, hx=None) -> h'."""

    def __init__(self, input_size, hidden_size, bias=True, dtype=None):
        super().__init__("GRU", input_size, hidden_size, bias, dtype)

    def forward(self, input, hx=None):
        return self._step(input, hx)[0]
