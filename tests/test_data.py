"""quasar.data.DataLoader: batching, shuffling, lengths, and its errors."""

import numpy as np
import pytest

import quasar as qs
from quasar.data import DataLoader


@pytest.fixture
def arrays():
    rng = np.random.default_rng(7)
    features = rng.standard_normal((10, 3))  # float64 stays float64
    labels = rng.integers(0, 4, 10)
    return features, labels


def test_batches_in_order_with_the_last_partial_batch_kept(arrays):
    features, labels = arrays
    loader = DataLoader(features, labels, batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [tuple(x.shape) for x, _ in batches] == [(4, 3), (4, 3), (2, 3)]
    for x, y in batches:
        assert isinstance(x, qs.Tensor) and isinstance(y, qs.Tensor)
        assert x.dtype == np.float64 and y.dtype == np.int64 and not x.requires_grad
    np.testing.assert_array_equal(np.concatenate([x.array for x, _ in batches]), features)
    np.testing.assert_array_equal(np.concatenate([y.array for _, y in batches]), labels)


def test_drop_last(arrays):
    loader = DataLoader(*arrays, batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [x.shape[0] for x, _ in loader] == [4, 4]
    assert len(DataLoader(*arrays, batch_size=5, drop_last=True)) == 2
    assert len(DataLoader(*arrays, batch_size=11, drop_last=True)) == 0
    assert len(DataLoader(*arrays, batch_size=11)) == 1


def test_one_array_still_yields_tuples(arrays):
    (x,) = next(iter(DataLoader(arrays[0], batch_size=3)))
    assert x.shape == (3, 3)


def test_shuffle_visits_every_row_once_per_epoch_in_a_new_order(arrays):
    features, labels = arrays
    loader = DataLoader(features, labels, batch_size=3, shuffle=True, seed=0)
    epochs = []
    for _ in range(2):
        rows = np.concatenate([x.array for x, _ in loader])
        epochs.append(rows)
        order = [int(np.flatnonzero((features == row).all(axis=1))[0]) for row in rows]
        assert sorted(order) == list(range(10))
    assert not np.array_equal(epochs[0], epochs[1])


def test_shuffle_keeps_rows_of_all_arrays_together(arrays):
    features, labels = arrays
    for x, y in DataLoader(features, labels, batch_size=4, shuffle=True, seed=3):
        for row, label in zip(x.array, y.array):
            i = int(np.flatnonzero((features == row).all(axis=1))[0])
            assert labels[i] == label


def test_shuffle_is_reproducible(arrays):
    first = [x.array for x, _ in DataLoader(*arrays, batch_size=4, shuffle=True, seed=11)]
    again = [x.array for x, _ in DataLoader(*arrays, batch_size=4, shuffle=True, seed=11)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    qs.manual_seed(5)  # seed=None: quasar's generator decides
    from_generator = [x.array for x, _ in DataLoader(*arrays, batch_size=4, shuffle=True)]
    qs.manual_seed(5)
    again = [x.array for x, _ in DataLoader(*arrays, batch_size=4, shuffle=True)]
    assert all(np.array_equal(a, b) for a, b in zip(from_generator, again))


def test_tensors_are_accepted_and_batches_are_copies(arrays):
    features, labels = arrays
    loader = DataLoader(qs.tensor(features), qs.tensor(labels), batch_size=5)
    x, y = next(iter(loader))
    x.array[...] = 0
    assert features[:5].any() and loader.arrays[0][:5].any()  # the dataset is untouched
    assert y.dtype == np.int64


def test_mismatched_lengths_are_named(arrays):
    features, labels = arrays
    with pytest.raises(ValueError, match="same length.*got lengths 10, 9"):
        DataLoader(features, labels[:9], batch_size=2)


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True])
def test_bad_batch_size(arrays, batch_size):
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        DataLoader(*arrays, batch_size=batch_size)


def test_other_errors():
    with pytest.raises(ValueError, match="at least one array"):
        DataLoader(batch_size=2)
    with pytest.raises(ValueError, match="0-d"):
        DataLoader(np.float64(3.0))


def test_a_loader_feeds_a_training_loop():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 2))
    y = (x[:, 0] > 0).astype(np.int64)
    qs.manual_seed(0)
    model = qs.nn.Linear(2, 2, dtype=qs.float64)
    optimizer = qs.optim.SGD(model.parameters(), lr=0.5)
    loader = DataLoader(x, y, batch_size=16, shuffle=True, seed=0)
    for _ in range(20):
        for xb, yb in loader:
            loss = qs.nn.functional.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with qs.no_grad():
        accuracy = (model(qs.tensor(x)).array.argmax(1) == y).mean()
    assert accuracy > 0.95
