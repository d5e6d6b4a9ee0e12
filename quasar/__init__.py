"""quasar: a small, fast, honest autograd engine.

    import numpy as np
    import quasar as qs

    x = qs.tensor(np.array([2.0, 3.0]), requires_grad=True)
    y = qs.tensor(np.array([4.0, 5.0]), requires_grad=True)
    z = ((x + y) * (x - y)).sum()
    z.backward()
    x.grad  # tensor([4., 6.], dtype=float64)
"""

import numpy as _np

from . import testing  # noqa: F401
from .autograd import Function, enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401
from .backends import backend, get_backend, set_backend  # noqa: F401
from .creation import (  # noqa: F401
    arange, empty, eye, from_numpy, full, full_like, linspace, manual_seed, ones, ones_like,
    rand, randint, randn, tensor, zeros, zeros_like,
)
from .gradcheck import gradcheck  # noqa: F401
from .ops import *  # noqa: F401,F403
from .ops import abs, max, min, pow, sum  # noqa: F401  (shadow the builtins on purpose, as torch does)
from .tensor import Tensor  # noqa: F401
from . import data, distributed, nn, optim  # noqa: F401  (after the ops: they build on them)
from .serialization import load, save  # noqa: F401
from . import parallel  # noqa: F401  (qs.parallel: thread control, worker_threads, par_*)
from .parallel import get_num_threads, set_num_threads, show_config  # noqa: F401

float32 = _np.dtype(_np.float32)
float64 = _np.dtype(_np.float64)
int32 = _np.dtype(_np.int32)
int64 = _np.dtype(_np.int64)
bool = _np.dtype(_np.bool_)  # noqa: A001
float = float32  # noqa: A001
double = float64
long = int64

__version__ = "0.1.0"
