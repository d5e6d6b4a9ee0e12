"""Convolution, pooling and batch norm beyond the op table: values computed by
hand, batch norm's running statistics, module buffers and state dicts,
PyTorch's layouts and initialisation, bad input, and the same bits on 1 or 2
threads. (tests/optable_conv.py checks every op's gradients and backends.)"""

import math

import numpy as np
import pytest

import quasar as qs
import quasar.nn.functional as F
from quasar import nn, parallel


def rand(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def direct_conv2d(x, w, b, stride, padding, dilation=(1, 1), groups=1):
    """conv2d by its definition, one output element at a time."""
    n, c, h, wd = x.shape
    co, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    oh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, co, oh, ow))
    per_group = co // groups
    for s in range(n):
        for o in range(co):
            g = o // per_group
            for i in range(oh):
                for j in range(ow):
                    total = b[o] if b is not None else 0.0
                    for ci in range(cg):
                        for p in range(kh):
                            for q in range(kw):
                                total += w[o, ci, p, q] * xp[s, g * cg + ci, i * stride[0] + p * dilation[0],
                                                             j * stride[1] + q * dilation[1]]
                    out[s, o, i, j] = total
    return out


# ---------------------------------------------------------------- values by hand


@pytest.mark.parametrize("stride, padding, dilation, groups", [
    ((1, 1), (0, 0), (1, 1), 1), ((2, 1), (1, 2), (1, 2), 1), ((1, 2), (1, 1), (2, 1), 2), ((2, 2), (1, 1), (1, 1), 4),
])
@pytest.mark.parametrize("backend", ["compiled", "reference"])
def test_conv2d_matches_the_definition(stride, padding, dilation, groups, backend):
    x, w, b = rand((2, 4, 7, 6)), rand((4, 4 // groups, 3, 2), 1), rand((4,), 2)
    with qs.backend(backend):
        out = F.conv2d(qs.tensor(x), qs.tensor(w), qs.tensor(b), stride, padding, dilation, groups)
    np.testing.assert_allclose(out.numpy(), direct_conv2d(x, w, b, stride, padding, dilation, groups), rtol=1e-12,
                               atol=1e-12)


def test_conv1d_is_conv2d_of_height_one():
    x, w = rand((2, 3, 11)), rand((5, 3, 4), 1)
    out = F.conv1d(qs.tensor(x), qs.tensor(w), stride=2, padding=1, dilation=2)
    want = direct_conv2d(x[:, :, None], w[:, :, None], None, (1, 2), (0, 1), (1, 2))[:, :, 0]
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12)


def test_same_padding_keeps_the_size_and_pads_the_extra_after():
    x = qs.tensor(rand((1, 1, 5, 6)))
    w = qs.tensor(rand((1, 1, 2, 4), 1))
    out = F.conv2d(x, w, padding="same")
    assert out.shape == (1, 1, 5, 6)
    # even kernel: total padding 1 (rows) and 3 (columns), the extra one after
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (0, 1), (1, 2)))
    np.testing.assert_allclose(out.numpy(), direct_conv2d(padded, w.numpy(), None, (1, 1), (0, 0)), rtol=1e-12)


def test_conv_transpose2d_is_the_adjoint_of_conv2d():
    """<conv2d(x, w), y> = <x, conv_transpose2d(y, w)> for every x and y."""
    x, w = rand((2, 4, 7, 7)), rand((6, 2, 3, 3), 1)
    geometry = dict(stride=2, padding=1, groups=2)
    out = F.conv2d(qs.tensor(x), qs.tensor(w), **geometry)
    y = rand(out.shape, 2)
    back = F.conv_transpose2d(qs.tensor(y), qs.tensor(w), **geometry)
    assert back.shape == x.shape
    np.testing.assert_allclose((out.detach().numpy() * y).sum(), (x * back.detach().numpy()).sum(), rtol=1e-10)
    # output_padding adds the row and column a stride-2 convolution of an 8x8 image would not read
    assert F.conv_transpose2d(qs.tensor(y), qs.tensor(w), output_padding=1, **geometry).shape == (2, 4, 8, 8)


