"""No input reachable from Python crashes the interpreter.

The kernels run without bounds checks, so the Python layer must validate
first. This drives every public op with awkward arguments (wrong dtypes,
mismatched and empty shapes, 0-d, non-contiguous views, out-of-range dims)
in a child process: any Python exception is fine, a signal is not.
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FUZZ = r'''
import itertools, warnings
import numpy as np
import quasar as qs
from quasar import backends

warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
values = [
    qs.tensor(rng.standard_normal((3, 4)).astype(np.float32)),
    qs.tensor(rng.standard_normal((4, 3))).T,                       # non-contiguous float64
    qs.from_numpy(rng.standard_normal((2, 6))[:, ::2]),               # strided
    qs.tensor(rng.standard_normal(())),                               # 0-d
    qs.zeros(0, 4),                                                   # empty
    qs.tensor([[1, 2, 3]]),                                           # int64
    qs.tensor([True, False]),                                         # bool
    qs.tensor(rng.standard_normal((2, 1, 5)), requires_grad=True),
    2.5, -1, 0, None, (0, 1), (5,), [1, 7], "x", np.array([9, -9]), slice(None, None, -1),
]
names = sorted(n for n in dir(qs) if callable(getattr(qs, n)) and not n[0].isupper() and not n.startswith("_"))
skip = {"manual_seed", "set_backend", "backend", "set_grad_enabled", "save", "load", "show_config",
        "set_num_threads", "no_grad", "enable_grad", "gradcheck", "empty", "full", "zeros", "ones", "rand",
        "randn", "randint", "arange", "linspace", "eye", "tensor", "from_numpy", "is_grad_enabled",
        "get_backend", "get_num_threads", "empty_like", "full_like", "zeros_like", "ones_like"}
calls = 0
for name in names:
    if name in skip:
        continue
    fn = getattr(qs, name)
    for arity in (1, 2, 3):
        for args in itertools.islice(itertools.product(values, repeat=arity), 400):
            calls += 1
            try:
                out = fn(*args)
                if isinstance(out, qs.Tensor) and out.requires_grad and out.numel():
                    out.sum().backward()
            except Exception:
                pass
# and the compiled kernels themselves, called directly with mismatched arrays
arrays = [np.ones((3, 4), np.float32), np.ones((3, 4)), np.ones((4,), np.float32), np.ones(()),
          np.ones((0, 4), np.float32), np.ones((2, 3), np.int64), np.ones((4, 3), np.float32).T]
for name, kernel in sorted(vars(backends.compiled).items()):
    if not callable(kernel) or name in ("sgd_step", "adam_step"):
        continue
    for args in itertools.islice(itertools.product(arrays, repeat=2), 49):
        calls += 1
        try:
            kernel(*args)
        except Exception:
            pass
print("survived", calls, "calls")
'''


def test_awkward_inputs_raise_instead_of_crashing():
    env = {**os.environ, "PYTHONPATH": ROOT}
    done = subprocess.run([sys.executable, "-c", FUZZ], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, f"the interpreter died (code {done.returncode}):\n{done.stderr[-3000:]}"
    assert done.stdout.startswith("survived"), done.stdout


# ---------------------------------------------------------------- the bad-input corpus
# Every public function, method and class called with wrong types, shapes,
# dims, dtypes and sizes, in a child process. A call may succeed (some
# accept None as a dim, say); if it fails, it must be a Python exception with
# a message: never a signal, a hang (the timeout), a MemoryError (a size
# checked too late), or an AttributeError/RecursionError leaking out of
# quasar's internals instead of naming the argument.

CORPUS = r'''
import inspect, sys, warnings
import numpy as np
import quasar as qs
import quasar.nn.functional as F
from quasar import data, nn, optim

warnings.simplefilter("ignore")
UNCLEAR = (MemoryError, AttributeError, RecursionError, SystemError, UnboundLocalError, NameError)
problems, calls = [], 0

def attempt(label, call, must_raise=False):
    global calls
    calls += 1
    print(label, flush=True)  # the last line printed names the call, should the process die
    try:
        call()
    except UNCLEAR as exc:
        problems.append(f"{label}: {type(exc).__name__}: {exc}")
    except Exception as exc:
        if not str(exc).strip():
            problems.append(f"{label}: {type(exc).__name__} without a message")
    else:
        if must_raise:
            problems.append(f"{label}: accepted")

t = qs.randn(3, 4, requires_grad=True)
BAD = ["x", None, {}, ["a"], object(), 1j, 2**70, -5, 2.5, float("nan"), qs.tensor([1, 2]),
       qs.zeros(0, 3), np.zeros((2, 2, 2, 2)), (1, "a"), (2**40, 2**40), np.float64(1.5)]

def public(module, prefix, skip=()):
    for name in sorted(dir(module)):
        obj = getattr(module, name)
        if name.startswith("_") or name in skip or not callable(obj) or inspect.ismodule(obj):
            continue
        yield f"{prefix}.{name}", obj

# process-wide switches are called with bad values in the explicit list below instead
switches = {"manual_seed", "set_backend", "set_num_threads", "set_grad_enabled", "show_config", "save", "load",
            "Tensor", "Function", "no_grad", "enable_grad"}
callables = (list(public(qs, "qs", switches)) + list(public(F, "F")) + list(public(nn, "nn")) + list(public(optim, "optim"))
             + list(public(data, "data")) + [(f"Tensor.{n}", getattr(t, n)) for n in sorted(dir(qs.Tensor))
                                            if not n.startswith("_") and callable(getattr(t, n)) and n != "numpy"])
for label, fn in callables:
    for bad in BAD:
        attempt(f"{label}({bad!r:.40})", lambda: fn(bad))
        if not label.startswith("Tensor."):
            attempt(f"{label}(t, {bad!r:.40})", lambda: fn(t, bad))
            attempt(f"{label}({bad!r:.40}, t)", lambda: fn(bad, t))

p = qs.zeros(3, requires_grad=True)
def assign_grad(value):
    p.grad = value
EXPLICIT = {
    "p.grad = ndarray": lambda: assign_grad(np.zeros(3)),
    "p.grad = 'abc'": lambda: assign_grad("abc"),
    "zeros_like(list)": lambda: qs.zeros_like([1, 2]),
    "SGD([{'foo': [x]}])": lambda: optim.SGD([{"foo": [p]}], lr=0.1),
    "SGD([])": lambda: optim.SGD([], lr=0.1),
    "Adam(lr=-1)": lambda: optim.Adam([p], lr=-1),
    "ones(2**63)": lambda: qs.ones(2**63),
    "ones(2**31, 2**31)": lambda: qs.ones(2**31, 2**31),
    "randn(2**62)": lambda: qs.randn(2**62),
    "eye(10**7)": lambda: qs.eye(10**7),
    "arange(10**16)": lambda: qs.arange(10**16),
    "full((2,), 'x')": lambda: qs.full((2,), "x"),
    "full((2,), None)": lambda: qs.full((2,), None),
    "randint(0.5, 10)": lambda: qs.randint(0.5, 10),
    "requires_grad_('yes')": lambda: qs.zeros(2).requires_grad_("yes"),
    "sum(keepdim='yes')": lambda: t.sum(keepdim="yes"),
    "backward(complex)": lambda: (t * 2).backward(np.ones((3, 4)) * 1j),
    "backward(wrong shape)": lambda: (t * 2).backward(np.ones(3)),
    "backward twice": lambda: [(loss := (t * 2).sum()).backward(), loss.backward()],
    "tile(m, (10**7, 10**7))": lambda: qs.tile(t, (10**7, 10**7)),
    "repeat(10**7, 10**7)": lambda: t.repeat(10**7, 10**7),
    "tensor(ragged)": lambda: qs.tensor([[1, 2], [3]]),
    "tensor('abc')": lambda: qs.tensor("abc"),
    "tensor(object)": lambda: qs.tensor([object()]),
    "tensor(complex)": lambda: qs.tensor([1j]),
    "tensor(float16 dtype)": lambda: qs.tensor([1.0], dtype=np.float16),
    "reshape(5)": lambda: t.reshape(5),
    "matmul shapes": lambda: t @ t,
    "sum(dim=5)": lambda: t.sum(dim=5),
    "t[10]": lambda: t[10],
    "t[:, 'a']": lambda: t[:, "a"],
    "cat([])": lambda: qs.cat([]),
    "cross_entropy target out of range": lambda: F.cross_entropy(t, qs.tensor([0, 1, 9])),
    "cross_entropy float target": lambda: F.cross_entropy(t, qs.tensor([0.5, 1.0, 2.0])),
    "Linear(-1, 3)": lambda: nn.Linear(-1, 3),
    "Linear on the wrong width": lambda: nn.Linear(3, 2)(qs.zeros(2, 4)),
    "Embedding index out of range": lambda: nn.Embedding(4, 2)(qs.tensor([7])),
    "load_state_dict(wrong)": lambda: nn.Linear(3, 2).load_state_dict({"weight": 1}),
    "save to a missing directory": lambda: qs.save({"a": 1}, "/nonexistent-dir/x.npz"),
    "save a module": lambda: qs.save(nn.Linear(2, 2), "/tmp/never-written.npz"),
    "load a directory": lambda: qs.load("/"),
    "load(max_bytes=-1)": lambda: qs.load(__file__ if "__file__" in dir() else "/etc/hostname", max_bytes=-1),
    "set_num_threads('x')": lambda: qs.set_num_threads("x"),
    "set_num_threads(0)": lambda: qs.set_num_threads(0),
    "set_backend('nope')": lambda: qs.set_backend("nope"),
    "manual_seed('x')": lambda: qs.manual_seed("x"),
    "DataLoader(batch_size=0)": lambda: data.DataLoader((qs.zeros(4, 2),), batch_size=0),
}
for label, call in EXPLICIT.items():
    attempt(label, call, must_raise=True)
print(f"done: {calls} calls")
for problem in problems:
    print("PROBLEM", problem)
'''


def test_bad_inputs_raise_clear_python_errors():
    env = {**os.environ, "PYTHONPATH": ROOT}
    done = subprocess.run([sys.executable, "-c", CORPUS], capture_output=True, text=True, env=env, timeout=600)
    lines = done.stdout.splitlines()
    assert done.returncode == 0, f"the interpreter died (code {done.returncode}) during: {lines[-1:]}\n{done.stderr[-3000:]}"
    summary = next(i for i, line in enumerate(lines) if line.startswith("done: "))
    problems = lines[summary + 1:]
    assert int(lines[summary].split()[1]) > 5000  # the sweep really ran
    assert not problems, "\n".join(problems)
