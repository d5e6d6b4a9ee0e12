"""quasar's kernels run on a private OpenMP runtime, so import order does not matter.

A process has one library called ``libgomp.so.1`` and PyTorch bundles its own
under that name. Before, whichever of quasar and PyTorch was imported first
set the wait policy of the other's workers (see quasar/parallel.py). Each test
runs a fresh interpreter, since a runtime reads its settings once, when it loads.
PyTorch is not needed: the system's libgomp, loaded globally before quasar,
plays its part.
"""

import ctypes.util
import os
import subprocess
import sys
import textwrap

import quasar.parallel as parallel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

def run_python(code, env=None):
    """Run ``code`` in a fresh interpreter from the repository root; return its stdout lines."""
    full_env = dict(os.environ, **(env or {}))
    for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS"):
        if env is None or name not in env:
            full_env.pop(name, None)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_kernels_link_the_private_runtime():
    from quasar import _build_info

    assert _build_info.OPENMP_RUNTIME == "private (_libs/libgomp-quasar.so.1)"
    mapped = run_python("""
        import quasar
        print(*sorted({line.split()[-1] for line in open('/proc/self/maps') if 'gomp' in line}))
    """)
    assert [os.path.basename(path) for path in mapped] == ["libgomp-quasar.so.1"]


def test_importing_quasar_leaves_the_environment_as_it_was():
    # a runtime loaded after quasar (PyTorch's) must see the user's settings, not quasar's
    out = run_python("""
        import os, quasar
        print(os.environ.get('OMP_WAIT_POLICY', '-'), os.environ.get('GOMP_SPINCOUNT', '-'))
    """)
    assert out == ["-", "-"]
    out = run_python("""
        import os, quasar
        print(os.environ.get('OMP_WAIT_POLICY', '-'), os.environ.get('GOMP_SPINCOUNT', '-'))
    """, env={"OMP_WAIT_POLICY": "ACTIVE"})
    assert out == ["ACTIVE", "-"]


def test_a_libgomp_loaded_globally_first_is_not_the_one_quasar_uses():
    # What `import torch` does: its libgomp.so.1 is loaded RTLD_GLOBAL before quasar.
    # Its thread count is set to 97; quasar's runtime must not see that setting.
    system_libgomp = ctypes.util.find_library("gomp")
    assert system_libgomp, "the C compiler's libgomp was found at build time, so it is installed"
    out = run_python(f"""
        import ctypes, os
        other = ctypes.CDLL({system_libgomp!r}, mode=ctypes.RTLD_GLOBAL)
        other.omp_set_num_threads(97)
        import quasar.parallel as parallel
        from quasar import _kernels
        print(other.omp_get_max_threads(), _kernels.max_threads(), parallel.usable_cores())
    """)
    other, ours, cores = (int(v) for v in out)
    assert other == 97
    assert ours == cores  # the default of a runtime nobody has configured


def test_show_config_names_the_runtime_and_its_wait():
    import io

    text = io.StringIO()
    parallel.show_config(file=text)
    assert "OpenMP runtime:        private (_libs/libgomp-quasar.so.1)" in text.getvalue()
    assert "worker wait:" in text.getvalue()
