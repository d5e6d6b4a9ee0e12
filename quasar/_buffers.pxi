# The large-buffer cache: where the kernels' big outputs get their memory.
#
# Why
# ---
# A fresh large array costs more than the kernel that fills it. glibc hands
# out blocks above its mmap threshold (128 KiB at first, at most 32 MiB) as
# fresh pages from the kernel, and gives freed memory back to the kernel
# (munmap, or trimming the heap's top); the next array of that size then
# takes one page fault per 4 KiB page it touches, each zeroing its page. On
# the development VM a fault costs ~4 us: two 4 MB copies cost 8.5 ms with
# the faults (1,900 of them) and 0.5 ms without, and every 16M-element output
# (64 MB, always mmapped) zeroes its pages first. PyTorch's CPU allocator
# has the same problem; the usual cure, here as in the seed's roadmap
# ("memory pooling"), is to keep a few freed large blocks and hand them out
# again.
#
# How
# ---
# NumPy lets a library allocate an array's data through its own allocator
# (a "memory handler", NEP 49). NumPy stores the handler in each array it
# allocates, and frees the array's data through that same handler when the
# array (and every view of it, which all hold the array alive) is gone. So:
#
# * ``new_output`` installs our handler for the one ``PyArray_EMPTY`` call
#   that makes a large kernel output (>= CACHE_MIN_BYTES), then puts the
#   previous handler back: no other allocation in the process, the user's
#   included, is affected. The array is an ordinary NumPy array that owns
#   its data (``base`` is None, ``get_handler_name`` says "quasar_buffer_cache").
# * When NumPy frees such an array, the block goes into the cache instead of
#   back to glibc; the next large output of *exactly* that byte size takes it.
#
# What this guarantees
# --------------------
# * No aliasing: a block enters the cache only when NumPy frees it, i.e.
#   when no array or view uses it any more; it is handed to one new array.
# * Nothing is kept alive: the cache holds raw memory, never arrays.
# * Bounded: at most CACHE_SLOTS blocks and ``limit`` bytes (default
#   DEFAULT_CACHE_LIMIT, 256 MiB; ``quasar.buffers.set_cache_limit``) are
#   held idle. A block that does not fit evicts the oldest ones; a block
#   bigger than the limit is freed at once. ``quasar.buffers.empty_cache()``
#   gives everything back.
# * Thread-safe: the cache is changed only under its own lock (NumPy calls
#   the handler with the GIL held, but the lock does not rely on that).
#
# Each block carries a small header in front of the data with its raw
# address and size, so freeing does not depend on the size NumPy reports.

from cpython.pycapsule cimport PyCapsule_New
from cpython.pythread cimport (
    PyThread_acquire_lock, PyThread_allocate_lock, PyThread_release_lock,
    PyThread_type_lock, WAIT_LOCK,
)
from libc.stdint cimport uint8_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset


cdef extern from "numpy/arrayobject.h":
    ctypedef struct PyDataMemAllocator:
        void* ctx
        void* (*malloc_fn "malloc")(void* ctx, size_t size) noexcept nogil
        void* (*calloc_fn "calloc")(void* ctx, size_t nelem, size_t elsize) noexcept nogil
        void* (*realloc_fn "realloc")(void* ctx, void* ptr, size_t new_size) noexcept nogil
        void (*free_fn "free")(void* ctx, void* ptr, size_t size) noexcept nogil
    ctypedef struct PyDataMem_Handler:
        char name[127]
        uint8_t version
        PyDataMemAllocator allocator
    object PyDataMem_SetHandler(object handler)


cdef extern from *:
    """
    #include <stdlib.h>
    #ifdef __linux__
    #include <sys/mman.h>
    #endif
    /* size bytes aligned to `alignment` (a power of two >= sizeof(void*)), or NULL. */
    static void* quasar_aligned_alloc(size_t alignment, size_t size) {
        void* p = NULL;
        return posix_memalign(&p, alignment, size) == 0 ? p : NULL;
    }
    /* Ask for transparent huge pages, as NumPy does for arrays >= 4 MiB
       (one fault per 2 MiB instead of per 4 KiB); a no-op elsewhere. */
    static void quasar_advise_huge(void* p, size_t size) {
    #if defined(__linux__) && defined(MADV_HUGEPAGE)
        madvise(p, size, MADV_HUGEPAGE);
    #endif
    }
    """
    void* quasar_aligned_alloc(size_t alignment, size_t size) noexcept nogil
    void quasar_advise_huge(void* p, size_t size) noexcept nogil


