"""Signed stage pointers: what every security decision about "current in a stage" reads.

A stored pointer (``stages/<stage>/<quoted name>.json``) is signed by the gate key with the
scheme of the audit records (``sealgate.promotion._signed``)::

    {"stage": "prod", "name": "fraud", "version": "2.0.0", "digest": "sha256:...",
     "record": "sha256:<the allow record that moved it>", "counter": 41,
     "registry_id": "<registry.json id>", "updated": "...", "gate_key_id": "<hex>",
     "sig": "<base64>"}

``counter`` is the counter of that allow record: one more than the stage's highest,
computed from the log under the append's compare-and-swap, so a stage's counters strictly
increase with every move (also for moves of different models racing into one stage), and
a pointer with a lower counter than one seen before for the same (registry, stage, name) is
a rollback.

``read_verified_pointer`` refuses (``VerificationError``) an unsigned pointer, one signed by
a key that is not a gate key, one stored under another stage or name than it names, and one
of another registry. A validly signed old pointer copied back is caught by comparing its
counter with a high-water mark (the key release service keeps one) or with the audit log
(``latest_allow``, ``audit verify``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from sealgate.errors import InputError, VerificationError
from sealgate.promotion._identity import verified_registry_id
from sealgate.promotion._registry import Registry, StagePointer
from sealgate.promotion._signed import key_id, key_ring, sign_document, signature_problem

POINTER_TYPE = "application/vnd.sealgate.stage-pointer.v1+json"


@dataclass(frozen=True)
class VerifiedPointer:
    """A stage pointer whose gate signature, place and registry were checked."""

    stage: str
    name: str
    version: str
    digest: str
    counter: int
    record: str
    registry_id: str
    gate_key_id: str
    updated: str = ""


def sign_pointer(pointer: StagePointer, key: ec.EllipticCurvePrivateKey) -> StagePointer:
    """``pointer`` with ``gate_key_id`` and ``sig`` by ``key``."""
    signed = json.loads(sign_document(pointer.body(), POINTER_TYPE, key))
    assert signed["gate_key_id"] == key_id(key)
    return StagePointer(**signed)


def pointer_problem(
    stage: str, name: str, pointer: StagePointer, gate_keys: Sequence[ec.EllipticCurvePublicKey]
) -> str | None:
    """Why the pointer stored for (stage, name) is not a gate-signed pointer for exactly it."""
    problem = signature_problem(asdict(pointer), POINTER_TYPE, key_ring(gate_keys))
    if problem:
        return problem.replace("with the gate key", "with a gate key")
    if pointer.stage != stage or pointer.name != name:
        return f"is signed for {pointer.stage}/{pointer.name} (copied from another place)"
    return None


def read_verified_pointer(
    registry: Registry,
    stage: str,
    name: str,
    gate_keys: Iterable[ec.EllipticCurvePublicKey],
) -> VerifiedPointer | None:
    """Where ``name`` is in ``stage``, verified; None when there is no pointer.

    Raises ``VerificationError`` for an unsigned, forged, misplaced or foreign-registry
    pointer (and for a registry identity that no gate key signed).
    """
    keys = list(gate_keys)
    if not keys:
        raise VerificationError("stage pointers: no gate public key to verify them with")
    try:
        pointer, _ = registry.read_pointer(stage, name)
    except InputError as exc:
        raise VerificationError(f"stage pointer {stage}/{name}: {exc}") from None
    if pointer is None:
        return None
    return verify_pointer(registry, stage, name, pointer, keys)


def verify_pointer(
    registry: Registry,
    stage: str,
    name: str,
    pointer: StagePointer,
    gate_keys: Sequence[ec.EllipticCurvePublicKey],
) -> VerifiedPointer:
    """``pointer`` as read from (stage, name), verified; else ``VerificationError``."""
    where = f"stage pointer {stage}/{name}"
    problem = pointer_problem(stage, name, pointer, gate_keys)
    if problem:
        raise VerificationError(f"{where} {problem}: refused")
    registry_id = verified_registry_id(registry, gate_keys)
    if registry_id is None or pointer.registry_id != registry_id:
        raise VerificationError(f"{where} belongs to another registry: refused")
    return VerifiedPointer(
        stage=pointer.stage,
        name=pointer.name,
        version=pointer.version,
        digest=pointer.digest,
        counter=pointer.counter,
        record=pointer.record,
        registry_id=pointer.registry_id,
        gate_key_id=pointer.gate_key_id,
        updated=pointer.updated,
    )


GATE_PUB_ENV = "SEALGATE_GATE_PUB"


def gate_keys_from_environment() -> list[ec.EllipticCurvePublicKey]:
    """The gate public keys named by ``SEALGATE_GATE_PUB`` (PEM files, os.pathsep between);
    none when it is unset, so no pointer verifies (fail closed)."""
    import os
    from pathlib import Path

    from sealgate._paths import read_bounded
    from sealgate.sealing._signing_keys import parse_signing_public_key

    paths = [p for p in os.environ.get(GATE_PUB_ENV, "").split(os.pathsep) if p]
    return [
        parse_signing_public_key(read_bounded(Path(p), 64 * 1024, "gate public key"), p)
        for p in paths
    ]
