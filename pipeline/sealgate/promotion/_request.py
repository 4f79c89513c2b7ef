"""The promotion request: what approvals sign, what every audit record names, and who asked.

``requester`` is the requester's *verified identity* (``sealgate.promotion._requester``):
``key:<key id>`` for a request signed with a key listed in the requesters file,
``oidc:<issuer>#<subject>`` for a verified CI OIDC token, or ``unverified:<label>`` when
nothing was proven (the promotion policy denies that wherever a stage requires an
authenticated requester, SG-PROMO-040). The label a user types decides nothing.

A signed request (``application/vnd.sealgate.promotion-request.v1+json``, canonical JSON)::

    {"type": "sealgate.promotion-request/v1", "name", "version", "digest", "from", "to",
     "time": "2026-05-01T12:00:00Z", "nonce": "<32 hex>"}
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric import ec

from sealgate.errors import InputError
from sealgate.promotion._digest import check_digest
from sealgate.promotion._dsse import sign_document
from sealgate.promotion._registry import check_model_name, check_stage
from sealgate.sealing._canonical import JSONValue, canonical_json
from sealgate.sealing._header import name_problem

REQUEST_PAYLOAD_TYPE = "application/vnd.sealgate.promotion-request.v1+json"
REQUEST_TYPE = "sealgate.promotion-request/v1"
UNVERIFIED = "unverified:"
_IDENTITY = re.compile(r"key:[0-9a-f]{64}|oidc:https?://[!-~]{1,300}#[!-~]{1,300}")


def identity_problem(identity: str) -> str | None:
    """Why ``identity`` is not a requester identity (None if it is one)."""
    if _IDENTITY.fullmatch(identity):
        return None
    if identity.startswith(UNVERIFIED) and 0 < len(identity) <= 220 and identity.isprintable():
        return None
    return "a requester identity is key:<key id> or oidc:<issuer>#<subject>"


def unverified(label: str | None) -> str:
    """The identity of a request that proved nothing: the label is shown, never trusted."""
    text = (label or "anonymous").strip()[:200]
    return UNVERIFIED + (text if text.isprintable() and text else "anonymous")


@dataclass(frozen=True)
class PromotionRequest:
    """Move ``name`` ``version`` (sealed model ``digest``) from ``source`` to ``target``.

    ``source`` is None for a push into the first stage; ``requester`` is an identity.
    """

    name: str
    version: str
    digest: str
    source: str | None
    target: str
    requester: str

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "from": self.source,
            "to": self.target,
            "requester": self.requester,
        }

    def signed_fields(self) -> dict[str, JSONValue]:
        """What the requester signs: the promotion itself (the identity is the signature)."""
        return {
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "from": self.source,
            "to": self.target,
        }

    def check(self) -> PromotionRequest:
        """Reject a malformed request (an input error, exit 2) before anything is decided."""
        check_model_name(self.name)
        if name_problem(self.version):
            raise InputError(f"version {self.version!r}: {name_problem(self.version)}")
        check_digest(self.digest, "digest")
        check_stage(self.target)
        if self.source is not None:
            check_stage(self.source)
        problem = identity_problem(self.requester)
        if problem:
            raise InputError(f"requester {self.requester[:80]!r}: {problem}")
        return self


def sign_request(
    request: PromotionRequest, key: ec.EllipticCurvePrivateKey, now: datetime | None = None
) -> bytes:
    """The requester's signed request: a DSSE envelope over the canonical request, a time and
    a fresh nonce."""
    when = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = {
        "type": REQUEST_TYPE,
        **request.signed_fields(),
        "time": when,
        "nonce": secrets.token_hex(16),
    }
    return sign_document(REQUEST_PAYLOAD_TYPE, canonical_json(payload), key)


def stage_names(policy_data: dict[str, object]) -> list[str]:
    """Stage order from the promotion policy data (``data.config.promotion.stages``)."""
    config = policy_data.get("config")
    promotion = config.get("promotion") if isinstance(config, dict) else None
    stages = promotion.get("stages") if isinstance(promotion, dict) else None
    if not isinstance(stages, list) or not stages:
        raise InputError("policy data has no promotion stages (policies/data/promotion.yaml)")
    names = [s.get("name") for s in stages if isinstance(s, dict)]
    if len(names) != len(stages) or not all(isinstance(n, str) for n in names):
        raise InputError("policies/data/promotion.yaml: every stage needs a name")
    return names  # type: ignore[return-value]


def previous_stage(stages: list[str], target: str) -> str | None:
    """The stage a promotion into ``target`` comes from (None if ``target`` is first/unknown)."""
    if target not in stages:
        return None
    position = stages.index(target)
    return stages[position - 1] if position > 0 else None
