"""Atomic directory publication: build under a locked temporary sibling, fsync, rename.

The temporary sibling is named ``.NAME.sealgate-partial-RANDOM`` and holds an exclusive
``flock`` while it is being built; a later run removes any such sibling whose lock is free
(its owner died). ``DESTINATION`` appears only complete, or not at all.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import shutil
import stat
from pathlib import Path
from types import TracebackType

from sealgate.errors import InputError

_PARTIAL_MARK = ".sealgate-partial-"


def partial_prefix(destination: Path) -> str:
    return f".{destination.name}{_PARTIAL_MARK}"


def check_destination(destination: Path) -> None:
    """``destination`` must not exist, or be an empty directory; its parent must exist."""
    parent = destination.parent
    if not parent.is_dir():
        raise InputError(f"{destination}: parent directory {parent} does not exist")
    try:
        mode = destination.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(mode):
        raise InputError(f"{destination}: exists and is not a directory")
    if any(destination.iterdir()):
        raise InputError(f"{destination}: exists and is not empty")


def _remove_tree(path: Path) -> None:
    """Remove a tree even where a directory was already made read-only."""
    for root, dirs, _files in os.walk(path, topdown=True, followlinks=False):
        for name in dirs:
            with contextlib.suppress(OSError):
                Path(root, name).chmod(0o700, follow_symlinks=False)
    with contextlib.suppress(OSError):
        path.chmod(0o700)
    shutil.rmtree(path, ignore_errors=True)


def remove_stale_partials(destination: Path) -> list[Path]:
    """Remove temporaries of ``destination`` left by a run that died; return what was removed."""
    removed = []
    prefix = partial_prefix(destination)
    for candidate in destination.parent.glob(f"{prefix}*"):
        if candidate.is_symlink() or not candidate.is_dir():
            continue
        try:
            fd = os.open(candidate, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                os.close(fd)
                continue  # a live run owns it
            os.close(fd)
            raise
        try:
            _remove_tree(candidate)
            removed.append(candidate)
        finally:
            os.close(fd)
    return removed


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StagingDirectory:
    """A locked temporary sibling of ``destination``, published by one rename."""

    def __init__(self, destination: Path) -> None:
        self.destination = destination
        self.path = destination.parent / f"{partial_prefix(destination)}{secrets.token_hex(8)}"
        self._lock_fd: int | None = None
        self._published = False

    def __enter__(self) -> StagingDirectory:
        self.path.mkdir(mode=0o700)
        self._lock_fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return self

    def publish(self, *, file_mode: int, dir_mode: int) -> None:
        """Set final modes, fsync every file and directory, then rename into place."""
        directories = [self.path]
        for root, dirs, files in os.walk(self.path, followlinks=False):
            for name in files:
                file_path = Path(root, name)
                file_path.chmod(file_mode, follow_symlinks=False)
                fsync_path(file_path)
            directories.extend(Path(root, name) for name in dirs)
        for directory in reversed(directories):  # children before parents
            directory.chmod(dir_mode)
            fsync_path(directory)
        try:
            self.path.rename(self.destination)
        except OSError as exc:
            raise InputError(f"{self.destination}: cannot publish: {exc.strerror}") from None
        self._published = True
        fsync_path(self.destination.parent)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self._published:
            _remove_tree(self.path)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
