"""``qs.save`` and ``qs.load``: state dicts in a NumPy ``.npz`` file, never pickle.

    qs.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 7}, "ckpt.npz")
    checkpoint = qs.load("ckpt.npz")
    model.load_state_dict(checkpoint["model"])

What can be saved: nested dicts (str or int keys), lists and tuples of
tensors, NumPy arrays, numbers, bools, strings and None. Each array becomes
one ``.npy`` entry of the archive, named ``<n>:<path>`` (``0:model.0.weight``);
the nesting and the plain values go into one JSON text entry, ``__quasar__``.

Saving is atomic: the archive is written to a temporary file next to the
target, flushed to disk, then renamed over it, so a full disk, an exception
or Ctrl-C leaves the previous checkpoint byte-for-byte as it was.

Loading never unpickles, so opening a stranger's file can never run code; it
checks every entry's declared size against the file and against ``max_bytes``
before allocating anything, and any damage (not a zip, a plain ``.npy``, a
truncated or hand-edited file, a bad CRC) is one :class:`CheckpointError`
naming the file and what is wrong. SECURITY.md states these promises.
"""

import contextlib
import json
import math
import numbers
import os
import secrets
import stat
import zipfile
import zlib

import numpy as np

from .interchange import is_safetensors_path, load_safetensors, safetensors_bytes
from .tensor import Tensor, _to_array

FORMAT = "quasar.save/1"
HEADER = "__quasar__"
MAX_DEPTH = 200  # nesting levels of dicts/lists; a state dict uses 3 or 4


class CheckpointError(ValueError):
    """``qs.load`` could not read a file: it is not a quasar checkpoint, it is
    damaged or hand-edited, or it declares more data than ``max_bytes`` allows.
    The message names the file and what is wrong."""


# ---------------------------------------------------------------- save


def save(obj, path):
    """Write ``obj`` (a state dict, or nested dicts/lists of tensors, arrays
    and numbers) to ``path`` (the name is used as given; ``.npz`` is a good suffix).

    Atomic: until the new file is complete and on disk, ``path`` keeps its old
    contents; on any failure the old file is untouched and no temporary remains.
    A name ending in ``.safetensors`` writes that format (a flat state dict only).
    """
    if is_safetensors_path(path):
        data = safetensors_bytes(obj)  # validated before the old file is touched
        with _atomic_file(path) as f:
            f.write(data)
        return
    with _atomic_file(path) as f:
        _write_npz(obj, f)


def _write_npz(obj, f):
    """The ``.npz`` format: one ``.npy`` member per array plus the JSON header."""
    arrays = {}
    tree = _encode(obj, "", arrays, 0)
    arrays[HEADER] = np.array(json.dumps({"format": FORMAT, "tree": tree}))
    np.savez(f, allow_pickle=False, **arrays)


