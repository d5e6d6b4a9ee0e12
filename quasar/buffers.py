"""The large-buffer cache of the compiled kernels (quasar/_buffers.pxi).

Large kernel outputs (1 MiB and up) take their memory from a small cache of
freed blocks instead of fresh pages from the system: a fresh large array
costs a page fault per 4 KiB page (~4 us each on the development VM), more
than an add over it. A block returns to the cache when NumPy frees the last
array using it; it is reused only for an output of exactly its byte size.
The cache holds at most 16 blocks and ``limit`` bytes (256 MiB by default),
never an array; it is thread-safe. PyTorch users know the idea from
``torch.cuda.empty_cache``.

    >>> quasar.buffers.cache_info()["bytes"]      # idle bytes held now
    >>> quasar.buffers.set_cache_limit(0)         # keep nothing from now on
    >>> quasar.buffers.empty_cache()              # give every idle block back

Without the compiled extension there is no cache: every function here
reports an empty one and changes nothing.
"""

try:
    from . import _kernels as _k
except ImportError:  # the extension is not built: nothing is cached
    _k = None

__all__ = ["DEFAULT_LIMIT", "cache_info", "empty_cache", "reset_stats", "set_cache_limit"]

# idle bytes held at most, unless set_cache_limit says otherwise
DEFAULT_LIMIT = _k.DEFAULT_CACHE_LIMIT if _k is not None else 0


def cache_info():
    """A dict: ``blocks`` and ``bytes`` held idle now, ``limit`` (bytes),
    ``slots`` (blocks at most), ``min_bytes`` (smallest output cached), and
    ``hits``, ``misses``, ``evictions`` counted since ``reset_stats``."""
    if _k is None:
        return {"blocks": 0, "bytes": 0, "limit": 0, "slots": 0, "min_bytes": 0,
                "hits": 0, "misses": 0, "evictions": 0}
    return _k.buffer_cache_info()


def set_cache_limit(n_bytes):
    """Hold at most ``n_bytes`` idle (0 turns the cache off); frees the oldest
    idle blocks at once if more are held. Returns the previous limit."""
    if isinstance(n_bytes, bool) or not isinstance(n_bytes, int) or n_bytes < 0:
        raise ValueError(f"set_cache_limit: expected an int >= 0 (bytes), got {n_bytes!r}")
    return 0 if _k is None else _k.set_buffer_cache_limit(n_bytes)


def empty_cache():
    """Give every idle block back to the system."""
    if _k is not None:
        _k.empty_buffer_cache()


def reset_stats():
    """Set the hit, miss and eviction counts of ``cache_info`` to zero."""
    if _k is not None:
        _k.reset_buffer_cache_stats()
