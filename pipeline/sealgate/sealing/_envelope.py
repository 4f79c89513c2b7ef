"""DSSE envelopes (secure-systems-lab/dsse v1) carrying one ECDSA P-256 signature."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from sealgate._json import loads_unique
from sealgate.errors import VerificationError
from sealgate.sealing import _signing_keys as signing_keys
from sealgate.sealing._canonical import JSONValue, canonical_json


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding: what the signature actually covers."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(type_bytes), type_bytes, len(payload), payload)


@dataclass(frozen=True)
class OpenedEnvelope:
    """An envelope parsed but not yet verified: nothing here is trusted until ``verify``."""

    payload_type: str
    payload: bytes
    key_id: str
    signature: bytes
    what: str = "seal header"

    def verify(self, public_key: ec.EllipticCurvePublicKey) -> bytes:
        if not signing_keys.signature_is_valid(
            public_key, self.signature, pae(self.payload_type, self.payload)
        ):
            raise VerificationError(f"{self.what}: signature does not verify")
        return self.payload


def sign_envelope(
    payload_type: str, payload: bytes, private_key: ec.EllipticCurvePrivateKey
) -> bytes:
    signature = signing_keys.sign(private_key, pae(payload_type, payload))
    envelope: dict[str, JSONValue] = {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [
            {
                "keyid": signing_keys.signing_key_id(private_key.public_key()),
                "sig": base64.b64encode(signature).decode("ascii"),
            }
        ],
    }
    return canonical_json(envelope)


def _b64(value: object, what: str, document: str) -> bytes:
    if not isinstance(value, str):
        raise VerificationError(f"{document}: {what} is not a string")
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError(f"{document}: {what} is not valid base64") from None
    if base64.b64encode(decoded).decode("ascii") != value:
        raise VerificationError(f"{document}: {what} is not canonical base64")
    return decoded


def open_envelope(
    data: bytes, expected_payload_type: str, what: str = "seal header"
) -> OpenedEnvelope:
    """Parse a canonical one-signature envelope; ``what`` names the document in errors."""
    try:
        envelope = loads_unique(data)  # depth pre-scanned: a deep document is no RecursionError
    except (UnicodeDecodeError, ValueError):
        raise VerificationError(f"{what}: not a JSON DSSE envelope") from None
    if not isinstance(envelope, dict) or set(envelope) != {"payloadType", "payload", "signatures"}:
        raise VerificationError(f"{what}: not a DSSE envelope")
    try:
        canonical = canonical_json(envelope)
    except TypeError:
        canonical = b""
    if canonical != data:
        # Every byte of a sealed model is bound: the envelope is stored in canonical form.
        raise VerificationError(f"{what}: envelope is not in canonical form")
    if envelope["payloadType"] != expected_payload_type:
        raise VerificationError(
            f"{what}: payload type {envelope['payloadType']!r} is not {expected_payload_type!r}"
        )
    signatures = envelope["signatures"]
    if not isinstance(signatures, list) or len(signatures) != 1:
        raise VerificationError(f"{what}: expected exactly one signature")
    entry = signatures[0]
    if not isinstance(entry, dict) or set(entry) != {"keyid", "sig"}:
        raise VerificationError(f"{what}: malformed signature entry")
    key_id = entry["keyid"]
    if not isinstance(key_id, str) or len(key_id) != 64:
        raise VerificationError(f"{what}: malformed signer key id")
    return OpenedEnvelope(
        payload_type=expected_payload_type,
        payload=_b64(envelope["payload"], "payload", what),
        key_id=key_id,
        signature=_b64(entry["sig"], "signature", what),
        what=what,
    )