def test_unfold_then_matmul_is_conv2d_and_fold_undoes_disjoint_unfold():
    x, w = rand((2, 3, 6, 5)), rand((4, 3, 2, 2), 1)
    cols = F.unfold(qs.tensor(x), 2, padding=1)  # (2, 12, 7 * 6)
    assert cols.shape == (2, 12, 42)
    out = (qs.tensor(w).reshape(4, -1) @ cols).reshape(2, 4, 7, 6)
    np.testing.assert_allclose(out.numpy(), direct_conv2d(x, w, None, (1, 1), (1, 1)), rtol=1e-12)
    image = rand((1, 2, 4, 6))
    windows = F.unfold(qs.tensor(image), (2, 3), stride=(2, 3))
    np.testing.assert_array_equal(F.fold(windows, (4, 6), (2, 3), stride=(2, 3)).detach().numpy(), image)
    # overlapping windows add up: fold(unfold(ones)) counts how many windows cover each pixel
    counts = F.fold(F.unfold(qs.ones(1, 1, 3, 3), 2), (3, 3), 2).detach().numpy()[0, 0]
    np.testing.assert_array_equal(counts, [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


def test_max_pool2d_values_and_indices():
    x = qs.tensor(np.array([[[[1.0, 5, 2, 0], [3, 4, 9, 8], [7, 6, 1, 2], [0, 1, 3, 4]]]]))
    out, indices = F.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(out.numpy()[0, 0], [[5, 9], [7, 4]])
    np.testing.assert_array_equal(indices.numpy()[0, 0], [[1, 6], [8, 15]])
    assert indices.dtype == np.int64
    # padding never wins, even over negative values; ceil_mode adds a last partial window
    neg = qs.tensor(-np.arange(1.0, 10).reshape(1, 1, 3, 3))
    np.testing.assert_array_equal(F.max_pool2d(neg, 2, 2, padding=1).detach().numpy()[0, 0], [[-1, -2], [-4, -5]])
    assert F.max_pool2d(qs.zeros(1, 1, 5, 5), 2, ceil_mode=True).shape == (1, 1, 3, 3)
    assert F.max_pool2d(qs.zeros(1, 1, 5, 5), 2).shape == (1, 1, 2, 2)
    # ties: the first position in the window wins, and gets the whole gradient
    tie = qs.ones(1, 1, 2, 2, requires_grad=True)
    F.max_pool2d(tie, 2).sum().backward()
    np.testing.assert_array_equal(tie.grad.numpy()[0, 0], [[1, 0], [0, 0]])


def test_max_pool1d_indices_are_positions_in_the_row():
    x = qs.tensor(np.array([[[3.0, 1, 4, 1, 5, 9, 2, 6]]]))
    out, indices = F.max_pool1d(x, 3, stride=2, return_indices=True)
    np.testing.assert_array_equal(out.numpy(), [[[4, 5, 9]]])
    np.testing.assert_array_equal(indices.numpy(), [[[2, 4, 5]]])


def test_avg_pool2d_divisors_follow_pytorch():
    x = qs.ones(1, 1, 3, 3)
    # count_include_pad: the padded zeros count, so corners average 4 ones over 9
    np.testing.assert_allclose(F.avg_pool2d(x, 3, 2, 1).detach().numpy()[0, 0], [[4 / 9, 4 / 9], [4 / 9, 4 / 9]])
    np.testing.assert_allclose(F.avg_pool2d(x, 3, 2, 1, count_include_pad=False).numpy(), np.ones((1, 1, 2, 2)))
    np.testing.assert_allclose(F.avg_pool2d(x, 3, 2, 1, divisor_override=2).numpy(), np.full((1, 1, 2, 2), 2.0))
    # ceil_mode: the last window runs past the padding; the part past it does not count
    y = qs.tensor(np.arange(1.0, 6).reshape(1, 1, 5))
    np.testing.assert_allclose(F.avg_pool1d(y, 2, ceil_mode=True).detach().numpy(), [[[1.5, 3.5, 5.0]]])


# ---------------------------------------------------------------- batch norm


def test_batch_norm_training_normalises_and_updates_running_statistics():
    x = rand((8, 3, 4, 5)) * 3 + 2
    bn = nn.BatchNorm2d(3, momentum=0.2, dtype=np.float64)
    out = bn(qs.tensor(x)).detach().numpy()
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    np.testing.assert_allclose(out, (x - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5), rtol=1e-10)
    n = 8 * 4 * 5
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.2 * mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.8 + 0.2 * var * n / (n - 1), rtol=1e-12)
    assert int(bn.num_batches_tracked.item()) == 1
    bn.eval()  # now the running statistics are used, and not updated
    before = bn.running_mean.numpy().copy()
    want = (x - before[:, None, None]) / np.sqrt(bn.running_var.numpy()[:, None, None] + 1e-5)
    np.testing.assert_allclose(bn(qs.tensor(x)).detach().numpy(), want, rtol=1e-10)
    np.testing.assert_array_equal(bn.running_mean.numpy(), before)


def test_batch_norm_momentum_none_is_a_cumulative_average():
    bn = nn.BatchNorm1d(2, momentum=None, dtype=np.float64)
    batches = [rand((5, 2), seed) + seed for seed in range(3)]
    for b in batches:
        bn(qs.tensor(b))
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean([b.mean(axis=0) for b in batches], axis=0),
                               rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), np.mean([b.var(axis=0, ddof=1) for b in batches], axis=0),
                               rtol=1e-12)
    assert int(bn.num_batches_tracked.item()) == 3


