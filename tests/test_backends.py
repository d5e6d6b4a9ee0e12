"""Choosing a backend: the default, the switches, and what happens without the extension."""

import os
import subprocess
import sys
import threading

import pytest

import quasar as qs
from quasar import backends

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code, **env):
    """Run code in a fresh interpreter (quasar importable); return (stdout, stderr)."""
    environment = {k: v for k, v in os.environ.items() if k != "QUASAR_BACKEND"}
    environment.update(PYTHONPATH=ROOT, **env)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip(), done.stderr


def test_the_compiled_backend_runs_by_default():
    # The suite must exercise the Cython kernels: fail if anything fell back.
    assert backends.compiled is not None, "the compiled extension did not import"
    assert qs.get_backend() == "compiled"
    out, _ = run_python("import quasar as qs; print(qs.get_backend())")
    assert out == "compiled"


def test_environment_variable_picks_the_process_default():
    out, _ = run_python("import quasar as qs; print(qs.get_backend())", QUASAR_BACKEND="reference")
    assert out == "reference"


def test_missing_extension_falls_back_to_reference_with_one_loud_warning():
    code = (
        "import sys, warnings\n"
        "sys.modules['quasar._kernels'] = None  # as if the extension was never built\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import quasar as qs\n"
        "    import quasar.backends\n"
        "print(qs.get_backend(), len(caught), caught[0].message)\n"
        "x = qs.tensor([1.0, 2.0], requires_grad=True)\n"
        "(x * x).sum().backward()\n"
        "print(x.grad.tolist())\n"
    )
    out, _ = run_python(code)
    first, second = out.splitlines()
    assert first.startswith("reference 1 ") and "make build" in first
    assert second == "[2.0, 4.0]"


def test_set_backend_and_block_are_per_thread():
    seen = {}

    def worker():
        seen["worker"] = qs.get_backend()

    with qs.backend("reference"):
        assert qs.get_backend() == "reference"
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    assert seen["worker"] == "compiled"
    assert qs.get_backend() == "compiled"
    qs.set_backend("reference")
    try:
        assert qs.get_backend() == "reference"
    finally:
        qs.set_backend("compiled")


def test_backend_block_restores_after_an_error():
    with pytest.raises(ZeroDivisionError), qs.backend("reference"):
        1 / 0
    assert qs.get_backend() == "compiled"


def test_both_backends_offer_the_same_kernels():
    def kernels(namespace):
        return {k for k, v in vars(namespace).items() if callable(v)}

    assert kernels(backends.compiled) == kernels(backends.reference)
    assert len(kernels(backends.compiled)) > 60


def test_bad_backend_names_are_rejected():
    with pytest.raises(ValueError, match="unknown backend 'fast'"):
        qs.set_backend("fast")


def test_bad_environment_backend_is_rejected(monkeypatch):
    monkeypatch.setenv("QUASAR_BACKEND", "gpu")
    with pytest.raises(ValueError, match="QUASAR_BACKEND='gpu'"):
        backends._default_name()
