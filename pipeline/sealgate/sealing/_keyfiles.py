"""Key files on disk: private keys are created 0600 and exclusively, and never echoed."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from sealgate._paths import read_bounded
from sealgate.errors import InputError

MAX_KEY_FILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class KeyPairPaths:
    private_key: Path
    public_key: Path


def _create_exclusive(path: Path, mode: int) -> int:
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError:
        raise InputError(f"{path}: already exists; refusing to overwrite a key file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot create: {exc.strerror}") from None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.fsync(fd)


def write_key_pair(prefix: Path, private_pem: bytes, public_pem: bytes) -> KeyPairPaths:
    """Write ``PREFIX.key`` (0600 from creation) and ``PREFIX.pub``; never overwrite either."""
    paths = KeyPairPaths(Path(f"{prefix}.key"), Path(f"{prefix}.pub"))
    private_fd = _create_exclusive(paths.private_key, 0o600)
    try:
        public_fd = _create_exclusive(paths.public_key, 0o644)
    except InputError:
        os.close(private_fd)
        paths.private_key.unlink()
        raise
    try:
        _write_all(private_fd, private_pem)
        _write_all(public_fd, public_pem)
    except OSError as exc:
        for path in (paths.private_key, paths.public_key):
            with contextlib.suppress(OSError):
                path.unlink()
        raise InputError(f"{prefix}: cannot write key pair: {exc.strerror}") from None
    finally:
        os.close(private_fd)
        os.close(public_fd)
    return paths


def read_key_file(path: Path) -> bytes:
    """Read a small key file; a missing, oversized or unreadable file is an input error."""
    return read_bounded(path, MAX_KEY_FILE_BYTES, "key file")
