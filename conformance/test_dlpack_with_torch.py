"""DLPack between quasar and PyTorch: zero-copy both ways (the NumPy side is in tests/)."""

import numpy as np
import pytest
import torch

import quasar as qs


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "bool", "uint8"])
def test_zero_copy_both_ways(dtype):
    ours = qs.tensor(np.arange(6).reshape(2, 3) % 2 == 1 if dtype == "bool" else np.arange(6).reshape(2, 3),
                     dtype=getattr(qs, dtype))
    theirs = torch.from_dlpack(ours)  # quasar -> PyTorch, no copy
    assert str(theirs.dtype) == f"torch.{dtype}" and tuple(theirs.shape) == (2, 3)
    assert theirs.data_ptr() == ours.array.__array_interface__["data"][0]
    np.testing.assert_array_equal(theirs.numpy(), ours.numpy())

    t = torch.arange(12, dtype=torch.float64).reshape(3, 4)[:, ::2]  # a strided PyTorch view
    back = qs.from_dlpack(t)  # PyTorch -> quasar, no copy
    assert back.array.__array_interface__["data"][0] == t.data_ptr()
    np.testing.assert_array_equal(back.numpy(), t.numpy())
    t.mul_(2)  # the same memory: the change shows on both sides
    np.testing.assert_array_equal(back.numpy(), t.numpy())


def test_a_tensor_that_requires_grad_is_not_exported():
    with pytest.raises(RuntimeError, match="detach"):
        torch.from_dlpack(qs.ones(2, requires_grad=True))
