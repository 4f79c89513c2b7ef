"""ECDSA P-256 signing keys: the key type that ``model_signing verify key`` accepts."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from sealgate.errors import InputError
from sealgate.sealing._keyfiles import KeyPairPaths, read_key_file, write_key_pair

SIGNATURE_ALGORITHM = "ECDSA-P256-SHA256"


def generate_signing_key(prefix: Path) -> KeyPairPaths:
    private_key = ec.generate_private_key(ec.SECP256R1())
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return write_key_pair(prefix, private_pem, public_key_pem(private_key.public_key()))


def public_key_pem(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def signing_key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """Key id of a signer: lowercase hex SHA-256 of the SubjectPublicKeyInfo DER."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def _require_p256(key: object, source: str) -> None:
    if not isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) or not (
        isinstance(key.curve, ec.SECP256R1)
    ):
        raise InputError(f"{source}: not an ECDSA P-256 key")


def load_signing_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    data = read_key_file(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise InputError(
            f"{path}: not an unencrypted PEM private key (expected ECDSA P-256)"
        ) from None
    _require_p256(key, str(path))
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def parse_signing_public_key(pem: bytes, source: str) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError):
        raise InputError(f"{source}: not a PEM public key (expected ECDSA P-256)") from None
    _require_p256(key, source)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def sign(private_key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """ECDSA signature in DER with a low ``s``, so the signature bytes are not malleable."""
    r, s = decode_dss_signature(private_key.sign(message, ec.ECDSA(hashes.SHA256())))
    return encode_dss_signature(r, min(s, _P256_ORDER - s))


def signature_is_valid(
    public_key: ec.EllipticCurvePublicKey, signature: bytes, message: bytes
) -> bool:
    try:
        r, s = decode_dss_signature(signature)
        if s > _P256_ORDER // 2 or encode_dss_signature(r, s) != signature:
            return False
        public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True
