"""Exchange with other libraries: DLPack both ways with NumPy (zero-copy),
safetensors files made by the safetensors package's NumPy API, and state
dict names and shapes that are PyTorch's for every layer quasar has."""

import inspect

import numpy as np
import pytest
import safetensors.numpy

import quasar as qs
from quasar import nn

# ---------------------------------------------------------------- DLPack


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32, np.bool_])
def test_dlpack_numpy_to_quasar_shares_memory(dtype):
    array = np.arange(6).reshape(2, 3).astype(dtype)
    t = qs.from_dlpack(array)
    assert t.dtype == array.dtype and t.shape == (2, 3)
    assert np.shares_memory(t.array, array)
    assert np.array_equal(t.array, array)


def test_dlpack_quasar_to_numpy_shares_memory_both_ways():
    t = qs.arange(6, dtype=qs.float64).reshape(2, 3)
    assert t.__dlpack_device__() == (1, 0)  # kDLCPU, device 0
    view = np.from_dlpack(t)
    assert np.shares_memory(view, t.array)
    view[0, 0] = 42.0  # one buffer: the change shows on the quasar side
    assert t[0, 0].item() == 42.0
    back = qs.from_dlpack(view)
    assert np.shares_memory(back.array, t.array)


def test_dlpack_of_a_strided_view_and_a_0d_tensor():
    t = qs.arange(12, dtype=qs.float32).reshape(3, 4)[:, ::2]
    assert np.array_equal(np.from_dlpack(t), t.array)
    assert np.from_dlpack(qs.tensor(2.5)).shape == ()


def test_dlpack_refuses_a_tensor_that_requires_grad_and_foreign_objects():
    w = qs.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad.*detach"):
        np.from_dlpack(w)
    assert np.shares_memory(np.from_dlpack(w.detach()), w.array)
    with pytest.raises(TypeError, match="from_dlpack: expected an object with __dlpack__"):
        qs.from_dlpack([1.0, 2.0])
    with pytest.raises(TypeError, match="from_dlpack: dtype float16"):
        qs.from_dlpack(np.ones(2, np.float16))


# ---------------------------------------------------------------- safetensors


def test_a_file_written_by_safetensors_loads_into_a_model(tmp_path):
    rng = np.random.default_rng(0)
    weights = {  # as torch.nn.Sequential(Linear(4, 8), ReLU(), Linear(8, 2)) names them
        "0.weight": rng.standard_normal((8, 4)).astype(np.float32),
        "0.bias": rng.standard_normal(8).astype(np.float32),
        "2.weight": rng.standard_normal((2, 8)).astype(np.float32),
        "2.bias": rng.standard_normal(2).astype(np.float32),
    }
    path = tmp_path / "model.safetensors"
    safetensors.numpy.save_file(weights, str(path))
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    model.load_state_dict(qs.load(path))
    for name, param in model.named_parameters():
        assert np.array_equal(param.array, weights[name])
    x = rng.standard_normal((3, 4)).astype(np.float32)
    expected = np.maximum(x @ weights["0.weight"].T + weights["0.bias"], 0) @ weights["2.weight"].T + weights["2.bias"]
    np.testing.assert_allclose(model(qs.tensor(x)).array, expected, rtol=1e-5, atol=1e-6)


def test_a_state_dict_saved_by_quasar_reads_back_with_safetensors(tmp_path):
    qs.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.LayerNorm(5), nn.Linear(5, 1, dtype=qs.float64))
    path = str(tmp_path / "model.safetensors")
    qs.save(model.state_dict(), path)
    read = safetensors.numpy.load_file(path)
    assert set(read) == set(model.state_dict())
    for name, value in model.state_dict().items():
        assert read[name].dtype == value.dtype and np.array_equal(read[name], value.array)
    again = qs.load(path)
    assert all(isinstance(t, qs.Tensor) and not t.requires_grad for t in again.values())
    model.load_state_dict(again)


