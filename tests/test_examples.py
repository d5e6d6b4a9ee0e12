"""Each example runs as a script (fast mode, in a temporary directory so its
PNG and checkpoint files land there) and prints what it promises."""

import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest

import quasar as qs

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
REPO = EXAMPLES.parent
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_example(name, cwd, fast=True, extra_path=()):
    env = dict(os.environ, MPLBACKEND="Agg", QUASAR_EXAMPLE_FAST="1" if fast else "0")
    env["PYTHONPATH"] = os.pathsep.join([*map(str, extra_path), str(REPO), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name)], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def succeeded(result):
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


def test_neural_network_test_prints_the_worked_example(tmp_path):
    out = succeeded(run_example("neural_network_test.py", tmp_path))
    assert "[[2.3 3. ]\n [5.  6.6]]" in out  # relu(input @ weight + bias)
    assert "loss = output.sum() = 16.9" in out
    assert "grad of input =\n[[0.3 0.7 1.1]\n [0.3 0.7 1.1]]" in out
    assert "grad of weight =\n[[5. 5.]\n [7. 7.]\n [9. 9.]]" in out
    assert "grad of bias =\n[2. 2.]" in out
    assert "gradcheck passed: relu(input @ weight + bias)" in out


def test_moons_trains_and_draws_the_boundary(tmp_path):
    out = succeeded(run_example("moons.py", tmp_path))
    assert "MLP(" in out and "number of parameters: 337" in out
    accuracy = float(re.search(r"final loss [\d.]+, accuracy ([\d.]+)%", out).group(1))
    assert accuracy >= 80  # 20 fast steps; the full 100 reach 99%
    assert (tmp_path / "moons.png").read_bytes().startswith(PNG_MAGIC)


def test_complete_neural_network_fast(tmp_path):
    out = succeeded(run_example("complete_neural_network.py", tmp_path))
    assert "digits: 1347 training and 450 test images of 64 pixels" in out
    assert "identical predictions" in out
    assert float(re.search(r"test accuracy: ([\d.]+)%", out).group(1)) >= 80
    assert (tmp_path / "digits_training.png").read_bytes().startswith(PNG_MAGIC)
    assert isinstance(qs.load(tmp_path / "digits_checkpoint.npz")["model"]["0.weight"], qs.Tensor)


def test_complete_neural_network_reaches_97_percent(tmp_path):
    """The full run (40 epochs, a few seconds): the demo's promise."""
    out = succeeded(run_example("complete_neural_network.py", tmp_path, fast=False))
    assert float(re.search(r"test accuracy: ([\d.]+)%", out).group(1)) >= 97


def test_second_order_newton_and_pinn_fast(tmp_path):
    out = succeeded(run_example("second_order.py", tmp_path))
    newton_steps = int(re.search(r"Newton reaches within 1e-8 of the minimum in (\d+) steps", out).group(1))
    assert newton_steps <= 8
    newton = float(re.search(r"Newton-CG: loss ([\d.]+)", out).group(1))
    descent = float(re.search(r"gradient descent: loss ([\d.]+)", out).group(1))
    assert newton < descent  # 100 gradient steps are still above Newton's minimum
    error = float(re.search(r"relative L2 error against sin\(pi x\): ([\d.e+-]+)", out).group(1))
    assert error < 0.05
    for name in ("second_order_newton.png", "second_order_pinn.png"):
        assert (tmp_path / name).read_bytes().startswith(PNG_MAGIC)


def test_a_missing_package_names_itself_and_the_install_command(tmp_path):
    fake = tmp_path / "hide"  # a matplotlib that fails to import, first on the path
    (fake / "matplotlib").mkdir(parents=True)
    (fake / "matplotlib" / "__init__.py").write_text("raise ImportError('hidden for the test')\n")
    result = run_example("moons.py", tmp_path, extra_path=[fake])
    assert result.returncode == 1
    assert "'matplotlib' package, which is not installed" in result.stderr
    assert "pip install -e .[examples]" in result.stderr


def _common():
    spec = importlib.util.spec_from_file_location("examples_common", EXAMPLES / "_common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_require_names_the_pip_package():
    with pytest.raises(SystemExit, match=r"(?s)'scikit-learn' package.*pip install -e \.\[examples\]") as info:
        _common().require("sklearn_is_not_here", "scikit-learn")
    assert "pip install scikit-learn" in str(info.value)


def test_a_non_finite_loss_stops_training():
    common = _common()
    assert common.check_finite(qs.tensor(0.5), 3) == 0.5
    with pytest.raises(SystemExit, match="the loss is nan at step 7"):
        common.check_finite(qs.tensor(float("nan")), 7)
    with pytest.raises(SystemExit, match="the loss is inf"):
        common.check_finite(qs.tensor(float("inf")), 0)


def test_cnn_digits_fast(tmp_path):
    out = succeeded(run_example("cnn_digits.py", tmp_path))
    assert "digits: 1347 training and 450 test images of shape (1, 8, 8)" in out
    assert "Conv2d(1, 16, kernel_size=(3, 3)" in out and "BatchNorm2d(16" in out
    assert "identical predictions" in out
    assert float(re.search(r"test accuracy: ([\d.]+)%", out).group(1)) >= 80
    assert (tmp_path / "cnn_digits.png").read_bytes().startswith(PNG_MAGIC)
    state = qs.load(tmp_path / "cnn_checkpoint.npz")["model"]
    assert state["1.running_mean"].shape == (16,) and int(state["1.num_batches_tracked"].item()) > 0


def test_char_gpt_fast_trains_samples_and_resumes(tmp_path):
    out = succeeded(run_example("char_gpt.py", tmp_path))
    assert re.search(r"corpus: 20 files, [\d,]+ characters, vocabulary of \d+", out)
    first = float(re.search(r"step 0: train loss ([\d.]+)", out).group(1))
    final = float(re.search(r"final: train loss ([\d.]+), val loss [\d.]+", out).group(1))
    assert final < first  # 30 steps of a tiny model: the loss goes down
    sample = out.split("top-k 20) ---\n")[1].split("\n---")[0]
    assert sample.startswith("def ") and len(sample) == 104  # the prompt and 100 sampled characters
    assert (tmp_path / "char_gpt_loss.png").read_bytes().startswith(PNG_MAGIC)
    checkpoint = qs.load(tmp_path / "char_gpt_checkpoint.npz")
    assert checkpoint["iter"] == 30 and "transformer.wte.weight" in checkpoint["model"]
    resumed = succeeded(run_example_args("char_gpt.py", tmp_path, "--resume", "--iters", "35"))
    assert "resumed from char_gpt_checkpoint.npz at step 30" in resumed
    assert qs.load(tmp_path / "char_gpt_checkpoint.npz")["iter"] == 35


def test_char_gpt_lstm_model_fast(tmp_path):
    out = succeeded(run_example_args("char_gpt.py", tmp_path, "--model", "lstm", "--iters", "12"))
    assert "model: lstm" in out and "final: train loss" in out


def run_example_args(name, cwd, *args):
    env = dict(os.environ, MPLBACKEND="Agg", QUASAR_EXAMPLE_FAST="1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
