"""PyTorch's modules, their weights exported to NumPy, loaded into quasar's.

Each case builds the same layer in both libraries, copies PyTorch's
``state_dict`` into quasar's (as NumPy arrays: the interchange users do),
runs both on the same input and compares the outputs, the input's gradient
and every parameter's gradient for one random upstream gradient.
"""

import numpy as np
import pytest
import torch

import quasar as qs

torch.set_num_threads(1)
RNG = np.random.default_rng(0)


def flat_tensors(value):
    """The tensors in a module's output (tuples of tuples for LSTM), in order."""
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in flat_tensors(v)]
    return [] if value is None else [value]


CASES = {
    "Linear": (lambda nn: nn.Linear(5, 3), (4, 5), {}),
    "Conv1d stride dilation": (lambda nn: nn.Conv1d(2, 4, 3, stride=2, padding=1, dilation=2), (2, 2, 11), {}),
    "Conv2d groups": (lambda nn: nn.Conv2d(4, 6, 3, padding=1, groups=2), (2, 4, 7, 6), {}),
    "Conv2d depthwise stride": (lambda nn: nn.Conv2d(3, 3, 3, stride=2, groups=3, bias=False), (2, 3, 8, 9), {}),
    "Conv2d same": (lambda nn: nn.Conv2d(2, 3, (3, 2), padding="same"), (1, 2, 5, 6), {}),
    "ConvTranspose2d": (lambda nn: nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1), (2, 4, 5, 5), {}),
    "BatchNorm2d train": (lambda nn: nn.BatchNorm2d(3), (4, 3, 5, 5), {}),
    "BatchNorm1d": (lambda nn: nn.BatchNorm1d(6, momentum=None), (8, 6), {}),
    "GroupNorm": (lambda nn: nn.GroupNorm(2, 4), (3, 4, 5), {}),
    "InstanceNorm2d affine": (lambda nn: nn.InstanceNorm2d(3, affine=True), (2, 3, 4, 5), {}),
    "LayerNorm": (lambda nn: nn.LayerNorm(7), (3, 2, 7), {}),
    "MaxPool2d": (lambda nn: nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), (2, 3, 9, 8), {}),
    "AvgPool2d": (lambda nn: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (2, 3, 9, 8), {}),
    "AdaptiveAvgPool2d": (lambda nn: nn.AdaptiveAvgPool2d((3, 2)), (2, 3, 7, 5), {}),
    "Upsample bilinear": (lambda nn: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), (1, 2, 3, 4), {}),
    "RNN": (lambda nn: nn.RNN(3, 4, num_layers=2, nonlinearity="relu"), (5, 2, 3), {}),
    "LSTM bidirectional batch_first": (lambda nn: nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True),
                                       (2, 5, 3), {}),
    "GRU": (lambda nn: nn.GRU(3, 5, num_layers=2, bidirectional=True), (6, 2, 3), {}),
    "LSTMCell": (lambda nn: nn.LSTMCell(3, 4), (2, 3), {}),
    "GRUCell": (lambda nn: nn.GRUCell(3, 4), (2, 3), {}),
    "MultiheadAttention": (lambda nn: nn.MultiheadAttention(8, 2, batch_first=True), (2, 5, 8), {"self": True}),
    "TransformerEncoderLayer norm_first gelu": (
        lambda nn: nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, activation="gelu",
                                              norm_first=True, batch_first=True), (2, 5, 8), {}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_pytorch_weights_give_pytorchs_outputs_and_gradients(name):
    make, shape, options = CASES[name]
    torch.manual_seed(0)
    theirs = make(torch.nn).double()
    ours = make(qs.nn).double()
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    ours.load_state_dict(state)  # PyTorch's names and shapes, through NumPy
    x = RNG.standard_normal(shape)
    tx = torch.tensor(x, requires_grad=True)
    qx = qs.tensor(x, requires_grad=True)
    if options.get("self"):  # attention: query = key = value
        t_out, q_out = theirs(tx, tx, tx), ours(qx, qx, qx)
    else:
        t_out, q_out = theirs(tx), ours(qx)
    t_flat, q_flat = flat_tensors(t_out), flat_tensors(q_out)
    assert len(t_flat) == len(q_flat)
    t_loss, q_loss = 0, 0
    for t, q in zip(t_flat, q_flat):
        assert tuple(q.shape) == tuple(t.shape)
        np.testing.assert_allclose(q.detach().numpy(), t.detach().numpy(), rtol=1e-9, atol=1e-10)
        if t.requires_grad:
            seed = RNG.standard_normal(tuple(t.shape))
            t_loss = t_loss + (t * torch.tensor(seed)).sum()
            q_loss = q_loss + (q * qs.tensor(seed)).sum()
    t_loss.backward()
    q_loss.backward()
    np.testing.assert_allclose(qx.grad.numpy(), tx.grad.numpy(), rtol=1e-8, atol=1e-10)
    q_params = dict(ours.named_parameters())
    for pname, p in theirs.named_parameters():
        if p.grad is None:
            assert q_params[pname].grad is None or not q_params[pname].grad.numpy().any()
            continue
        np.testing.assert_allclose(q_params[pname].grad.numpy(), p.grad.numpy(), rtol=1e-8, atol=1e-10,
                                   err_msg=pname)
    # buffers (batch norm's running statistics) moved the same way
    q_state = ours.state_dict()
    for bname, b in theirs.named_buffers():
        np.testing.assert_allclose(np.asarray(q_state[bname].numpy(), float), b.numpy().astype(float),
                                   rtol=1e-9, atol=1e-12, err_msg=bname)
