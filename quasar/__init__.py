"""quasar: a small, fast, honest autograd engine.

    import numpy as np
    import quasar as qs

    x = qs.tensor(np.array([2.0, 3.0]), requires_grad=True)
    y = qs.tensor(np.array([4.0, 5.0]), requires_grad=True)
    z = ((x + y) * (x - y)).sum()
    z.backward()
    x.grad  # tensor([4., 6.], dtype=float64)
"""

import importlib as _importlib

import numpy as _np

from . import dtypes, testing  # noqa: F401
from .autograd import (  # noqa: F401
    Function, enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad, set_grad_enabled,
)
from .dtypes import can_cast, get_default_dtype, promote_types, set_default_dtype  # noqa: F401
from .errors import ConversionError, IntegerDivisionByZero, ShapeError  # noqa: F401
from .backends import backend, get_backend, set_backend  # noqa: F401
from .creation import (  # noqa: F401
    arange, empty, empty_like, eye, from_numpy, full, full_like, is_tensor, linspace, manual_seed, numel, ones,
    ones_like, rand, rand_like, randint, randn, randn_like, tensor, zeros, zeros_like,
)
from .gradcheck import gradcheck, gradgradcheck  # noqa: F401
from .ops import *  # noqa: F401,F403
from .ops import abs, all, any, max, min, pow, round, sum  # noqa: F401  (shadow the builtins on purpose, as torch does)
from .tensor import Tensor  # noqa: F401


def result_type(tensor1, tensor2):
    """PyTorch's ``result_type``: the dtype ``tensor1 op tensor2`` computes in
    (tensors or Python numbers; see quasar.dtypes.result_type)."""
    return dtypes.result_type("result_type", tensor1, tensor2)

from . import data, distributed, nn, optim  # noqa: F401  (after the ops: they build on them)
# ``from .ops import *`` brought in the op module ``ops.linalg`` (matmul) as
# ``linalg``; the public ``quasar.linalg`` is PyTorch's namespace (vector_norm).
linalg = _importlib.import_module(".linalg", __name__)
from . import random  # noqa: F401  (part C: qs.random, qs.Generator and the sampling functions)
from .random import (  # noqa: F401
    Generator, bernoulli, default_generator, get_rng_state, initial_seed, multinomial, normal, poisson,
    randperm, seed, set_rng_state,
)
from .serialization import CheckpointError, load, save  # noqa: F401
from .autograd import functional  # noqa: F401,E402  (qs.autograd.functional: jacobian, hessian, ...)
from .interchange import from_dlpack  # noqa: F401
from . import parallel  # noqa: F401  (qs.parallel: thread control, worker_threads, par_*)
from . import buffers  # noqa: F401  (qs.buffers: the cache of large kernel outputs, empty_cache)
from . import viz  # noqa: F401  (qs.viz.draw_graph; graphviz is imported when it is called)
from .parallel import get_num_threads, set_num_threads, show_config  # noqa: F401

# dtypes, with PyTorch's names and aliases (quasar computes in float32/float64:
# no float16; float16 NumPy arrays become float32)
float32 = _np.dtype(_np.float32)
float64 = _np.dtype(_np.float64)
int64 = _np.dtype(_np.int64)
int32 = _np.dtype(_np.int32)
int16 = _np.dtype(_np.int16)
int8 = _np.dtype(_np.int8)
uint8 = _np.dtype(_np.uint8)
bool = _np.dtype(_np.bool_)  # noqa: A001
float = float32  # noqa: A001
double = float64
long = int64
int = int32  # noqa: A001
short = int16

__version__ = "0.1.0"
