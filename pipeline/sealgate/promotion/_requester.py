"""Who asked for a promotion, proven: a request signed with a listed key, or a CI OIDC token.

The facts (``requester`` in the promotion facts document)::

    {"verified": bool, "method": "key" | "oidc" | null,
     "identity": "key:<key id>" | "oidc:<issuer>#<subject>" | "unverified:<label>",
     "name": <the requesters-file entry for a key> | null, "label": <--requester> | null,
     "problem": null | "why nothing was proven"}

Authentication never raises on a bad proof (the policy denies, SG-PROMO-040); only a
malformed command (both proofs, an unreadable key) is an input error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict

from sealgate._paths import read_bounded
from sealgate.errors import InputError, VerificationError
from sealgate.promotion._dsse import open_document, signer_state
from sealgate.promotion._oidc import MAX_TOKEN_BYTES, OidcIssuer, verify_ci_token
from sealgate.promotion._request import (
    REQUEST_PAYLOAD_TYPE,
    REQUEST_TYPE,
    PromotionRequest,
    sign_request,
    unverified,
)
from sealgate.sealing._signing_keys import load_signing_private_key
from sealgate.sealing._trust import TrustPolicy

MAX_REQUEST_AGE = timedelta(minutes=10)
MAX_CLOCK_SKEW = timedelta(minutes=2)


@dataclass(frozen=True)
class RequesterProof:
    """What the requester presents: ``key`` (``--requester-key``) or ``oidc_token``
    (``--oidc-token``); ``label`` (``--requester``) is shown, never trusted."""

    key: Path | None = None
    oidc_token: Path | None = None
    label: str | None = None


class RequesterFacts(TypedDict):
    verified: bool
    method: str | None
    identity: str
    name: str | None
    label: str | None
    problem: str | None


def _facts(label: str | None, problem: str | None = None) -> RequesterFacts:
    return {
        "verified": False,
        "method": None,
        "identity": unverified(label),
        "name": None,
        "label": label,
        "problem": problem or "no signed request and no OIDC token (--requester-key/--oidc-token)",
    }


def unproven(request: PromotionRequest) -> RequesterFacts:
    """Facts for a request that came with no proof (its identity is ``unverified:...``)."""
    facts = _facts(request.requester.removeprefix("unverified:"))
    facts["identity"] = request.requester
    if not request.requester.startswith("unverified:"):
        facts["problem"] = f"{request.requester[:100]} was named, not proven"
        facts["identity"] = unverified(request.requester)
    return facts


def _fresh(stamp: Any, now: datetime) -> bool:
    if not isinstance(stamp, str):
        return False
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return False
    if when.tzinfo is None:
        return False
    return now - MAX_REQUEST_AGE <= when <= now + MAX_CLOCK_SKEW


def verify_signed_request(
    envelope: bytes,
    request: PromotionRequest,
    requesters: TrustPolicy | None,
    *,
    label: str | None = None,
    now: datetime | None = None,
) -> RequesterFacts:
    """Facts about a signed request: listed, current key; signs exactly ``request``; recent."""
    when = now or datetime.now(UTC)
    facts = _facts(label)
    opened = open_document(envelope, REQUEST_PAYLOAD_TYPE, requesters, "promotion request")
    if not opened.signature_valid or opened.signer is None or opened.payload is None:
        facts["problem"] = opened.problem
        return facts
    assert requesters is not None  # a signer was found in it
    state = signer_state(opened.signer, requesters, when)
    if any(state.values()):
        bad = ", ".join(k.replace("_", " ") for k, v in state.items() if v)
        facts["problem"] = f"requester key of {opened.signer.name!r} is {bad}"
        return facts
    try:
        payload = json.loads(opened.payload)
    except (UnicodeDecodeError, ValueError):
        facts["problem"] = "promotion request: payload is not JSON"
        return facts
    if not isinstance(payload, dict) or payload.get("type") != REQUEST_TYPE:
        facts["problem"] = "promotion request: payload is not a sealgate promotion request"
        return facts
    signed = {k: payload.get(k) for k in request.signed_fields()}
    if signed != request.signed_fields() or set(payload) != {*signed, "type", "time", "nonce"}:
        facts["problem"] = "promotion request: signs a different promotion"
        return facts
    if not _fresh(payload.get("time"), when):
        facts["problem"] = "promotion request: its time is not within the last 10 minutes"
        return facts
    facts.update(
        {
            "verified": True,
            "method": "key",
            "identity": f"key:{opened.signer.key_id}",
            "name": opened.signer.name,
            "problem": None,
        }
    )
    return facts


def verify_oidc_requester(
    token: str, issuers: list[OidcIssuer], *, label: str | None = None
) -> RequesterFacts:
    facts = _facts(label)
    try:
        claims = verify_ci_token(token, issuers)
    except VerificationError as exc:
        facts["problem"] = str(exc)
        return facts
    facts.update(
        {
            "verified": True,
            "method": "oidc",
            "identity": f"oidc:{claims['iss']}#{claims['sub']}",
            "problem": None,
        }
    )
    return facts


def authenticate(
    proof: RequesterProof,
    request: PromotionRequest,
    requesters: TrustPolicy | None,
    issuers: list[OidcIssuer],
) -> tuple[PromotionRequest, RequesterFacts]:
    """The request carrying the requester's verified identity, and the facts that prove it."""
    if proof.key is not None and proof.oidc_token is not None:
        raise InputError("give one of --requester-key and --oidc-token, not both")
    if proof.key is not None:
        signed = sign_request(request, load_signing_private_key(proof.key))
        facts = verify_signed_request(signed, request, requesters, label=proof.label)
    elif proof.oidc_token is not None:
        raw = read_bounded(proof.oidc_token, MAX_TOKEN_BYTES, "OIDC token")
        try:
            token = raw.decode("ascii").strip()
        except UnicodeDecodeError:
            token = ""
        facts = verify_oidc_requester(token, issuers, label=proof.label)
    else:
        facts = _facts(proof.label)
    return replace(request, requester=facts["identity"]), facts
