"""Atomic directory publication: build under a locked temporary sibling, fsync, rename.

The destination is resolved once: its parent is opened as a directory descriptor and every
later step (checks, the temporary sibling, its files, the rename) works relative to that
descriptor, so swapping a symlink into the path afterwards cannot move the writes elsewhere.

The temporary sibling is named ``.NAME.sealgate-partial-RANDOM``, is created 0700 and holds
a lock file (``.sealgate-lock``) with an exclusive ``flock`` while it is being built. A later
run removes such a sibling only when it is sealgate's own: a real directory (no symlink
followed), owned by this user, holding a regular lock file owned by this user whose lock is
free (its owner died). Anything else under that name is refused with an error naming it.
``DESTINATION`` appears only complete, or not at all.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import shutil
import signal
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType, TracebackType

from sealgate.errors import InputError

_PARTIAL_MARK = ".sealgate-partial-"
LOCK_NAME = ".sealgate-lock"
DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: unwind (removing temporaries) exactly as on Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"terminated by {signal.Signals(signum).name}")
        self.signum = signum


TERMINATING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Inside the block, SIGTERM and SIGHUP raise ``Terminated`` instead of killing the
    process at once, so ``finally`` blocks remove plaintext temporaries as on SIGINT.

    Only where the signal has its default action, and only in the main thread (the only one
    Python delivers signals to); later signals are ignored while the first one unwinds.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    replaced = {s: signal.getsignal(s) for s in TERMINATING_SIGNALS}
    replaced = {s: h for s, h in replaced.items() if h == signal.SIG_DFL}

    def handler(signum: int, _frame: FrameType | None) -> None:
        for number in replaced:
            signal.signal(number, signal.SIG_IGN)
        raise Terminated(signum)

    for number in replaced:
        signal.signal(number, handler)
    try:
        yield
    finally:
        for number, previous in replaced.items():
            signal.signal(number, previous)


def partial_prefix(destination: Path) -> str:
    return f".{destination.name}{_PARTIAL_MARK}"


def open_parent(destination: Path) -> int:
    """The destination's parent as a directory descriptor (not followed if it is a symlink)."""
    if destination.name in ("", ".", ".."):
        raise InputError(f"{destination}: name a new directory to create")
    parent = destination.parent
    try:
        return os.open(parent, DIRECTORY_FLAGS)
    except FileNotFoundError:
        raise InputError(f"{destination}: parent directory {parent} does not exist") from None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) and parent.is_symlink():
            raise InputError(
                f"{destination}: parent directory {parent} is a symlink; pass the real path"
            ) from None
        if exc.errno == errno.ENOTDIR:
            raise InputError(f"{destination}: parent {parent} is not a directory") from None
        raise InputError(f"{destination}: cannot open {parent}: {exc.strerror}") from None


