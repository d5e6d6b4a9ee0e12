"""examples/parallel_neural_network.py runs (fast mode) and prints what it
promises. Its timings are printed, never checked: only that every line is
there, and that full mode's comparison of threads with one-after-another
training compares like with like."""

import importlib.util
import re
import sys

import numpy as np
import pytest
from test_examples import EXAMPLES, run_example, succeeded

NUMBER_ROW = r"\s+[\d,]+\s+[\d.]+ms\s+[\d.]+ms\s+[\d.]+x$"


def test_parallel_example_prints_its_tables_and_checks(tmp_path):
    out = succeeded(run_example("parallel_neural_network.py", tmp_path))
    assert "OpenMP:                enabled" in out  # show_config's report
    threads = int(re.search(r"quasar will use up to (\d+) threads per kernel", out).group(1))
    assert threads >= 1
    assert re.search(r"medians of 3 runs, load average ([\d.]+|unknown) on \d+ cores", out)
    # 2. one row per op and size: two sizes of each elementwise op, two matmuls
    for op in ("add", "mul", "relu", "exp", "tanh", "matmul"):
        assert len(re.findall(rf"^{op}{NUMBER_ROW}", out, re.M)) == 2, op
    # 3. the seed's par_ ops give the plain ops' numbers, forward and backward
    assert "par_ ops equal the plain ops, forward and backward: True" in out
    # 4. four networks in four Python threads, identical to training them in turn
    for i in range(4):
        assert re.search(rf"^thread {i}: final loss \d+\.\d+$", out, re.M)
    assert re.search(r"^\d+ thread\(s\) per kernel and for BLAS in both runs; load average [\d.]+ on \d+ cores$",
                     out, re.M)
    assert re.search(r"one after another: [\d.]+ s; 4 Python threads at once: [\d.]+ s; speedup [\d.]+x", out)
    assert "identical results in threads and one after another: True" in out
    assert out.rstrip().endswith("Parallel computation completed!")


@pytest.fixture(scope="module")
def example():
    """The example as a module (its __main__ block does not run)."""
    sys.path.insert(0, str(EXAMPLES))  # for its `from _common import ...`
    try:
        spec = importlib.util.spec_from_file_location("parallel_example", EXAMPLES / "parallel_neural_network.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(EXAMPLES))


def test_full_mode_sizes_give_identical_results_in_threads_and_in_turn(example):
    """Full mode's networks (256 hidden units, batch 512: large enough for a
    multi-threaded BLAS), a few steps: both ways use the same thread counts."""
    seen = example.compare_threads_with_sequential(4, hidden=256, batch=512, steps=2, repeats=2)
    assert seen["identical"] is True
    assert seen["per_kernel"] == max(1, seen["cores"] // 4)
    assert len(seen["final_losses"]) == 4 and all(np.isfinite(seen["final_losses"]))
    assert seen["sequential"] > 0 and seen["threaded"] > 0


def test_identical_sees_a_one_bit_difference(example):
    params = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(3, np.float32)]
    results = [(0.5, params)]
    assert example.identical(results, [(0.5, [p.copy() for p in params])])
    nudged = [params[0].copy(), params[1].copy()]
    nudged[1][2] = np.nextafter(np.float32(1), np.float32(2))
    assert not example.identical(results, [(0.5, nudged)])
    assert not example.identical(results, [(0.5000001, params)])
    assert not example.identical(results, [(0.5, [params[0].astype(np.float64), params[1]])])
    assert not example.identical(results, results * 2)


def test_a_speedup_is_called_unreliable_when_it_should_be(example):
    reasons = example.unreliable_reasons
    assert reasons([1.0, 1.02], [0.6, 0.61], load=0.5, cores=2, n_threads=4) == []
    assert reasons([1.0], [0.6], load=None, cores=2, n_threads=4) == []  # no load average: not a reason
    assert "busy (load average 9.0 on 2 cores)" in reasons([1.0], [0.6], load=9.0, cores=2, n_threads=4)[0]
    assert "varied from 0.500 s to 1.000 s" in reasons([0.5, 1.0], [0.4, 0.4], load=0.1, cores=2, n_threads=4)[0]
    assert "13.70x is more than 2 threads on 2 cores can give" in reasons(
        [13.7], [1.0], load=0.1, cores=2, n_threads=4)[0]
