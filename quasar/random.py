"""Random numbers: ``qs.Generator``, the default generator, the sampling
functions (randperm, multinomial, bernoulli, normal, poisson) and the
in-place fills (``uniform_``, ``normal_``, ``bernoulli_``, ``exponential_``,
``random_``).

A :class:`Generator` wraps a NumPy ``Generator`` (PCG64) and remembers its
seed, with PyTorch's methods. Every random function takes ``generator=``;
without it, it draws from ``default_generator``, which ``qs.manual_seed``
seeds. The streams are NumPy's, so seeded results repeat within quasar but
differ from PyTorch's numbers.

Samples carry no gradient (as in PyTorch, ``normal(mean, std)`` does not
differentiate through mean and std). The in-place fills follow the rule of
every in-place op: a leaf that requires grad may only be filled under
``no_grad()`` (``m.weight.data.normal_(0, 0.02)`` works: ``.data`` is a
leaf that doesn't).
"""

import numbers

import numpy as np

from .tensor import Tensor, as_tensor


class Generator:
    """A random number generator with PyTorch's interface.

    ``Generator().manual_seed(0)`` gives a repeatable stream; a new generator
    starts from a fresh seed drawn from the OS.
    """

    def __init__(self, device="cpu"):
        if str(device) != "cpu":
            raise ValueError(f"Generator: only the 'cpu' device exists in quasar, got {device!r}")
        self.device = "cpu"
        self.seed()

    def manual_seed(self, seed):
        """Restart the stream from ``seed`` (an int; negative seeds wrap, as in PyTorch). Returns self."""
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}")
        self._seed = int(seed) % 2**64
        self._numpy = np.random.default_rng(self._seed)
        return self

    def seed(self):
        """Seed from the OS's entropy; returns the new seed."""
        self.manual_seed(int(np.random.SeedSequence().generate_state(1, np.uint64)[0]))
        return self._seed

    def initial_seed(self):
        """The seed the stream started from."""
        return self._seed

    def get_state(self):
        """A snapshot of the stream (a dict, NumPy's bit-generator state); give it to ``set_state``."""
        return {"seed": self._seed, "bit_generator": self._numpy.bit_generator.state}

    def set_state(self, state):
        """Continue from a snapshot ``get_state`` took. Returns self."""
        if not isinstance(state, dict) or set(state) != {"seed", "bit_generator"}:
            raise TypeError("set_state: expected a state from Generator.get_state()")
        self._seed = state["seed"]
        self._numpy = np.random.default_rng(self._seed)
        self._numpy.bit_generator.state = state["bit_generator"]
        return self

    @property
    def numpy(self):
        """The NumPy ``Generator`` behind it (for code that samples with NumPy directly)."""
        return self._numpy

    def __repr__(self):
        return f"<quasar.Generator seed={self._seed}>"


default_generator = Generator()


def numpy_generator(op, generator=None):
    """The NumPy generator to draw from: ``generator``'s, or the default one's."""
    if generator is None:
        return default_generator.numpy
    if not isinstance(generator, Generator):
        raise TypeError(f"{op}: generator must be a quasar.Generator, got {type(generator).__name__}")
    return generator.numpy


def manual_seed(seed):
    """Seed the default generator (rand, randn, nn initialisers, dropout, DataLoader). Returns it."""
    return default_generator.manual_seed(seed)


def seed():
    """Seed the default generator from the OS; returns the seed."""
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)


# ---------------------------------------------------------------- sampling functions


def _float_dtype(dtype):
    from .dtypes import get_default_dtype

    return get_default_dtype() if dtype is None else np.dtype(dtype)


def _size(op, size):
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        size = (size,)
    size = tuple(size)
    for n in size:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"{op}: sizes must be non-negative ints, got {size}")
    return tuple(int(n) for n in size)


