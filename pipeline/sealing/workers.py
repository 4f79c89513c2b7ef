"""Bounded parallelism: files in a small thread pool, each with an ordered hashing thread.

hashlib, blake3 and AES-GCM in ``cryptography`` release the GIL on large buffers, so threads
give real parallelism. Memory stays constant: each file in flight holds at most
``QUEUE_DEPTH`` + 2 chunks.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Protocol, TypeVar

T = TypeVar("T")
QUEUE_DEPTH = 4


class Cancelled(Exception):
    """Raised inside a job when another job has already failed."""


class StreamingHash(Protocol):
    def update(self, data: bytes, /) -> object: ...
    def digest(self) -> bytes: ...


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class BackgroundHasher:
    """Feeds chunks, in order, to a hash running on its own thread."""

    def __init__(self, hash_object: StreamingHash) -> None:
        self._hash = hash_object
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_DEPTH)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self._hash.update(chunk)

    def update(self, chunk: bytes) -> None:
        self._queue.put(chunk)

    def digest(self) -> bytes:
        self._queue.put(None)
        self._thread.join()
        return self._hash.digest()

    def close(self) -> None:
        """Stop the thread without a result (after a failure)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


def run_jobs(jobs: Sequence[Callable[[threading.Event], T]], workers: int) -> list[T]:
    """Run ``jobs`` on ``workers`` threads; the first failure stops the rest and is raised."""
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(job, stop) for job in jobs]
        wait(futures, return_when=FIRST_EXCEPTION)
        if any(f.done() and not f.cancelled() and f.exception() for f in futures):
            stop.set()
            for future in futures:
                future.cancel()
            wait(futures)
            errors = [f.exception() for f in futures if not f.cancelled() and f.exception()]
            real = [e for e in errors if not isinstance(e, Cancelled)]
            raise (real or errors)[0]  # type: ignore[misc]
    return [f.result() for f in futures]


def read_exact(read: Callable[[int], bytes], size: int) -> bytes:
    """Read exactly ``size`` bytes; fewer means the file ended early."""
    data = read(size)
    if len(data) == size or not data:
        return data
    parts = [data]
    remaining = size - len(data)
    while remaining:
        more = read(remaining)
        if not more:
            break
        parts.append(more)
        remaining -= len(more)
    return b"".join(parts)
