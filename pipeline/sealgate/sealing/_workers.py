"""Bounded parallelism: files in a small thread pool, each with an ordered hashing thread.

hashlib, blake3 and AES-GCM in ``cryptography`` release the GIL on large buffers, so threads
give real parallelism. Memory stays constant: each file in flight holds at most
``QUEUE_DEPTH`` + 2 chunk buffers, reused.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import BinaryIO, Protocol, TypeVar

from sealgate._cores import usable_cores

T = TypeVar("T")
QUEUE_DEPTH = 4


class Cancelled(Exception):
    """Raised inside a job when another job has already failed."""


class StreamingHash(Protocol):
    def update(self, data: bytes | memoryview, /) -> object: ...
    def digest(self) -> bytes: ...


class ReadsInto(Protocol):
    """A binary file that fills the caller's buffer (raw and buffered files both do)."""

    def readinto(self, buffer: memoryview, /) -> int | None: ...


def default_workers() -> int:
    return min(4, usable_cores())


class OrderedHash(Protocol):
    def update(self, data: bytes | memoryview, /) -> object: ...
    def digests(self) -> tuple[bytes, ...]: ...


class BackgroundHasher:
    """Hashes chunks, in order, on its own thread, from a small pool of reusable buffers.

    ``buffer()`` hands out a free buffer (blocking while all are queued, which bounds memory);
    ``submit()`` queues it for hashing and the buffer returns to the pool once hashed. The
    caller may keep reading a submitted buffer, never write to it.
    """

    def __init__(self, hash_object: OrderedHash, buffer_size: int) -> None:
        self._hash = hash_object
        self._free: queue.Queue[bytearray] = queue.Queue()
        for _ in range(QUEUE_DEPTH + 1):
            self._free.put(bytearray(buffer_size))
        self._work: queue.Queue[tuple[bytearray, int] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._work.get()) is not None:
            buffer, length = item
            self._hash.update(memoryview(buffer)[:length])
            self._free.put(buffer)

    def buffer(self) -> bytearray:
        return self._free.get()

    def submit(self, buffer: bytearray, length: int) -> None:
        self._work.put((buffer, length))

    def digests(self) -> tuple[bytes, ...]:
        self._work.put(None)
        self._thread.join()
        return self._hash.digests()

    def close(self) -> None:
        """Stop the thread without a result (after a failure)."""
        if self._thread.is_alive():
            self._work.put(None)
            self._thread.join()


class InlineHasher:
    """``BackgroundHasher``'s interface, hashing on the caller's thread as each chunk comes.

    When there are at least as many files in flight as cores, every core already runs a
    file: a chunk then stays in that core's cache from read to write, and no thread
    hand-off is paid."""

    def __init__(self, hash_object: OrderedHash, buffer_size: int) -> None:
        self._hash = hash_object
        self._buffer = bytearray(buffer_size)

    def buffer(self) -> bytearray:
        return self._buffer

    def submit(self, buffer: bytearray, length: int) -> None:
        self._hash.update(memoryview(buffer)[:length])

    def digests(self) -> tuple[bytes, ...]:
        return self._hash.digests()

    def close(self) -> None:
        pass


ChunkHasher = BackgroundHasher | InlineHasher


def chunk_hasher(hash_object: OrderedHash, buffer_size: int, background: bool) -> ChunkHasher:
    if background:
        return BackgroundHasher(hash_object, buffer_size)
    return InlineHasher(hash_object, buffer_size)


def run_jobs(jobs: Sequence[Callable[[threading.Event], T]], workers: int) -> list[T]:
    """Run ``jobs`` on ``workers`` threads; the first failure stops the rest and is raised."""
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(job, stop) for job in jobs]
        try:
            wait(futures, return_when=FIRST_EXCEPTION)
        except BaseException:  # Ctrl-C, SIGTERM: stop the workers before cleanup runs
            stop.set()
            for future in futures:
                future.cancel()
            raise
        if any(f.done() and not f.cancelled() and f.exception() for f in futures):
            stop.set()
            for future in futures:
                future.cancel()
            wait(futures)
            errors = [f.exception() for f in futures if not f.cancelled() and f.exception()]
            real = [e for e in errors if not isinstance(e, Cancelled)]
            raise (real or errors)[0]  # type: ignore[misc]
    return [f.result() for f in futures]


def read_into_exact(handle: ReadsInto, view: memoryview) -> int:
    """Fill ``view`` from ``handle``; returns fewer bytes only at end of file."""
    filled = 0
    while filled < len(view):
        count = handle.readinto(view[filled:])
        if not count:
            break
        filled += count
    return filled


def sequential_source(fd: int) -> None:
    """Tell the kernel a file is read once, front to back (larger read-ahead)."""
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)


def write_all(handle: BinaryIO, view: memoryview) -> None:
    written = 0
    while written < len(view):
        written += handle.write(view[written:]) or 0