def check_destination_at(parent_fd: int, destination: Path) -> None:
    """``destination`` (in the directory ``parent_fd``) must not exist, or be an empty
    directory that is not a mount point."""
    try:
        found = os.stat(destination.name, dir_fd=parent_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(found.st_mode):
        raise InputError(f"{destination}: exists and is not a directory")
    if found.st_dev != os.fstat(parent_fd).st_dev:
        raise InputError(
            f"{destination}: is a mount point; unseal into a new directory inside the "
            "memory-backed mount so that it can be published with one rename"
        )
    fd = os.open(destination.name, DIRECTORY_FLAGS, dir_fd=parent_fd)
    try:
        if os.listdir(fd):  # noqa: PTH208 (a directory descriptor, not a path)
            raise InputError(f"{destination}: exists and is not empty")
    finally:
        os.close(fd)


def check_destination(destination: Path) -> None:
    """``destination`` must not exist, or be an empty directory; its parent must exist."""
    parent_fd = open_parent(destination)
    try:
        check_destination_at(parent_fd, destination)
    finally:
        os.close(parent_fd)


def _remove_tree_at(parent_fd: int, name: str) -> None:
    """Remove ``name`` under ``parent_fd`` through descriptors only, also where a directory
    was already made read-only; symlinks inside are removed, never followed."""
    with contextlib.suppress(OSError):
        top = os.open(name, DIRECTORY_FLAGS, dir_fd=parent_fd)
        try:
            os.fchmod(top, 0o700)
            for _root, _dirs, _files, directory_fd in os.fwalk(dir_fd=top):
                os.fchmod(directory_fd, 0o700)
        finally:
            os.close(top)
    shutil.rmtree(name, dir_fd=parent_fd, ignore_errors=True)


def _not_own(parent: Path, name: str, why: str) -> InputError:
    return InputError(
        f"{parent / name}: has the name of a sealgate temporary but {why}; it was left "
        "alone: remove it, or unseal to another destination"
    )


def _stale_lock(parent: Path, name: str, directory_fd: int) -> int | None:
    """The candidate's lock file, locked by us, if the candidate is sealgate's own and dead;
    None if a live run holds it."""
    uid = os.geteuid()
    if os.fstat(directory_fd).st_uid != uid:
        raise _not_own(parent, name, "belongs to another user")
    try:
        lock_fd = os.open(
            LOCK_NAME,
            os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
            dir_fd=directory_fd,
        )
    except OSError:
        raise _not_own(parent, name, f"has no {LOCK_NAME} lock file") from None
    lock = os.fstat(lock_fd)
    if not stat.S_ISREG(lock.st_mode) or lock.st_uid != uid:
        os.close(lock_fd)
        raise _not_own(parent, name, f"its {LOCK_NAME} is not a lock file of this user")
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(lock_fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return None  # a live run owns it
        raise
    return lock_fd


def remove_stale_partials_at(parent_fd: int, destination: Path) -> list[Path]:
    """Remove temporaries of ``destination`` (in ``parent_fd``) left by a run that died."""
    removed = []
    prefix = partial_prefix(destination)
    for name in sorted(n for n in os.listdir(parent_fd) if n.startswith(prefix)):
        try:
            directory_fd = os.open(name, DIRECTORY_FLAGS | os.O_NONBLOCK, dir_fd=parent_fd)
        except FileNotFoundError:
            continue  # removed meanwhile
        except OSError:
            raise _not_own(destination.parent, name, "is a symlink or not a directory") from None
        try:
            lock_fd = _stale_lock(destination.parent, name, directory_fd)
            if lock_fd is None:
                continue
            try:
                _remove_tree_at(parent_fd, name)
                removed.append(destination.parent / name)
            finally:
                os.close(lock_fd)
        finally:
            os.close(directory_fd)
    return removed


def remove_stale_partials(destination: Path) -> list[Path]:
    """Remove temporaries of ``destination`` left by a run that died; return what was removed."""
    parent_fd = open_parent(destination)
    try:
        return remove_stale_partials_at(parent_fd, destination)
    finally:
        os.close(parent_fd)


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StagingDirectory:
    """A locked temporary sibling of ``destination``, published by one rename.

    With ``parent_fd`` every operation is relative to that directory descriptor (which the
    caller keeps open); ``fd`` is the temporary's own descriptor, to create files relative to.
    """

    def __init__(self, destination: Path, parent_fd: int | None = None) -> None:
        self.destination = destination
        self.name = f"{partial_prefix(destination)}{secrets.token_hex(8)}"
        self.path = destination.parent / self.name
        self._own_parent = parent_fd is None
        self._parent_fd = -1 if parent_fd is None else parent_fd
        self.fd = -1
        self._lock_fd: int | None = None
        self._created = False
        self._published = False

    def __enter__(self) -> StagingDirectory:
        if self._own_parent:
            self._parent_fd = open_parent(self.destination)
        try:
            os.mkdir(self.name, 0o700, dir_fd=self._parent_fd)
            self._created = True
            self.fd = os.open(self.name, DIRECTORY_FLAGS, dir_fd=self._parent_fd)
            self._lock_fd = os.open(LOCK_NAME, _CREATE, 0o600, dir_fd=self.fd)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    @property
    def published(self) -> bool:
        """The rename into place happened (what follows it, the parent's fsync, may still fail)."""
        return self._published

    def publish(self, *, file_mode: int, dir_mode: int) -> None:
        """Set final modes, fsync every file and directory, then rename into place."""
        # The lock file is not part of the result; its descriptor keeps the lock until exit.
        os.unlink(LOCK_NAME, dir_fd=self.fd)
        for _root, _dirs, files, directory_fd in os.fwalk(dir_fd=self.fd, topdown=False):
            for name in files:
                file_fd = os.open(
                    name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=directory_fd
                )
                try:
                    if not stat.S_ISREG(os.fstat(file_fd).st_mode):
                        raise InputError(f"{self.path}: {name} is not a regular file")
                    os.fchmod(file_fd, file_mode)
                    os.fsync(file_fd)
                finally:
                    os.close(file_fd)
            os.fchmod(directory_fd, dir_mode)  # children before parents, the top one last
            os.fsync(directory_fd)
        try:
            os.rename(
                self.name,
                self.destination.name,
                src_dir_fd=self._parent_fd,
                dst_dir_fd=self._parent_fd,
            )
        except OSError as exc:
            raise InputError(f"{self.destination}: cannot publish: {exc.strerror}") from None
        self._published = True
        os.fsync(self._parent_fd)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._created and not self._published:
                _remove_tree_at(self._parent_fd, self.name)
        finally:
            for fd in (self._lock_fd, self.fd):
                if fd is not None and fd >= 0:
                    os.close(fd)
            self._lock_fd, self.fd = None, -1
            if self._own_parent and self._parent_fd >= 0:
                os.close(self._parent_fd)
                self._parent_fd = -1
