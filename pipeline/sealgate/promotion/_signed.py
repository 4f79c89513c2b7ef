"""Signed registry documents: audit records, heads, stage pointers and the registry identity.

One scheme for all of them: the document is canonical JSON with a ``sig`` field holding a
base64 ECDSA P-256 signature over the DSSE PAE (payload type, canonical JSON of the
document without ``sig``), and a ``gate_key_id`` field naming the signing key (hex SHA-256
of its SubjectPublicKeyInfo), so a verifier holding several trusted keys (gate replicas,
key release service replicas) picks the right one.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from sealgate.sealing import _signing_keys as signing_keys
from sealgate.sealing._canonical import JSONValue, canonical_json
from sealgate.sealing._envelope import pae

KeyRing = Mapping[str, ec.EllipticCurvePublicKey]


def key_ring(
    keys: ec.EllipticCurvePublicKey | Iterable[ec.EllipticCurvePublicKey],
) -> dict[str, ec.EllipticCurvePublicKey]:
    """Trusted public keys by key id (one key or several)."""
    if isinstance(keys, ec.EllipticCurvePublicKey):
        keys = [keys]
    return {signing_keys.signing_key_id(key): key for key in keys}


def key_id(key: ec.EllipticCurvePrivateKey) -> str:
    return signing_keys.signing_key_id(key.public_key())


def sign_document(
    body: Mapping[str, JSONValue], payload_type: str, key: ec.EllipticCurvePrivateKey
) -> bytes:
    """Canonical JSON of ``body`` plus its ``gate_key_id`` and ``sig``."""
    unsigned: dict[str, JSONValue] = {**body, "gate_key_id": key_id(key)}
    signature = signing_keys.sign(key, pae(payload_type, canonical_json(unsigned)))
    return canonical_json({**unsigned, "sig": base64.b64encode(signature).decode("ascii")})


def signature_problem(document: Mapping[str, Any], payload_type: str, keys: KeyRing) -> str | None:
    """Why ``document`` is not signed by one of ``keys`` (None when it is)."""
    signature = document.get("sig")
    if not isinstance(signature, str) or not signature:
        return "has no signature"
    signer = document.get("gate_key_id")
    public_key = keys.get(signer) if isinstance(signer, str) else None
    if public_key is None:
        named = f" (key id {signer})" if isinstance(signer, str) and signer else ""
        return f"is signed by a key that is not trusted{named}"
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return "signature is not base64"
    body = {k: v for k, v in document.items() if k != "sig"}
    try:
        message = pae(payload_type, canonical_json(body))
    except TypeError:
        return "is not canonical JSON"
    if not signing_keys.signature_is_valid(public_key, raw, message):
        return "signature does not verify with the gate key"
    return None