def test_safetensors_round_trip_keeps_dtypes_and_strided_arrays(tmp_path):
    state = {
        "f64": qs.randn(2, 3, dtype=qs.float64),
        "i64": qs.arange(4),
        "i32": qs.tensor(np.array([1, 2], np.int32)),
        "mask": qs.tensor(np.array([True, False])),
        "strided": qs.arange(12, dtype=qs.float32).reshape(3, 4)[:, ::2],
        "array": np.eye(2),
    }
    path = tmp_path / "s.safetensors"
    qs.save(state, path)
    loaded = qs.load(path)
    for name, value in state.items():
        expected = value.array if isinstance(value, qs.Tensor) else value
        assert loaded[name].dtype == expected.dtype and np.array_equal(loaded[name].array, expected)


def test_safetensors_errors_name_the_problem(tmp_path):
    path = tmp_path / "bad.safetensors"
    with pytest.raises(TypeError, match="holds only tensors.*npz"):
        qs.save({"model": {"w": qs.ones(2)}, "epoch": 3}, path)
    with pytest.raises(TypeError, match="dict of name -> tensor"):
        qs.save([qs.ones(2)], path)
    safetensors.numpy.save_file({"w": np.ones(2, np.float16)}, str(path))
    with pytest.raises(TypeError, match="'w' with dtype float16"):
        qs.load(path)


# ---------------------------------------------------------------- PyTorch's state dict names

