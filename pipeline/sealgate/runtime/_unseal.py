"""Unseal a verified model into memory-backed storage, atomically, and leave nothing on failure.

Order: destination checks; verification of header, signer and model.sig (no key needed);
the ``authorize`` hook with the verified facts; unwrapping of the data key; one streaming
pass per file into a locked temporary sibling that authenticates every chunk (AES-GCM),
computes the ciphertext digest the header binds and the plaintext digests model.sig signs;
comparison of both with the signed values; fsync and one rename. Nothing is published
unless every check passed, so folding the ciphertext digest check into the decryption pass
(instead of a separate verification pass) reads the ciphertext once. Plaintext files are 0400,
directories 0500.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from sealgate._cores import usable_cores
from sealgate._storage_errors import StorageError, is_storage_refusal, refusal_reason
from sealgate.errors import InputError, VerificationError
from sealgate.runtime._mounts import require_memory_backed_at
from sealgate.sealing import _stream as stream
from sealgate.sealing._atomic import (
    StagingDirectory,
    check_destination_at,
    open_parent,
    remove_stale_partials_at,
    terminate_as_interrupt,
)
from sealgate.sealing._header import SealedFile, ciphertext_name
from sealgate.sealing._paths import open_regular_nofollow
from sealgate.sealing._progress import ProgressCallback, ProgressMeter
from sealgate.sealing._range_digests import file_hashers
from sealgate.sealing._trust import TrustPolicy
from sealgate.sealing._verify import VerifiedSeal, verify_signed
from sealgate.sealing._workers import (
    Cancelled,
    default_workers,
    read_into_exact,
    run_jobs,
    sequential_source,
    write_all,
)
from sealgate.sealing.recipients import Identity, WrappedKey

FILE_MODE = 0o400
DIR_MODE = 0o500
NOTHING_UNSEALED = "nothing was unsealed (no plaintext remains)"


@dataclass(frozen=True)
class UnsealRequest:
    """Verified facts handed to an authorization decision before any key is unwrapped."""

    model_name: str
    model_version: str
    digest: str  # "sha256:" + hex SHA-256 of the verified seal.json bytes
    seal_id: str
    signer_name: str
    signer_key_id: str
    recipient_type: str
    recipient_key_id: str
    files: int
    plaintext_bytes: int
    destination: str


# Raises DeniedError to refuse; returning means allowed.
Authorize = Callable[[UnsealRequest], None]

# The key release service's path: the data key of exactly the verified model, obtained
# without any identity of the consumer's that could unwrap it (see _keyserver_release).
KeyRelease = Callable[[VerifiedSeal], bytes]


@dataclass(frozen=True)
class UnsealSummary:
    destination: Path
    model_name: str
    model_version: str
    signer_name: str
    signer_key_id: str
    recipient: str
    files: int
    plaintext_bytes: int
    removed_partials: tuple[str, ...]


def _select(
    identities: Sequence[Identity], recipients: Sequence[WrappedKey]
) -> tuple[Identity, WrappedKey]:
    for identity in identities:
        for wrapped in recipients:
            if identity.matches(wrapped):
                return identity, wrapped
    raise VerificationError(
        "none of the given identities is a recipient of this sealed model "
        f"({len(recipients)} recipient(s) sealed for)"
    )


def _check_destination(parent_fd: int, into: Path, allow_disk: bool) -> None:
    """Checks on the opened parent directory, the one every later write goes through."""
    check_destination_at(parent_fd, into)
    if not allow_disk:
        require_memory_backed_at(parent_fd, into)
    _require_writable_at(parent_fd, into)


def _require_writable_at(parent_fd: int, into: Path) -> None:
    """Before any verification or key release: the parent takes a new directory."""
    if os.fstatvfs(parent_fd).f_flag & os.ST_RDONLY:
        raise StorageError(f"{into}: {into.parent} is read-only; {NOTHING_UNSEALED}")
    # faccessat on the descriptor, with the effective ids the writes will use.
    if not os.access(".", os.W_OK | os.X_OK, dir_fd=parent_fd, effective_ids=True):
        raise StorageError(
            f"{into}: {into.parent} is not writable by this user (uid {os.geteuid()}); "
            f"{NOTHING_UNSEALED}"
        )


def _require_space_at(parent_fd: int, into: Path, plaintext_bytes: int) -> None:
    """The plaintext must fit before a key is released (a lower bound: blocks round up)."""
    found = os.fstatvfs(parent_fd)
    free = found.f_bavail * found.f_frsize
    if plaintext_bytes > free:
        raise StorageError(
            f"{into}: the model needs {plaintext_bytes} bytes but {into.parent} has {free} "
            f"free; {NOTHING_UNSEALED}"
        )


def _storage_failure(
    parent_fd: int, into: Path, staging: StagingDirectory, exc: OSError
) -> StorageError:
    """The write failed and the staging directory was removed; say so only if it is gone."""
    reason = refusal_reason(exc)
    if staging.published:  # every digest matched and the rename happened; only durability failed
        return StorageError(
            f"{into}: the model was unsealed there, but {reason} while making it durable"
        )
    try:
        remains = staging.name in os.listdir(parent_fd)
    except OSError:
        remains = True
    if remains:
        return StorageError(
            f"{into}: {reason} in {into.parent}; nothing was unsealed, but the partial "
            f"directory {staging.path} could not be removed and may hold plaintext: remove it"
        )
    return StorageError(f"{into}: {reason} in {into.parent}; {NOTHING_UNSEALED}")


def _unseal_file(
    verified: VerifiedSeal,
    staging: StagingDirectory,
    sealed_file: SealedFile,
    data_key: bytes,
    meter: ProgressMeter,
    stop: threading.Event,
    hash_threads: int,
) -> None:
    header = verified.header
    cipher = stream.FileCipher(data_key, header.seal_id, sealed_file.index, sealed_file.path)
    source_path = verified.sealed_dir / ciphertext_name(sealed_file.index)
    try:
        source_fd = open_regular_nofollow(source_path)
    except OSError:
        raise VerificationError(f"{source_path}: missing or not a regular file") from None
    with os.fdopen(source_fd, "rb", buffering=0) as source:
        _decrypt_file(verified, staging, sealed_file, cipher, source, meter, stop, hash_threads)


def _decrypt_file(
    verified: VerifiedSeal,
    staging: StagingDirectory,
    sealed_file: SealedFile,
    cipher: stream.FileCipher,
    source: io.FileIO,
    meter: ProgressMeter,
    stop: threading.Event,
    hash_threads: int,
) -> None:
    header = verified.header
    target_fd = os.open(
        sealed_file.path,
        os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
        0o600,
        dir_fd=staging.fd,
    )
    with os.fdopen(target_fd, "wb", buffering=0) as target:
        plaintext_hash, ciphertext_hash = file_hashers(
            header.hashing, header.ciphertext_digest_algorithm, header.chunk_size, hash_threads
        )
        try:
            size = os.fstat(source.fileno()).st_size
            if size != sealed_file.ciphertext_size:
                raise VerificationError(
                    f"{sealed_file.path}: ciphertext is {size} bytes, the seal says "
                    f"{sealed_file.ciphertext_size}"
                )
            sequential_source(source.fileno())
            chunks = stream.chunk_count(sealed_file.size, header.chunk_size)
            remaining = sealed_file.size
            for counter in range(chunks):
                if stop.is_set():
                    raise Cancelled
                wanted = min(header.chunk_size, remaining)
                sealed = ciphertext_hash.buffer()
                ciphertext = memoryview(sealed)[: wanted + stream.TAG_BYTES]
                if read_into_exact(source, ciphertext) != len(ciphertext):
                    raise VerificationError(f"{sealed_file.path}: ciphertext is truncated")
                ciphertext_hash.submit(sealed, len(ciphertext))
                buffer = plaintext_hash.buffer()
                plaintext = memoryview(buffer)[:wanted]
                cipher.decrypt_chunk_into(counter, counter == chunks - 1, ciphertext, plaintext)
                remaining -= wanted
                plaintext_hash.submit(buffer, wanted)  # hashed on its thread, read-only here
                write_all(target, plaintext)
                meter.advance(wanted)
            if source.read(1):
                raise VerificationError(f"{sealed_file.path}: ciphertext has trailing data")
            if ciphertext_hash.digests()[0].hex() != sealed_file.ciphertext_digest:
                raise VerificationError(
                    f"{sealed_file.path}: ciphertext digest does not match the seal"
                )
            if plaintext_hash.digests() != verified.plaintext_digests[sealed_file.path]:
                raise VerificationError(
                    f"{sealed_file.path}: plaintext digest does not match the signed model.sig"
                )
        finally:
            plaintext_hash.close()
            ciphertext_hash.close()


def _unwrap_with_identity(
    verified: VerifiedSeal,
    identities: Sequence[Identity],
    authorize: Authorize | None,
    into: Path,
) -> tuple[bytes, str]:
    header = verified.header
    identity, wrapped = _select(identities, header.recipients)
    if authorize is not None:
        authorize(
            UnsealRequest(
                model_name=header.model_name,
                model_version=header.model_version,
                digest=verified.digest,
                seal_id=header.seal_id.hex(),
                signer_name=verified.signer.name,
                signer_key_id=verified.signer.key_id,
                recipient_type=wrapped.type,
                recipient_key_id=wrapped.key_id,
                files=len(header.files),
                plaintext_bytes=header.total_size,
                destination=str(into),
            )
        )
    return identity.unwrap(wrapped, header.data_key_context()), f"{wrapped.type}:{wrapped.key_id}"


def _decrypt_and_publish(
    verified: VerifiedSeal,
    staging: StagingDirectory,
    data_key: bytes,
    meter: ProgressMeter,
    workers: int,
) -> None:
    """Into the staging directory, checked against model.sig, then one rename; on any
    failure the staging directory (and every plaintext byte in it) is removed."""
    header = verified.header
    with staging:
        directories = sorted(
            {str(p) for f in header.files for p in PurePosixPath(f.path).parents if str(p) != "."}
        )
        for directory in directories:
            os.mkdir(directory, 0o700, dir_fd=staging.fd)

        hash_threads = max(1, usable_cores() // max(1, min(workers, len(header.files))))

        def job(sealed_file: SealedFile) -> Callable[[threading.Event], None]:
            return lambda stop: _unseal_file(
                verified, staging, sealed_file, data_key, meter, stop, hash_threads
            )

        run_jobs([job(f) for f in header.files], workers)
        staging.publish(file_mode=FILE_MODE, dir_mode=DIR_MODE)


def unseal_model(
    sealed_dir: Path,
    into: Path,
    *,
    identities: Sequence[Identity],
    trust: TrustPolicy,
    expect_name: str | None = None,
    expect_version: str | None = None,
    allow_disk: bool = False,
    authorize: Authorize | None = None,
    key_release: KeyRelease | None = None,
    now: datetime | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> UnsealSummary:
    """Verify, authorize, decrypt and publish ``sealed_dir`` as ``into``.

    The data key comes from ``key_release`` (the key release service) if given, else from
    one of ``identities`` after ``authorize``."""
    if key_release is not None and (identities or authorize is not None):
        raise InputError("--keyserver replaces --identity: give one or the other")
    if key_release is None and not identities:
        raise InputError("at least one --identity (or --keyserver) is required")
    workers = workers or default_workers()
    parent_fd = open_parent(into)
    try:
        with terminate_as_interrupt():
            return _unseal_at(
                parent_fd,
                sealed_dir,
                into,
                identities=identities,
                trust=trust,
                expect_name=expect_name,
                expect_version=expect_version,
                allow_disk=allow_disk,
                authorize=authorize,
                key_release=key_release,
                now=now,
                workers=workers,
                progress=progress,
            )
    finally:
        os.close(parent_fd)


def _unseal_at(
    parent_fd: int,
    sealed_dir: Path,
    into: Path,
    *,
    identities: Sequence[Identity],
    trust: TrustPolicy,
    expect_name: str | None,
    expect_version: str | None,
    allow_disk: bool,
    authorize: Authorize | None,
    key_release: KeyRelease | None,
    now: datetime | None,
    workers: int,
    progress: ProgressCallback | None,
) -> UnsealSummary:
    _check_destination(parent_fd, into, allow_disk)
    removed = remove_stale_partials_at(parent_fd, into)
    verified = verify_signed(
        sealed_dir, trust, expect_name=expect_name, expect_version=expect_version, now=now
    )
    header = verified.header
    _require_space_at(parent_fd, into, header.total_size)
    if key_release is not None:
        data_key = key_release(verified)
        recipient = "keyserver"
    else:
        data_key, recipient = _unwrap_with_identity(verified, identities, authorize, into)
    if len(data_key) != stream.DATA_KEY_BYTES:
        raise VerificationError("the unwrapped data key has the wrong length")

    meter = ProgressMeter(progress, "unseal", header.total_size)
    staging = StagingDirectory(into, parent_fd)
    try:
        _decrypt_and_publish(verified, staging, data_key, meter, workers)
    except OSError as exc:
        if not is_storage_refusal(exc):
            raise
        raise _storage_failure(parent_fd, into, staging, exc) from None

    return UnsealSummary(
        destination=into,
        model_name=header.model_name,
        model_version=header.model_version,
        signer_name=verified.signer.name,
        signer_key_id=verified.signer.key_id,
        recipient=recipient,
        files=len(header.files),
        plaintext_bytes=header.total_size,
        removed_partials=tuple(str(p) for p in removed),
    )