def test_batch_norm_without_running_statistics_or_affine():
    bn = nn.BatchNorm1d(3, affine=False, track_running_stats=False)
    assert bn.weight is None and bn.running_mean is None and list(bn.state_dict()) == []
    x = rand((6, 3, 2), dtype=np.float32)
    bn.eval()  # without running statistics, eval still uses the batch's
    out = bn(qs.tensor(x)).detach().numpy()
    np.testing.assert_allclose(out.mean(axis=(0, 2)), 0, atol=1e-6)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(qs.ones(1, 3))


def test_batch_norm_float32_statistics_accumulate_in_float64():
    """A large offset: a float32 sum of squares would cancel; shifted float64 sums do not."""
    x = (rand((64, 2, 32), dtype=np.float64) + 1e4).astype(np.float32)
    out = F.batch_norm(qs.tensor(x), None, None, training=True).detach().numpy()
    wide = x.astype(np.float64)
    want = (wide - wide.mean(axis=(0, 2))[:, None]) / np.sqrt(wide.var(axis=(0, 2))[:, None] + 1e-5)
    np.testing.assert_allclose(out, want, atol=2e-3)


# ---------------------------------------------------------------- modules, buffers, state dicts


def test_modules_have_pytorch_names_shapes_and_initialisation():
    qs.manual_seed(0)
    conv = nn.Conv2d(4, 6, (3, 2), groups=2)
    assert conv.weight.shape == (6, 2, 3, 2) and conv.bias.shape == (6,)
    bound = 1 / math.sqrt(2 * 3 * 2)  # kaiming_uniform_(a=sqrt(5)) gives 1/sqrt(fan_in)
    assert np.abs(conv.weight.detach().numpy()).max() <= bound and np.abs(conv.bias.detach().numpy()).max() <= bound
    assert np.abs(conv.weight.detach().numpy()).max() > 0.8 * bound
    assert nn.ConvTranspose2d(4, 6, 3, groups=2).weight.shape == (4, 3, 3, 3)
    assert nn.Conv1d(3, 5, 4, bias=False).bias is None and nn.Conv1d(3, 5, 4).weight.shape == (5, 3, 4)
    bn = nn.BatchNorm2d(5)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert [name for name, _ in bn.named_buffers()] == ["running_mean", "running_var", "num_batches_tracked"]
    assert [name for name, _ in bn.named_parameters()] == ["weight", "bias"]
    assert bn.num_batches_tracked.dtype == np.int64
    assert "Conv2d(4, 6, kernel_size=(3, 2), stride=(1, 1), groups=2)" == repr(conv)


