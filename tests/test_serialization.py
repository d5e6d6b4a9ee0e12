"""qs.save / qs.load: nested state dicts in .npz, never pickle."""

import io
import json
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import quasar as qs
from quasar import nn, optim, serialization
from quasar.serialization import CheckpointError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _write_zip(path, members, compression=zipfile.ZIP_STORED):
    """A hand-made archive: {member name: bytes}."""
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _with_header(path, header, arrays=()):
    """An archive whose __quasar__ entry is ``header`` (a dict, or raw JSON text)."""
    text = header if isinstance(header, str) else json.dumps(header)
    _write_zip(path, {"__quasar__.npy": _npy(np.array(text)), **{f"{k}.npy": _npy(v) for k, v in dict(arrays).items()}})


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


class _MakesADirectory:
    """Unpickling this calls os.mkdir(path): a stand-in for any code a pickle can run."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return os.mkdir, (self.path,)


def test_a_pickled_payload_is_never_unpickled(tmp_path):
    """A hostile .npz holding a pickled object array: loading must fail, not run it."""
    marker = tmp_path / "the_payload_ran"
    payload = np.array([_MakesADirectory(marker)], dtype=object)
    pickle.loads(pickle.dumps(payload))  # the payload is live: unpickling it runs os.mkdir
    assert marker.is_dir()
    marker.rmdir()

    path = tmp_path / "hostile.npz"
    np.savez(path, evil=payload)  # NumPy pickles object arrays
    with pytest.raises(CheckpointError):
        qs.load(path)
    inner = io.BytesIO()
    np.save(inner, payload, allow_pickle=True)
    header = json.dumps({"format": "quasar.save/1", "tree": {"tensor": "0:w"}})
    for members in ({"__quasar__.npy": inner.getvalue()},  # under quasar's own header name
                    {"__quasar__.npy": _npy(np.array(header)), "0:w.npy": inner.getvalue()}):  # as a tensor
        _write_zip(path, members)
        with pytest.raises(CheckpointError, match="dtype object: quasar loads only numeric arrays"):
            qs.load(path)
    assert not marker.exists()


def test_a_foreign_npz_is_a_checkpoint_error(tmp_path):
    np.savez(tmp_path / "plain.npz", x=np.ones(2))
    with pytest.raises(CheckpointError, match=r"plain\.npz was not written by quasar\.save"):
        qs.load(tmp_path / "plain.npz")
    assert issubclass(CheckpointError, ValueError) and qs.CheckpointError is CheckpointError


# ---------------------------------------------------------------- saving is atomic


def _old_checkpoint(tmp_path):
    path = tmp_path / "ckpt.npz"
    qs.save({"weight": qs.tensor(np.arange(6.0).reshape(2, 3)), "epoch": 1}, path)
    return path, path.read_bytes()


def _fail_mid_write(exception):
    def write(obj, f):
        f.write(b"PK\x03\x04" + b"\0" * 100_000)  # half an archive is already on disk
        raise exception

    return write


@pytest.mark.parametrize("exception", [RuntimeError("boom"), KeyboardInterrupt()])
def test_a_failed_save_leaves_the_old_file_intact(tmp_path, monkeypatch, exception):
    path, before = _old_checkpoint(tmp_path)
    monkeypatch.setattr(serialization, "_write_npz", _fail_mid_write(exception))
    with pytest.raises(type(exception)):
        qs.save({"weight": qs.zeros(1000)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # no temporary left behind
    monkeypatch.undo()
    assert qs.load(path)["epoch"] == 1


def test_an_unsavable_object_leaves_the_old_file_intact(tmp_path):
    path, before = _old_checkpoint(tmp_path)
    with pytest.raises(TypeError):
        qs.save({"model": nn.Linear(2, 2)}, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ckpt.npz"]


FULL_DISK = r"""
import resource, sys
import numpy as np
import quasar as qs
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, resource.RLIM_INFINITY))  # files stop at 200 kB
try:
    qs.save({"weight": qs.zeros(1_000_000)}, sys.argv[1])  # 4 MB: cannot fit
except OSError as exc:
    print("OSError", exc)
