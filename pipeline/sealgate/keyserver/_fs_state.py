"""A ``StateStore`` in a folder: development and single-host deployments.

Each document is a file; its tag is the SHA-256 of its content. Every change takes an
exclusive ``flock`` on one lock file, compares the tag and then writes a temporary file
(``O_EXCL``) that is fsynced and renamed over the document, so a reader sees the old or the
new document, never a torn one, and two processes cannot both win a compare-and-swap.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from sealgate.errors import InputError
from sealgate.keyserver._state import check_key

MAX_DOCUMENT_BYTES = 1024 * 1024


def content_tag(content: bytes) -> str:
    return "sha256:" + hashlib.sha256(content).hexdigest()


class FileStateStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        try:
            root.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise InputError(f"state {root}: cannot create the folder: {exc.strerror}") from None

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(
            self.root / ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _read(self, path: Path) -> bytes | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(MAX_DOCUMENT_BYTES + 1)
        if len(data) > MAX_DOCUMENT_BYTES:
            raise InputError(f"state {path}: document is too large")
        return data

    def _write(self, path: Path, content: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(
            temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            temporary.replace(path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            raise
        directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def read(self, key: str) -> tuple[bytes, str] | None:
        data = self._read(self._path(key))
        return None if data is None else (data, content_tag(data))

    def create(self, key: str, content: bytes) -> bool:
        path = self._path(key)
        with self._locked():
            if self._read(path) is not None:
                return False
            self._write(path, content)
            return True

    def replace(self, key: str, content: bytes, tag: str) -> bool:
        path = self._path(key)
        with self._locked():
            current = self._read(path)
            if current is None or content_tag(current) != tag:
                return False
            self._write(path, content)
            return True

    def delete(self, key: str, tag: str) -> bool:
        path = self._path(key)
        with self._locked():
            current = self._read(path)
            if current is None or content_tag(current) != tag:
                return False
            path.unlink()
            return True