def test_register_buffer_persistent_and_not():
    class WithBuffers(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("kept", qs.zeros(2))
            self.register_buffer("scratch", qs.ones(3), persistent=False)

    m = WithBuffers()
    assert list(m.state_dict()) == ["kept"]
    assert [name for name, _ in m.named_buffers()] == ["kept", "scratch"]
    assert list(m.parameters()) == []
    m.double()
    assert m.kept.dtype == np.float64 and m.scratch.dtype == np.float64
    m.load_state_dict({"kept": np.array([1.0, 2.0])})
    np.testing.assert_array_equal(m.kept.numpy(), [1, 2])
    with pytest.raises(KeyError, match="missing keys"):
        m.load_state_dict({})
    with pytest.raises(TypeError, match="Tensor or None"):
        m.register_buffer("bad", np.zeros(2))


def test_state_dict_round_trip_keeps_buffers(tmp_path):
    qs.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 2))
    x = qs.tensor(rand((4, 1, 4, 4), dtype=np.float32))
    model(x)  # updates the running statistics
    qs.save(model.state_dict(), tmp_path / "m.npz")
    clone = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 2))
    clone.load_state_dict(qs.load(tmp_path / "m.npz"))
    model.eval()
    clone.eval()
    np.testing.assert_array_equal(model(x).detach().numpy(), clone(x).detach().numpy())
    assert int(clone[1].num_batches_tracked.item()) == 1


