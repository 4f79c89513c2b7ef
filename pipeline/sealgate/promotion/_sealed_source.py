"""The exact bytes of a verified sealed model, for a registry to store.

A push verifies a local directory and then stores it; between the two, a file could be
swapped (for a symlink to a private key, say). So a registry never copies the directory by
path: it stores only the files the signed header names, each read through a descriptor that
follows no symlink (the directory, ``payload/`` and every file are opened ``O_NOFOLLOW``
relative to their parent), hashed while it is stored and refused the moment its size or
digest differs from what ``seal.json`` (whose bytes have the verified digest) binds.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sealgate._files import create_exclusive, write_all
from sealgate.errors import VerificationError
from sealgate.promotion._digest import digest_of_bytes
from sealgate.sealing._digests import new_ciphertext_hash
from sealgate.sealing._envelope import open_envelope
from sealgate.sealing._header import (
    HEADER_FILE,
    PAYLOAD_DIR,
    PAYLOAD_TYPE,
    SIGNATURE_FILE,
    ciphertext_name,
    parse_header,
)
from sealgate.sealing._verify import MAX_HEADER_BYTES, MAX_SIGNATURE_BYTES

DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
COPY_CHUNK = 1024 * 1024
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


@dataclass(frozen=True)
class SealedEntry:
    """One file of a sealed model as its header binds it."""

    name: str  # relative POSIX path: seal.json, model.sig or payload/NNNNNN.enc
    algorithm: str  # "sha256" or the header's ciphertext digest algorithm
    digest: str  # hex
    size: int | None  # None: any size up to ``limit`` (model.sig; the header binds its digest)
    limit: int


def _open_at(name: str, dir_fd: int, flags: int, what: str) -> int:
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except OSError as exc:
        raise VerificationError(
            f"{what}: cannot open without following links: {exc.strerror}; nothing was stored"
        ) from None


def _open_regular_at(name: str, dir_fd: int, what: str) -> int:
    fd = _open_at(name, dir_fd, FILE_FLAGS, what)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise VerificationError(f"{what}: not a regular file; nothing was stored")
    os.set_blocking(fd, True)
    return fd


class VerifiedStream(io.RawIOBase):
    """Reads one entry from its descriptor; the read that completes it checks its digest.

    The check runs before the last bytes are handed out, so a consumer that stores what it
    reads (a blob upload, a copy) never completes a file whose bytes were not the verified ones.
    """

    def __init__(self, fd: int, entry: SealedEntry, where: str) -> None:
        super().__init__()
        self._fd = fd
        self._entry = entry
        self._where = where
        size = os.fstat(fd).st_size
        self.size = entry.size if entry.size is not None else size
        if size != self.size or size > entry.limit:
            self._refuse(f"is {size} bytes, the seal binds {self.size}")
        self._hash: Any = (
            hashlib.sha256()
            if entry.algorithm == "sha256"
            else new_ciphertext_hash(entry.algorithm)
        )
        self._read = 0
        self._checked = False

    def _refuse(self, problem: str) -> None:
        raise VerificationError(
            f"{self._where}: {self._entry.name} {problem}; it changed after verification, "
            "nothing more was stored"
        )

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False  # uploads read it once, in order, so every byte passes the hash

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), self.size - self._read)
        filled = 0
        while filled < want:
            count = os.readv(self._fd, [view[filled:want]])
            if count == 0:
                self._refuse(f"ended after {self._read + filled} bytes, the seal binds {self.size}")
            filled += count
        self._hash.update(view[:filled])
        self._read += filled
        if self._read == self.size:
            self._finish()
        return filled

    def _finish(self) -> None:
        if self._checked:
            return
        if os.pread(self._fd, 1, self.size):
            self._refuse(f"is longer than the {self.size} bytes the seal binds")
        if self._hash.digest().hex() != self._entry.digest:
            self._refuse("does not have the digest the seal binds")
        self._checked = True

    def check_complete(self) -> None:
        """Read nothing more; the whole entry must have been read and matched."""
        if self._read != self.size:
            self._refuse(f"was read only to byte {self._read} of {self.size}")
        self._finish()

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


class SealedSource:
    """An opened sealed model directory: its verified header and its entries' streams."""

    def __init__(self, root_fd: int, payload_fd: int, sealed_dir: Path, header: bytes) -> None:
        self._root_fd = root_fd
        self._payload_fd = payload_fd
        self.sealed_dir = sealed_dir
        self.header_bytes = header
        parsed = parse_header(open_envelope(header, PAYLOAD_TYPE).payload)
        ciphertexts = [
            SealedEntry(
                ciphertext_name(f.index),
                parsed.ciphertext_digest_algorithm,
                f.ciphertext_digest,
                f.ciphertext_size,
                f.ciphertext_size,
            )
            for f in parsed.files
        ]
        signature = SealedEntry(
            SIGNATURE_FILE, "sha256", parsed.signature_sha256, None, MAX_SIGNATURE_BYTES
        )
        # seal.json is not among them: the registry writes header_bytes itself, last.
        self.entries = (signature, *sorted(ciphertexts, key=lambda e: e.name))

    def open(self, entry: SealedEntry) -> VerifiedStream:
        where = str(self.sealed_dir)
        if entry.name.startswith(f"{PAYLOAD_DIR}/"):
            fd = _open_regular_at(entry.name.split("/", 1)[1], self._payload_fd, where)
        else:
            fd = _open_regular_at(entry.name, self._root_fd, where)
        try:
            return VerifiedStream(fd, entry, where)
        except BaseException:
            os.close(fd)
            raise


