"""Ciphertext digest algorithms a seal header may name.

BLAKE3 is the default: sealing already spends one SHA-256 pass on the plaintext (the OpenSSF
signature requires it), and a second SHA-256 pass over the ciphertext would cap throughput on
CPUs where SHA-256 runs at ~1.5 GB/s per core. SHA-256 remains selectable.
"""

from __future__ import annotations

import hashlib

import blake3

from sealgate.sealing._workers import StreamingHash

DEFAULT_CIPHERTEXT_DIGEST = "blake3"


def new_ciphertext_hash(algorithm: str) -> StreamingHash:
    if algorithm == "blake3":
        return blake3.blake3(max_threads=1)
    if algorithm == "sha256":
        return hashlib.sha256()
    raise ValueError(f"unsupported ciphertext digest {algorithm!r}")
