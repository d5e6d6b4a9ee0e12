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