cdef enum:
    # Outputs smaller than this come from NumPy's usual allocator (below it
    # glibc's heap serves them without faults, and the extra handler switch
    # would cost more than it saves on a small op). 1 MiB = 256k float32.
    CACHE_MIN_BYTES = 1 << 20

    # The most idle blocks the cache holds (it is searched linearly).
    CACHE_SLOTS = 16

    # Bytes in front of each block's data: its raw address and data size,
    # padded so the data stays 64-byte aligned.
    BLOCK_HEADER = 64

    # Blocks from this size on are 2 MiB aligned and asked to use huge pages.
    HUGE_BYTES = 4 << 20
    HUGE_ALIGN = 2 << 20


DEFAULT_CACHE_LIMIT = 256 << 20     # idle bytes held at most, unless changed


cdef struct BlockHeader:
    void* raw             # what the system allocator returned
    size_t size           # usable bytes from the data pointer on


cdef struct IdleBlock:
    void* data
    size_t size


cdef struct BufferCache:
    IdleBlock blocks[CACHE_SLOTS]   # oldest first
    int count
    size_t bytes                    # sum of the idle blocks' sizes
    size_t limit
    # statistics (since the last reset_cache_stats)
    Py_ssize_t hits
    Py_ssize_t misses
    Py_ssize_t evictions


cdef BufferCache _cache
_cache.count = 0
_cache.bytes = 0
_cache.limit = DEFAULT_CACHE_LIMIT
_cache.hits = _cache.misses = _cache.evictions = 0
cdef PyThread_type_lock _cache_lock = PyThread_allocate_lock()
if _cache_lock == NULL:
    raise MemoryError("quasar: cannot allocate the buffer cache's lock")


# ------------------------------------------------------------------ raw blocks

cdef inline BlockHeader* _header(void* data) noexcept nogil:
    return <BlockHeader*>(<char*>data - BLOCK_HEADER)


cdef void* _block_new(size_t size) noexcept nogil:
    """A fresh block of ``size`` usable bytes from the system, or NULL."""
    cdef size_t align = HUGE_ALIGN if size >= HUGE_BYTES else BLOCK_HEADER
    cdef size_t total = size + BLOCK_HEADER
    cdef void* raw
    if total < size:                        # overflow
        return NULL
    raw = quasar_aligned_alloc(align, total)
    if raw == NULL:
        return NULL
    if size >= HUGE_BYTES:
        quasar_advise_huge(raw, total)
    cdef void* data = <char*>raw + BLOCK_HEADER
    _header(data).raw = raw
    _header(data).size = size
    return data


cdef inline void _block_free(void* data) noexcept nogil:
    free(_header(data).raw)


# ------------------------------------------------------------------ the cache
# _cache_take and _cache_give run under _cache_lock; they never call back
# into Python.

cdef void* _cache_take(size_t size) noexcept nogil:
    """An idle block of exactly ``size`` bytes (the most recently freed one,
    its pages are likelier to be in cache), or NULL."""
    cdef int i, j
    cdef void* data = NULL
    PyThread_acquire_lock(_cache_lock, WAIT_LOCK)
    i = _cache.count - 1
    while i >= 0:
        if _cache.blocks[i].size == size:
            data = _cache.blocks[i].data
            for j in range(i, _cache.count - 1):
                _cache.blocks[j] = _cache.blocks[j + 1]
            _cache.count -= 1
            _cache.bytes -= size
            _cache.hits += 1
            break
        i -= 1
    if data == NULL:
        _cache.misses += 1
    PyThread_release_lock(_cache_lock)
    return data


cdef void _cache_give(void* data) noexcept nogil:
    """Keep a freed block for reuse, evicting the oldest blocks to stay in
    bounds; a block that cannot fit at all is freed."""
    cdef size_t size = _header(data).size
    cdef void* evicted[CACHE_SLOTS]
    cdef int n_evicted = 0, i, j
    PyThread_acquire_lock(_cache_lock, WAIT_LOCK)
    if size > _cache.limit:
        evicted[n_evicted] = data
        n_evicted += 1
    else:
        while _cache.count == CACHE_SLOTS or _cache.bytes + size > _cache.limit:
            evicted[n_evicted] = _cache.blocks[0].data
            n_evicted += 1
            _cache.bytes -= _cache.blocks[0].size
            for j in range(_cache.count - 1):
                _cache.blocks[j] = _cache.blocks[j + 1]
            _cache.count -= 1
            _cache.evictions += 1
        _cache.blocks[_cache.count].data = data
        _cache.blocks[_cache.count].size = size
        _cache.count += 1
        _cache.bytes += size
    PyThread_release_lock(_cache_lock)
    for i in range(n_evicted):              # the system calls outside the lock
        _block_free(evicted[i])


cdef void _cache_shrink(size_t limit) noexcept nogil:
    """Free the oldest idle blocks until at most ``limit`` bytes are held."""
    cdef void* data
    cdef int j
    while True:
        PyThread_acquire_lock(_cache_lock, WAIT_LOCK)
        if _cache.count == 0 or _cache.bytes <= limit:
            PyThread_release_lock(_cache_lock)
            return
        data = _cache.blocks[0].data
        _cache.bytes -= _cache.blocks[0].size
        for j in range(_cache.count - 1):
            _cache.blocks[j] = _cache.blocks[j + 1]
        _cache.count -= 1
        PyThread_release_lock(_cache_lock)
        _block_free(data)


