"""The promotion facts document: the policy input (kind ``promotion``) that Python verifies.

Shape (every value established by Python; nothing the requester wrote is taken as a fact)::

    action:   "push" | "promote"
    request:  {name, version, digest, from, to, requester}   # requester: verified identity
    requester: {verified, method, identity, name, label, problem}   (sealgate.promotion._requester)
    model:    {digest,            # sha256 of the seal.json the gate verified
               verified, error,   # header signature, model.sig and every ciphertext digest
               name, version,     # from the signed header
               signer: null | {name, key_id, known, revoked, expired, not_yet_valid},
               recipients: [{type, key_id}],   # who can unwrap the data key (signed header)
               scan: {present, scanner: {name, version}, rules, counts: {<severity>: n},
                      unsafe, files: [{path, format, findings: [{id, severity, unsafe,
                      message}]}]}}   # signed in the header, bound to model.sig's digests
    version:  {valid,             # the requested version is semver (minor/patch optional)
               against_target}    # "none" | "newer" | "same" | "older" (vs the target's)
    source:   {stage, current: null | {version, digest}}
    target:   {stage, current: null | {version, digest}}
    approvals: [{file, approver, key_id, identity, known, signature_valid, matches_request,
                 revoked, expired, not_yet_valid, duplicate, error}]
    evidence:  {<type>: {file, verified, signed, signature_valid, producer, key_id, revoked,
                         expired, not_yet_valid, predicate_type, subject_bound, predicate_valid,
                         duplicate, predicate, problem}}   (sealgate.promotion._evidence)
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import semver

from sealgate._paths import read_bounded
from sealgate.errors import SealgateError, VerificationError
from sealgate.promotion._approvals import trusted_without_window
from sealgate.promotion._digest import digest_of_bytes
from sealgate.promotion._dsse import key_state
from sealgate.promotion._registry import StagePointer
from sealgate.scanning import scan_facts
from sealgate.sealing import _envelope as envelope
from sealgate.sealing._header import HEADER_FILE, PAYLOAD_TYPE
from sealgate.sealing._trust import TrustPolicy
from sealgate.sealing._verify import MAX_HEADER_BYTES, verify_sealed


class SignerFacts(TypedDict):
    name: str | None
    key_id: str
    known: bool
    # Only for a listed signer (see ``key_state``).
    revoked: NotRequired[bool]
    expired: NotRequired[bool]
    not_yet_valid: NotRequired[bool]


class RecipientFacts(TypedDict):
    type: str
    key_id: str


class ModelFacts(TypedDict):
    digest: str | None
    verified: bool
    error: str | None
    name: str | None
    version: str | None
    signer: SignerFacts | None
    # Only once verified: every recipient the data key is wrapped to.
    recipients: NotRequired[list[RecipientFacts]]
    # Only once verified: the scan signed into the header (sealgate.scanning.scan_facts).
    scan: NotRequired[dict[str, Any]]


def model_facts(sealed_dir: Path, trust: TrustPolicy, now: datetime | None = None) -> ModelFacts:
    """Verify the sealed model; revocation and expiry of its signer are facts, not errors."""
    when = now or datetime.now(UTC)
    facts: ModelFacts = {
        "digest": None,
        "verified": False,
        "error": None,
        "name": None,
        "version": None,
        "signer": None,
    }
    try:
        header = read_bounded(sealed_dir / HEADER_FILE, MAX_HEADER_BYTES, HEADER_FILE)
        facts["digest"] = digest_of_bytes(header)
        opened = envelope.open_envelope(header, PAYLOAD_TYPE)
    except SealgateError as exc:
        facts["error"] = f"not a signed sealed model: {exc}"
        return facts
    signer = next((s for s in trust.signers if s.key_id == opened.key_id), None)
    if signer is None:
        facts["signer"] = {"name": None, "key_id": opened.key_id, "known": False}
        facts["error"] = f"signer key {opened.key_id[:16]} is not in {trust.source}"
        return facts
    facts["signer"] = {
        "name": signer.name,
        "key_id": signer.key_id,
        "known": True,
        **key_state(signer, trust.revoked_key_ids, when),
    }
    try:
        verified = verify_sealed(sealed_dir, trusted_without_window(signer), now=when)
    except (VerificationError, SealgateError) as exc:
        facts["error"] = str(exc)
        return facts
    if getattr(verified, "digest", "") not in ("", facts["digest"]):
        facts["error"] = f"{HEADER_FILE} changed while it was verified"
        return facts
    facts.update(
        {
            "verified": True,
            "name": verified.header.model_name,
            "version": verified.header.model_version,
            "recipients": [
                {"type": r.type, "key_id": r.key_id} for r in verified.header.recipients
            ],
            "scan": scan_facts(verified.header.scan),
        }
    )
    return facts


def _parse_version(text: str) -> semver.Version | None:
    try:
        return semver.Version.parse(text, optional_minor_and_patch=True)
    except (ValueError, TypeError):
        return None


def version_facts(version: str, target: StagePointer | None) -> dict[str, Any]:
    requested = _parse_version(version)
    if target is None:
        against = "none"
    else:
        current = _parse_version(target.version)
        if requested is None or current is None:
            against = "invalid"
        else:
            order = requested.compare(current)
            against = "newer" if order > 0 else "same" if order == 0 else "older"
    return {"valid": requested is not None, "against_target": against}


def pointer_facts(pointer: StagePointer | None) -> dict[str, str] | None:
    if pointer is None:
        return None
    return {"version": pointer.version, "digest": pointer.digest}