@contextlib.contextmanager
def _atomic_file(path):
    """A binary file object whose contents replace ``path`` only if the block completes.

    The temporary sits in the target's directory (``os.replace`` is atomic only
    within one file system); it is flushed and fsynced before the rename, and
    the directory after it, so a crash leaves the old file or the new one, never
    a mix. A symlink is followed: its target is replaced, the link kept.
    """
    target = os.path.realpath(os.fspath(path))
    directory, name = os.path.split(target)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)  # keep an existing file's permissions
    except FileNotFoundError:
        mode = None
    while True:
        temporary = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.tmp")
        try:  # 0o666 less the umask: the permissions open(path, "wb") would give a new file
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:  # an error, or KeyboardInterrupt: the old file stays, the temporary goes
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory):
    """Make the rename itself durable (POSIX); a no-op where directories can't be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _encode(obj, path, arrays, depth):
    """One JSON node for obj; its arrays go into ``arrays`` under fresh names."""
    if depth > MAX_DEPTH:
        raise ValueError(f"save: nesting deeper than {MAX_DEPTH} levels at {path!r}")
    if isinstance(obj, Tensor):
        return {"tensor": _store(obj.array, path, arrays), "requires_grad": bool(obj.requires_grad)}
    if isinstance(obj, np.ndarray):
        return {"array": _store(obj, path, arrays)}
    if isinstance(obj, np.generic):
        obj = obj.item()  # a NumPy scalar -> the Python number
    if obj is None or isinstance(obj, (bool, str, numbers.Integral, numbers.Real)):
        return {"value": obj if isinstance(obj, (bool, str, type(None))) else _plain_number(obj)}
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if isinstance(key, np.integer):
                key = int(key)
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(f"save: dict keys must be str or int, got {key!r} at {path or 'the top level'}")
            items.append([key, _encode(value, f"{path}.{key}" if path else str(key), arrays, depth + 1)])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_encode(v, f"{path}.{i}" if path else str(i), arrays, depth + 1) for i, v in enumerate(obj)]}
    hint = "; save its state_dict() instead" if hasattr(obj, "state_dict") else ""
    raise TypeError(f"save: can't store a {type(obj).__name__} at {path or 'the top level'!r}{hint}")


def _plain_number(x):
    return int(x) if isinstance(x, numbers.Integral) else float(x)


def _store(array, path, arrays):
    if array.dtype.kind not in "biuf":
        raise TypeError(f"save: the array at {path!r} has dtype {array.dtype}; only numeric arrays can be saved")
    name = f"{len(arrays)}:{path}"
    arrays[name] = array
    return name


# ---------------------------------------------------------------- load


def load(path, *, max_bytes=None):
    """Read what ``save`` wrote: dicts, lists, tuples and numbers as they were,
    tensors as Tensors (requires_grad as saved), arrays as NumPy arrays.

    max_bytes: the most bytes of array data loading may allocate. By default
    the file's own size: ``save`` stores arrays uncompressed, so every genuine
    checkpoint fits, while a small crafted (compressed) file can't claim
    gigabytes. Raise it to read a compressed archive you trust.

    Raises :class:`CheckpointError` (a ValueError) naming the file when it is
    not a quasar checkpoint or is damaged; FileNotFoundError when it is missing.
    A ``.safetensors`` file gives a dict of name -> Tensor.
    """
    if is_safetensors_path(path):
        return load_safetensors(path)
    with open(os.fspath(path), "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if max_bytes is None:
            max_bytes = size
        elif isinstance(max_bytes, bool) or not isinstance(max_bytes, numbers.Integral) or max_bytes < 0:
            raise TypeError(f"load: max_bytes must be a non-negative int, got {max_bytes!r}")
        return _read_npz(_Reader(path, f, max_bytes))


def _read_npz(reader):
    """The ``.npz`` format: check the kind of file, read the JSON header, rebuild the tree."""
    start = reader.file.read(6)
    reader.file.seek(0)
    if start == b"\x93NUMPY":
        reader.fail("is a single NumPy .npy array, not a checkpoint written by quasar.save (an .npz archive)")
    if not start.startswith(b"PK"):
        reader.fail("is not a checkpoint written by quasar.save (not a zip/.npz archive)")
    try:
        with zipfile.ZipFile(reader.file) as archive:
            reader.archive = archive
            reader.members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
            if HEADER not in reader.members:
                reader.fail(f"was not written by quasar.save (it has no {HEADER!r} entry)")
            header = reader.array(HEADER, kinds="U")
            if header.dtype.kind != "U" or header.shape != ():
                reader.fail(f"has a {HEADER!r} entry of dtype {header.dtype} and shape {header.shape}, not a JSON text")
            try:
                header = json.loads(str(header))
            except RecursionError:
                reader.fail("has a header nested too deeply to be a checkpoint")
            except ValueError as exc:
                reader.fail(f"has a header that is not valid JSON ({exc})")
            if not isinstance(header, dict) or "tree" not in header:
                reader.fail("has a header without the 'tree' of saved values (hand-edited?)")
            if header.get("format") != FORMAT:
                reader.fail(f"has format {header.get('format')!r}; this quasar reads {FORMAT!r}")
            return _decode(header["tree"], reader, "", 0)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, UnicodeDecodeError, EOFError, OSError,
            NotImplementedError) as exc:
        # a truncated or corrupted archive: a bad CRC, a damaged directory, an unknown compression
        reader.fail(f"is damaged ({type(exc).__name__}: {exc})")


class _Reader:
    """One open archive: the file, its members, and the byte budget left."""

    def __init__(self, path, file, max_bytes):
        self.path, self.file, self.budget = os.fspath(path), file, max_bytes
        self.archive, self.members, self.cache = None, {}, {}

    def fail(self, what):
        raise CheckpointError(f"load: {self.path} {what}") from None

    def array(self, name, kinds="biuf"):
        """Member ``name`` as an array of a dtype kind in ``kinds``, its size
        checked before allocating."""
        info = self.members.get(name) if isinstance(name, str) else None
        if info is None:
            self.fail(f"refers to an array {name!r} that the archive does not hold (hand-edited or truncated?)")
        if (name, kinds) in self.cache:
            return self.cache[name, kinds]
        with self.archive.open(info) as member:
            try:
                version = np.lib.format.read_magic(member)
                if version not in ((1, 0), (2, 0), (3, 0)):
                    raise ValueError(f"unknown .npy version {version}")
                read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, fortran_order, dtype = read_header(member)
            except (ValueError, TypeError) as exc:  # TypeError: a descr NumPy can't make a dtype of
                self.fail(f"has an entry {name!r} that is not a valid .npy array ({exc})")
            if any(n < 0 for n in shape):
                self.fail(f"has an entry {name!r} with a negative size in its shape {shape}")
            if dtype.hasobject or dtype.kind not in kinds or dtype.fields is not None:
                self.fail(
                    f"has an entry {name!r} of dtype {dtype}: quasar loads only numeric arrays "
                    "(never pickled objects, which could run code)"
                )
            nbytes = math.prod(shape) * dtype.itemsize
            if nbytes > info.file_size:  # the zip directory says how much data really follows
                self.fail(
                    f"is truncated or damaged: entry {name!r} declares shape {shape} of {dtype} "
                    f"({nbytes} bytes) but holds at most {info.file_size} bytes"
                )
            if nbytes > self.budget:
                self.fail(
                    f"needs more than max_bytes to load: entry {name!r} declares {nbytes} bytes and "
                    f"{self.budget} remain of the limit; pass load(..., max_bytes=N) if you trust this file"
                )
            self.budget -= nbytes
            # Read straight into the array's memory: no second copy of a large tensor.
            memory = np.empty(shape[::-1] if fortran_order else shape, dtype)  # C order, as the bytes are
            array = memory.T if fortran_order else memory
            buffer = memoryview(memory.reshape(-1).view(np.uint8))
            filled = 0
            while filled < nbytes:
                got = member.readinto(buffer[filled:])
                if not got:
                    self.fail(f"is truncated: entry {name!r} ends after {filled} of its {nbytes} bytes")
                filled += got
            member.read(1)  # reach the end, so zipfile checks the CRC
        if not array.dtype.isnative:
            array = array.astype(array.dtype.newbyteorder("="))
        self.cache[name, kinds] = array
        return array


def _decode(node, reader, where, depth):
    """Rebuild one saved value from its JSON node, checking its shape as it goes."""
    at = f"at {where!r}" if where else "at the top level"
    if depth > MAX_DEPTH:
        reader.fail(f"nests values deeper than {MAX_DEPTH} levels {at}")
    if not isinstance(node, dict) or len(node.keys() - {"requires_grad"}) != 1:
        reader.fail(f"has a header entry quasar does not understand {at}: {str(node)[:80]}")
    (kind,) = node.keys() - {"requires_grad"}
    body = node[kind]
    if kind == "tensor":
        array = reader.array(body)
        try:
            t = Tensor._wrap(_to_array(array, copy=False, op=f"load ({reader.path})"))
            return t.requires_grad_(True) if node.get("requires_grad") is True else t
        except (TypeError, RuntimeError) as exc:
            reader.fail(f"holds a tensor {at} that quasar can't make ({exc})")
    if kind == "array":
        return reader.array(body)
    if kind == "value":
        if body is not None and not isinstance(body, (bool, str, int, float)):
            reader.fail(f"has a value {at} that is not a number, string, bool or null")
        return body
    if kind == "dict" and isinstance(body, list):
        result = {}
        for item in body:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], (str, int))):
                reader.fail(f"has a dict entry {at} that is not a [key, value] pair: {str(item)[:80]}")
            key = item[0]
            result[key] = _decode(item[1], reader, f"{where}.{key}" if where else str(key), depth + 1)
        return result
    if kind in ("list", "tuple") and isinstance(body, list):
        items = [_decode(v, reader, f"{where}.{i}" if where else str(i), depth + 1) for i, v in enumerate(body)]
        return items if kind == "list" else tuple(items)
    reader.fail(f"has a header entry quasar does not understand {at}: {str(node)[:80]}")
