"""File-system refusals of the environment (full, read-only, not permitted, failing device).

Such an ``OSError`` is not a fault of sealgate nor of the input file: it becomes a
``StorageError`` (exit code 2) whose one line names the path, the reason and what the
operation left unchanged, e.g. ``registry /srv/reg: read-only file system; the registry is
unchanged``.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager

from sealgate.errors import InputError

# errno -> the words a message uses; anything else is not the environment's refusal.
REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large for the file system",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EIO: "input/output error",
}


class StorageError(InputError):
    """The file system refused the operation; the message says what was left unchanged."""


def is_storage_refusal(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in REASONS


def refusal_reason(exc: OSError) -> str:
    return REASONS.get(exc.errno or 0) or exc.strerror or type(exc).__name__


def storage_error(
    where: str, exc: OSError, unchanged: str, *, name_file: bool = True
) -> StorageError:
    """``WHERE: REASON (PATH); UNCHANGED``; the path only when ``where`` does not name it."""
    reason = refusal_reason(exc)
    path = exc.filename if name_file else None
    detail = ""
    # A read-only file system is read-only everywhere: which file was tried says nothing.
    if path is not None and not isinstance(path, int) and exc.errno != errno.EROFS:
        shown = os.fsdecode(path)
        if shown not in where:
            detail = f" ({shown})"
    return StorageError(f"{where}: {reason}{detail}; {unchanged}")


@contextmanager
def storage_refusals(where: str, unchanged: str) -> Iterator[None]:
    """Turn a storage refusal raised inside the block into a ``StorageError``."""
    try:
        yield
    except OSError as exc:
        if not is_storage_refusal(exc):
            raise
        raise storage_error(where, exc, unchanged) from None
