"""qs.save / qs.load: nested state dicts in .npz, never pickle."""

import io
import zipfile

import numpy as np
import pytest

import quasar as qs
from quasar import nn, optim


def test_round_trip_of_nested_values(tmp_path):
    rng = np.random.default_rng(0)
    obj = {
        "weights": qs.tensor(rng.standard_normal((2, 3))),
        "leaf": qs.tensor(np.ones(2), requires_grad=True),
        "array": rng.integers(0, 9, (4,)).astype(np.int32),
        "nested": {"mask": np.array([True, False]), "scalar": np.float32(2.5), 7: "seven"},
        "numbers": [1, 2.5, True, None, float("inf")],
        "pair": (0.9, 0.999),
    }
    path = tmp_path / "things.npz"
    qs.save(obj, path)
    back = qs.load(path)
    assert isinstance(back["weights"], qs.Tensor) and back["weights"].dtype == np.float64
    assert np.array_equal(back["weights"].array, obj["weights"].array)
    assert back["leaf"].requires_grad and not back["weights"].requires_grad
    assert isinstance(back["array"], np.ndarray) and back["array"].dtype == np.int32
    assert np.array_equal(back["nested"]["mask"], [True, False])
    assert back["nested"]["scalar"] == 2.5 and back["nested"][7] == "seven"
    assert back["numbers"] == [1, 2.5, True, None, float("inf")]
    assert back["pair"] == (0.9, 0.999) and isinstance(back["pair"], tuple)


def test_the_path_is_used_as_given(tmp_path):
    qs.save({"x": np.zeros(1)}, tmp_path / "model.ckpt")
    assert (tmp_path / "model.ckpt").exists() and not (tmp_path / "model.ckpt.npz").exists()
    qs.save({"x": np.zeros(1)}, str(tmp_path / "as_string.npz"))
    assert qs.load(str(tmp_path / "as_string.npz"))["x"].shape == (1,)


def test_the_file_is_a_plain_npz_without_pickle(tmp_path):
    path = tmp_path / "model.npz"
    model = nn.Linear(3, 2)
    qs.save(model.state_dict(), path)
    with np.load(path, allow_pickle=False) as archive:  # any NumPy can read it
        names = archive.files
        assert "__quasar__" in names
        weight = next(n for n in names if n.endswith(":weight"))
        assert np.array_equal(archive[weight], model.weight.array)


def test_model_and_optimizer_round_trip(tmp_path):
    qs.manual_seed(0)
    model = nn.MLP(4, [8, 3])
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    x = qs.randn(5, 4)
    qs.nn.functional.cross_entropy(model(x), qs.tensor([0, 1, 2, 0, 1])).backward()
    optimizer.step()
    qs.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, tmp_path / "ckpt.npz")

    checkpoint = qs.load(tmp_path / "ckpt.npz")
    qs.manual_seed(1)
    restored = nn.MLP(4, [8, 3])
    restored.load_state_dict(checkpoint["model"])
    restored_optimizer = optim.Adam(restored.parameters())
    restored_optimizer.load_state_dict(checkpoint["optimizer"])
    with qs.no_grad():
        assert np.array_equal(model(x).array, restored(x).array)
    assert restored_optimizer.param_groups[0]["lr"] == 0.01
    assert restored_optimizer.param_groups[0]["betas"] == (0.9, 0.999)
    state = restored_optimizer.state[next(restored.parameters())]
    assert state["step"] == 1 and np.array_equal(state["exp_avg"], optimizer.state[next(model.parameters())]["exp_avg"])


def test_a_wrong_checkpoint_is_named_on_load_state_dict(tmp_path):
    qs.save(nn.Linear(3, 2).state_dict(), tmp_path / "small.npz")
    with pytest.raises(ValueError, match=r"'weight' has shape \(2, 3\)"):
        nn.Linear(4, 2).load_state_dict(qs.load(tmp_path / "small.npz"))
    with pytest.raises(KeyError, match="missing keys"):
        nn.MLP(3, [2, 2]).load_state_dict(qs.load(tmp_path / "small.npz"))


def test_unsavable_things_are_refused_with_their_path(tmp_path):
    with pytest.raises(TypeError, match=r"can't store a Linear at 'model'; save its state_dict\(\) instead"):
        qs.save({"model": nn.Linear(2, 2)}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="object"):
        qs.save({"a": np.array([{}, 1], dtype=object)}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="dict keys must be str or int"):
        qs.save({(1, 2): 3}, tmp_path / "x.npz")


def test_a_pickled_payload_is_never_unpickled(tmp_path):
    """A hostile .npz holding a pickled object array: loading must fail, not run it."""
    path = tmp_path / "hostile.npz"
    np.savez(path, evil=np.array([print], dtype=object))  # NumPy pickles object arrays
    with pytest.raises(ValueError):
        qs.load(path)
    buffer = io.BytesIO()  # the same payload under quasar's own header name
    with zipfile.ZipFile(buffer, "w") as archive:
        inner = io.BytesIO()
        np.save(inner, np.array([print], dtype=object), allow_pickle=True)
        archive.writestr("__quasar__.npy", inner.getvalue())
    path.write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match="allow_pickle"):
        qs.load(path)


def test_a_foreign_npz_is_rejected_with_a_reason(tmp_path):
    np.savez(tmp_path / "plain.npz", x=np.ones(2))
    with pytest.raises(ValueError, match="not written by quasar.save"):
        qs.load(tmp_path / "plain.npz")
