"""The README's Python examples run as written."""

import os
import re

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def python_blocks():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        return re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)


def test_readme_has_python_examples():
    assert len(python_blocks()) >= 3


def test_every_python_block_runs(tmp_path, monkeypatch, capsys):
    import quasar as qs

    monkeypatch.chdir(tmp_path)  # blocks may write files (model.npz)
    backend_before = qs.get_backend()  # a block switches this thread's backend: later tests must not inherit it
    rng = np.random.default_rng(0)
    namespace = {  # the data the training block refers to
        "images": rng.standard_normal((256, 64)).astype(np.float32),
        "labels": rng.integers(0, 10, 256),
    }
    try:
        for block in python_blocks():
            code = block.replace("...", "pass")  # a `with ...:` placeholder body
            exec(compile(code, "README.md", "exec"), namespace)
    finally:
        qs.set_backend(backend_before)
    printed = capsys.readouterr().out
    assert "[4., 6.]" in printed and "[ -8., -10.]" in printed
