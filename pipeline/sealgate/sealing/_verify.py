"""Verify a sealed model without any decryption key.

Order: the layout holds exactly the expected entries; the header envelope names a signer the
trust policy accepts now; the header signature verifies; the header parses strictly and
matches any expected name and version; ``model.sig`` has the digest the header binds and
verifies with the same signer, over exactly the header's files; every ciphertext file has
the size and digest the header binds.

``verify_signed`` stops before the last step, for a caller that checks every ciphertext
digest itself while it reads the ciphertext anyway (unseal: one pass instead of two).
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sealgate.errors import InputError, VerificationError
from sealgate.sealing import _envelope as envelope
from sealgate.sealing import _oms as oms
from sealgate.sealing._digests import new_ciphertext_hash
from sealgate.sealing._header import (
    HEADER_FILE,
    PAYLOAD_DIR,
    PAYLOAD_TYPE,
    SIGNATURE_FILE,
    SealedFile,
    SealHeader,
    ciphertext_name,
    parse_header,
)
from sealgate.sealing._paths import open_regular_nofollow
from sealgate.sealing._progress import ProgressCallback, ProgressMeter
from sealgate.sealing._trust import TrustedSigner, TrustPolicy
from sealgate.sealing._workers import Cancelled, default_workers, read_into_exact, run_jobs

MAX_HEADER_BYTES = 256 * 1024 * 1024
MAX_SIGNATURE_BYTES = 256 * 1024 * 1024
READ_SIZE = 1024 * 1024


@dataclass(frozen=True)
class VerifiedSeal:
    """Facts established by verification; ``plaintext_digests`` come from the signed model.sig
    (per file: one digest per range of ``header.hashing``, none for an empty sharded file)."""

    sealed_dir: Path
    header: SealHeader
    signer: TrustedSigner
    plaintext_digests: dict[str, tuple[bytes, ...]]
    digest: str = ""  # "sha256:" + hex SHA-256 of the exact seal.json bytes verified


def _read_small(path: Path, limit: int, what: str) -> bytes:
    try:
        fd = open_regular_nofollow(path)
    except FileNotFoundError:
        raise VerificationError(f"{path.parent}: not a sealed model ({what} is missing)") from None
    except OSError:
        raise VerificationError(f"{path}: {what} is not a regular file") from None
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise VerificationError(f"{path}: {what} is too large")
    return data


def _check_layout(sealed_dir: Path, header: SealHeader) -> None:
    expected_top = {HEADER_FILE, SIGNATURE_FILE, PAYLOAD_DIR}
    found_top = {entry.name for entry in sealed_dir.iterdir()}
    if found_top != expected_top:
        extra = sorted(found_top - expected_top)
        missing = sorted(expected_top - found_top)
        raise VerificationError(
            f"{sealed_dir}: unexpected sealed layout (extra: {extra or 'none'}, "
            f"missing: {missing or 'none'})"
        )
    payload = sealed_dir / PAYLOAD_DIR
    if not stat.S_ISDIR(payload.lstat().st_mode):
        raise VerificationError(f"{payload}: not a directory")
    expected = {Path(ciphertext_name(f.index)).name for f in header.files}
    found = {entry.name for entry in payload.iterdir()}
    if found != expected:
        raise VerificationError(
            f"{payload}: {len(found - expected)} unexpected and {len(expected - found)} missing "
            "ciphertext files"
        )


def _check_ciphertext(
    sealed_dir: Path,
    header: SealHeader,
    sealed_file: SealedFile,
    meter: ProgressMeter,
    stop: threading.Event,
) -> None:
    path = sealed_dir / ciphertext_name(sealed_file.index)
    try:
        fd = open_regular_nofollow(path)
    except OSError:
        raise VerificationError(f"{path}: missing or not a regular file") from None
    with os.fdopen(fd, "rb", buffering=0) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size != sealed_file.ciphertext_size:
            raise VerificationError(
                f"{sealed_file.path}: ciphertext is {size} bytes, the seal says "
                f"{sealed_file.ciphertext_size}"
            )
        digest = new_ciphertext_hash(header.ciphertext_digest_algorithm)
        buffer = memoryview(bytearray(READ_SIZE))
        total = 0
        while count := read_into_exact(handle, buffer):
            if stop.is_set():
                raise Cancelled
            digest.update(buffer[:count])
            total += count
            meter.advance(count)
    if (
        total != sealed_file.ciphertext_size
        or digest.digest().hex() != sealed_file.ciphertext_digest
    ):
        raise VerificationError(f"{sealed_file.path}: ciphertext digest does not match the seal")


def verify_signed(
    sealed_dir: Path,
    trust: TrustPolicy,
    *,
    expect_name: str | None = None,
    expect_version: str | None = None,
    now: datetime | None = None,
) -> VerifiedSeal:
    """Verify the layout, header and model.sig; NOT the ciphertext digests (see module doc)."""
    if not sealed_dir.is_dir():
        raise InputError(f"{sealed_dir}: not a directory")
    header_bytes = _read_small(sealed_dir / HEADER_FILE, MAX_HEADER_BYTES, HEADER_FILE)
    opened = envelope.open_envelope(header_bytes, PAYLOAD_TYPE)
    signer = trust.signer_for(opened.key_id, now or datetime.now(UTC))
    header = parse_header(opened.verify(signer.public_key))
    if expect_name is not None and header.model_name != expect_name:
        raise VerificationError(f"sealed model is {header.model_name!r}, expected {expect_name!r}")
    if expect_version is not None and header.model_version != expect_version:
        raise VerificationError(
            f"sealed model {header.model_name!r} is version {header.model_version!r}, "
            f"expected {expect_version!r}"
        )
    _check_layout(sealed_dir, header)

    signature = _read_small(sealed_dir / SIGNATURE_FILE, MAX_SIGNATURE_BYTES, SIGNATURE_FILE)
    if hashlib.sha256(signature).hexdigest() != header.signature_sha256:
        raise VerificationError(f"{SIGNATURE_FILE}: digest does not match the seal header")
    plaintext_digests = oms.signed_digests(
        signature, signer.public_key, header.hashing, {f.path: f.size for f in header.files}
    )
    if header.scan is not None and any(
        f.digests != tuple(d.hex() for d in plaintext_digests[f.path]) for f in header.scan.files
    ):
        raise VerificationError(f"seal header: the scan names other digests than {SIGNATURE_FILE}")
    digest = "sha256:" + hashlib.sha256(header_bytes).hexdigest()
    return VerifiedSeal(sealed_dir, header, signer, plaintext_digests, digest)


def verify_sealed(
    sealed_dir: Path,
    trust: TrustPolicy,
    *,
    expect_name: str | None = None,
    expect_version: str | None = None,
    now: datetime | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> VerifiedSeal:
    """Verify everything about a sealed model that needs no decryption key."""
    verified = verify_signed(
        sealed_dir, trust, expect_name=expect_name, expect_version=expect_version, now=now
    )
    header = verified.header
    meter = ProgressMeter(progress, "verify", header.total_ciphertext_size)

    def job(sealed_file: SealedFile) -> Callable[[threading.Event], None]:
        return lambda stop: _check_ciphertext(sealed_dir, header, sealed_file, meter, stop)

    run_jobs([job(f) for f in header.files], workers or default_workers())
    return verified
