"""What every benchmark script shares: loading the libraries in a chosen order,
one thread count for all of them, the timers, the machine's facts and load,
child processes, number formatting and RESULTS.md's generated part.

This module imports neither quasar nor PyTorch. A benchmark process loads
them through ``load(...)`` in the order it wants, and a workload reads them
from ``libs`` when it runs (``libs.qs`` / ``libs.torch`` are None when the
process never imported that library), so one workload can time one library
in a process that never saw the other.
"""

import datetime
import gc
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import types

try:
    import resource
except ImportError:  # not on Windows
    resource = None

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# The environment before any library touched it (importing quasar sets
# OMP_WAIT_POLICY=PASSIVE in os.environ): every child process starts from this one.
CLEAN_ENVIRONMENT = dict(os.environ)

LIBRARIES = ("quasar", "torch", "numpy")

# ============================================================== the libraries of this process

libs = types.SimpleNamespace(qs=None, torch=None, threadpoolctl=None, order=())


def load(order):
    """Import the libraries named in ``order`` ("quasar", "torch"; "numpy" is
    always there), in that order, into ``libs``; returns ``libs``. A library
    that is not installed is left None (torch is optional)."""
    for name in order:
        if name == "quasar":
            import quasar

            libs.qs = quasar
        elif name == "torch":
            try:
                import torch
            except ImportError:
                continue
            libs.torch = torch
        elif name != "numpy":
            raise ValueError(f"unknown library {name!r}; choose from {', '.join(LIBRARIES)}")
    try:
        import threadpoolctl

        libs.threadpoolctl = threadpoolctl
    except ImportError:
        pass
    libs.order = tuple(order)
    return libs


def imported():
    """Which of quasar and torch this process has imported, in no particular order."""
    return [name for name in ("quasar", "torch") if name in sys.modules]


def require_only(allowed):
    """Raise if this process imported quasar or torch outside ``allowed`` (a workload
    that timed one library must not have pulled in the other)."""
    extra = set(imported()) - set(allowed)
    if extra:
        raise RuntimeError(f"this process was to hold only {sorted(allowed) or 'NumPy'} but imported {sorted(extra)}")


def torch_installed():
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def set_threads(n):
    """One thread count for every library loaded in this process; returns what each reports."""
    info = {"requested": n}
    if libs.torch is not None:
        libs.torch.set_num_threads(n)
        info["torch"] = libs.torch.get_num_threads()
    if libs.qs is not None:
        libs.qs.set_num_threads(n)
        info["quasar"] = libs.qs.get_num_threads()
    if libs.threadpoolctl is not None:
        # NumPy's BLAS only: torch and quasar set their own OpenMP pools above (limiting
        # torch's libgomp through threadpoolctl as well made its steps up to 40x slower here)
        libs.threadpoolctl.threadpool_limits(n, user_api="blas")
        info["blas"] = n
    return info


# ============================================================== timing


def page_faults():
    """Minor page faults of this process so far (0 where getrusage is missing)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt if resource is not None else 0


def median_time(fn, min_time=0.05, samples=5, warmup=1):
    """Median seconds per call of fn: ``warmup`` calls, then ``samples`` samples of
    enough calls to last min_time each (one call per sample, at most 3 samples,
    for calls over 0.2 s)."""
    start = time.perf_counter()
    for _ in range(max(1, warmup)):
        fn()
    one = (time.perf_counter() - start) / max(1, warmup)
    if one > 0.2:
        samples, number = min(samples, 3), 1
    else:
        number = max(1, math.ceil(min_time / max(one, 1e-7)))
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times)


def call_times(fn, repeats, warmup=0):
    """Seconds of each of ``repeats`` single calls, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def best_time(fn, repeats, warmup=0):
    """The fastest of ``repeats`` single calls (after ``warmup`` calls): other load only adds time."""
    return min(call_times(fn, repeats, warmup))


