"""A data key released to a device is wrapped to its TPM-resident key with the ``tpm``
recipient's construction; the service and the device derive the KDF context alike."""

from __future__ import annotations

RELEASE_ALGORITHM = "ECDH-ES-P256+HKDF-SHA256+A256KW"
_CONTEXT_PREFIX = b"sealgate-key-release/v1\x00"


def release_context(seal_id: bytes | str, nonce: bytes) -> bytes:
    """``sealgate-key-release/v1 NUL seal_id NUL nonce``: binds a released key to one seal
    (the header's ``seal_id``, as bytes or as its text) and one challenge."""
    seal = seal_id.encode() if isinstance(seal_id, str) else seal_id
    if b"\x00" in seal:
        raise ValueError("a seal id has no NUL bytes")
    return _CONTEXT_PREFIX + seal + b"\x00" + nonce
