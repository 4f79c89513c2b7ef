"""The filesystem registry (the embedded default): atomic renames and ``flock`` locks.

Pointers and the audit head are replaced by a write to a temporary file, fsync and rename,
so a reader (or a process killed mid-write) sees the old or the new content, never a mix.
Each pointer has its own lock file for the compare-and-swap; the audit log has one lock
under which the log is read and checked and the next record appended (one ``write`` of the
line and its newline) and fsynced. A write that fails or is short (a full disk) is cut back
to the size before it, so a record is complete or absent; if even that fails, the torn tail
is detected by the next append and by ``audit verify``, and ``audit repair`` removes it.

A file system that refuses a write (full, read-only, not permitted) ends as a
``StorageError`` naming the registry and what was left unchanged.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from sealgate._storage_errors import StorageError, refusal_reason, storage_refusals
from sealgate.errors import InputError
from sealgate.promotion._registry import (
    AUDIT_HEAD,
    AUDIT_LOG,
    STAGES,
    ConflictError,
    Registry,
    StagePointer,
    head_count,
    model_prefix,
    name_from_pointer_key,
    pointer_key,
)
from sealgate.promotion._sealed_source import copy_verified, open_sealed_source
from sealgate.sealing._header import HEADER_FILE


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Temporary sibling, fsync, rename, fsync of the directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{secrets.token_hex(6)}")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_dir(path.parent)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock, also when the process dies


def _read_all(fd: int, size: int) -> bytes:
    chunks, offset = [], 0
    while offset < size:
        chunk = os.pread(fd, min(size - offset, 1 << 20), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def create_exclusive(path: Path, data: bytes) -> bool:
    """Write ``data`` to a new file at ``path`` (fsynced); False if ``path`` exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{secrets.token_hex(6)}")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)  # fails if path exists: never replaces
        except FileExistsError:
            return False
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    return True


UNCHANGED = "the registry is unchanged"
NO_RECORD = "nothing was recorded and no pointer moved"


def _append_once(fd: int, size: int, data: bytes, log: Path, where: str) -> None:
    """One write of the whole record; on failure the log is cut back to ``size``."""
    try:
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(errno.ENOSPC, f"short write ({written} of {len(data)} bytes)")
        os.fsync(fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size)
            os.fsync(fd)
        reason = refusal_reason(exc)
        raise StorageError(
            f"{where}: the audit record could not be written to {log} ({reason}); {NO_RECORD}"
        ) from None


