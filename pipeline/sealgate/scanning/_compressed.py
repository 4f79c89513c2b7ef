"""Compressed pickles (joblib's ``compress=``, ``*.pkl.gz``): decompressed in memory up to a
bound, never past it, so the pickle inside is scanned like any other.

zlib, gzip, bz2 and xz are in the standard library; an lz4 frame (joblib's ``lz4``) is not
read and is reported unsafe instead.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable
from typing import IO, Protocol

LZ4_MAGIC = b"\x04\x22\x4d\x18"
_CHUNK = 1024 * 1024


class _Decompressor(Protocol):
    def decompress(self, data: bytes, max_length: int = ...) -> bytes: ...

    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...


def _zlib(wbits: int) -> Callable[[], _Decompressor]:
    # zlib's object takes max_length too; unconsumed input waits in unconsumed_tail
    return lambda: _ZlibAdapter(zlib.decompressobj(wbits))


class _ZlibAdapter:
    def __init__(self, inner: zlib._Decompress) -> None:
        self._inner = inner

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        return self._inner.decompress(self._inner.unconsumed_tail + data, max_length)

    @property
    def eof(self) -> bool:
        return self._inner.eof

    @property
    def unused_data(self) -> bytes:
        return self._inner.unused_data


def compression(head: bytes) -> str | None:
    """The compression a stream starting with ``head`` is in (None: not compressed)."""
    if head[:2] in (b"x\x01", b"x^", b"x\x9c", b"x\xda"):
        return "zlib"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh") and head[3:4].isdigit():
        return "bz2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(LZ4_MAGIC):
        return "lz4"
    return None


_DECOMPRESSORS: dict[str, Callable[[], _Decompressor]] = {
    "zlib": _zlib(zlib.MAX_WBITS),
    "gzip": _zlib(zlib.MAX_WBITS | 16),
    "bz2": bz2.BZ2Decompressor,
    "xz": lzma.LZMADecompressor,
}


class DecompressError(Exception):
    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


def decompress_bounded(data: IO[bytes], kind: str, limit: int) -> bytes:
    """The decompressed stream, at most ``limit`` bytes (DecompressError past it, or for a
    compression that is not read)."""
    make = _DECOMPRESSORS.get(kind)
    if make is None:
        raise DecompressError(f"{kind} compression is not read")
    decompressor = make()
    out = bytearray()
    try:
        while not decompressor.eof:
            chunk = data.read(_CHUNK)
            # an empty read still drains input the decompressor holds back for max_length
            piece = decompressor.decompress(chunk, limit + 1 - len(out))
            out += piece
            if len(out) > limit:
                raise DecompressError(f"decompresses to over {limit} bytes", too_large=True)
            if not chunk and not piece:
                raise DecompressError(f"truncated {kind} stream")
    except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        raise DecompressError(f"{kind} stream cannot be decompressed: {exc}") from None
    if decompressor.unused_data or data.read(1):
        # gzip.open and joblib read on into a second member: refuse what is not read here
        raise DecompressError(f"data after the end of the {kind} stream")
    return bytes(out)
