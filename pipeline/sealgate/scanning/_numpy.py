"""NumPy ``.npy`` headers (format versions 1-3), read without NumPy.

An array whose dtype holds Python objects is stored as a pickle after the header, which
``numpy.load(allow_pickle=True)`` unpickles; that pickle is scanned like any other.
"""

from __future__ import annotations

import ast
import io
import os
import re
import struct
from typing import IO, Any

from sealgate.scanning._pickles import MAX_PICKLE_BYTES, scan_pickle_stream
from sealgate.scanning._results import ScanFinding, finding

MAGIC = b"\x93NUMPY"
MAX_HEADER = 64 * 1024
MAX_OBJECT_PICKLE = MAX_PICKLE_BYTES
MAX_DESCR_DEPTH = 32


# dtype strings numpy reads without objects: a type code or name, its size, a time unit;
# anything else (``'O'``, ``'object'``, ``'i4,O'``, an unknown name) is taken to hold objects.
_PLAIN = re.compile(
    r"(?:[?bBhHiIlLqQpPnNefdgFDGSUVamMcu]|bool|b1|(?:u?int|float|complex|str|bytes|void|"
    r"datetime|timedelta|bool_?|half|single|double|longdouble|byte|ubyte|short|ushort|intc|"
    r"uintc|longlong|ulonglong|intp|uintp|clongdouble|cdouble|csingle)\d*)\d*(?:\[\w+\])?"
)


def _plain_string(descr: str) -> bool:
    return _PLAIN.fullmatch(descr.lstrip("<>|=!")) is not None


def _shape(value: Any) -> bool:
    return isinstance(value, int) or (
        isinstance(value, tuple) and all(isinstance(n, int) for n in value)
    )


def _has_objects(descr: Any, depth: int = 0) -> bool:
    """Whether a header ``descr`` may hold Python objects, walked the way
    ``numpy.lib.format.descr_to_dtype`` reads it: a string, a ``(base, shape)`` tuple, or a
    structured list of ``(name, descr[, shape])``; any other shape is taken to hold them."""
    if depth > MAX_DESCR_DEPTH:
        return True
    if isinstance(descr, str):
        return not _plain_string(descr)
    if isinstance(descr, tuple):  # (base, shape) or (base, itemsize)
        return not descr or any(
            _has_objects(part, depth + 1)
            for i, part in enumerate(descr)
            if i == 0 or not _shape(part)
        )
    if isinstance(descr, list):  # [(name, descr[, shape]), ...]
        return any(
            not isinstance(field, tuple | list)
            or not 2 <= len(field) <= 3
            or _has_objects(field[1], depth + 1)
            or (len(field) == 3 and not _shape(field[2]))
            for field in descr
        )
    return True


def _size_left(data: IO[bytes]) -> int | None:
    try:
        return os.fstat(data.fileno()).st_size - data.tell()
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return None  # a zip entry: its size was checked against the archive limit


def scan_npy(data: IO[bytes], where: str = "") -> list[ScanFinding]:
    prefix = data.read(8)
    if len(prefix) < 8 or not prefix.startswith(MAGIC):
        return [finding("numpy-malformed", "medium", f"{where}not a .npy file (no NUMPY magic)")]
    major = prefix[6]
    size_format = {1: "<H", 2: "<I", 3: "<I"}.get(major)
    if size_format is None:
        return [finding("numpy-malformed", "medium", f"{where}unknown .npy version {major}")]
    raw_size = data.read(struct.calcsize(size_format))
    if len(raw_size) != struct.calcsize(size_format):
        return [finding("numpy-malformed", "medium", f"{where}truncated .npy header")]
    (size,) = struct.unpack(size_format, raw_size)
    if size > MAX_HEADER:
        return [finding("numpy-malformed", "medium", f"{where}.npy header is over {MAX_HEADER}")]
    try:
        header = ast.literal_eval(data.read(size).decode("latin1"))  # literals only
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return [finding("numpy-malformed", "medium", f"{where}.npy header is not a literal")]
    if not isinstance(header, dict) or "descr" not in header:
        return [finding("numpy-malformed", "medium", f"{where}.npy header has no descr")]
    if not _has_objects(header["descr"]):
        return []
    size_left = _size_left(data)
    objects = finding(
        "numpy-object-array",
        "high",
        f"{where}object array: loading it unpickles its contents (allow_pickle)",
        unsafe=True,
    )
    if size_left is not None and size_left > MAX_OBJECT_PICKLE:
        return [objects]  # its pickle is not read: the finding already refuses it
    return [objects, *scan_pickle_stream(data, where)]
