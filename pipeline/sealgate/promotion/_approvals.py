"""Approvals: a DSSE envelope, signed by an approver's key, over the canonical request.

Payload (``application/vnd.sealgate.approval.v1+json``, canonical JSON)::

    {"type": "sealgate.approval/v1", "approved_at": "2026-05-01T12:00:00Z",
     "request": {"name", "version", "digest", "from", "to", "requester"}}

``requester`` is the requester's verified identity (``key:<key id>`` or
``oidc:<issuer>#<subject>``, see ``sealgate.promotion._request``): an approval approves exactly
that requester's promotion, and an approval whose key is the requester's own does not count.

Approvers are listed in a trust-file-like YAML (``--approvers``, the format of
``sealgate.sealing._trust``): each entry's ``name`` is the person, the key identifies them.
Verification never raises on a bad approval: it returns the facts the policy decides on.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from sealgate._paths import display_path, read_bounded
from sealgate.errors import VerificationError
from sealgate.promotion._audit import utc_now
from sealgate.promotion._dsse import KeyState, key_state
from sealgate.promotion._request import PromotionRequest
from sealgate.sealing import _envelope as envelope
from sealgate.sealing._canonical import canonical_json
from sealgate.sealing._trust import TrustedSigner, TrustPolicy

PAYLOAD_TYPE = "application/vnd.sealgate.approval.v1+json"
APPROVAL_TYPE = "sealgate.approval/v1"
MAX_APPROVAL_BYTES = 64 * 1024


class ApprovalFacts(KeyState):
    """What verification established about one approval file (the policy decides on it)."""

    file: str
    approver: str | None
    key_id: str | None
    identity: str | None  # key:<key id>, compared with the requester's identity
    known: bool
    signature_valid: bool
    matches_request: bool
    duplicate: bool
    error: str | None


def create_approval(request: PromotionRequest, key: ec.EllipticCurvePrivateKey) -> bytes:
    payload = canonical_json(
        {"type": APPROVAL_TYPE, "approved_at": utc_now(), "request": request.to_json()}
    )
    return envelope.sign_envelope(PAYLOAD_TYPE, payload, key)


def _facts(
    path: Path, request: PromotionRequest, approvers: TrustPolicy, now: datetime
) -> ApprovalFacts:
    facts: ApprovalFacts = {
        "file": display_path(path),
        "approver": None,
        "key_id": None,
        "identity": None,
        "known": False,
        "signature_valid": False,
        "matches_request": False,
        "revoked": False,
        "expired": False,
        "not_yet_valid": False,
        "duplicate": False,
        "error": None,
    }
    data = read_bounded(path, MAX_APPROVAL_BYTES, "approval")
    try:
        opened = envelope.open_envelope(data, PAYLOAD_TYPE, "approval")
    except VerificationError as exc:
        facts["error"] = str(exc)
        return facts
    facts["key_id"], facts["identity"] = opened.key_id, f"key:{opened.key_id}"
    signer = next((s for s in approvers.signers if s.key_id == opened.key_id), None)
    if signer is None:
        facts["error"] = f"approval: key {opened.key_id[:16]} is not a listed approver"
        return facts
    state = key_state(signer, approvers.revoked_key_ids, now)
    facts["known"], facts["approver"] = True, signer.name
    facts["revoked"], facts["expired"] = state["revoked"], state["expired"]
    facts["not_yet_valid"] = state["not_yet_valid"]
    try:
        payload = json.loads(opened.verify(signer.public_key))
    except VerificationError as exc:
        facts["error"] = str(exc)
        return facts
    except ValueError:
        facts["error"] = "approval: payload is not JSON"
        return facts
    facts["signature_valid"] = True
    if not isinstance(payload, dict) or payload.get("type") != APPROVAL_TYPE:
        facts["error"] = "approval: payload is not a sealgate approval"
        return facts
    facts["matches_request"] = payload.get("request") == request.to_json()
    if not facts["matches_request"]:
        facts["error"] = "approval: signs a different promotion request"
    return facts


def verify_approvals(
    paths: list[Path],
    request: PromotionRequest,
    approvers: TrustPolicy | None,
    now: datetime | None = None,
) -> list[ApprovalFacts]:
    """Facts per approval file; a second approval by the same person is marked duplicate."""
    when = now or datetime.now(UTC)
    policy = approvers or TrustPolicy("no --approvers", ())
    facts = [_facts(path, request, policy, when) for path in paths]
    seen: set[str] = set()
    for item in facts:
        if item["approver"] is None or not item["signature_valid"]:
            continue
        if item["approver"] in seen:
            item["duplicate"] = True
        seen.add(item["approver"])
    return facts


def trusted_without_window(signer: TrustedSigner) -> TrustPolicy:
    """A trust policy of this one key with no validity window or revocation: it checks
    integrity and signature only, so that revocation and expiry reach the policy as facts."""
    plain = replace(signer, not_before=None, not_after=None, revoked=False)
    return TrustPolicy("listed signer", (plain,))
