"""Signed promotion documents (requests, evidence): DSSE envelopes with one ECDSA P-256 signature.

Envelopes are made and checked by securesystemslib's DSSE implementation; the key id in an
envelope is sealgate's (SHA-256 of the SubjectPublicKeyInfo DER), so the signer is looked up in
a trust file (``sealgate trust add``) like every other sealgate signer. Opening never raises
on a bad document: it returns what could be established, for the policy to decide on.
"""

from __future__ import annotations

import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from cryptography.hazmat.primitives.asymmetric import ec
from securesystemslib import exceptions as sslib_errors
from securesystemslib.dsse import Envelope

# The documented import path; the package re-exports these without listing them in __all__.
from securesystemslib.signer import CryptoSigner, SSlibKey  # type: ignore[attr-defined]

from sealgate._json import loads_unique
from sealgate.sealing._signing_keys import signing_key_id
from sealgate.sealing._trust import TrustedSigner, TrustPolicy

MAX_ENVELOPE_BYTES = 16 * 1024 * 1024  # an SBOM attestation can be large


class KeyState(TypedDict):
    revoked: bool
    expired: bool
    not_yet_valid: bool


def key_state(signer: TrustedSigner, revoked_ids: frozenset[str], now: datetime) -> KeyState:
    """Revocation and validity window of a listed key, as facts."""
    return {
        "revoked": signer.revoked or signer.key_id in revoked_ids,
        "expired": signer.not_after is not None and now > signer.not_after,
        "not_yet_valid": signer.not_before is not None and now < signer.not_before,
    }


def _sslib_key(public_key: ec.EllipticCurvePublicKey, key_id: str) -> SSlibKey:
    return SSlibKey.from_crypto(public_key, keyid=key_id)


def sign_document(payload_type: str, payload: bytes, key: ec.EllipticCurvePrivateKey) -> bytes:
    """A DSSE envelope (JSON bytes) over ``payload`` signed by ``key``."""
    public = _sslib_key(key.public_key(), signing_key_id(key.public_key()))
    envelope = Envelope(payload, payload_type, {})
    envelope.sign(CryptoSigner(key, public))
    return json.dumps(envelope.to_dict(), sort_keys=True, separators=(",", ":")).encode()


def strict_json(data: bytes) -> Any:
    """JSON with duplicate object keys rejected (two readers must never see different values),
    under the parse limits (a deeply nested envelope is a ValueError, not a RecursionError)."""
    return loads_unique(data)


@dataclass
class OpenedDocument:
    """What opening an envelope established. ``payload`` is trusted only if ``signature_valid``."""

    signed: bool = False  # a well-formed one-signature DSSE envelope of the expected type
    signature_valid: bool = False  # the signature verifies with a key listed in the trust file
    key_id: str | None = None
    signer: TrustedSigner | None = None
    payload: bytes | None = None
    problem: str | None = None


def _envelope(data: bytes, payload_type: str, what: str) -> Envelope | str:
    try:
        raw = strict_json(data)
    except (UnicodeDecodeError, ValueError):
        return f"{what} is not JSON: not a signed DSSE envelope"
    if not isinstance(raw, dict) or set(raw) != {"payload", "payloadType", "signatures"}:
        return f"{what} is not a DSSE envelope (unsigned)"
    if raw["payloadType"] != payload_type:
        return f"{what}: payload type {raw['payloadType']!r} is not {payload_type!r}"
    signatures = raw["signatures"]
    if not isinstance(signatures, list) or len(signatures) != 1:
        return f"{what}: expected exactly one signature"
    if not isinstance(signatures[0], dict) or not isinstance(signatures[0].get("keyid"), str):
        return f"{what}: malformed signature entry"
    try:
        return Envelope.from_dict(raw)
    except (KeyError, TypeError, ValueError, binascii.Error, sslib_errors.FormatError):
        return f"{what}: malformed DSSE envelope"


def open_document(
    data: bytes, payload_type: str, trust: TrustPolicy | None, what: str
) -> OpenedDocument:
    """Parse ``data`` as a DSSE envelope and verify it against a signer listed in ``trust``.

    Revocation and validity windows are not applied here: they are facts for the policy.
    """
    opened = OpenedDocument()
    if len(data) > MAX_ENVELOPE_BYTES:
        opened.problem = f"{what} is larger than {MAX_ENVELOPE_BYTES} bytes"
        return opened
    envelope = _envelope(data, payload_type, what)
    if isinstance(envelope, str):
        opened.problem = envelope
        return opened
    opened.signed = True
    opened.payload = envelope.payload
    [opened.key_id] = envelope.signatures
    source = trust.source if trust is not None else "no trust file"
    signer = next((s for s in trust.signers if s.key_id == opened.key_id), None) if trust else None
    if signer is None:
        opened.problem = f"{what}: key {opened.key_id[:16]} is not listed in {source}"
        return opened
    opened.signer = signer
    try:
        envelope.verify([_sslib_key(signer.public_key, signer.key_id)], 1)
    except (sslib_errors.VerificationError, ValueError):
        opened.problem = f"{what}: signature by {signer.name!r} does not verify"
        return opened
    opened.signature_valid = True
    return opened


def signer_state(signer: TrustedSigner, trust: TrustPolicy, now: datetime) -> KeyState:
    """``key_state`` of a signer listed in ``trust``."""
    return key_state(signer, trust.revoked_key_ids, now)
