"""Evidence: signed attestations (in-toto Statement v1 in a DSSE envelope) about a sealed model.

An attestation counts only if it is a DSSE envelope (payload type ``application/vnd.in-toto+json``)
of an in-toto Statement v1 whose subject digest is the sealed model's digest (sha256 of its
``seal.json``), signed by a key listed in the producers file (trust-file format, ``sealgate
trust add``). Which producer may attest which evidence type is policy data
(``data.config.promotion.evidence.<type>.producers``). Predicate types and their shapes::

    metrics  https://sealgate.dev/attestations/metrics/v1  {"metrics": {name: number}, "dataset"?}
    scan     https://sealgate.dev/attestations/scan/v1     {"scanner", "findings": {critical, high, medium, low}}
    sbom     https://sealgate.dev/attestations/sbom/v1     {"format": spdx|cyclonedx, "components": [...]}

The facts, one entry per evidence type (``evidence`` in the promotion facts document)::

    {<type>: {"file", "verified", "signed", "signature_valid", "producer", "key_id", "revoked",
              "expired", "not_yet_valid", "predicate_type", "statement_valid", "subject_bound",
              "predicate_valid",
              "duplicate", "predicate": {...} | null, "problem": null | "..."}}

``verified`` is true only when every check above passed. Checking never raises on a bad
document: it returns facts for the policy. A file that cannot be read as an attestation at all
is filed under the ``kind`` it claims (hand-written JSON evidence) or under ``unknown``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict

import google.protobuf.json_format as pb_json
from cryptography.hazmat.primitives.asymmetric import ec
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
from in_toto_attestation.v1.statement import STATEMENT_TYPE_URI, Statement
from jsonschema import Draft202012Validator

from sealgate._paths import display_path, read_bounded
from sealgate.errors import InputError
from sealgate.promotion._dsse import open_document, sign_document, signer_state, strict_json
from sealgate.sealing._trust import TrustPolicy

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
MAX_EVIDENCE_BYTES = 16 * 1024 * 1024
PREDICATE_TYPES = {
    "metrics": "https://sealgate.dev/attestations/metrics/v1",
    "scan": "https://sealgate.dev/attestations/scan/v1",
    "sbom": "https://sealgate.dev/attestations/sbom/v1",
}
_TYPE_OF = {uri: kind for kind, uri in PREDICATE_TYPES.items()}
_COMMON = {"produced_by": {"type": "string"}, "created": {"type": "string"}}
PREDICATE_SCHEMAS: dict[str, dict[str, Any]] = {
    "metrics": {
        "type": "object",
        "required": ["metrics"],
        "additionalProperties": False,
        "properties": {
            **_COMMON,
            "dataset": {"type": "string"},
            "metrics": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": {"type": "number"},
            },
        },
    },
    "scan": {
        "type": "object",
        "required": ["scanner", "findings"],
        "additionalProperties": False,
        "properties": {
            **_COMMON,
            "scanner": {"type": "string", "minLength": 1},
            "findings": {
                "type": "object",
                "required": ["critical", "high", "medium", "low"],
                "additionalProperties": False,
                "properties": {
                    level: {"type": "integer", "minimum": 0}
                    for level in ("critical", "high", "medium", "low")
                },
            },
        },
    },
    "sbom": {
        "type": "object",
        "required": ["format", "components"],
        "additionalProperties": False,
        "properties": {
            **_COMMON,
            "format": {"enum": ["spdx", "cyclonedx"]},
            "components": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["name", "version"],
                    "properties": {"name": {"type": "string"}, "version": {"type": "string"}},
                },
            },
        },
    },
}
_VALIDATORS = {kind: Draft202012Validator(schema) for kind, schema in PREDICATE_SCHEMAS.items()}


class EvidenceFacts(TypedDict):
    file: str
    verified: bool
    signed: bool
    signature_valid: bool
    producer: str | None
    key_id: str | None
    revoked: bool
    expired: bool
    not_yet_valid: bool
    predicate_type: str | None
    statement_valid: bool
    subject_bound: bool
    predicate_valid: bool
    duplicate: bool
    predicate: dict[str, Any] | None
    problem: str | None


def _hex(digest: str) -> str:
    return digest.removeprefix("sha256:")


def create_attestation(
    kind: str,
    predicate: dict[str, Any],
    digest: str,
    subject_name: str,
    key: ec.EllipticCurvePrivateKey,
) -> bytes:
    """A signed in-toto Statement that the sealed model ``digest`` has this ``predicate``."""
    if kind not in PREDICATE_TYPES:
        raise InputError(f"evidence type {kind!r}: one of {', '.join(PREDICATE_TYPES)}")
    errors = _predicate_errors(kind, predicate)
    if errors:
        raise InputError(f"{kind} predicate: {'; '.join(errors)}")
    subject = ResourceDescriptor(name=subject_name, digest={"sha256": _hex(digest)}).pb
    statement = Statement([subject], PREDICATE_TYPES[kind], predicate)
    statement.validate()
    payload = {
        "_type": STATEMENT_TYPE_URI,
        "subject": [{"name": subject_name, "digest": {"sha256": _hex(digest)}}],
        "predicateType": PREDICATE_TYPES[kind],
        "predicate": predicate,
    }
    # Not canonical_json: metrics are floats. Sorted keys keep the bytes reproducible.
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return sign_document(IN_TOTO_PAYLOAD_TYPE, encoded.encode(), key)


def _predicate_errors(kind: str, predicate: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in sorted(
            _VALIDATORS[kind].iter_errors(predicate), key=lambda e: list(e.absolute_path)
        )
    ]


def _statement(payload: bytes) -> dict[str, Any] | str:
    """The in-toto Statement v1 in ``payload``, checked by the in-toto attestation library."""
    try:
        document = strict_json(payload)
    except (UnicodeDecodeError, ValueError):
        return "statement is not JSON"
    if not isinstance(document, dict):
        return "statement is not a JSON object"
    try:
        proto = pb_json.ParseDict(document, statement_pb2.Statement())
        Statement.copy_from_pb(proto).validate()
    except (pb_json.ParseError, ValueError, TypeError) as exc:
        return f"not an in-toto Statement v1: {str(exc)[:200]}"
    return document


def _claimed_kind(data: bytes) -> str:
    """Where unsigned evidence is filed: the kind it claims (it decides nothing else)."""
    try:
        document = strict_json(data)
    except (UnicodeDecodeError, ValueError):
        return "unknown"
    kind = document.get("kind") if isinstance(document, dict) else None
    return kind if kind in PREDICATE_TYPES else "unknown"


def _empty(path: Path) -> EvidenceFacts:
    return {
        "file": display_path(path),
        "verified": False,
        "signed": False,
        "signature_valid": False,
        "producer": None,
        "key_id": None,
        "revoked": False,
        "expired": False,
        "not_yet_valid": False,
        "predicate_type": None,
        "statement_valid": False,
        "subject_bound": False,
        "predicate_valid": False,
        "duplicate": False,
        "predicate": None,
        "problem": None,
    }


def attestation_facts(
    path: Path, digest: str, producers: TrustPolicy | None, now: datetime | None = None
) -> tuple[str, EvidenceFacts]:
    """(evidence type, facts) of one evidence file for the sealed model ``digest``."""
    when = now or datetime.now(UTC)
    facts = _empty(path)
    data = read_bounded(path, MAX_EVIDENCE_BYTES, "evidence")
    opened = open_document(data, IN_TOTO_PAYLOAD_TYPE, producers, "evidence")
    facts["signed"], facts["key_id"] = opened.signed, opened.key_id
    if not opened.signed or opened.payload is None:
        facts["problem"] = opened.problem
        return _claimed_kind(data), facts
    # Read before the signature is checked only to file the facts under a type.
    statement = _statement(opened.payload)
    kind = "unknown"
    if isinstance(statement, dict):
        facts["predicate_type"] = statement.get("predicateType")
        kind = _TYPE_OF.get(str(facts["predicate_type"]), "unknown")
    if opened.signer is not None and producers is not None:
        facts["producer"] = opened.signer.name
        facts.update(signer_state(opened.signer, producers, when))  # type: ignore[typeddict-item]
    if not opened.signature_valid:
        facts["problem"] = opened.problem
        return kind, facts
    facts["signature_valid"] = True
    if isinstance(statement, str):
        facts["problem"] = f"evidence: {statement}"
        return kind, facts
    facts["statement_valid"] = True
    if kind == "unknown":
        facts["problem"] = (
            f"evidence: predicate type {facts['predicate_type']!r} is not one of "
            + (", ".join(PREDICATE_TYPES.values()))
        )
        return kind, facts
    subjects = statement.get("subject", [])
    facts["subject_bound"] = any(
        isinstance(s, dict) and s.get("digest", {}).get("sha256") == _hex(digest) for s in subjects
    )
    predicate = statement.get("predicate")
    errors = _predicate_errors(kind, predicate)
    facts["predicate_valid"] = not errors
    facts["predicate"] = predicate if not errors else None
    key_ok = not (facts["revoked"] or facts["expired"] or facts["not_yet_valid"])
    if not facts["subject_bound"]:
        facts["problem"] = f"evidence: the statement's subject is not {digest}"
    elif errors:
        facts["problem"] = f"evidence: {kind} predicate: {'; '.join(errors)}"
    elif not key_ok:
        facts["problem"] = f"evidence: producer key of {facts['producer']!r} is not current"
    facts["verified"] = facts["subject_bound"] and not errors and key_ok
    return kind, facts


def verify_evidence(
    paths: list[Path], digest: str, producers: TrustPolicy | None, now: datetime | None = None
) -> dict[str, EvidenceFacts]:
    """Facts per evidence type; a second attestation of a type makes that type unverified."""
    evidence: dict[str, EvidenceFacts] = {}
    for path in paths:
        kind, facts = attestation_facts(path, digest, producers, now)
        if kind in evidence:
            first = evidence[kind]
            first["verified"], first["duplicate"] = False, True
            first["problem"] = (
                f"more than one {kind} attestation ({first['file']}, {facts['file']})"
            )
            continue
        evidence[kind] = facts
    return evidence
