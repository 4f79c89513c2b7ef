"""The audit trail: one signed, hash-chained record per decision, appended only onto a log
that checks out.

A record is one line of canonical JSON::

    {"seq": 7, "prev": "sha256:<hash of line 6>", "time": "2026-05-01T12:00:00Z",
     "registry_id": "<registry.json id>",
     "actor": "alice", "action": "promote", "decision": "allow" | "deny" | "conflict" | "aborted",
     "request": {"name", "version", "digest", "from", "to", "requester"},
     "input_digest": "sha256:<facts document>", "policy_revision": "sha256:<policies + data>",
     "reasons": ["SG-PROMO-006: ..."], "refers_to": null | "sha256:<record>",
     "counter": null | 12, "gate_key_id": "<hex>", "sig": "<base64 ECDSA P-256 over the DSSE PAE of the record
     without sig>"}

The hash of a record is ``sha256:`` of its line (without the newline); record 0 chains to
``sha256:000...``. An allow that moves a stage pointer (``push``, ``promote``) carries the
stage's next ``counter``: one more than the highest counter of any earlier such allow into
that stage, computed from the log under the append's compare-and-swap, so two moves into
one stage never share a counter; the pointer it writes carries the same counter. The signed
head (``audit/head.json``: count and hash of the last record)
is rewritten after each append and, where a witness is configured, also kept there.

Before every append the log is checked against the head and the witness (count and hash)
and for a torn tail; any damage refuses the append (``AuditDamagedError``) instead of
chaining new records onto a cut or torn log. Several writers (gate replicas, key release
service replicas), each with its own key, append by compare-and-swap on the log.
Verification: ``sealgate.promotion._audit_verify``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from sealgate.errors import InputError, SealgateError, VerificationError
from sealgate.promotion._audit_log import split_log
from sealgate.promotion._digest import digest_of_bytes
from sealgate.promotion._identity import claimed_registry_id
from sealgate.promotion._registry import (
    GENESIS,
    AuditDamagedError,
    Registry,
)
from sealgate.promotion._signed import key_id, key_ring, sign_document, signature_problem
from sealgate.sealing._canonical import JSONValue

RECORD_TYPE = "application/vnd.sealgate.audit.v1+json"
HEAD_TYPE = "application/vnd.sealgate.audit-head.v1+json"
DECISIONS = ("allow", "deny", "conflict", "aborted")
# Decisions that say an earlier allow (``refers_to``) did not take effect.
NOT_TAKEN = ("conflict", "aborted")
# The actions whose allow records move a stage pointer (and take the stage's next counter).
POINTER_ACTIONS = ("push", "promote")
RECORD_FIELDS = {
    "seq",
    "prev",
    "time",
    "registry_id",
    "actor",
    "action",
    "decision",
    "request",
    "input_digest",
    "policy_revision",
    "reasons",
    "refers_to",
    "counter",
    "gate_key_id",
    "sig",
}
HEAD_FIELDS = {"count", "hash", "registry_id", "gate_key_id", "sig"}


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_hash(line: bytes) -> str:
    return digest_of_bytes(line)


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
    # The stage whose pointer this allow moves: the record takes that stage's next counter.
    counter_stage: str | None = None


@dataclass(frozen=True)
class Appended:
    hash: str
    seq: int
    counter: int | None


class WitnessError(InputError):
    """The record was appended, but its head could not be written to the witness.

    The next append's head covers this record too (a head names the whole chain), so the
    protection returns with the next successful witness write; the caller still learns of
    the failure. ``appended`` is the record that was written.
    """

    def __init__(self, appended: Appended, url: str, cause: Exception) -> None:
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else cause
        super().__init__(
            f"audit record {appended.hash} was appended, but its head could not be written "
            f"to the witness {url}: {reason}"
        )
        self.appended = appended


def pointer_move(document: dict[str, Any]) -> tuple[str, str] | None:
    """The (stage, name) whose pointer an allow record moves, or None."""
    request = document.get("request")
    if document.get("decision") != "allow" or document.get("action") not in POINTER_ACTIONS:
        return None
    if not isinstance(request, dict):
        return None
    stage, name = request.get("to"), request.get("name")
    return (stage, name) if isinstance(stage, str) and isinstance(name, str) else None


def highest_counter(lines: list[bytes], stage: str) -> int:
    """The highest counter of the pointer-moving allows into ``stage`` (0 for none)."""
    highest = 0
    marker = f'"to":"{stage}"'.encode()
    for line in lines:
        if b'"decision":"allow"' not in line or marker not in line:
            continue  # most records: no need to parse them
        document = json.loads(line)
        counter = document.get("counter")
        move = pointer_move(document)
        if move is not None and move[0] == stage and isinstance(counter, int):
            highest = max(highest, counter)
    return highest


def parse_head(head: bytes, where: str) -> dict[str, Any]:
    """A structurally valid head document, or ``AuditDamagedError`` naming ``where``."""
    try:
        document = json.loads(head)
    except (UnicodeDecodeError, ValueError):
        raise AuditDamagedError(f"the {where} is not JSON") from None
    if (
        not isinstance(document, dict)
        or set(document) != HEAD_FIELDS
        or not isinstance(document["count"], int)
        or document["count"] < 1
        or not isinstance(document["hash"], str)
    ):
        raise AuditDamagedError(f"the {where} does not have the head fields")
    return document


def head_problem(lines: list[bytes], document: dict[str, Any], where: str) -> str | None:
    """Why the log ``lines`` do not contain the record ``document`` (a head) names."""
    count = document["count"]
    if count > len(lines):
        return (
            f"the {where} counts {count} records, the log holds {len(lines)} "
            "(records were cut from its end)"
        )
    if record_hash(lines[count - 1]) != document["hash"]:
        return f"record {count - 1} is not the record the {where} names"
    return None


def check_before_append(
    log: bytes,
    head: bytes | None,
    witnessed: bytes | None,
    keys: dict[str, ec.EllipticCurvePublicKey],
    *,
    strict_keys: bool,
) -> tuple[list[bytes], str]:
    """The log's records and the hash the next record chains to, after checking the log;
    else AuditDamagedError.

    ``keys``: the signers whose head signatures can be checked; with ``strict_keys`` a head
    signed by any other key is damage too.
    """
    lines, torn = split_log(log)
    if torn is not None:
        raise AuditDamagedError(torn.describe())
    # A head may lag behind the log (another writer appended and has not rewritten it yet),
    # or be missing for the same reason on a first append; it may never lead it.
    for document, where in ((head, "signed head"), (witnessed, "witnessed head")):
        if document is None:
            continue
        parsed = parse_head(document, where)
        signer = parsed.get("gate_key_id")
        if signer in keys or strict_keys:
            problem = signature_problem(parsed, HEAD_TYPE, keys)
            if problem:
                raise AuditDamagedError(f"the {where} {problem}")
        problem = head_problem(lines, parsed, where)
        if problem:
            raise AuditDamagedError(problem)
    if not lines:
        return lines, GENESIS
    try:
        last_seq = json.loads(lines[-1])["seq"]
    except (ValueError, KeyError, TypeError):
        raise AuditDamagedError(f"record {len(lines) - 1} has no sequence number") from None
    if last_seq != len(lines) - 1:
        raise AuditDamagedError(
            f"record {len(lines) - 1} has sequence number {last_seq} (records were removed)"
        )
    return lines, record_hash(lines[-1])


def append_signed(
    registry: Registry,
    decision: Decision,
    key: ec.EllipticCurvePrivateKey,
    now: str | None = None,
    *,
    registry_id: str | None = None,
    trusted_keys: Iterable[ec.EllipticCurvePublicKey] = (),
) -> Appended:
    """Append a signed record after checking the log; return its hash and sequence number."""
    if registry_id is None:
        registry_id = claimed_registry_id(registry)
    if registry_id is None:
        raise VerificationError(
            "registry: it has no identity (registry.json) yet; the gate makes it at first use"
        )
    trusted = list(trusted_keys)
    keys = key_ring([key.public_key(), *trusted])
    witness = registry.witness
    witnessed = witness.latest() if witness is not None else None

    def make_line(log: bytes, head: bytes | None) -> bytes:
        lines, prev = check_before_append(log, head, witnessed, keys, strict_keys=bool(trusted))
        stage = decision.counter_stage
        body: dict[str, JSONValue] = {
            "seq": len(lines),
            "prev": prev,
            "time": now or utc_now(),
            "registry_id": registry_id,
            "actor": decision.actor,
            "action": decision.action,
            "decision": decision.decision,
            "request": decision.request,
            "input_digest": decision.input_digest,
            "policy_revision": decision.policy_revision,
            "reasons": list(decision.reasons),
            "refers_to": decision.refers_to,
            "counter": None if stage is None else highest_counter(lines, stage) + 1,
        }
        return sign_document(body, RECORD_TYPE, key)

    line = registry.append_audit(make_line)
    appended = json.loads(line)
    seq = appended["seq"]
    head_body: dict[str, JSONValue] = {
        "count": seq + 1,
        "hash": record_hash(line),
        "registry_id": registry_id,
    }
    head = sign_document(head_body, HEAD_TYPE, key)
    registry.write_audit_head(head, seq + 1)
    result = Appended(record_hash(line), seq, appended["counter"])
    if witness is not None:
        try:
            witness.record(seq + 1, head)
        except (OSError, SealgateError) as exc:
            raise WitnessError(result, witness.url, exc) from None
    return result


def append_record(
    registry: Registry,
    decision: Decision,
    key: ec.EllipticCurvePrivateKey,
    now: str | None = None,
    *,
    registry_id: str | None = None,
    trusted_keys: Iterable[ec.EllipticCurvePublicKey] = (),
) -> str:
    """Append a signed record chained to the current last one; return its hash.

    The log is checked first (torn tail, signed head, witnessed head): damage raises
    ``AuditDamagedError`` and nothing is appended. ``registry_id``: the verified id (default:
    the one ``registry.json`` states). ``trusted_keys``: the other writers' public keys, so
    a head they signed is verified too (without them only heads signed by ``key`` are; with
    them a head by any other key is refused).
    """
    return append_signed(
        registry, decision, key, now, registry_id=registry_id, trusted_keys=trusted_keys
    ).hash


__all__ = [
    "DECISIONS",
    "HEAD_TYPE",
    "NOT_TAKEN",
    "POINTER_ACTIONS",
    "RECORD_FIELDS",
    "RECORD_TYPE",
    "Appended",
    "Decision",
    "WitnessError",
    "append_record",
    "append_signed",
    "highest_counter",
    "key_id",
    "pointer_move",
    "record_hash",
    "utc_now",
]