"""


def test_a_full_disk_leaves_the_old_file_intact(tmp_path):
    path, before = _old_checkpoint(tmp_path)
    done = subprocess.run([sys.executable, "-c", FULL_DISK, str(path)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": ROOT}, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("OSError"), done.stdout  # the write really failed
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_save_replaces_through_a_symlink_and_keeps_permissions(tmp_path):
    path, _ = _old_checkpoint(tmp_path)
    os.chmod(path, 0o640)
    link = tmp_path / "latest.npz"
    link.symlink_to(path.name)
    qs.save({"epoch": 2}, link)
    assert link.is_symlink() and qs.load(path)["epoch"] == 2
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz", "latest.npz"]


# ---------------------------------------------------------------- loading: one clear error per problem


def test_a_plain_npy_or_a_text_file_is_a_clear_error(tmp_path):
    np.save(tmp_path / "weights.npy", np.ones(3))
    with pytest.raises(CheckpointError, match=r"weights\.npy is a single NumPy \.npy array"):
        qs.load(tmp_path / "weights.npy")
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(CheckpointError, match=r"notes\.txt is not a checkpoint .*not a zip"):
        qs.load(tmp_path / "notes.txt")
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(CheckpointError, match="not a zip"):
        qs.load(tmp_path / "empty.npz")
    with pytest.raises(FileNotFoundError):
        qs.load(tmp_path / "missing.npz")


@pytest.mark.parametrize(
    "header, message",
    [
        ("{not json", "not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ({"format": "quasar.save/1"}, "without the 'tree'"),
        ([1, 2], "without the 'tree'"),
        ({"format": "other/9", "tree": {"value": 1}}, "has format 'other/9'"),
        ({"format": "quasar.save/1", "tree": {"tensor": "0:missing"}}, "refers to an array '0:missing'"),
        ({"format": "quasar.save/1", "tree": {"tensor": ["not", "a", "name"]}}, "refers to an array"),
        ({"format": "quasar.save/1", "tree": {"surprise": 1}}, "does not understand at the top level"),
        ({"format": "quasar.save/1", "tree": {"dict": [["a", {"value": 1}], ["b"]]}}, "not a \\[key, value\\] pair"),
        ({"format": "quasar.save/1", "tree": {"list": [{"value": {"x": 1}}]}}, "value at '0' that is not a number"),
        ({"format": "quasar.save/1", "tree": {"dict": "abc"}}, "does not understand"),
        ({"format": "quasar.save/1", "tree": "abc"}, "does not understand"),
        ({"format": "quasar.save/1", "tree": {"tensor": "0:w", "requires_grad": True}}, "tensor at the top level"),
    ],
)
def test_a_hand_edited_header_is_a_clear_error(tmp_path, header, message):
    path = tmp_path / "edited.npz"
    _with_header(path, header, {"0:w": np.arange(3)})  # an int64 array can't require grad
    with pytest.raises(CheckpointError, match=message) as info:
        qs.load(path)
    assert "edited.npz" in str(info.value)


def test_deep_nesting_is_refused_on_load_and_on_save(tmp_path):
    tree = {"value": 1}
    for _ in range(serialization.MAX_DEPTH + 5):  # valid JSON, within Python's recursion limit
        tree = {"list": [tree]}
    _with_header(tmp_path / "deep.npz", {"format": "quasar.save/1", "tree": tree})
    with pytest.raises(CheckpointError, match="deeper than"):
        qs.load(tmp_path / "deep.npz")
    nested = 1
    for _ in range(serialization.MAX_DEPTH + 5):
        nested = [nested]
    with pytest.raises(ValueError, match="nesting deeper than"):
        qs.save(nested, tmp_path / "deep.npz")


def test_a_truncated_or_corrupted_file_is_a_clear_error(tmp_path):
    path, before = _old_checkpoint(tmp_path)
    for cut in (10, len(before) // 2, len(before) - 10):
        path.write_bytes(before[:cut])
        with pytest.raises(CheckpointError, match="ckpt.npz"):
            qs.load(path)
    weight = before.index(np.arange(6.0).tobytes())  # flip one byte of the weight's data
    path.write_bytes(before[:weight] + b"\xff" + before[weight + 1:])
    with pytest.raises(CheckpointError, match="damaged .*CRC"):
        qs.load(path)


def test_a_size_that_cannot_fit_in_the_file_is_refused_before_allocating(tmp_path):
    """A header claiming 2**40 float64s in a few bytes: refused without trying to allocate 8 TB."""
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }"
    body = b"\x93NUMPY\x01\x00" + (len(header) + 1).to_bytes(2, "little") + header.encode() + b"\n" + b"\0" * 32
    _write_zip(tmp_path / "huge.npz", {"__quasar__.npy": _npy(np.array(json.dumps(
        {"format": "quasar.save/1", "tree": {"tensor": "0:w"}}))), "0:w.npy": body})
    with pytest.raises(CheckpointError, match=r"truncated or damaged: entry '0:w' declares shape \(1099511627776,\)"):
        qs.load(tmp_path / "huge.npz")


def test_max_bytes_caps_what_a_compressed_file_may_claim(tmp_path):
    """8 MB of zeros compress to a few kB: refused unless the caller raises max_bytes."""
    path = tmp_path / "bomb.npz"
    header = json.dumps({"format": "quasar.save/1", "tree": {"array": "0:w"}})
    _write_zip(path, {"__quasar__.npy": _npy(np.array(header)), "0:w.npy": _npy(np.zeros(1_000_000))},
               compression=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 100_000
    with pytest.raises(CheckpointError, match=r"needs more than max_bytes .*max_bytes=N"):
        qs.load(path)
    with pytest.raises(CheckpointError, match="max_bytes"):
        qs.load(path, max_bytes=1_000_000)
    assert qs.load(path, max_bytes=10_000_000).shape == (1_000_000,)
    with pytest.raises(TypeError, match="max_bytes"):
        qs.load(path, max_bytes="lots")


def test_a_genuine_checkpoint_always_fits_the_default_cap(tmp_path):
    qs.save({"big": qs.zeros(3, 100_000), "fortran": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
             "empty": np.zeros((0, 5), np.float32), "big_endian": np.arange(3, dtype=">i8")}, tmp_path / "c.npz")
    back = qs.load(tmp_path / "c.npz")
    assert back["big"].shape == (3, 100_000)
    assert np.array_equal(back["fortran"], np.arange(12.0).reshape(3, 4))
    assert back["empty"].shape == (0, 5) and back["empty"].dtype == np.float32
    assert back["big_endian"].dtype == np.int64 and back["big_endian"].tolist() == [0, 1, 2]
