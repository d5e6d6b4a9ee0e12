"""``quasar.data``: datasets, samplers and the DataLoader.

    loader = DataLoader(images, labels, batch_size=64, shuffle=True, seed=0)
    for x, y in loader:          # x: Tensor (64, ...), y: Tensor (64,)
        ...

The arrays are aligned along their first dimension: sample i is
``images[i], labels[i]``. Each epoch (each ``iter``) yields tuples of
Tensors holding copies of the batch's rows.

PyTorch's form works too: ``DataLoader(dataset, batch_size=..., sampler=...)``
with any object that has ``__len__`` and ``__getitem__`` (a ``TensorDataset``,
or your own class returning a tuple of arrays/tensors/numbers per sample);
``DistributedSampler`` gives each rank of a distributed job its own share.
"""

import math
import numbers

import numpy as np

from . import creation
from .tensor import Tensor, _to_array


class Dataset:
    """PyTorch's map-style dataset protocol: subclass it and define
    ``__len__`` and ``__getitem__(i)`` (returning one sample: a tuple of
    arrays, tensors or numbers)."""

    def __getitem__(self, index):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError


class TensorDataset(Dataset):
    """Samples are rows of tensors that share their first dimension:
    ``dataset[i] == (t0[i], t1[i], ...)``."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: give at least one tensor")
        self.tensors = [t if isinstance(t, Tensor) else Tensor._wrap(_to_array(t, copy=False, op="TensorDataset"))
                        for t in tensors]
        lengths = {t.shape[0] if t.ndim else None for t in self.tensors}
        if len(lengths) != 1 or None in lengths:
            raise ValueError("TensorDataset: the tensors must have the same size in their first dimension, got "
                             + ", ".join(str(tuple(t.shape)) for t in self.tensors))

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


class DistributedSampler:
    """The indices of one rank's share of a dataset, PyTorch's rules.

    Each epoch the indices 0..len(dataset)-1 are shuffled with
    ``seed + epoch`` (the same order on every rank; call ``set_epoch`` at the
    start of each epoch), padded by repeating the first ones so every rank
    gets as many (or, with drop_last, cut to a multiple of num_replicas), and
    rank r takes positions r, r + num_replicas, r + 2*num_replicas, ...

    num_replicas, rank: default to the distributed job's world size and rank.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if num_replicas is None or rank is None:
            from . import distributed

            if not distributed.is_initialized():
                raise RuntimeError("DistributedSampler: pass num_replicas and rank, or call "
                                   "quasar.distributed.init_process_group first")
            num_replicas = distributed.get_world_size() if num_replicas is None else num_replicas
            rank = distributed.get_rank() if rank is None else rank
        if isinstance(num_replicas, bool) or not isinstance(num_replicas, numbers.Integral) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive int, got {num_replicas!r}")
        if isinstance(rank, bool) or not isinstance(rank, numbers.Integral) or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank!r}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, seed, drop_last, 0
        n = len(dataset)
        if drop_last and n % self.num_replicas:
            self.num_samples = n // self.num_replicas
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch):
        """A new shuffle each epoch (the same on every rank)."""
        self.epoch = epoch

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            indices = np.arange(n)
        if self.total_size > n:  # pad by repeating from the start (as often as needed)
            indices = np.resize(indices, self.total_size)
        else:
            indices = indices[: self.total_size]
        return iter(indices[self.rank : self.total_size : self.num_replicas].tolist())

    def __len__(self):
        return self.num_samples


def _is_dataset(obj):
    """A map-style dataset, as opposed to one array of samples."""
    return hasattr(obj, "__getitem__") and hasattr(obj, "__len__") and not isinstance(
        obj, (np.ndarray, Tensor, list, tuple)
    )


def _collate(samples):
    """A list of samples (tuples of arrays/tensors/numbers) -> a tuple of batched Tensors."""
    first = samples[0]
    if not isinstance(first, tuple):
        return Tensor._wrap(np.stack([np.asarray(s) for s in samples]))
    return tuple(Tensor._wrap(np.stack([np.asarray(s[k]) for s in samples])) for k in range(len(first)))


class DataLoader:
    """Batches of rows from one or more arrays of the same length, or of
    samples from a dataset.

    batch_size: rows per batch; shuffle: a new random order every epoch;
    drop_last: skip a final batch smaller than batch_size (kept by default);
    seed: for the shuffling (None: draw from quasar's generator, which
    ``qs.manual_seed`` fixes); sampler: an iterable of indices (e.g. a
    ``DistributedSampler``) that decides the order instead of ``shuffle``.
    """

    def __init__(self, *arrays, batch_size=1, shuffle=False, drop_last=False, seed=None, sampler=None):
        if not arrays:
            raise ValueError("DataLoader: give at least one array")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        self.sampler = sampler
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), shuffle, drop_last
        self._rng = np.random.default_rng(seed) if seed is not None else None
        self.dataset = arrays[0] if len(arrays) == 1 and _is_dataset(arrays[0]) else None
        if self.dataset is not None:
            self.num_samples = len(self.dataset)
            self.arrays = []
            return
        self.arrays = []
        for i, array in enumerate(arrays):
            array = _to_array(array, copy=False, op=f"DataLoader (array {i})")
            if array.ndim == 0:
                raise ValueError(f"DataLoader: array {i} is 0-d; every array needs a first (sample) dimension")
            self.arrays.append(array)
        lengths = [len(a) for a in self.arrays]
        if len(set(lengths)) > 1:
            raise ValueError(
                "DataLoader: the arrays must have the same length (first dimension), got lengths "
                + ", ".join(str(n) for n in lengths)
            )
        self.num_samples = lengths[0]

    def __len__(self):
        """Batches per epoch."""
        samples = len(self.sampler) if self.sampler is not None else self.num_samples
        if self.drop_last:
            return samples // self.batch_size
        return math.ceil(samples / self.batch_size)

    def __iter__(self):
        if self.sampler is not None:
            order = np.fromiter(iter(self.sampler), dtype=np.int64)
        elif self.shuffle:
            rng = self._rng if self._rng is not None else creation.generator()
            order = rng.permutation(self.num_samples)
        else:
            order = np.arange(self.num_samples)
        for b in range(len(self)):
            rows = order[b * self.batch_size : (b + 1) * self.batch_size]
            if self.dataset is not None:
                yield _collate([self.dataset[int(i)] for i in rows])
            else:  # fancy indexing copies: a batch never aliases the dataset
                yield tuple(Tensor._wrap(array[rows]) for array in self.arrays)

    def __repr__(self):
        if self.dataset is not None:
            return f"DataLoader({type(self.dataset).__name__} of {self.num_samples}, batch_size={self.batch_size})"
        shapes = ", ".join(str(a.shape) for a in self.arrays)
        return (
            f"DataLoader({shapes}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"drop_last={self.drop_last})"
        )