class Timer:
    """Warm-up, calibrate the calls per sample, then the median of the samples.

    ``compare({"quasar": f, "torch": g, ...})`` times several libraries on one
    config, one library after the other. Before each library's turn on
    multi-threaded work (and before every config) the process idles ``gap``
    seconds: a thread pool keeps its threads spinning for a while after its
    last call (OpenBLAS ~0.1 s), and on a small machine they starve the next
    library's threads. Measured here: torch's 256x256 matmul ran at 5-80
    GFLOP/s right after NumPy's instead of 340, and NumPy's at 2-3 after torch's.
    After each compare, ``faults`` holds each library's minor page faults per call.
    """

    def __init__(self, min_time, repeats, warmup, quiet=0, gap=0.2):
        self.min_time, self.repeats, self.warmup, self.quiet, self.gap = min_time, repeats, warmup, quiet, gap
        self.log = []  # one dict per timing: label, median/min/max, calls per sample, background load
        self.faults = {}

    def _calibrate(self, fn):
        t0 = time.perf_counter()
        fn()
        one = time.perf_counter() - t0
        calls = 1
        while time.perf_counter() - t0 < self.warmup or calls < 2:
            fn()
            calls += 1
        one = min(one, (time.perf_counter() - t0) / calls)
        return one, max(1, int(math.ceil(self.min_time / max(one, 1e-9))))

    @staticmethod
    def _sample(fn, number):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        return (time.perf_counter() - t0) / number

    def compare(self, fns, repeats=None, label="", threaded=True):
        """{name: fn} -> {name: median seconds per call}; None values are skipped.

        threaded: whether any library may run this config on several threads
        (then each library's turn starts after an idle gap). With ``quiet``
        set (--wait-quiet), a config during which other processes used more
        than 0.15 cores is measured again once the machine is idle (at most
        twice more)."""
        fns = {k: f for k, f in fns.items() if f is not None}
        for attempt in range(3):
            before = cpu_snapshot()
            out = self._compare_once(fns, repeats, threaded)
            load = background_load(before, cpu_snapshot())
            if not self.quiet or load is None or load < 0.15 or attempt == 2:
                break
            wait_quiet(self.quiet)
        self.faults = {}
        for k, (median, ss, number, faults) in out.items():
            self.faults[k] = faults
            self.log.append({"label": f"{label} {k}".strip(), "median_s": median, "min_s": min(ss), "max_s": max(ss),
                             "calls_per_sample": number, "samples": len(ss), "background_cores": load,
                             "page_faults_per_call": faults, "attempts": attempt + 1})
        return {k: v[0] for k, v in out.items()}

    def _compare_once(self, fns, repeats, threaded):
        gc.collect()
        out = {}
        for i, (k, f) in enumerate(fns.items()):
            if threaded or i == 0:
                time.sleep(self.gap)
            one, number = self._calibrate(f)
            reps = repeats or self.repeats
            if one > 0.25:  # slow configs: fewer samples, never below 3
                reps = max(3, min(reps, 5))
            f0 = page_faults()
            ss = [self._sample(f, number) for _ in range(reps)]
            out[k] = (statistics.median(ss), ss, number, (page_faults() - f0) / (reps * number))
        return out

    def __call__(self, fn, repeats=None, label="", threaded=True):
        return self.compare({"_": fn}, repeats, label, threaded)["_"]


# ============================================================== the machine and its load


