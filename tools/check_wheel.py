"""Check what `make wheel` built: the wheel holds the compiled kernels without
debug symbols and no generated C; the sdist holds the Cython sources and no
generated C; and the wheel installs into a fresh virtual environment with
binary packages only (no compiler can run) and imports, on the compiled backend.

    python tools/check_wheel.py dist/quasar-*.whl    (the sdist is found next to it)
"""

import glob
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile

SMOKE_TEST = """
import quasar as qs
assert qs.get_backend() == "compiled", qs.get_backend()
x = qs.tensor([1.0, 2.0, 3.0], requires_grad=True)
(x * x).sum().backward()
assert x.grad.tolist() == [2.0, 4.0, 6.0], x.grad
print("imported", qs.__file__)
"""


def fail(message):
    sys.exit(f"check_wheel: {message}")


def check_wheel_contents(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        generated_c = [n for n in names if n.endswith(".c")]
        if generated_c:
            fail(f"{wheel} holds generated C files: {generated_c}")
        libraries = [n for n in names if n.endswith(".so")]
        if not any(n.startswith("quasar/_kernels.") for n in libraries):
            fail(f"{wheel} holds no compiled kernels (quasar/_kernels.*.so): {names}")
        for name in libraries:  # ELF section names live in the file's string table
            data = archive.read(name)
            if b".debug_info" in data or b".symtab" in data:
                fail(f"{name} in {wheel} still has debug symbols or a symbol table (not stripped)")
        for required in ("quasar/py.typed", "quasar/_build_info.py", "quasar/__main__.py"):
            if required not in names:
                fail(f"{wheel} lacks {required}")
        # the kernels' private OpenMP runtime (setup.py), found through their rpath $ORIGIN/_libs
        if b"private" in archive.read("quasar/_build_info.py") and "quasar/_libs/libgomp-quasar.so.1" not in names:
            fail(f"{wheel} lacks quasar/_libs/libgomp-quasar.so.1, the kernels' private OpenMP runtime")
        size = sum(info.file_size for info in archive.infolist())
    print(f"check_wheel: {os.path.basename(wheel)}: {len(names)} files, {size / 1e6:.1f} MB unpacked, "
          f"{len(libraries)} stripped extension modules, no .c files")


def check_sdist_contents(wheel):
    sdists = glob.glob(os.path.join(os.path.dirname(wheel), "*.tar.gz"))
    if len(sdists) != 1:
        fail(f"expected one sdist next to {wheel}, found {sdists}")
    with tarfile.open(sdists[0]) as archive:
        names = [n.split("/", 1)[1] for n in archive.getnames() if "/" in n]
    generated_c = [n for n in names if n.endswith(".c")]
    if generated_c:
        fail(f"{sdists[0]} holds generated C files: {generated_c}")
    for required in ("LICENSE", "CHANGELOG.md", "setup.py", "quasar/_kernels.pyx", "quasar/_elementwise.pxi",
                     "quasar/_kernels.pxd"):
        if required not in names:
            fail(f"{sdists[0]} lacks {required}")
    print(f"check_wheel: {os.path.basename(sdists[0])}: Cython sources, no .c files")


def check_installs_without_a_compiler(wheel):
    with tempfile.TemporaryDirectory(prefix="quasar-wheel-") as tmp:
        env_dir = os.path.join(tmp, "venv")
        subprocess.run([sys.executable, "-m", "venv", env_dir], check=True)
        python = os.path.join(env_dir, "bin", "python")
        no_compiler = dict(os.environ, CC="false", CXX="false")  # any attempt to compile fails
        no_compiler.pop("PYTHONPATH", None)
        subprocess.run(
            [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--only-binary=:all:",
             os.path.abspath(wheel)],
            check=True, env=no_compiler,
        )
        for args in (["-c", SMOKE_TEST], ["-m", "quasar"]):  # from an empty directory: the installed copy
            subprocess.run([python, *args], check=True, cwd=tmp, env=no_compiler)
    print("check_wheel: installs into a fresh venv with binary packages only, imports and runs")


def main(argv):
    if len(argv) != 1:
        fail("usage: python tools/check_wheel.py dist/quasar-*.whl")
    wheel = argv[0]
    check_wheel_contents(wheel)
    check_sdist_contents(wheel)
    check_installs_without_a_compiler(wheel)


if __name__ == "__main__":
    main(sys.argv[1:])
