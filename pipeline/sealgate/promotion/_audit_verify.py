"""``audit verify``: the whole trail against the trusted keys, the head, the witness and the
stage pointers.

Checked, stopping at the first problem: the registry identity (signed by a gate key); every
record's fields, signature (by a trusted writer key), canonical form, sequence number, link
and registry id, and that the counters of pointer-moving allows strictly increase per stage; a torn tail (reported with its byte offset); the signed head (records cut
from the end); the highest witnessed head (a cut log next to a restored older head); and
every stage pointer: signed by a gate key for exactly its place and registry, naming an
allow record for exactly it with its counter, and being the LATEST allow
for its (stage, name) that was not marked as not taken effect (a ``conflict`` or
``aborted`` record referring to it). An allow with no pointer naming it and no such mark is
a problem too: a pointer put back, or a move that failed without its ``aborted`` record.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from sealgate.errors import InputError, VerificationError
from sealgate.promotion._audit import (
    DECISIONS,
    HEAD_TYPE,
    NOT_TAKEN,
    RECORD_FIELDS,
    RECORD_TYPE,
    pointer_move,
    record_hash,
)
from sealgate.promotion._audit_log import TornTail, split_log
from sealgate.promotion._identity import verified_registry_id
from sealgate.promotion._pointers import pointer_problem
from sealgate.promotion._registry import GENESIS, AuditDamagedError, Registry
from sealgate.promotion._signed import KeyRing, key_ring, signature_problem
from sealgate.sealing._canonical import canonical_json

PublicKeys = ec.EllipticCurvePublicKey | Iterable[ec.EllipticCurvePublicKey]


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
    aborted: int = 0
    torn: TornTail | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass
class _Trail:
    """What the records say, for the pointer checks."""

    allowed: dict[str, dict[str, Any]]  # hash -> pointer-moving allow record
    not_taken: set[str]  # allow hashes marked as not taken effect
    latest: dict[tuple[str, str], str]  # (stage, name) -> hash of its latest effective allow


def _check_record(
    line: bytes, position: int, prev: str, keys: KeyRing, registry_id: str | None
) -> tuple[str | None, dict[str, Any]]:
    try:
        document = json.loads(line)
    except (UnicodeDecodeError, ValueError):
        return "is not JSON (edited or truncated)", {}
    if not isinstance(document, dict) or set(document) != RECORD_FIELDS:
        return "does not have the record fields", {}
    problem = signature_problem(document, RECORD_TYPE, keys)
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
    if document["registry_id"] != registry_id:
        return "belongs to another registry (replayed from elsewhere)", document
    if document["decision"] not in DECISIONS:
        return f"has unknown decision {document['decision']!r}", document
    return None, document


def verify_audit(
    registry: Registry,
    keys: PublicKeys,
    *,
    gate_keys: PublicKeys | None = None,
    check_pointers: bool = True,
) -> AuditReport:
    """Check the whole trail. ``keys``: every trusted record signer (gate and key release
    service replicas); ``gate_keys``: those that may sign pointers and the registry identity
    (default: ``keys``)."""
    ring = key_ring(keys)
    gate_ring = key_ring(gate_keys) if gate_keys is not None else ring
    # Heads before the log: a writer appending meanwhile makes the log longer, never a head.
    witnessed = registry.witness.latest() if registry.witness is not None else None
    head = registry.read_audit_head()
    lines, torn = split_log(registry.read_audit())
    counts = {d: 0 for d in DECISIONS}
    trail = _Trail({}, set(), {})

    def report(problem: AuditProblem | None) -> AuditReport:
        return AuditReport(
            len(lines),
            counts["allow"],
            counts["deny"],
            counts["conflict"],
            problem,
            aborted=counts["aborted"],
            torn=torn,
        )

    try:
        registry_id = verified_registry_id(registry, gate_ring.values())
    except VerificationError as exc:
        return report(AuditProblem(-1, str(exc)))
    if registry_id is None and (lines or torn):
        return report(AuditProblem(-1, "the registry identity (registry.json) is missing"))

    prev = GENESIS
    moves: list[tuple[tuple[str, str], str]] = []
    counters: dict[str, int] = {}  # stage -> highest counter so far
    for position, line in enumerate(lines):
        problem, document = _check_record(line, position, prev, ring, registry_id)
        if problem:
            return report(AuditProblem(position, f"record {position} {problem}"))
        counts[document["decision"]] += 1
        prev = record_hash(line)
        place = pointer_move(document)
        if place is not None:
            counter, highest = document["counter"], counters.get(place[0], 0)
            if not isinstance(counter, int) or isinstance(counter, bool) or counter <= highest:
                return report(
                    AuditProblem(
                        position,
                        f"record {position} has counter {counter!r} for stage {place[0]}, "
                        f"not above the stage's highest {highest}",
                    )
                )
            counters[place[0]] = counter
            trail.allowed[prev] = document
            moves.append((place, prev))
        if document["decision"] in NOT_TAKEN and isinstance(document["refers_to"], str):
            trail.not_taken.add(document["refers_to"])
    for place, hash_ in moves:
        if hash_ not in trail.not_taken:
            trail.latest[place] = hash_
    if torn:
        return report(AuditProblem(torn.position, torn.describe()))
    for found in (
        _head_problem(head, lines, ring, "signed audit head"),
        _head_problem(witnessed, lines, ring, "witnessed audit head"),
        _pointers_problem(registry, trail, gate_ring, registry_id) if check_pointers else None,
    ):
        if found:
            return report(found)
    return report(None)


def _head_problem(
    head: bytes | None, lines: list[bytes], keys: KeyRing, where: str
) -> AuditProblem | None:
    from sealgate.promotion._audit import head_problem, parse_head

    if head is None:
        if lines and where == "signed audit head":
            return AuditProblem(-1, "the signed audit head is missing")
        return None
    try:
        document = parse_head(head, where)
    except AuditDamagedError as exc:
        return AuditProblem(-1, str(exc).removeprefix("audit log damaged: ").split(";")[0])
    problem = signature_problem(document, HEAD_TYPE, keys)
    if problem:
        return AuditProblem(-1, f"the {where} {problem}")
    message = head_problem(lines, document, where)
    if message is None:
        return None
    count = document["count"]
    if count > len(lines):
        return AuditProblem(len(lines), f"record {len(lines)} is missing (truncated): {message}")
    return AuditProblem(count - 1, message)


def _pointers_problem(
    registry: Registry, trail: _Trail, gate_keys: KeyRing, registry_id: str | None
) -> AuditProblem | None:
    seen: set[tuple[str, str]] = set()
    try:
        pointers = registry.pointers()
    except InputError as exc:
        return AuditProblem(-1, f"{exc}: it was not written by the gate")
    for stage, pointer in pointers:
        where = f"stage pointer {stage}/{pointer.name} ({pointer.version})"
        problem = pointer_problem(stage, pointer.name, pointer, list(gate_keys.values()))
        if problem:
            return AuditProblem(-1, f"{where} {problem}: it was not written by the gate")
        if pointer.registry_id != registry_id:
            return AuditProblem(-1, f"{where} belongs to another registry")
        record = trail.allowed.get(pointer.record)
        request = record.get("request") if record else None
        if (
            record is None
            or not isinstance(request, dict)
            or request.get("to") != stage
            or request.get("name") != pointer.name
            or request.get("version") != pointer.version
            or request.get("digest") != pointer.digest
        ):
            return AuditProblem(
                -1, f"{where} names no allow record for it: it was moved outside the gate"
            )
        if pointer.counter != record["counter"]:
            return AuditProblem(
                -1, f"{where} has counter {pointer.counter}, its record {record['counter']}"
            )
        latest = trail.latest.get((stage, pointer.name))
        if latest != pointer.record:
            later = trail.allowed[latest] if latest else None
            newer = (
                f"record {later['seq']} ({later['request'].get('version')}) is"
                if later
                else "no allow record is (its move was marked as not taken effect)"
            )
            return AuditProblem(
                later["seq"] if later else -1,
                f"{where} is not the latest allow for it: {newer}; an older pointer was put "
                "back, or that move failed without an aborted record",
            )
        seen.add((stage, pointer.name))
    for (stage, name), hash_ in sorted(trail.latest.items()):
        if (stage, name) not in seen:
            record = trail.allowed[hash_]
            return AuditProblem(
                record["seq"],
                f"record {record['seq']} allowed {name} into {stage} but no pointer holds it: "
                "the pointer was removed, or its move failed without an aborted record",
            )
    return None


def latest_allow(registry: Registry, stage: str, name: str, keys: PublicKeys) -> str | None:
    """The hash of the latest allow for (stage, name) signed by ``keys`` and not marked as
    not taken effect (a quick rollback check against the log, without the full verify).
    A log shorter than the witnessed head raises ``VerificationError`` (records removed to
    make an old pointer look current)."""
    from sealgate.promotion._audit import head_problem, parse_head

    ring = key_ring(keys)
    witnessed = registry.witness.latest() if registry.witness is not None else None
    lines, _ = split_log(registry.read_audit())
    if witnessed is not None:
        try:
            problem = head_problem(lines, parse_head(witnessed, "witnessed head"), "witnessed head")
        except AuditDamagedError as exc:
            problem = str(exc)
        if problem:
            raise VerificationError(f"audit log: {problem}; no pointer is confirmed against it")
    allows: list[str] = []
    not_taken: set[str] = set()
    for line in lines:
        try:
            document = json.loads(line)
        except (UnicodeDecodeError, ValueError):
            continue
        if not isinstance(document, dict) or set(document) != RECORD_FIELDS:
            continue
        if document["decision"] in NOT_TAKEN and isinstance(document["refers_to"], str):
            not_taken.add(document["refers_to"])
        elif pointer_move(document) == (stage, name) and not signature_problem(
            document, RECORD_TYPE, ring
        ):
            allows.append(record_hash(line))
    effective = [hash_ for hash_ in allows if hash_ not in not_taken]
    return effective[-1] if effective else None