# ------------------------------------------------------------------ the NumPy handler

cdef void* _handler_malloc(void* ctx, size_t size) noexcept nogil:
    cdef void* data = _cache_take(size)
    return data if data != NULL else _block_new(size)


cdef void* _handler_calloc(void* ctx, size_t nelem, size_t elsize) noexcept nogil:
    cdef size_t size = nelem * elsize
    cdef void* data
    if elsize != 0 and size // elsize != nelem:     # overflow
        return NULL
    data = _handler_malloc(ctx, size)
    if data != NULL:
        memset(data, 0, size)
    return data


cdef void _handler_free(void* ctx, void* data, size_t size) noexcept nogil:
    if data != NULL:
        _cache_give(data)


cdef void* _handler_realloc(void* ctx, void* data, size_t new_size) noexcept nogil:
    # (NumPy's ndarray.resize on an array we allocated.)
    cdef void* moved
    cdef size_t old_size
    if data == NULL:
        return _handler_malloc(ctx, new_size)
    old_size = _header(data).size
    moved = _handler_malloc(ctx, new_size)
    if moved == NULL:
        return NULL
    memcpy(moved, data, old_size if old_size < new_size else new_size)
    _cache_give(data)
    return moved


cdef PyDataMem_Handler _handler
memcpy(_handler.name, b"quasar_buffer_cache", 20)   # with its NUL
_handler.version = 1
_handler.allocator.ctx = NULL
_handler.allocator.malloc_fn = _handler_malloc
_handler.allocator.calloc_fn = _handler_calloc
_handler.allocator.realloc_fn = _handler_realloc
_handler.allocator.free_fn = _handler_free
# NumPy finds a handler by this capsule name; the struct is static, never freed.
cdef object _handler_capsule = PyCapsule_New(&_handler, b"mem_handler", NULL)


# ------------------------------------------------------------------ for the kernels

cdef inline Py_ssize_t _type_itemsize(int typenum):
    if typenum == cnp.NPY_FLOAT:
        return 4
    if typenum == cnp.NPY_DOUBLE:
        return 8
    if typenum == cnp.NPY_BOOL:
        return 1
    return cnp.PyArray_DescrFromType(typenum).itemsize


cdef cnp.ndarray new_output(int nd, cnp.npy_intp* dims, int typenum):
    """A new C-contiguous array (what PyArray_EMPTY gives), its data from the
    buffer cache when it is large: every kernel output goes through here."""
    cdef Py_ssize_t nbytes = _type_itemsize(typenum)
    cdef int d
    for d in range(nd):
        nbytes *= dims[d]
    if nbytes < CACHE_MIN_BYTES:
        return cnp.PyArray_EMPTY(nd, dims, typenum, 0)
    previous = PyDataMem_SetHandler(_handler_capsule)
    try:
        return cnp.PyArray_EMPTY(nd, dims, typenum, 0)
    finally:
        PyDataMem_SetHandler(previous)


# ------------------------------------------------------------------ Python API (quasar.buffers)

def buffer_cache_info():
    """The cache's state: a dict of blocks, bytes, limit, slots, min_bytes,
    hits, misses, evictions (the counts since reset_buffer_cache_stats)."""
    PyThread_acquire_lock(_cache_lock, WAIT_LOCK)
    info = {"blocks": _cache.count, "bytes": _cache.bytes, "limit": _cache.limit,
            "slots": CACHE_SLOTS, "min_bytes": CACHE_MIN_BYTES, "hits": _cache.hits,
            "misses": _cache.misses, "evictions": _cache.evictions}
    PyThread_release_lock(_cache_lock)
    return info


def reset_buffer_cache_stats():
    """Set the hit, miss and eviction counts to zero."""
    PyThread_acquire_lock(_cache_lock, WAIT_LOCK)
    _cache.hits = _cache.misses = _cache.evictions = 0
    PyThread_release_lock(_cache_lock)


def set_buffer_cache_limit(Py_ssize_t limit):
    """Hold at most ``limit`` idle bytes (0: keep nothing); frees the oldest
    blocks now if more are held. Returns the previous limit."""
    if limit < 0:
        raise ValueError(f"buffer cache limit must be >= 0 bytes, got {limit}")
    PyThread_acquire_lock(_cache_lock, WAIT_LOCK)
    previous = _cache.limit
    _cache.limit = limit
    PyThread_release_lock(_cache_lock)
    _cache_shrink(limit)
    return previous


def empty_buffer_cache():
    """Give every idle block back to the system."""
    _cache_shrink(0)
