"""The plaintext digests a seal signs: one per file, or one per shard, as ``Hashing`` says."""

from __future__ import annotations

import hashlib

import blake3

from sealgate.sealing import _stream as stream
from sealgate.sealing._digests import new_ciphertext_hash
from sealgate.sealing._oms import BLAKE3, Hashing
from sealgate.sealing._workers import ChunkHasher, StreamingHash, chunk_hasher


def _new_hash(hashing: Hashing, threads: int) -> StreamingHash:
    if hashing.method == BLAKE3:
        # BLAKE3 splits one large update over several threads: how one big file uses all cores.
        return blake3.blake3(max_threads=max(1, threads))
    return hashlib.sha256()


class RangeDigests:
    """Consumes one file's bytes in order; ``digests()`` gives one digest per range."""

    def __init__(self, hashing: Hashing, threads: int = 1) -> None:
        self._hashing = hashing
        self._threads = threads
        self._shard_size = hashing.shard_size
        self._current = _new_hash(hashing, threads)
        self._in_current = 0
        self._done: list[bytes] = []

    def update(self, data: bytes | memoryview, /) -> None:
        if self._shard_size is None:
            self._current.update(data)
            return
        view = memoryview(data)
        while view:
            take = min(len(view), self._shard_size - self._in_current)
            self._current.update(view[:take])
            self._in_current += take
            view = view[take:]
            if self._in_current == self._shard_size:
                self._done.append(self._current.digest())
                self._current = _new_hash(self._hashing, self._threads)
                self._in_current = 0

    def digests(self) -> tuple[bytes, ...]:
        if self._shard_size is None:
            return (self._current.digest(),)
        if self._in_current:
            return (*self._done, self._current.digest())
        return tuple(self._done)


class WholeDigest:
    """One digest of the whole stream, in ``RangeDigests``' shape."""

    def __init__(self, hash_object: StreamingHash) -> None:
        self._hash = hash_object

    def update(self, data: bytes | memoryview, /) -> None:
        self._hash.update(data)

    def digests(self) -> tuple[bytes, ...]:
        return (self._hash.digest(),)


def file_hashers(
    hashing: Hashing, ciphertext_digest: str, chunk_size: int, hash_threads: int
) -> tuple[ChunkHasher, ChunkHasher]:
    """The plaintext (model.sig's ranges) and ciphertext hashers of one file being sealed or
    unsealed. With cores to spare (fewer files than cores), each runs on a thread of its own,
    overlapping with reading, AES-GCM and writing on the caller's."""
    background = hash_threads > 1
    plaintext = chunk_hasher(RangeDigests(hashing, threads=hash_threads), chunk_size, background)
    ciphertext = chunk_hasher(
        WholeDigest(new_ciphertext_hash(ciphertext_digest)),
        chunk_size + stream.TAG_BYTES,
        background,
    )
    return plaintext, ciphertext
