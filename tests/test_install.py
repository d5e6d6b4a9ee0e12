"""The README's promises about the installation: the venv's python imports
this checkout from any directory (an editable install, no PYTHONPATH), the
quick tour's example prints what the README shows, ``python -m quasar``
reports the version and build."""

import contextlib
import io
import os
import pathlib
import re
import subprocess
import sys

import quasar as qs

REPO = pathlib.Path(__file__).resolve().parent.parent


def run_python(args, cwd):
    """sys.executable (the venv's python under `make test`) with no PYTHONPATH, from cwd."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["MPLBACKEND"] = "Agg"
    result = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


def test_the_venv_imports_this_checkout_from_another_directory(tmp_path):
    out = run_python(["-c", "import quasar; print(quasar.__file__); print(quasar.get_backend())"], tmp_path)
    path, backend = out.split("\n")[:2]
    assert pathlib.Path(path).resolve() == REPO / "quasar" / "__init__.py", (
        f"{sys.executable} imports quasar from {path}, not from this checkout: "
        "run `make build` (it installs the checkout into .venv, editable)"
    )
    assert backend == "compiled"


def tour_block():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", readme, flags=re.S)[0]


def test_basic_usage_prints_what_the_readme_tour_prints(tmp_path):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(tour_block(), "README.md", "exec"), {})
    out = run_python([str(REPO / "examples" / "basic_usage.py")], tmp_path)
    assert out == printed.getvalue()
    assert "tensor([4., 6.], dtype=float64) tensor([ -8., -10.], dtype=float64)" in out
    for line in out.splitlines():  # the README's comments show the printed lines
        assert f"# {line}" in tour_block()


def test_python_m_quasar_prints_the_version_and_the_build(tmp_path):
    out = run_python(["-m", "quasar"], tmp_path)
    assert out.startswith(f"quasar {qs.__version__}\nquasar configuration\n")
    assert "OpenMP:" in out and "compile flags:" in out


def test_the_package_is_typed():
    assert (REPO / "quasar" / "py.typed").exists()