def _read_header(root_fd: int, where: str) -> bytes:
    fd = _open_regular_at(HEADER_FILE, root_fd, where)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(MAX_HEADER_BYTES + 1)
    if len(data) > MAX_HEADER_BYTES:
        raise VerificationError(f"{where}: {HEADER_FILE} is too large")
    return data


@contextmanager
def open_sealed_source(sealed_dir: Path, digest: str) -> Iterator[SealedSource]:
    """Open ``sealed_dir`` for storing; its ``seal.json`` must be the bytes with ``digest``."""
    where = str(sealed_dir)
    try:
        root_fd = os.open(sealed_dir, DIRECTORY_FLAGS)
    except OSError as exc:
        raise VerificationError(
            f"{where}: cannot open without following links: {exc.strerror}; nothing was stored"
        ) from None
    payload_fd = None
    try:
        header = _read_header(root_fd, where)
        if digest_of_bytes(header) != digest:
            raise VerificationError(
                f"{where}: {HEADER_FILE} is not the verified one (digest {digest}); "
                "it changed after verification, nothing was stored"
            )
        payload_fd = _open_at(PAYLOAD_DIR, root_fd, DIRECTORY_FLAGS, where)
        yield SealedSource(root_fd, payload_fd, sealed_dir, header)
    finally:
        if payload_fd is not None:
            os.close(payload_fd)
        os.close(root_fd)


def _store_stream(stream: VerifiedStream, name: str, dir_fd: int) -> None:
    fd = create_exclusive(Path(name), 0o644, dir_fd=dir_fd)
    try:
        buffer = bytearray(COPY_CHUNK)
        while count := stream.readinto(buffer):
            write_all(fd, memoryview(buffer)[:count])
        stream.check_complete()
        os.fsync(fd)
    finally:
        os.close(fd)


def copy_verified(source: SealedSource, target: Path) -> None:
    """Exactly the verified files into the new directory ``target``, ``seal.json`` last."""
    target_fd = os.open(target, DIRECTORY_FLAGS)
    try:
        os.mkdir(PAYLOAD_DIR, 0o755, dir_fd=target_fd)
        payload_fd = os.open(PAYLOAD_DIR, DIRECTORY_FLAGS, dir_fd=target_fd)
        try:
            for entry in source.entries:
                directory_fd, name = (target_fd, entry.name)
                if entry.name.startswith(f"{PAYLOAD_DIR}/"):
                    directory_fd, name = (payload_fd, entry.name.split("/", 1)[1])
                with source.open(entry) as stream:
                    _store_stream(stream, name, directory_fd)
            os.fsync(payload_fd)
        finally:
            os.close(payload_fd)
        header_fd = create_exclusive(Path(HEADER_FILE), 0o644, dir_fd=target_fd)
        try:
            write_all(header_fd, source.header_bytes)
            os.fsync(header_fd)
        finally:
            os.close(header_fd)
        os.fsync(target_fd)
    finally:
        os.close(target_fd)
