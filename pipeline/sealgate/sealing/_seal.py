"""Seal a model directory: hash, encrypt and sign in one streaming pass per file."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from sealgate._cores import usable_cores
from sealgate.errors import InputError
from sealgate.scanning import ModelScan, scan_files
from sealgate.sealing import _envelope as envelope
from sealgate.sealing import _oms as oms
from sealgate.sealing import _stream as stream
from sealgate.sealing._atomic import StagingDirectory, check_destination
from sealgate.sealing._digests import DEFAULT_CIPHERTEXT_DIGEST
from sealgate.sealing._header import (
    CIPHERTEXT_DIGESTS,
    HEADER_FILE,
    MAX_CHUNK_SIZE,
    MAX_RECIPIENTS,
    MIN_CHUNK_SIZE,
    PAYLOAD_DIR,
    PAYLOAD_TYPE,
    SEAL_ID_BYTES,
    SIGNATURE_FILE,
    SealedFile,
    SealHeader,
    ciphertext_name,
    name_problem,
)
from sealgate.sealing._oms import Hashing
from sealgate.sealing._paths import ModelFile, open_regular_nofollow, walk_model
from sealgate.sealing._progress import ProgressCallback, ProgressMeter
from sealgate.sealing._range_digests import file_hashers
from sealgate.sealing._signing_keys import signing_key_id
from sealgate.sealing._workers import (
    Cancelled,
    default_workers,
    read_into_exact,
    run_jobs,
    sequential_source,
    write_all,
)
from sealgate.sealing.recipients import Recipient

DEFAULT_CHUNK_SIZE = 1024 * 1024


@dataclass(frozen=True)
class SealOptions:
    chunk_size: int = DEFAULT_CHUNK_SIZE
    ciphertext_digest: str = DEFAULT_CIPHERTEXT_DIGEST
    workers: int = field(default_factory=default_workers)
    hashing: Hashing = field(default_factory=Hashing)


@dataclass(frozen=True)
class SealSummary:
    sealed_dir: Path
    model_name: str
    model_version: str
    seal_id: str
    signer_key_id: str
    files: int
    plaintext_bytes: int
    ciphertext_bytes: int
    recipients: tuple[str, ...]
    scan: ModelScan | None = None
    hashing: str = "sha256"  # the OMS serialization of model.sig


@dataclass(frozen=True)
class _SealedFileResult:
    plaintext_digests: tuple[bytes, ...]
    ciphertext_digest: str


def _seal_file(
    source_path: Path,
    target_path: Path,
    model_file: ModelFile,
    cipher: stream.FileCipher,
    options: SealOptions,
    meter: ProgressMeter,
    stop: threading.Event,
    hash_threads: int,
) -> _SealedFileResult:
    try:
        source_fd = open_regular_nofollow(source_path)
    except OSError as exc:
        raise InputError(
            f"{source_path}: cannot open: {exc.strerror or 'not a regular file'}"
        ) from None
    plaintext_hash, ciphertext_hash = file_hashers(
        options.hashing, options.ciphertext_digest, options.chunk_size, hash_threads
    )
    try:
        with (
            os.fdopen(source_fd, "rb", buffering=0) as source,
            target_path.open("xb", buffering=0) as target,
        ):
            sequential_source(source.fileno())
            chunks = stream.chunk_count(model_file.size, options.chunk_size)
            remaining = model_file.size
            for counter in range(chunks):
                if stop.is_set():
                    raise Cancelled
                wanted = min(options.chunk_size, remaining)
                buffer = plaintext_hash.buffer()
                plaintext = memoryview(buffer)[:wanted]
                if read_into_exact(source, plaintext) != wanted:
                    raise InputError(f"{source_path}: file shrank while sealing")
                remaining -= wanted
                plaintext_hash.submit(buffer, wanted)  # hashed on its thread, read-only here
                sealed = ciphertext_hash.buffer()
                ciphertext = memoryview(sealed)[: wanted + stream.TAG_BYTES]
                cipher.encrypt_chunk_into(counter, counter == chunks - 1, plaintext, ciphertext)
                ciphertext_hash.submit(sealed, len(ciphertext))
                write_all(target, ciphertext)
                meter.advance(wanted)
            if source.read(1):
                raise InputError(f"{source_path}: file grew while sealing")
        return _SealedFileResult(plaintext_hash.digests(), ciphertext_hash.digests()[0].hex())
    finally:
        plaintext_hash.close()
        ciphertext_hash.close()


def _check_options(
    name: str, version: str, recipients: Sequence[Recipient], options: SealOptions
) -> None:
    for label, value in (("name", name), ("version", version)):
        problem = name_problem(value)
        if problem:
            raise InputError(f"model {label} {value!r}: {problem}")
    if not recipients:
        raise InputError("at least one --recipient is required")
    if len(recipients) > MAX_RECIPIENTS:
        raise InputError(f"at most {MAX_RECIPIENTS} recipients")
    ids = [(r.type_name, r.key_id) for r in recipients]
    if len(set(ids)) != len(ids):
        raise InputError("the same recipient is given twice")
    if not MIN_CHUNK_SIZE <= options.chunk_size <= MAX_CHUNK_SIZE:
        raise InputError(f"chunk size must be within [{MIN_CHUNK_SIZE}, {MAX_CHUNK_SIZE}] bytes")
    if options.ciphertext_digest not in CIPHERTEXT_DIGESTS:
        raise InputError(f"ciphertext digest must be one of {', '.join(CIPHERTEXT_DIGESTS)}")
    problem = options.hashing.problem()
    if problem:
        raise InputError(problem)


def seal_model(
    model_dir: Path,
    out_dir: Path,
    *,
    name: str,
    version: str,
    signing_key: ec.EllipticCurvePrivateKey,
    recipients: Sequence[Recipient],
    options: SealOptions | None = None,
    progress: ProgressCallback | None = None,
) -> SealSummary:
    """Seal ``model_dir`` into ``out_dir`` (which must not exist, or be empty)."""
    options = options or SealOptions()
    _check_options(name, version, recipients, options)
    check_destination(out_dir)
    model_files = walk_model(model_dir)
    scanned = scan_files(model_dir, model_files)  # before any byte is sealed
    data_key = secrets.token_bytes(stream.DATA_KEY_BYTES)
    seal_id = secrets.token_bytes(SEAL_ID_BYTES)
    meter = ProgressMeter(progress, "seal", sum(f.size for f in model_files))
    # A BLAKE3 digest may spread over the cores that files in flight leave idle.
    if sum(options.hashing.range_count(f.size) for f in model_files) > oms.MAX_RESOURCES:
        raise InputError(f"{model_dir}: more than {oms.MAX_RESOURCES} digests for this hashing")
    hash_threads = max(1, usable_cores() // max(1, min(options.workers, len(model_files))))

    with StagingDirectory(out_dir) as staging:
        (staging.path / PAYLOAD_DIR).mkdir(mode=0o700)

        def job(
            index: int, model_file: ModelFile
        ) -> Callable[[threading.Event], _SealedFileResult]:
            def run(stop: threading.Event) -> _SealedFileResult:
                cipher = stream.FileCipher(data_key, seal_id, index, model_file.path)
                return _seal_file(
                    model_dir / model_file.path,
                    staging.path / ciphertext_name(index),
                    model_file,
                    cipher,
                    options,
                    meter,
                    stop,
                    hash_threads,
                )

            return run

        results = run_jobs([job(i, f) for i, f in enumerate(model_files)], options.workers)
        signature = oms.build_signature(
            name,
            options.hashing,
            {f.path: r.plaintext_digests for f, r in zip(model_files, results, strict=True)},
            {f.path: f.size for f in model_files},
            signing_key,
        )
        (staging.path / SIGNATURE_FILE).write_bytes(signature)
        header = SealHeader(
            model_name=name,
            model_version=version,
            seal_id=seal_id,
            chunk_size=options.chunk_size,
            ciphertext_digest_algorithm=options.ciphertext_digest,
            signature_sha256=hashlib.sha256(signature).hexdigest(),
            files=tuple(
                SealedFile(
                    index=i,
                    path=f.path,
                    size=f.size,
                    ciphertext_size=stream.ciphertext_size(f.size, options.chunk_size),
                    ciphertext_digest=r.ciphertext_digest,
                )
                for i, (f, r) in enumerate(zip(model_files, results, strict=True))
            ),
            recipients=(),
            scan=scanned.scan.bind(
                {
                    f.path: tuple(d.hex() for d in r.plaintext_digests)
                    for f, r in zip(model_files, results, strict=True)
                }
            ),
            hashing=options.hashing,
        )
        scanned.check_unchanged()  # the bytes sealed are the bytes scanned
        context = header.data_key_context()
        header = dataclasses.replace(
            header, recipients=tuple(r.wrap(data_key, context) for r in recipients)
        )
        (staging.path / HEADER_FILE).write_bytes(
            envelope.sign_envelope(PAYLOAD_TYPE, header.to_payload(), signing_key)
        )
        staging.publish(file_mode=0o444, dir_mode=0o755)

    return SealSummary(
        sealed_dir=out_dir,
        model_name=name,
        model_version=version,
        seal_id=seal_id.hex(),
        signer_key_id=signing_key_id(signing_key.public_key()),
        files=len(model_files),
        plaintext_bytes=header.total_size,
        ciphertext_bytes=header.total_ciphertext_size,
        recipients=tuple(f"{r.type_name}:{r.key_id}" for r in recipients),
        scan=header.scan,
        hashing=options.hashing.method,
    )
