"""The large-buffer cache (quasar/_buffers.pxi, quasar.buffers) and the copy kernel.

Large kernel outputs take their memory from a cache of freed blocks: these
tests check that blocks are reused, that a block in use (by an array or any
view of it) is never handed out again, that the cache stays within its
bounds, and that concurrent threads each get memory of their own.
"""

import importlib
import threading

import numpy as np
import pytest

from quasar import buffers, parallel

C = importlib.import_module("quasar.backends.compiled")
R = importlib.import_module("quasar.backends.reference")

MIB = 1 << 20
N = MIB // 4  # float32 elements in 1 MiB: the smallest output the cache serves


def handler_name(array):
    return np._core.multiarray.get_handler_name(array)  # (not re-exported by NumPy 2)


def address(array):
    return array.__array_interface__["data"][0]


@pytest.fixture(autouse=True)
def fresh_cache():
    """Every test starts from an empty cache with the default limit."""
    buffers.empty_cache()
    previous = buffers.set_cache_limit(buffers.DEFAULT_LIMIT)
    buffers.reset_stats()
    yield
    buffers.set_cache_limit(previous)
    buffers.empty_cache()


def test_large_outputs_come_from_the_cache_and_small_ones_do_not():
    x = np.ones(N, np.float32)
    big = C.add(x, x)
    small = C.add(x[:100], x[:100])
    assert handler_name(big) == "quasar_buffer_cache"
    assert handler_name(small) != "quasar_buffer_cache"
    assert big.base is None and big.flags.owndata and big.flags.c_contiguous
    np.testing.assert_array_equal(big, 2.0)
    # the user's own arrays are untouched by the cache
    assert handler_name(np.empty(4 * N, np.float32)) != "quasar_buffer_cache"


def test_a_freed_block_is_reused_for_an_output_of_its_size():
    x = np.linspace(-1, 1, N, dtype=np.float32)
    first = C.mul(x, x)
    where = address(first)
    del first
    assert buffers.cache_info()["blocks"] == 1
    again = C.exp(x)  # another kernel, another shape of the same byte size
    assert address(again) == where
    assert buffers.cache_info()["hits"] == 1
    np.testing.assert_allclose(again, np.exp(x), rtol=3e-6)
    # a different byte size does not take it
    del again
    other = C.neg(np.ones(N + 1024, np.float32))
    assert address(other) != where
    assert buffers.cache_info()["blocks"] == 1


def test_a_block_is_not_reused_while_a_view_of_it_lives():
    x = np.ones((512, 512), np.float32)  # 1 MiB
    out = C.add(x, x)
    row = out[3]  # a view keeps the array, and so its block, alive
    column = out.T[:, 7]
    del out
    assert buffers.cache_info()["blocks"] == 0
    fresh = [C.sub(x, x) for _ in range(3)]
    for f in fresh:
        f[...] = -1.0
    np.testing.assert_array_equal(row, 2.0)
    np.testing.assert_array_equal(column, 2.0)
    del row
    assert buffers.cache_info()["blocks"] == 0  # column still holds it
    del column
    assert buffers.cache_info()["blocks"] == 1


def test_the_cache_keeps_within_its_byte_limit_and_slots():
    x = np.ones(N, np.float32)
    buffers.set_cache_limit(3 * MIB)
    outs = [C.add(x, x) for _ in range(5)]
    del outs
    info = buffers.cache_info()
    assert info["blocks"] == 3 and info["bytes"] == 3 * MIB
    assert info["evictions"] == 2
    # a block bigger than the whole limit is freed at once
    del info
    big = C.add(np.ones(4 * N, np.float32), np.float32(1))
    del big
    assert buffers.cache_info()["bytes"] <= 3 * MIB
    # never more blocks than slots, whatever the limit
    buffers.set_cache_limit(1 << 40)
    outs = [C.add(x, np.float32(i)) for i in range(buffers.cache_info()["slots"] + 4)]
    del outs
    assert buffers.cache_info()["blocks"] == buffers.cache_info()["slots"]
    # lowering the limit frees at once; 0 keeps nothing
    assert buffers.set_cache_limit(MIB) == 1 << 40
    assert buffers.cache_info()["bytes"] <= MIB
    buffers.set_cache_limit(0)
    del x
    y = C.add(np.ones(N, np.float32), np.float32(1))
    del y
    assert buffers.cache_info()["blocks"] == 0


def test_empty_cache_and_bad_limits():
    outs = [C.add(np.ones(N, np.float32), np.float32(1)) for _ in range(2)]
    del outs
    assert buffers.cache_info()["blocks"] == 2
    buffers.empty_cache()
    assert buffers.cache_info()["blocks"] == 0 and buffers.cache_info()["bytes"] == 0
    for bad in (-1, 1.5, True, None):
        with pytest.raises(ValueError, match="set_cache_limit"):
            buffers.set_cache_limit(bad)


def test_threads_each_get_their_own_memory():
    errors = []

    def work(seed):
        value = np.float32(seed)
        x = np.full(N, value, np.float32)
        try:
            for _ in range(40):
                a = C.add(x, x)
                b = C.mul(x, np.float32(3))
                if not (a == 2 * value).all() or not (b == 3 * value).all():
                    errors.append(seed)
                del a, b
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i + 1,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    info = buffers.cache_info()
    assert info["blocks"] <= info["slots"] and info["bytes"] <= info["limit"]


def test_resizing_a_cached_array_keeps_its_values():
    out = C.add(np.arange(N, dtype=np.float32), np.float32(0))
    out.resize(2 * N, refcheck=False)  # NumPy reallocates through the cache's handler
    np.testing.assert_array_equal(out[:N], np.arange(N, dtype=np.float32))
    np.testing.assert_array_equal(out[N:], 0.0)


@pytest.mark.parametrize("backend", [C, R], ids=["compiled", "reference"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.bool_, np.complex64])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "strided", "broadcast", "0-d", "empty"])
def test_copy_is_an_owned_c_contiguous_copy(backend, dtype, layout):
    base = (np.arange(3 * N, dtype=np.float64) % 7 - 3).astype(dtype).reshape(3, N)
    x = {"contiguous": base, "transposed": base.T, "strided": base[:, ::2], "0-d": base[1, 5],
         "broadcast": np.broadcast_to(base[1, 4:5], (2, N)),  # sum's backward spreads a scalar
         "empty": base[:0]}[layout]
    x = np.asarray(x)
    with parallel.config(parallel_threshold=1):
        got = backend.copy(x)
    assert got.dtype == x.dtype and got.shape == x.shape and got.flags.c_contiguous
    assert got.flags.owndata and not np.shares_memory(got, x)
    np.testing.assert_array_equal(got, x)


def test_copy_falls_back_to_numpy_for_what_it_does_not_move():
    swapped = np.arange(10, dtype=">f4")
    unaligned = np.frombuffer(b"\0" + np.arange(8, dtype=np.float32).tobytes(), np.float32, 8, 1)[::2]
    names = np.array(["a", "bc"])
    for x in (swapped, unaligned, names, np.array([None, 1], dtype=object)):
        got = C.copy(x)
        assert got.dtype == x.dtype and not np.shares_memory(got, x)
        np.testing.assert_array_equal(got, x)
