"""The audit trail: one signed, hash-chained record per decision, and its verification.

A record is one line of canonical JSON::

    {"seq": 7, "prev": "sha256:<hash of line 6>", "time": "2026-05-01T12:00:00Z",
     "actor": "alice", "action": "promote", "decision": "allow" | "deny" | "conflict",
     "request": {"name", "version", "digest", "from", "to", "requester"},
     "input_digest": "sha256:<facts document>", "policy_revision": "sha256:<policies + data>",
     "reasons": ["SG-PROMO-006: ..."], "refers_to": null | "sha256:<record>",
     "gate_key_id": "<hex>", "sig": "<base64 ECDSA P-256 over the DSSE PAE of the record
     without sig>"}

The hash of a record is ``sha256:`` of its line (without the newline); record 0 chains to
``sha256:000...``. The signed head (``audit/head.json``: count and hash of the last record)
is rewritten after each append, so dropping records from the end is detected; every stage
pointer names the record that moved it, so a pointer moved outside the gate is detected too.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from sealgate.promotion._digest import digest_of_bytes
from sealgate.promotion._registry import (
    GENESIS,
    AuditStore,
    AuditTail,
    Registry,
    StagePointer,
)
from sealgate.sealing import _signing_keys as signing_keys
from sealgate.sealing._canonical import JSONValue, canonical_json
from sealgate.sealing._envelope import pae

RECORD_TYPE = "application/vnd.sealgate.audit.v1+json"
HEAD_TYPE = "application/vnd.sealgate.audit-head.v1+json"
DECISIONS = ("allow", "deny", "conflict")
RECORD_FIELDS = {
    "seq",
    "prev",
    "time",
    "actor",
    "action",
    "decision",
    "request",
    "input_digest",
    "policy_revision",
    "reasons",
    "refers_to",
    "gate_key_id",
    "sig",
}


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_hash(line: bytes) -> str:
    return digest_of_bytes(line)


def _signed(
    body: dict[str, JSONValue], payload_type: str, key: ec.EllipticCurvePrivateKey
) -> bytes:
    signature = signing_keys.sign(key, pae(payload_type, canonical_json(body)))
    return canonical_json({**body, "sig": base64.b64encode(signature).decode("ascii")})


@dataclass(frozen=True)
class Decision:
    """What a record says, before it has a place in the chain."""

    actor: str
    action: str
    decision: str
    request: dict[str, JSONValue]
    input_digest: str
    policy_revision: str
    reasons: tuple[str, ...]
    refers_to: str | None = None


def append_record(
    registry: AuditStore,
    decision: Decision,
    key: ec.EllipticCurvePrivateKey,
    now: str | None = None,
) -> str:
    """Append a signed record chained to the current last one; return its hash."""
    key_id = signing_keys.signing_key_id(key.public_key())

    def make_line(tail: AuditTail) -> bytes:
        body: dict[str, JSONValue] = {
            "seq": tail.seq + 1,
            "prev": tail.hash,
            "time": now or utc_now(),
            "actor": decision.actor,
            "action": decision.action,
            "decision": decision.decision,
            "request": decision.request,
            "input_digest": decision.input_digest,
            "policy_revision": decision.policy_revision,
            "reasons": list(decision.reasons),
            "refers_to": decision.refers_to,
            "gate_key_id": key_id,
        }
        return _signed(body, RECORD_TYPE, key)

    line = registry.append_audit(make_line)
    count = json.loads(line)["seq"] + 1
    head_body: dict[str, JSONValue] = {
        "count": count,
        "hash": record_hash(line),
        "gate_key_id": key_id,
    }
    registry.write_audit_head(_signed(head_body, HEAD_TYPE, key), count)
    return record_hash(line)


# verification -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditProblem:
    record: int  # 0-based position in the log; -1 for the head, len(log) for a missing record
    message: str


@dataclass(frozen=True)
class AuditReport:
    records: int
    allow: int
    deny: int
    conflict: int
    problem: AuditProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _check_signature(
    document: dict[str, Any], payload_type: str, public_key: ec.EllipticCurvePublicKey
) -> str | None:
    signature = document.get("sig")
    if not isinstance(signature, str):
        return "has no signature"
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


def _check_record(
    line: bytes, position: int, prev: str, public_key: ec.EllipticCurvePublicKey
) -> tuple[str | None, dict[str, Any]]:
    try:
        document = json.loads(line)
    except (UnicodeDecodeError, ValueError):
        return "is not JSON (edited or truncated)", {}
    if not isinstance(document, dict) or set(document) != RECORD_FIELDS:
        return "does not have the record fields", {}
    problem = _check_signature(document, RECORD_TYPE, public_key)
    if problem:
        return problem, document
    if canonical_json(document) != line:
        return "is not in canonical form", document
    if document["seq"] != position:
        return (
            f"has sequence number {document['seq']} at position {position} "
            "(records were deleted or reordered)",
            document,
        )
    if document["prev"] != prev:
        return "does not chain to the record before it (a record was edited, deleted or moved)", (
            document
        )
    if document["decision"] not in DECISIONS:
        return f"has unknown decision {document['decision']!r}", document
    return None, document


def verify_audit(
    registry: Registry, public_key: ec.EllipticCurvePublicKey, *, check_pointers: bool = True
) -> AuditReport:
    """Check the whole chain, the signed head and every stage pointer's record."""
    data = registry.read_audit()
    lines = data.split(b"\n")
    complete, torn = lines[:-1], lines[-1]
    counts = {d: 0 for d in DECISIONS}
    allowed: dict[str, dict[str, Any]] = {}
    prev = GENESIS

    def report(problem: AuditProblem | None) -> AuditReport:
        return AuditReport(
            len(complete), counts["allow"], counts["deny"], counts["conflict"], problem
        )

    for position, line in enumerate(complete):
        problem, document = _check_record(line, position, prev, public_key)
        if problem:
            return report(AuditProblem(position, f"record {position} {problem}"))
        counts[document["decision"]] += 1
        prev = record_hash(line)
        if document["decision"] == "allow":
            allowed[prev] = document
    if torn:
        return report(
            AuditProblem(len(complete), f"record {len(complete)} is incomplete (log truncated)")
        )
    head_problem = _check_head(registry.read_audit_head(), complete, public_key)
    if head_problem:
        return report(head_problem)
    if check_pointers:
        for stage, pointer in registry.pointers():
            pointer_problem = _pointer_problem(stage, pointer, allowed)
            if pointer_problem:
                return report(pointer_problem)
    return report(None)


