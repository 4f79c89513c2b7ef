"""A data key released to a device is wrapped to its TPM-resident key with the ``tpm``
recipient's construction; the service and the device derive the KDF context alike."""

from __future__ import annotations

RELEASE_ALGORITHM = "ECDH-ES-P256+HKDF-SHA256+A256KW"
_CONTEXT_PREFIX = b"sealgate-key-release/v1\x00"


def release_context(seal_id: str, nonce: bytes) -> bytes:
    """The KDF context of a released key: binds it to one seal and one challenge."""
    if "\x00" in seal_id:
        raise ValueError("a seal id has no NUL characters")
    return _CONTEXT_PREFIX + seal_id.encode() + b"\x00" + nonce