# For every layer in qs.nn: the constructor call, and the state dict
# torch.nn's layer of the same name and arguments has (names and shapes, in
# PyTorch's order), written out by hand from PyTorch. A new layer needs an entry.
PYTORCH_STATE_DICTS = {
    "Linear": [(lambda: nn.Linear(3, 5), {"weight": (5, 3), "bias": (5,)}),
               (lambda: nn.Linear(3, 5, bias=False), {"weight": (5, 3)})],
    "Embedding": [(lambda: nn.Embedding(10, 4), {"weight": (10, 4)})],
    "LayerNorm": [(lambda: nn.LayerNorm(6), {"weight": (6,), "bias": (6,)}),
                  (lambda: nn.LayerNorm((2, 3)), {"weight": (2, 3), "bias": (2, 3)}),
                  (lambda: nn.LayerNorm(6, elementwise_affine=False), {})],
    "Sequential": [(lambda: nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Dropout(), nn.Linear(4, 1)),
                    {"0.weight": (4, 2), "0.bias": (4,), "3.weight": (1, 4), "3.bias": (1,)}),
                   (lambda: nn.Sequential(nn.Sequential(nn.Embedding(5, 2)), nn.LayerNorm(2)),
                    {"0.0.weight": (5, 2), "1.weight": (2,), "1.bias": (2,)})],
    # micrograd's MLP has no torch.nn class: its names are those of the equal torch.nn.Sequential
    "MLP": [(lambda: nn.MLP(2, [16, 1]), {"0.weight": (16, 2), "0.bias": (16,), "2.weight": (1, 16), "2.bias": (1,)})],
    "ReLU": [(nn.ReLU, {})], "Tanh": [(nn.Tanh, {})], "Sigmoid": [(nn.Sigmoid, {})], "GELU": [(nn.GELU, {})],
    "Dropout": [(nn.Dropout, {})],
    "MSELoss": [(nn.MSELoss, {})], "CrossEntropyLoss": [(nn.CrossEntropyLoss, {})],
    "NLLLoss": [(nn.NLLLoss, {})], "BCEWithLogitsLoss": [(nn.BCEWithLogitsLoss, {})],
    # generated once from torch 2.13's own modules built with the same arguments
    "AdaptiveAvgPool1d": [(lambda: nn.AdaptiveAvgPool1d(3), {})],
    "AdaptiveAvgPool2d": [(lambda: nn.AdaptiveAvgPool2d((2, 3)), {})],
    "AdaptiveMaxPool2d": [(lambda: nn.AdaptiveMaxPool2d(2), {})],
    "AvgPool1d": [(lambda: nn.AvgPool1d(2), {})],
    "AvgPool2d": [(lambda: nn.AvgPool2d(2), {})],
    "BatchNorm1d": [(lambda: nn.BatchNorm1d(4), {'weight': (4,), 'bias': (4,), 'running_mean': (4,), 'running_var': (4,), 'num_batches_tracked': ()})],
    "BatchNorm2d": [(lambda: nn.BatchNorm2d(3), {'weight': (3,), 'bias': (3,), 'running_mean': (3,), 'running_var': (3,), 'num_batches_tracked': ()})],
    "Conv1d": [(lambda: nn.Conv1d(2, 4, 3), {'weight': (4, 2, 3), 'bias': (4,)})],
    "Conv2d": [(lambda: nn.Conv2d(3, 6, (3, 2), groups=3), {'weight': (6, 1, 3, 2), 'bias': (6,)})],
    "ConvTranspose1d": [(lambda: nn.ConvTranspose1d(2, 4, 3), {'weight': (2, 4, 3), 'bias': (4,)})],
    "ConvTranspose2d": [(lambda: nn.ConvTranspose2d(4, 6, 3, groups=2), {'weight': (4, 3, 3, 3), 'bias': (6,)})],
    "Dropout2d": [(lambda: nn.Dropout2d(), {})],
    "Flatten": [(lambda: nn.Flatten(), {})],
    "GRU": [(lambda: nn.GRU(3, 5, num_layers=2, bidirectional=True), {'weight_ih_l0': (15, 3), 'weight_hh_l0': (15, 5), 'bias_ih_l0': (15,), 'bias_hh_l0': (15,), 'weight_ih_l0_reverse': (15, 3), 'weight_hh_l0_reverse': (15, 5), 'bias_ih_l0_reverse': (15,), 'bias_hh_l0_reverse': (15,), 'weight_ih_l1': (15, 10), 'weight_hh_l1': (15, 5), 'bias_ih_l1': (15,), 'bias_hh_l1': (15,), 'weight_ih_l1_reverse': (15, 10), 'weight_hh_l1_reverse': (15, 5), 'bias_ih_l1_reverse': (15,), 'bias_hh_l1_reverse': (15,)})],
    "GRUCell": [(lambda: nn.GRUCell(3, 5), {'weight_ih': (15, 3), 'weight_hh': (15, 5), 'bias_ih': (15,), 'bias_hh': (15,)})],
    "GroupNorm": [(lambda: nn.GroupNorm(2, 4), {'weight': (4,), 'bias': (4,)})],
    "Identity": [(lambda: nn.Identity(), {})],
    "InstanceNorm1d": [(lambda: nn.InstanceNorm1d(3, affine=True, track_running_stats=True), {'weight': (3,), 'bias': (3,), 'running_mean': (3,), 'running_var': (3,), 'num_batches_tracked': ()})],
    "InstanceNorm2d": [(lambda: nn.InstanceNorm2d(3), {})],
    "LSTM": [(lambda: nn.LSTM(3, 5, num_layers=2), {'weight_ih_l0': (20, 3), 'weight_hh_l0': (20, 5), 'bias_ih_l0': (20,), 'bias_hh_l0': (20,), 'weight_ih_l1': (20, 5), 'weight_hh_l1': (20, 5), 'bias_ih_l1': (20,), 'bias_hh_l1': (20,)})],
    "LSTMCell": [(lambda: nn.LSTMCell(3, 5, bias=False), {'weight_ih': (20, 3), 'weight_hh': (20, 5)})],
    "MaxPool1d": [(lambda: nn.MaxPool1d(2), {})],
    "MaxPool2d": [(lambda: nn.MaxPool2d(2), {})],
    "MaxUnpool2d": [(lambda: nn.MaxUnpool2d(2), {})],
    "ModuleDict": [(lambda: nn.ModuleDict({'a': nn.Linear(2, 3), 'b': nn.LayerNorm(3)}), {'a.weight': (3, 2), 'a.bias': (3,), 'b.weight': (3,), 'b.bias': (3,)})],
    "ModuleList": [(lambda: nn.ModuleList([nn.Linear(2, 3), nn.Linear(3, 1)]), {'0.weight': (3, 2), '0.bias': (3,), '1.weight': (1, 3), '1.bias': (1,)})],
    "MultiheadAttention": [(lambda: nn.MultiheadAttention(8, 2), {'in_proj_weight': (24, 8), 'in_proj_bias': (24,), 'out_proj.weight': (8, 8), 'out_proj.bias': (8,)})],
    "PixelShuffle": [(lambda: nn.PixelShuffle(2), {})],
    "RNN": [(lambda: nn.RNN(3, 4, bias=False), {'weight_ih_l0': (4, 3), 'weight_hh_l0': (4, 4)})],
    "RNNCell": [(lambda: nn.RNNCell(3, 4), {'weight_ih': (4, 3), 'weight_hh': (4, 4), 'bias_ih': (4,), 'bias_hh': (4,)})],
    "ReflectionPad2d": [(lambda: nn.ReflectionPad2d(1), {})],
    "ReplicationPad2d": [(lambda: nn.ReplicationPad2d(1), {})],
    "TransformerEncoder": [(lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, dim_feedforward=16), 2), {'layers.0.self_attn.in_proj_weight': (24, 8), 'layers.0.self_attn.in_proj_bias': (24,), 'layers.0.self_attn.out_proj.weight': (8, 8), 'layers.0.self_attn.out_proj.bias': (8,), 'layers.0.linear1.weight': (16, 8), 'layers.0.linear1.bias': (16,), 'layers.0.linear2.weight': (8, 16), 'layers.0.linear2.bias': (8,), 'layers.0.norm1.weight': (8,), 'layers.0.norm1.bias': (8,), 'layers.0.norm2.weight': (8,), 'layers.0.norm2.bias': (8,), 'layers.1.self_attn.in_proj_weight': (24, 8), 'layers.1.self_attn.in_proj_bias': (24,), 'layers.1.self_attn.out_proj.weight': (8, 8), 'layers.1.self_attn.out_proj.bias': (8,), 'layers.1.linear1.weight': (16, 8), 'layers.1.linear1.bias': (16,), 'layers.1.linear2.weight': (8, 16), 'layers.1.linear2.bias': (8,), 'layers.1.norm1.weight': (8,), 'layers.1.norm1.bias': (8,), 'layers.1.norm2.weight': (8,), 'layers.1.norm2.bias': (8,)})],
    "TransformerEncoderLayer": [(lambda: nn.TransformerEncoderLayer(8, 2, dim_feedforward=16), {'self_attn.in_proj_weight': (24, 8), 'self_attn.in_proj_bias': (24,), 'self_attn.out_proj.weight': (8, 8), 'self_attn.out_proj.bias': (8,), 'linear1.weight': (16, 8), 'linear1.bias': (16,), 'linear2.weight': (8, 16), 'linear2.bias': (8,), 'norm1.weight': (8,), 'norm1.bias': (8,), 'norm2.weight': (8,), 'norm2.bias': (8,)})],
    "Unflatten": [(lambda: nn.Unflatten(1, (2, 3)), {})],
    "Upsample": [(lambda: nn.Upsample(scale_factor=2), {})],
    "ZeroPad2d": [(lambda: nn.ZeroPad2d(1), {})],

}


def layer_classes():
    return sorted(
        name for name, value in vars(nn).items()
        if inspect.isclass(value) and issubclass(value, nn.Module) and value is not nn.Module
    )


def test_every_layer_has_an_entry_in_the_pytorch_table():
    missing = [name for name in layer_classes() if name not in PYTORCH_STATE_DICTS]
    assert not missing, f"add PyTorch's state dict names of {missing} to PYTORCH_STATE_DICTS"


@pytest.mark.parametrize("layer", sorted(PYTORCH_STATE_DICTS))
def test_state_dict_names_and_shapes_are_pytorchs(layer):
    for make, expected in PYTORCH_STATE_DICTS[layer]:
        module = make()
        assert type(module).__name__ == layer
        got = {name: tuple(t.shape) for name, t in module.state_dict().items()}
        assert list(got) == list(expected) and got == expected
