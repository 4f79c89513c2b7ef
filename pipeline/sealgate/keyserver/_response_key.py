"""The data key on its way back to a workload: HPKE to an ephemeral key the consumer made.

Suite: ML-KEM-768 + X25519 hybrid KEM, HKDF-SHA256, AES-256-GCM (cryptography's HPKE), the
same as ``local`` recipients. The public key travels as base64 of the raw ML-KEM-768 public
key (1184 bytes) followed by the raw X25519 public key (32 bytes). The HPKE ``info`` binds
the answer to one sealed model: ``release_context(seal_id, digest)``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from sealgate.errors import InputError, VerificationError

ALGORITHM = "HPKE-MLKEM768X25519-HKDF-SHA256-AES-256-GCM"
_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_MLKEM_PUBLIC_BYTES = 1184
_X25519_PUBLIC_BYTES = 32
CONTEXT_PREFIX = b"sealgate-key-release/v1\x00"


def release_context(seal_id: bytes, binding: bytes) -> bytes:
    """``sealgate-key-release/v1 NUL seal_id NUL binding``: the digest of seal.json for a
    workload, the challenge nonce for a device."""
    return CONTEXT_PREFIX + seal_id + b"\x00" + binding


@dataclass(frozen=True)
class ResponseKey:
    """The consumer's ephemeral key pair; only ``public_b64`` leaves the process."""

    _private: hpke.MLKEM768X25519PrivateKey
    _mlkem: mlkem.MLKEM768PrivateKey
    _x25519: x25519.X25519PrivateKey

    @classmethod
    def generate(cls) -> ResponseKey:
        mlkem_key = mlkem.MLKEM768PrivateKey.generate()
        x25519_key = x25519.X25519PrivateKey.generate()
        return cls(hpke.MLKEM768X25519PrivateKey(mlkem_key, x25519_key), mlkem_key, x25519_key)

    def public_document(self) -> dict[str, str]:
        raw = (
            self._mlkem.public_key().public_bytes_raw()
            + self._x25519.public_key().public_bytes_raw()
        )
        return {"algorithm": ALGORITHM, "public": base64.b64encode(raw).decode("ascii")}

    def open(self, wrapped: bytes, context: bytes) -> bytes:
        try:
            return _SUITE.decrypt(wrapped, self._private, info=context)
        except Exception:  # any failure to open is the service's answer not being for us
            raise VerificationError(
                "the released key does not open with this request's key"
            ) from None


def parse_response_key(document: object) -> hpke.MLKEM768X25519PublicKey:
    if not isinstance(document, dict) or set(document) != {"algorithm", "public"}:
        raise InputError("response_key must be {algorithm, public}")
    if document["algorithm"] != ALGORITHM:
        raise InputError(f"response_key.algorithm must be {ALGORITHM}")
    try:
        raw = base64.b64decode(str(document["public"]), validate=True)
    except (binascii.Error, ValueError):
        raise InputError("response_key.public is not base64") from None
    if len(raw) != _MLKEM_PUBLIC_BYTES + _X25519_PUBLIC_BYTES:
        raise InputError("response_key.public has the wrong length")
    try:
        return hpke.MLKEM768X25519PublicKey(
            mlkem.MLKEM768PublicKey.from_public_bytes(raw[:_MLKEM_PUBLIC_BYTES]),
            x25519.X25519PublicKey.from_public_bytes(raw[_MLKEM_PUBLIC_BYTES:]),
        )
    except ValueError:
        raise InputError("response_key.public is not a valid public key") from None


def wrap_for_workload(
    public: hpke.MLKEM768X25519PublicKey, data_key: bytes, context: bytes
) -> bytes:
    return _SUITE.encrypt(data_key, public, info=context)
