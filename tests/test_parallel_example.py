"""examples/parallel_neural_network.py runs (fast mode) and prints what it
promises. Its timings are printed, never checked: only that every line is there."""

import re

from test_examples import run_example, succeeded

NUMBER_ROW = r"\s+[\d,]+\s+[\d.]+ms\s+[\d.]+ms\s+[\d.]+x$"


def test_parallel_example_prints_its_tables_and_checks(tmp_path):
    out = succeeded(run_example("parallel_neural_network.py", tmp_path))
    assert "OpenMP:                enabled" in out  # show_config's report
    threads = int(re.search(r"quasar will use up to (\d+) threads per kernel", out).group(1))
    assert threads >= 1
    # 2. one row per op and size: two sizes of each elementwise op, two matmuls
    for op in ("add", "mul", "relu", "exp", "tanh", "matmul"):
        assert len(re.findall(rf"^{op}{NUMBER_ROW}", out, re.M)) == 2, op
    # 3. the seed's par_ ops give the plain ops' numbers, forward and backward
    assert "par_ ops equal the plain ops, forward and backward: True" in out
    # 4. four networks in four Python threads, identical to training them in turn
    for i in range(4):
        assert re.search(rf"^thread {i}: final loss \d+\.\d+$", out, re.M)
    assert re.search(r"one after another: [\d.]+ s; 4 Python threads at once .*speedup [\d.]+x", out)
    assert "identical results in threads and one after another: True" in out
    assert out.rstrip().endswith("Parallel computation completed!")