def test_a_pytorch_state_dict_exported_to_numpy_gives_the_same_outputs():
    """Arrays named as torch's state_dict() names them (conv, batch norm with running
    statistics, linear); the expected outputs are computed by hand in NumPy."""
    state = {
        "0.weight": rand((2, 1, 2, 2), 1, np.float32), "0.bias": np.array([0.1, -0.2], np.float32),
        "1.weight": np.array([1.5, 0.5], np.float32), "1.bias": np.array([0.0, 1.0], np.float32),
        "1.running_mean": np.array([0.2, -0.1], np.float32), "1.running_var": np.array([2.0, 0.5], np.float32),
        "1.num_batches_tracked": np.array(7, np.int64),
        "4.weight": rand((3, 8), 2, np.float32), "4.bias": np.array([0.0, 0.1, 0.2], np.float32),
    }
    model = nn.Sequential(nn.Conv2d(1, 2, 2), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
    model.load_state_dict(state)
    model.eval()
    x = rand((2, 1, 3, 3), 3, np.float32)
    conv = direct_conv2d(x.astype(np.float64), state["0.weight"], state["0.bias"], (1, 1), (0, 0))
    bn = (conv - state["1.running_mean"][:, None, None]) / np.sqrt(state["1.running_var"][:, None, None] + 1e-5)
    bn = bn * state["1.weight"][:, None, None] + state["1.bias"][:, None, None]
    want = np.maximum(bn, 0).reshape(2, 8) @ state["4.weight"].T.astype(np.float64) + state["4.bias"]
    np.testing.assert_allclose(model(qs.tensor(x)).detach().numpy(), want, rtol=1e-5, atol=1e-5)
    assert int(model[1].num_batches_tracked.item()) == 7


def test_flatten_unflatten_dropout2d():
    x = qs.tensor(rand((2, 3, 4, 5)))
    flat = nn.Flatten()(x)
    assert flat.shape == (2, 60)
    assert nn.Unflatten(1, (3, 4, 5))(flat).shape == (2, 3, 4, 5)
    qs.manual_seed(0)
    out = nn.Dropout2d(0.5)(qs.ones(4, 8, 3, 3)).detach().numpy()
    per_channel = out.reshape(32, 9)
    assert set(np.unique(per_channel)) <= {0.0, 2.0}
    assert all(len(set(row)) == 1 for row in per_channel)  # whole channels kept or dropped
    assert 0 < (per_channel[:, 0] == 0).sum() < 32
    drop = nn.Dropout2d(0.5).eval()
    assert drop(x) is x


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("call, message", [
    (lambda: F.conv2d(qs.ones(1, 3, 5, 5), qs.ones(2, 4, 3, 3)), r"conv2d: input shape \(1, 3, 5, 5\) has 3 channels"),
    (lambda: F.conv2d(qs.ones(1, 4, 5, 5), qs.ones(3, 2, 3, 3), groups=2), r"conv2d: groups=2 must divide"),
    (lambda: F.conv2d(qs.ones(1, 1, 2, 2), qs.ones(1, 1, 3, 3)), r"conv2d: the kernel .* is larger than the padded"),
    (lambda: F.conv2d(qs.ones(1, 1, 5, 5), qs.ones(1, 1, 3, 3), stride=0), r"conv2d: stride must be positive"),
    (lambda: F.conv2d(qs.ones(1, 1, 5, 5), qs.ones(1, 1, 3, 3), padding=-1), r"conv2d: padding must be non-negative"),
    (lambda: F.conv2d(qs.ones(5, 5), qs.ones(1, 1, 3, 3)), r"conv2d: expected a 3-D or 4-D input .* shape \(5, 5\)"),
    (lambda: F.conv2d(qs.ones(1, 1, 5, 5), qs.ones(1, 1, 3)), r"conv2d: weight must be a 4-D tensor"),
    (lambda: F.conv2d(qs.ones(1, 1, 5, 5), qs.ones(1, 1, 3, 3), stride=2, padding="same"), r"padding='same'"),
    (lambda: F.conv1d(qs.ones(1, 2, 5), qs.ones(1, 2, 3), qs.ones(2)), r"conv1d: bias must have shape \(1,\)"),
    (lambda: F.max_pool2d(qs.ones(1, 1, 4, 4), 2, padding=2), r"max_pool2d: padding .* at most half"),
    (lambda: F.max_pool2d(qs.ones(1, 1, 1, 1), 2), r"max_pool2d: the kernel .* is larger"),
    (lambda: F.avg_pool2d(qs.ones(1, 1, 4, 4), 0), r"avg_pool2d: kernel_size must be positive"),
    (lambda: F.batch_norm(qs.ones(4, 3), qs.zeros(2), qs.ones(3)), r"batch_norm: running_mean must be .*\(3,\)"),
    (lambda: F.fold(qs.ones(1, 5, 4), (3, 3), 2), r"fold: .* divisible"),
    (lambda: nn.Conv2d(3, 4, 3, groups=2), r"Conv2d: groups=2 must divide in_channels"),
    (lambda: nn.BatchNorm2d(3)(qs.ones(2, 4, 2, 2)), r"BatchNorm2d: input shape .* 4 channels"),
])
def test_bad_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_integer_and_mixed_dtype_input_raise_type_errors():
    with pytest.raises(TypeError, match=r"conv2d: expected a float32/float64 tensor, got int64"):
        F.conv2d(qs.tensor(np.ones((1, 1, 3, 3), np.int64)), qs.ones(1, 1, 2, 2))
    with pytest.raises(TypeError, match=r"conv2d: input \(float32\), weight \(float64\)"):
        F.conv2d(qs.ones(1, 1, 3, 3), qs.tensor(np.ones((1, 1, 2, 2))))
    with pytest.raises(TypeError, match=r"max_pool2d: expected a float32/float64"):
        F.max_pool2d(qs.tensor(np.ones((1, 1, 4, 4), np.int64)), 2)


# ---------------------------------------------------------------- threads


def test_conv_family_is_bit_identical_on_one_and_two_threads():
    """Each plane (pooling, im2col/col2im) or channel (batch norm) is computed by
    one thread in a fixed order; the GEMMs are BLAS's, the same for both runs."""
    x = rand((6, 8, 17, 15), 1, np.float32)
    w = rand((8, 4, 3, 3), 2, np.float32)
    d = rand((8, 1, 3, 3), 3, np.float32)

    def run():
        xt, wt = qs.tensor(x, requires_grad=True), qs.tensor(w, requires_grad=True)
        dt = qs.tensor(d, requires_grad=True)
        y = F.conv2d(xt, wt, stride=2, padding=1, groups=2)
        pooled = F.max_pool2d(F.batch_norm(y, None, None, training=True), 2, ceil_mode=True)
        depthwise = F.conv2d(xt, dt, stride=(1, 2), padding=1, groups=8)
        (pooled.sum() + F.avg_pool2d(xt, 3, 2, 1).sum() + F.unfold(xt, 3, dilation=2).sum()
         + (depthwise * depthwise).sum()).backward()
        return [pooled.array.tobytes(), depthwise.array.tobytes(), xt.grad.array.tobytes(), wt.grad.array.tobytes(),
                dt.grad.array.tobytes()]

    results = {}
    for workers in (1, 2):
        with parallel.config(max_workers=workers, parallel_threshold=1):
            results[workers] = run()
    assert results[1] == results[2]


# ---------------------------------------------------------------- resampling, padding, other norms


def test_interpolate_follows_pytorchs_coordinates():
    x = qs.tensor(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    bilinear = F.interpolate(x, scale_factor=2, mode="bilinear").numpy()[0, 0]  # align_corners=False
    np.testing.assert_allclose(bilinear, [[1.0, 1.25, 1.75, 2.0], [1.5, 1.75, 2.25, 2.5], [2.5, 2.75, 3.25, 3.5],
                                          [3.0, 3.25, 3.75, 4.0]])
    corners = F.interpolate(x, size=3, mode="bilinear", align_corners=True).numpy()[0, 0]
    np.testing.assert_allclose(corners, [[1.0, 1.5, 2.0], [2.0, 2.5, 3.0], [3.0, 3.5, 4.0]])
    np.testing.assert_array_equal(F.interpolate(qs.tensor(np.array([[[1.0, 2.0, 3.0]]])), size=5).numpy(),
                                  [[[1, 1, 2, 2, 3]]])
    # scale_factor 1.5 maps with 1/1.5 unless recompute_scale_factor asks for in/out (3/4)
    y = qs.tensor(np.arange(3.0).reshape(1, 1, 3))
    np.testing.assert_array_equal(F.interpolate(y, scale_factor=1.5).numpy(), [[[0, 0, 1, 2]]])
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, scale_factor=2, align_corners=True)


def test_pad_modes():
    row = qs.tensor(np.array([[[1.0, 2.0, 3.0]]]))
    np.testing.assert_array_equal(F.pad(row, (2, 2), mode="reflect").numpy(), [[[3, 2, 1, 2, 3, 2, 1]]])
    np.testing.assert_array_equal(F.pad(row, (2, 2), mode="replicate").numpy(), [[[1, 1, 1, 2, 3, 3, 3]]])
    np.testing.assert_array_equal(F.pad(row, (2, 2), mode="circular").numpy(), [[[2, 3, 1, 2, 3, 1, 2]]])
    np.testing.assert_array_equal(F.pad(row, (1, 0), value=9.0).numpy(), [[[9, 1, 2, 3]]])
    with pytest.raises(ValueError, match="reflect padding .* smaller than"):
        F.pad(row, (3, 0), mode="reflect")
    assert nn.ReflectionPad2d((1, 2, 0, 1))(qs.ones(1, 1, 3, 3)).shape == (1, 1, 4, 6)
    assert nn.ZeroPad2d(1)(qs.ones(1, 3, 3)).shape == (1, 5, 5)


def test_adaptive_pools_pixel_shuffle_and_unpool():
    x = qs.tensor(rand((2, 3, 8, 6)))
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x, (4, 3)).numpy(), F.avg_pool2d(x, 2).numpy(), rtol=1e-12)
    np.testing.assert_array_equal(F.adaptive_max_pool2d(x, (4, 3)).numpy(), F.max_pool2d(x, 2).numpy())
    _, adaptive_indices = F.adaptive_max_pool2d(x, (4, 3), return_indices=True)
    pooled, indices = F.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(adaptive_indices.numpy(), indices.numpy())
    unpooled = F.max_unpool2d(pooled, indices, 2).numpy()
    np.testing.assert_array_equal(unpooled[unpooled != 0], x.numpy()[unpooled != 0])
    assert (unpooled != 0).sum() == pooled.numel()
    assert nn.AdaptiveAvgPool2d(1)(x).shape == (2, 3, 1, 1)
    shuffled = F.pixel_shuffle(qs.tensor(np.arange(4.0).reshape(1, 4, 1, 1)), 2).numpy()
    np.testing.assert_array_equal(shuffled, [[[[0, 1], [2, 3]]]])