class FileRegistry(Registry):
    def __init__(self, root: Path) -> None:
        if root.exists() and not root.is_dir():
            raise InputError(f"--registry {root}: not a directory")
        with storage_refusals(f"registry {root}", "it was not created"):
            root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.url = f"file://{root}"

    def _refusals(self, unchanged: str) -> contextlib.AbstractContextManager[None]:
        return storage_refusals(f"registry {self.root}", unchanged)

    @classmethod
    def from_url(cls, url: str) -> FileRegistry:
        """``file://PATH``; the path may be relative to the working directory."""
        path = url.removeprefix("file://")
        if not path:
            raise InputError("--registry file://PATH needs a path")
        return cls(Path(path))

    def _lock(self, key: str) -> contextlib.AbstractContextManager[None]:
        return locked(self.root / "locks" / f"{key}.lock")

    # pointers ---------------------------------------------------------------------------

    def read_pointer(self, stage: str, name: str) -> tuple[StagePointer | None, str | None]:
        key = pointer_key(stage, name)
        try:
            data = (self.root / key).read_bytes()
        except FileNotFoundError:
            return None, None
        return StagePointer.from_json(data, key), hashlib.sha256(data).hexdigest()

    def set_pointer(self, stage: str, pointer: StagePointer, expected_tag: str | None) -> None:
        key = pointer_key(stage, pointer.name)
        with self._refusals(f"the pointer {key} is unchanged"), self._lock(key):
            _, tag = self.read_pointer(stage, pointer.name)
            if tag != expected_tag:
                raise ConflictError(
                    f"conflict: {pointer.name} in {stage} was changed by another promotion "
                    "while this one was decided; nothing was changed, decide again"
                )
            atomic_write(self.root / key, pointer.to_json())

    def pointers(self) -> list[tuple[str, StagePointer]]:
        found = []
        stages = self.root / STAGES
        if not stages.is_dir():
            return []
        for stage_dir in sorted(p for p in stages.iterdir() if p.is_dir()):
            for file in sorted(stage_dir.glob("*.json")):
                name = name_from_pointer_key(file.name)
                pointer, _ = self.read_pointer(stage_dir.name, name)
                if pointer is not None:
                    found.append((stage_dir.name, pointer))
        return found

    # models -----------------------------------------------------------------------------

    def _model_dir(self, digest: str) -> Path:
        return self.root / model_prefix(digest)

    def has_model(self, digest: str) -> bool:
        return (self._model_dir(digest) / HEADER_FILE).is_file()

    def store_model(self, digest: str, sealed_dir: Path) -> None:
        destination = self._model_dir(digest)
        if self.has_model(digest):
            return
        with self._refusals(UNCHANGED):
            self._store_model(destination, digest, sealed_dir)

    def _store_model(self, destination: Path, digest: str, sealed_dir: Path) -> None:
        destination.parent.mkdir(parents=True, exist_ok=True)
        temporary = destination.parent / f".{destination.name}.tmp-{secrets.token_hex(6)}"
        try:
            with open_sealed_source(sealed_dir, digest) as source:
                temporary.mkdir(mode=0o755)
                copy_verified(source, temporary)
            try:
                temporary.rename(destination)
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                # Another push stored the same content-addressed model first.
            _fsync_dir(destination.parent)
        finally:
            shutil.rmtree(temporary, ignore_errors=True)

    @contextlib.contextmanager
    def open_model(self, digest: str) -> Iterator[Path]:
        if not self.has_model(digest):
            raise InputError(f"registry: no sealed model {digest} in {self.url}")
        yield self._model_dir(digest)

    # audit ------------------------------------------------------------------------------

    def append_audit(self, make_line: Callable[[bytes, bytes | None], bytes]) -> bytes:
        log = self.root / AUDIT_LOG
        with self._refusals(NO_RECORD):
            log.parent.mkdir(parents=True, exist_ok=True)
            with self._lock("audit"):
                fd = os.open(log, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
                try:
                    size = os.fstat(fd).st_size
                    record = make_line(_read_all(fd, size), self.read_audit_head())
                    _append_once(fd, size, record + b"\n", log, f"registry {self.root}")
                finally:
                    os.close(fd)
        return record

    def truncate_audit(self, size: int, expected_size: int) -> None:
        log = self.root / AUDIT_LOG
        with self._lock("audit"):
            fd = os.open(log, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
            try:
                if os.fstat(fd).st_size != expected_size:
                    raise ConflictError(f"{log}: the audit log changed; nothing was cut")
                os.ftruncate(fd, size)
                os.fsync(fd)
            finally:
                os.close(fd)

    # documents --------------------------------------------------------------------------

    def read_document(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            return None

    def create_document(self, key: str, data: bytes) -> bool:
        with self._refusals(f"{key} was not written; {NO_RECORD}"):
            return create_exclusive(self.root / key, data)

    def read_audit(self) -> bytes:
        try:
            return (self.root / AUDIT_LOG).read_bytes()
        except FileNotFoundError:
            return b""

    def read_audit_head(self) -> bytes | None:
        try:
            return (self.root / AUDIT_HEAD).read_bytes()
        except FileNotFoundError:
            return None

    def write_audit_head(self, head: bytes, count: int) -> None:
        unchanged = "the audit record was appended but the audit head was not updated"
        with self._refusals(unchanged), self._lock("audit-head"):
            existing = self.read_audit_head()
            if existing is not None and head_count(existing) >= count:
                return
            atomic_write(self.root / AUDIT_HEAD, head)