def cpu_model(with_isa=True):
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return platform.processor() or platform.machine()
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    flags = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
    name = model.group(1).strip() if model else platform.machine()
    if flags and with_isa:
        have = set(flags.group(1).split())
        isa = [f for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16") if f in have]
        name += " [" + " ".join(isa) + "]"
    return name


def usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def openmp_runtimes():
    """The OpenMP runtimes mapped into this process (libgomp, libiomp, ...)."""
    try:
        with open("/proc/self/maps") as f:
            return sorted(set(re.findall(r"/\S*[gi]omp[^/\s]*\.so[^/\s]*", f.read())))
    except OSError:
        return []


def cpu_snapshot():
    """(machine busy CPU-seconds, this process's + children's CPU-seconds, wall time)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        busy = (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait
    except (OSError, ValueError):
        busy = None
    t = os.times()
    return busy, t.user + t.system + t.children_user + t.children_system, time.perf_counter()


def background_load(before, after):
    """CPU the *other* processes used between two snapshots, in cores (0 = a quiet machine)."""
    if before[0] is None or after[0] is None:
        return None
    wall = after[2] - before[2]
    other = (after[0] - before[0]) - (after[1] - before[1])
    return max(0.0, other / wall) if wall > 0 else None


def wait_quiet(limit_s, threshold=0.15, window=2.0, say=True):
    """Wait (up to limit_s) for a window in which other processes use < threshold cores.

    Multi-threaded kernels on a small machine collapse when another process holds
    a core (an OpenMP barrier waits for a descheduled thread), so a benchmark
    taken under load measures the load. Returns the last load seen."""
    deadline = time.perf_counter() + limit_s
    said = not say
    while True:
        before = cpu_snapshot()
        time.sleep(window)
        load = background_load(before, cpu_snapshot())
        if load is None or load < threshold or time.perf_counter() > deadline:
            return load
        if not said:
            print(f" (busy: other processes use {load:.2f} cores; waiting)", end="", flush=True)
            said = True


def now():
    return datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def command_line():
    return " ".join(["python", os.path.relpath(os.path.abspath(sys.argv[0]), ROOT), *sys.argv[1:]])


def library_facts():
    """Versions, thread pools and OpenMP runtimes of the libraries loaded in this process."""
    import numpy as np

    facts = {"python": platform.python_version(), "numpy": np.__version__, "imported": imported(),
             "openmp_runtimes_mapped": openmp_runtimes(), "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY")}
    qs = libs.qs
    if libs.torch is not None:
        facts["torch"] = libs.torch.__version__
    if qs is not None:
        from quasar import backends

        facts["quasar"] = getattr(qs, "__version__", "?")
        facts["quasar_backend"] = qs.get_backend()
        facts["compiled_available"] = getattr(backends, "compiled", None) is not None
        try:
            from quasar import _build_info  # written by setup.py

            facts["quasar_build"] = {k: v for k, v in vars(_build_info).items() if not k.startswith("_")}
        except Exception:
            pass
        par = getattr(qs, "parallel", None)
        if par is not None and hasattr(par, "current_config"):
            try:
                facts["quasar_parallel"] = repr(par.current_config())
                if hasattr(par, "openmp_enabled"):
                    facts["quasar_parallel"] += f", OpenMP {'enabled' if par.openmp_enabled() else 'disabled'}"
            except Exception as exc:  # noqa: BLE001
                facts["quasar_parallel"] = f"current_config() failed: {exc}"
    if libs.threadpoolctl is not None:
        facts["threadpools"] = [
            {k: d.get(k) for k in ("user_api", "internal_api", "prefix", "version", "architecture", "num_threads")}
            for d in libs.threadpoolctl.threadpool_info()
        ]
    return facts


def blas_summary(threadpools):
    parts = []
    for d in threadpools or []:
        label = d["internal_api"] or d["prefix"]
        if d.get("version"):
            label += " " + d["version"]
        if d.get("architecture"):
            label += f" ({d['architecture']})"
        parts.append(f"{label} [{d['prefix']}, {d['num_threads']} threads]")
    return "; ".join(parts) or "unknown (threadpoolctl missing)"


# ============================================================== child processes


def print_result(obj):
    """A child's answer to its parent: one line, 'RESULT ' + JSON."""
    print("RESULT " + json.dumps(obj, default=str), flush=True)


def run_child(argv, extra_env=None, timeout=1800):
    """Run ``python argv...`` from the clean environment; the JSON of its RESULT line,
    or {"error": the end of its output} when it printed none."""
    env = dict(CLEAN_ENVIRONMENT)
    env.update(extra_env or {})
    proc = subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"error": (proc.stderr or proc.stdout).strip()[-800:] or f"exit status {proc.returncode}"}


# ============================================================== numbers and tables


def ratio(q, peer):
    if q is None or peer is None or peer == 0:
        return None
    return q / peer


def fmt(v, digits=2):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.{digits}f}"


def fmt_ratio(v):
    return "-" if v is None else f"{v:.2f}x"


def fmt_time(seconds):
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def short_n(n):
    """1000 -> 1e3, 16000000 -> 1.6e7."""
    mant, exp = f"{n:.1e}".split("e")
    return f"{mant.rstrip('0').rstrip('.')}e{int(exp)}"


def mib(b):
    return None if b is None else b / 2**20


def table(headers, rows):
    """A markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(lines)


# ============================================================== RESULTS.md

MARK_START = "<!-- generated:start -->"
MARK_END = "<!-- generated:end -->"


def write_markdown(path, body):
    """Replace the part of ``path`` between the generated markers with ``body``;
    everything outside them (hand-written sections) is kept."""
    generated = f"{MARK_START}\n{body}{MARK_END}"
    header = ("# quasar benchmark results\n\nWritten by `benchmarks/run.py`; everything between the `generated` "
              "markers is regenerated on each run, hand-written sections (`## Notes`, ...) outside them are kept.\n\n")
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
        if MARK_START in old and MARK_END in old:
            pre, rest = old.split(MARK_START, 1)
            _, post = rest.split(MARK_END, 1)
            text = pre + generated + post
        else:  # keep hand-written sections of a file without markers
            kept = re.findall(r"(^## .*(?:note|crossover|profil|hand-written).*$[\s\S]*?)(?=^## |\Z)", old,
                              re.MULTILINE | re.IGNORECASE)
            text = header + generated + "\n\n" + "".join(kept)
    else:
        text = header + generated + "\n"
    with open(path, "w") as f:
        f.write(text)
