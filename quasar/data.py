"""``quasar.data.DataLoader``: mini-batches from NumPy arrays (or tensors).

    loader = DataLoader(images, labels, batch_size=64, shuffle=True, seed=0)
    for x, y in loader:          # x: Tensor (64, ...), y: Tensor (64,)
        ...

The arrays are aligned along their first dimension: sample i is
``images[i], labels[i]``. Each epoch (each ``iter``) yields tuples of
Tensors holding copies of the batch's rows.
"""

import math
import numbers

import numpy as np

from . import creation
from .tensor import Tensor, _to_array


class DataLoader:
    """Batches of rows from one or more arrays of the same length.

    batch_size: rows per batch; shuffle: a new random order every epoch;
    drop_last: skip a final batch smaller than batch_size (kept by default);
    seed: for the shuffling (None: draw from quasar's generator, which
    ``qs.manual_seed`` fixes).
    """

    def __init__(self, *arrays, batch_size=1, shuffle=False, drop_last=False, seed=None):
        if not arrays:
            raise ValueError("DataLoader: give at least one array")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
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
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), shuffle, drop_last
        self._rng = np.random.default_rng(seed) if seed is not None else None

    def __len__(self):
        """Batches per epoch."""
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    def __iter__(self):
        if self.shuffle:
            rng = self._rng if self._rng is not None else creation.generator()
            order = rng.permutation(self.num_samples)
        else:
            order = np.arange(self.num_samples)
        for b in range(len(self)):
            rows = order[b * self.batch_size : (b + 1) * self.batch_size]
            # fancy indexing copies: a batch never aliases the dataset
            yield tuple(Tensor._wrap(array[rows]) for array in self.arrays)

    def __repr__(self):
        shapes = ", ".join(str(a.shape) for a in self.arrays)
        return (
            f"DataLoader({shapes}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"drop_last={self.drop_last})"
        )