def randperm(n, *, generator=None, dtype=np.int64, requires_grad=False):
    """A random permutation of 0 .. n-1 (int64)."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"randperm: n must be a non-negative int, got {n!r}")
    return Tensor(numpy_generator("randperm", generator).permutation(int(n)), dtype=dtype,
                  requires_grad=requires_grad)


def _probabilities(op, values):
    if values.dtype.kind != "f":
        raise TypeError(f"{op}: probabilities must be a float tensor, got dtype {values.dtype}")
    if values.size and not ((values >= 0) & (values <= 1)).all():
        raise ValueError(f"{op}: probabilities must lie in [0, 1]; got values from {values.min()} to {values.max()}")


def bernoulli(input, p=None, *, generator=None):
    """0/1 samples, 1 with probability ``input`` (elementwise, in [0, 1]) or
    ``p`` (a number, for every element). input's shape and dtype."""
    x = as_tensor(input).array
    probs = x if p is None else np.asarray(p, dtype=np.float64)
    _probabilities("bernoulli", probs)
    drawn = numpy_generator("bernoulli", generator).random(x.shape) < probs
    return Tensor._wrap(drawn.astype(x.dtype))


def poisson(input, generator=None):
    """Poisson samples with rates ``input`` (non-negative floats): input's shape and dtype."""
    if not isinstance(input, Tensor):
        raise TypeError(f"poisson: argument 'input' must be a Tensor, not {type(input).__name__}")
    rates = as_tensor(input).array
    if rates.dtype.kind != "f":
        raise TypeError(f"poisson: rates must be a float tensor, got dtype {rates.dtype}")
    if rates.size and not (rates >= 0).all():
        raise ValueError(f"poisson: rates must be non-negative, got a minimum of {rates.min()}")
    return Tensor._wrap(numpy_generator("poisson", generator).poisson(rates).astype(rates.dtype))


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, requires_grad=False):
    """Normal samples. ``normal(mean_tensor, std_tensor)`` (broadcast),
    ``normal(mean_tensor, std)``, ``normal(mean, std_tensor)``: one sample per
    element; ``normal(mean, std, size)`` with numbers: a tensor of ``size``.
    std must be non-negative. No gradient flows to mean or std (as in PyTorch).
    """
    rng = numpy_generator("normal", generator)
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if not tensors:
        if size is None:
            raise TypeError("normal: with a number mean and std, give size")
        if std < 0:
            raise ValueError(f"normal: std must be non-negative, got {std}")
        dtype = _float_dtype(dtype)
        t = Tensor._wrap((rng.standard_normal(_size("normal", size)) * std + mean).astype(dtype))
        return t.requires_grad_(True) if requires_grad else t
    if size is not None:
        raise TypeError("normal: size is only for a number mean and std")
    for t in tensors:
        if t.dtype.kind != "f":
            raise TypeError(f"normal: mean and std must be float tensors, got dtype {t.dtype}")
    m, s = (t.array if isinstance(t, Tensor) else np.asarray(t) for t in (mean, std))
    if s.size and (s < 0).any():
        raise ValueError(f"normal: std must be non-negative, got a minimum of {s.min()}")
    out_dtype = np.result_type(*[t.dtype for t in tensors])
    shape = np.broadcast_shapes(m.shape, s.shape)
    return Tensor._wrap((rng.standard_normal(shape) * s + m).astype(out_dtype))


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Category indices drawn with probabilities proportional to ``input``.

    input: (categories,) or (rows, categories) non-negative finite weights,
    each row with a positive sum. Returns int64 (num_samples,) or
    (rows, num_samples). Without replacement each category is drawn at most
    once, so num_samples can't exceed the number of non-zero weights.
    """
    weights = as_tensor(input).array
    if weights.ndim not in (1, 2):
        raise ValueError(f"multinomial: input must be 1-D or 2-D, got shape {weights.shape}")
    if weights.dtype.kind != "f":
        raise TypeError(f"multinomial: input must be a float tensor of weights, got dtype {weights.dtype}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral) or num_samples <= 0:
        raise ValueError(f"multinomial: num_samples must be a positive int, got {num_samples!r}")
    rows = weights.reshape(-1, weights.shape[-1]).astype(np.float64)
    categories = rows.shape[1]
    if not np.isfinite(rows).all() or (rows < 0).any():
        raise ValueError("multinomial: weights must be finite and non-negative")
    if (rows.sum(axis=1) <= 0).any():
        raise ValueError("multinomial: every row of weights needs a positive sum (got a row of zeros)")
    if not replacement:
        if num_samples > categories:
            raise ValueError(f"multinomial: cannot draw {num_samples} samples without replacement from "
                             f"{categories} categories")
        if (np.count_nonzero(rows, axis=1) < num_samples).any():
            raise ValueError(f"multinomial: a row has fewer than {num_samples} non-zero weights, too few to draw "
                             f"{num_samples} samples without replacement")
    rng = numpy_generator("multinomial", generator)
    if replacement:  # invert the cumulative distribution at uniform draws
        cumulative = np.cumsum(rows, axis=1)
        cumulative /= cumulative[:, -1:]
        draws = rng.random((rows.shape[0], num_samples))
        picked = np.stack([np.searchsorted(c, d, side="right") for c, d in zip(cumulative, draws)])
        picked = np.minimum(picked, categories - 1)
    else:  # exponential race: the k smallest Exp(1)/w are a draw without replacement
        with np.errstate(divide="ignore"):
            keys = rng.exponential(size=rows.shape) / rows
        picked = np.argsort(keys, axis=1, kind="stable")[:, :num_samples]
    picked = picked.astype(np.int64)
    return Tensor._wrap(picked.reshape(-1) if weights.ndim == 1 else picked)


# ---------------------------------------------------------------- in-place fills


def _fill(op, t, draw, generator):
    """Write ``draw(numpy_generator, shape, dtype)`` into t in place (a leaf
    that requires grad only under no_grad). While a graph is recorded
    through t, the new values depend on nothing: its gradient to the old
    values is zero, as in PyTorch."""
    from .ops.elementwise import where
    from .ops.inplace import TRUE, _update

    rng = numpy_generator(op, generator)
    values = np.asarray(draw(rng, t.shape, t.dtype)).astype(t.dtype, copy=False)

    def write():
        t.array[...] = values

    return _update(op, t, lambda old: where(TRUE, Tensor._wrap(values), old), write=write)


def _require_float(op, t):
    if t.dtype.kind != "f":
        raise TypeError(f"{op}: expected a float tensor, got dtype {t.dtype}")


def uniform_(self, a=0.0, b=1.0, *, generator=None):
    """Fill with uniform samples from [a, b)."""
    _require_float("uniform_", self)
    if a > b:
        raise ValueError(f"uniform_: expects a <= b, got a={a}, b={b}")
    return _fill("uniform_", self, lambda rng, shape, dtype: rng.uniform(a, b, shape), generator)


def normal_(self, mean=0.0, std=1.0, *, generator=None):
    """Fill with normal samples of ``mean`` and ``std`` (>= 0)."""
    _require_float("normal_", self)
    if std < 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    return _fill("normal_", self, lambda rng, shape, dtype: rng.standard_normal(shape) * std + mean, generator)


def bernoulli_(self, p=0.5, *, generator=None):
    """Fill with 0/1: 1 with probability p (a number or a tensor broadcasting to self)."""
    probs = p.array if isinstance(p, Tensor) else np.asarray(p, dtype=np.float64)
    _probabilities("bernoulli_", probs)
    return _fill("bernoulli_", self, lambda rng, shape, dtype: rng.random(shape) < probs, generator)


def exponential_(self, lambd=1.0, *, generator=None):
    """Fill with exponential samples of rate ``lambd`` (> 0)."""
    _require_float("exponential_", self)
    if not lambd > 0:
        raise ValueError(f"exponential_: lambd must be positive, got {lambd}")
    return _fill("exponential_", self, lambda rng, shape, dtype: rng.exponential(1 / lambd, shape), generator)


def random_(self, from_=0, to=None, *, generator=None):
    """Fill with integers from [from_, to); ``random_(to)`` is [0, to); with no
    bounds, [0, 2**mantissa] for floats (exactly representable) and the
    dtype's non-negative range for integers. (PyTorch names the first
    argument ``from``, a Python keyword: pass it by position.)"""
    if to is None and from_ != 0:
        from_, to = 0, from_
    if to is None:
        if self.dtype.kind == "f":
            to = 2 ** np.finfo(self.dtype).nmant + 1
        elif self.dtype == np.bool_:
            to = 2
        else:
            to = int(np.iinfo(self.dtype).max) + 1
    if from_ >= to:
        raise ValueError(f"random_: expects from < to, got from={from_}, to={to}")
    if self.dtype.kind in "iu" and (from_ < np.iinfo(self.dtype).min or to - 1 > np.iinfo(self.dtype).max):
        raise ValueError(f"random_: [{from_}, {to}) does not fit dtype {self.dtype}")
    return _fill("random_", self, lambda rng, shape, dtype: rng.integers(from_, to, shape), generator)