def test_group_and_instance_norm_by_hand():
    x = rand((3, 4, 5))
    grouped = x.reshape(3, 2, 10)
    want = ((grouped - grouped.mean(-1, keepdims=True)) / np.sqrt(grouped.var(-1, keepdims=True) + 1e-5))
    np.testing.assert_allclose(F.group_norm(qs.tensor(x), 2).numpy(), want.reshape(x.shape), rtol=1e-10)
    inst = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(F.instance_norm(qs.tensor(x)).numpy(), inst, rtol=1e-10)
    norm = nn.InstanceNorm1d(4, track_running_stats=True, dtype=np.float64)
    norm(qs.tensor(x))
    np.testing.assert_allclose(norm.running_mean.numpy(), 0.1 * x.mean(-1).mean(0), rtol=1e-12)
    np.testing.assert_allclose(norm.running_var.numpy(), 0.9 + 0.1 * x.var(-1, ddof=1).mean(0), rtol=1e-12)
    gn = nn.GroupNorm(2, 4)
    assert list(gn.state_dict()) == ["weight", "bias"]
    np.testing.assert_allclose(F.normalize(qs.tensor(np.array([[3.0, 4.0]]))).numpy(), [[0.6, 0.8]])


def test_depthwise_kernels_with_a_channel_multiplier_match_the_reference():
    """The stencil kernels also take several output channels per input channel
    (output channel o reads input o // multiplier); checked on the raw kernels."""
    from quasar import _kernels as _conv  # the _conv.pxi family
    from quasar.backends import reference_conv as R

    x, w, g = rand((2, 3, 7, 6)), rand((6, 1, 3, 2), 1), rand((2, 6, 4, 6), 2)
    geometry = ((3, 2), (2, 1), (1, 1), (1, 1))  # kernel, stride, (top, left) padding, dilation
    out = np.empty((2, 6, 24))
    _conv.depthwise_conv2d(x.reshape(2, 3, 42), 7, 6, w.reshape(6, 6), out, *geometry, 4, 6, 2)
    want = R.conv2d(x, w, None, (2, 1), (1, 1, 1, 1), (1, 1), 3, (4, 6))
    np.testing.assert_allclose(out.reshape(want.shape), want, rtol=1e-12)
    grad_in = np.zeros((2, 3, 42))
    _conv.depthwise_conv2d_backward_input(g.reshape(2, 6, 24), w.reshape(6, 6), grad_in, 7, 6, *geometry, 4, 6, 2)
    want = R.conv2d_backward_input(g, w, (7, 6), (2, 1), (1, 1, 1, 1), (1, 1), 3)
    np.testing.assert_allclose(grad_in.reshape(want.shape), want, rtol=1e-12)
    grad_w = np.empty((6, 6))
    _conv.depthwise_conv2d_backward_weight(x.reshape(2, 3, 42), g.reshape(2, 6, 24), grad_w, 7, 6, *geometry, 4, 6,
                                           2)
    want = R.conv2d_backward_weight(x, g, (3, 2), (2, 1), (1, 1, 1, 1), (1, 1), 3)
    np.testing.assert_allclose(grad_w.reshape(want.shape), want, rtol=1e-12)


@pytest.mark.parametrize("backend", ["compiled", "reference"])
@pytest.mark.parametrize("op", [
    lambda x: F.conv2d(x, qs.ones(4, 3, 3, 3, dtype=qs.float64), stride=2),
    lambda x: F.conv2d(x, qs.ones(3, 1, 3, 3, dtype=qs.float64), groups=3),
    lambda x: F.conv_transpose2d(x, qs.ones(3, 2, 3, 3, dtype=qs.float64)),
    lambda x: F.max_pool2d(x, 2),
    lambda x: F.avg_pool2d(x, 2),
    lambda x: F.unfold(x, 2),
    lambda x: F.batch_norm(x, qs.zeros(3), qs.ones(3)),
    lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"),
], ids=["conv2d", "depthwise", "conv_transpose2d", "max_pool2d", "avg_pool2d", "unfold", "batch_norm", "interpolate"])
def test_an_empty_batch_gives_empty_results_and_gradients(op, backend):
    x = qs.zeros(0, 3, 5, 5, dtype=qs.float64, requires_grad=True)
    with qs.backend(backend):
        out = op(x)
        out.sum().backward()
    assert out.shape[0] == 0 and x.grad.shape == x.shape