def _check_head(
    head: bytes | None, lines: list[bytes], public_key: ec.EllipticCurvePublicKey
) -> AuditProblem | None:
    if head is None:
        if lines:
            return AuditProblem(-1, "the signed audit head is missing")
        return None
    try:
        document = json.loads(head)
    except (UnicodeDecodeError, ValueError):
        return AuditProblem(-1, "the audit head is not JSON")
    if not isinstance(document, dict) or set(document) != {"count", "hash", "gate_key_id", "sig"}:
        return AuditProblem(-1, "the audit head does not have the head fields")
    problem = _check_signature(document, HEAD_TYPE, public_key)
    if problem:
        return AuditProblem(-1, f"the audit head {problem}")
    count = document["count"]
    if not isinstance(count, int) or count < 1:
        return AuditProblem(-1, "the audit head has no record count")
    if count > len(lines):
        return AuditProblem(
            len(lines),
            f"record {len(lines)} is missing: the signed head counts {count} records, "
            f"the log holds {len(lines)} (truncated)",
        )
    if record_hash(lines[count - 1]) != document["hash"]:
        return AuditProblem(
            count - 1, f"record {count - 1} is not the record the signed head names"
        )
    return None


def _pointer_problem(
    stage: str, pointer: StagePointer, allowed: dict[str, dict[str, Any]]
) -> AuditProblem | None:
    record = allowed.get(pointer.record)
    request = record.get("request") if record else None
    if (
        not isinstance(request, dict)
        or request.get("to") != stage
        or request.get("name") != pointer.name
        or request.get("version") != pointer.version
        or request.get("digest") != pointer.digest
    ):
        return AuditProblem(
            -1,
            f"stage pointer {stage}/{pointer.name} ({pointer.version}) names no allow record "
            "for it: it was moved outside the gate",
        )
    return None
