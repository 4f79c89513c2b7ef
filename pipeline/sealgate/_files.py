"""Files replaced atomically through a temporary sibling that is created, never reused.

The temporary name is random and opened with ``O_CREAT | O_EXCL | O_NOFOLLOW``: a symlink or
file planted at that name is refused, never followed or truncated, and left alone.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

CREATE_EXCLUSIVE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def create_exclusive(path: Path, mode: int = 0o644, *, dir_fd: int | None = None) -> int:
    """Create ``path`` for writing; fails if anything (a symlink too) already has its name."""
    return os.open(path, CREATE_EXCLUSIVE, mode, dir_fd=dir_fd)


def temporary_sibling(path: Path, tag: str = "tmp") -> Path:
    return path.with_name(f".{path.name}.{tag}-{secrets.token_hex(8)}")


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def replace_file(path: Path, data: bytes, *, mode: int = 0o644, fsync: bool = True) -> None:
    """Write ``data`` to a fresh temporary sibling and rename it over ``path``.

    Raises ``OSError``; the temporary is removed when this call created it.
    """
    temporary = temporary_sibling(path)
    fd = create_exclusive(temporary, mode)
    try:
        try:
            write_all(fd, data)
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        temporary.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
