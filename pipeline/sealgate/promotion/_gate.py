"""The promotion gate: gather verified facts, let the policy decide, move the pointer, record.

Order for one request:

1. read the target pointer and its compare-and-swap tag (the state the decision is about);
2. verify the sealed model, the approvals and the evidence into the facts document;
3. evaluate every ``promotion`` policy (fail closed: any engine or gate finding denies);
4. deny: append a ``deny`` record naming every reason; nothing else changes;
5. allow: if the target moved meanwhile, append a ``conflict`` record and stop; otherwise
   append the ``allow`` record (write-ahead: a pointer never moves unrecorded), then move the
   pointer by compare-and-swap to a pointer signed by the gate key naming that record and
   its counter (one more than the stage's highest). The signed pointer move is the commit point:
   if another promotion won the race, a ``conflict`` record refers to the allow record and
   ConflictError is raised; if the move fails otherwise (EACCES, ENOSPC, a storage error,
   an interrupt), an ``aborted`` record (action ``<action>.aborted``) refers to it, so
   ``audit verify`` knows the allow did not take effect.

Every pointer the decision reads is verified (``read_verified_pointer``): a source pointer
that does not verify counts as absent (the policy denies), a target pointer that does not
verify refuses the request. A process killed at any point leaves the pointer at its old or
its new value (one atomic write) and the audit chain intact (one appended line per record);
killed between the allow record and the move, ``audit verify`` reports the allow as not
taken effect and unmarked.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from sealgate.errors import InputError, UnavailableError, VerificationError
from sealgate.inputs._model import PolicyInput
from sealgate.policy._decision import Finding
from sealgate.policy._engine import DecisionEngine
from sealgate.policy._evaluate import evaluate_input
from sealgate.policy._loader import PolicySet
from sealgate.policy._revision import policy_revision
from sealgate.promotion._approvals import verify_approvals
from sealgate.promotion._audit import Decision, WitnessError, append_signed, utc_now
from sealgate.promotion._digest import digest_of_bytes
from sealgate.promotion._evidence import verify_evidence
from sealgate.promotion._facts import ModelFacts, model_facts, pointer_facts, version_facts
from sealgate.promotion._identity import ensure_registry_id
from sealgate.promotion._pointers import read_verified_pointer, sign_pointer, verify_pointer
from sealgate.promotion._registry import ConflictError, Registry, StagePointer
from sealgate.promotion._request import PromotionRequest
from sealgate.promotion._requester import RequesterFacts, unproven
from sealgate.sealing._trust import TrustPolicy

PROMOTION_KIND = "promotion"


@dataclass(frozen=True)
class GateContext:
    """What every decision needs besides the request."""

    registry: Registry
    policy_set: PolicySet
    engine: DecisionEngine
    trust: TrustPolicy
    gate_key: ec.EllipticCurvePrivateKey
    # Other trusted signers: gate replicas (pointers, records) and key release service
    # replicas (records), so heads they signed are verified before each append.
    gate_keys: tuple[ec.EllipticCurvePublicKey, ...] = ()
    writer_keys: tuple[ec.EllipticCurvePublicKey, ...] = ()
    approvers: TrustPolicy | None = None
    requesters: TrustPolicy | None = None  # keys that may sign promotion requests
    producers: TrustPolicy | None = None  # keys that may sign evidence attestations


def _pointer_keys(context: GateContext) -> list[ec.EllipticCurvePublicKey]:
    return [context.gate_key.public_key(), *context.gate_keys]


def _verified_pointer(context: GateContext, stage: str, name: str) -> StagePointer | None:
    """The pointer, if it verifies; None when absent or when it does not."""
    try:
        if read_verified_pointer(context.registry, stage, name, _pointer_keys(context)) is None:
            return None
    except VerificationError:
        return None
    return context.registry.current(stage, name)


@dataclass
class PromotionResult:
    request: PromotionRequest
    allowed: bool
    findings: list[Finding] = field(default_factory=list)
    record: str = ""
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def reasons(self) -> list[str]:
        return [f"{f.rule_id}: {f.message}" for f in self.findings]


def facts_digest(facts: dict[str, Any]) -> str:
    return digest_of_bytes(json.dumps(facts, sort_keys=True, separators=(",", ":")).encode())


def decide(context: GateContext, facts: dict[str, Any]) -> list[Finding]:
    policy_input = PolicyInput(
        kind=PROMOTION_KIND,
        target=f"{facts['request']['name']}@{facts['request']['version']}",
        file="promotion request",
        document=facts,
    )
    return evaluate_input(context.policy_set, context.engine, policy_input)


def gather_facts(
    context: GateContext,
    request: PromotionRequest,
    action: str,
    sealed_dir: Path | None,
    target: StagePointer | None,
    approvals: list[Path],
    evidence: list[Path],
    requester: RequesterFacts | None = None,
) -> dict[str, Any]:
    source = _verified_pointer(context, request.source, request.name) if request.source else None
    model: ModelFacts
    if sealed_dir is not None:
        model = model_facts(sealed_dir, context.trust)
    else:
        model = {
            "digest": None,
            "verified": False,
            "error": "not in the registry",
            "signer": None,
            "name": None,
            "version": None,
        }
    return {
        "action": action,
        "request": request.to_json(),
        "requester": requester or unproven(request),
        "model": model,
        "version": version_facts(request.version, target),
        "source": {"stage": request.source, "current": pointer_facts(source)},
        "target": {"stage": request.target, "current": pointer_facts(target)},
        "approvals": verify_approvals(approvals, request, context.approvers),
        "evidence": verify_evidence(evidence, request.digest, context.producers),
    }


def _record(
    context: GateContext,
    request: PromotionRequest,
    action: str,
    decision: str,
    facts: dict[str, Any],
    reasons: list[str],
    refers_to: str | None = None,
) -> tuple[str, int | None]:
    appended = append_signed(
        context.registry,
        Decision(
            actor=request.requester,
            action=action,
            decision=decision,
            request=request.to_json(),
            input_digest=facts_digest(facts),
            policy_revision=policy_revision(context.policy_set),
            reasons=tuple(reasons),
            refers_to=refers_to,
            counter_stage=request.target if decision == "allow" else None,
        ),
        context.gate_key,
        registry_id=ensure_registry_id(context.registry, context.gate_key),
        trusted_keys=[*context.gate_keys, *context.writer_keys],
    )
    return appended.hash, appended.counter


def _verified_target(
    context: GateContext, request: PromotionRequest
) -> tuple[StagePointer | None, str | None]:
    """The target pointer and its tag, verified (the exact bytes the decision is about)."""
    try:
        target, tag = context.registry.read_pointer(request.target, request.name)
    except InputError as exc:
        raise VerificationError(f"{exc}; the gate decides on no forged pointer") from None
    if target is not None:
        try:
            verify_pointer(
                context.registry, request.target, request.name, target, _pointer_keys(context)
            )
        except VerificationError as exc:
            raise VerificationError(
                f"{exc}; the gate decides on no forged pointer (run `sealgate audit verify`)"
            ) from None
    return target, tag


def run_promotion(
    context: GateContext,
    request: PromotionRequest,
    *,
    action: str,
    approvals: list[Path],
    evidence: list[Path],
    local_model: Path | None = None,
    before_commit: Callable[[], None] | None = None,
    requester: RequesterFacts | None = None,
) -> PromotionResult:
    """Decide one request and, when allowed, move the target pointer; record either way."""
    request.check()
    registry = context.registry
    registry_id = ensure_registry_id(registry, context.gate_key)
    target, tag = _verified_target(context, request)
    with _model_dir(registry, request.digest, local_model) as sealed_dir:
        facts = gather_facts(
            context, request, action, sealed_dir, target, approvals, evidence, requester
        )
        findings = decide(context, facts)
        result = PromotionResult(request, not findings, findings, facts=facts)
        if findings:
            result.record, _ = _record(context, request, action, "deny", facts, result.reasons)
            return result
        if before_commit is not None:
            before_commit()
        if local_model is not None:
            registry.store_model(request.digest, local_model)
    if registry.read_pointer(request.target, request.name)[1] != tag:
        conflict = f"conflict: {request.name} in {request.target} changed while this was decided"
        _record(context, request, action, "conflict", facts, [conflict])
        raise ConflictError(f"{conflict}; nothing was changed, decide again")
    witness_failure: WitnessError | None = None
    try:
        result.record, counter = _record(context, request, action, "allow", facts, [])
    except WitnessError as exc:
        # The allow is in the log: commit it, then report the witness failure.
        witness_failure = exc
        result.record, counter = exc.appended.hash, exc.appended.counter
    assert counter is not None  # an allow into a stage always takes its next counter
    pointer = sign_pointer(
        StagePointer(
            request.name,
            request.version,
            request.digest,
            record=result.record,
            updated=utc_now(),
            stage=request.target,
            counter=counter,
            registry_id=registry_id,
        ),
        context.gate_key,
    )
    _commit(context, request, action, facts, result.record, pointer, tag)
    if witness_failure is not None:
        raise witness_failure
    return result


def _commit(
    context: GateContext,
    request: PromotionRequest,
    action: str,
    facts: dict[str, Any],
    allow_record: str,
    pointer: StagePointer,
    tag: str | None,
) -> None:
    """Move the pointer (the commit point); record why when it did not move."""
    try:
        context.registry.set_pointer(request.target, pointer, tag)
    except ConflictError as exc:
        _record(context, request, action, "conflict", facts, [str(exc)], refers_to=allow_record)
        raise
    except BaseException as exc:
        reason = f"the pointer move failed: {exc.strerror if isinstance(exc, OSError) else exc}"
        try:
            _record(
                context, request, f"{action}.aborted", "aborted", facts, [reason],
                refers_to=allow_record,
            )  # fmt: skip
        except Exception:
            raise exc from None  # the allow stays unmarked: `audit verify` reports it
        if isinstance(exc, Exception):
            # An outage stays an outage (exit 3): retrying later may succeed.
            failure = UnavailableError if isinstance(exc, UnavailableError) else InputError
            raise failure(
                f"{request.name} {request.version} was allowed into {request.target} but "
                f"{reason}; the allow record {allow_record} is marked aborted, nothing changed"
            ) from None
        raise


@contextlib.contextmanager
def _model_dir(registry: Registry, digest: str, local_model: Path | None) -> Iterator[Path | None]:
    if local_model is not None:
        yield local_model
        return
    if not registry.has_model(digest):
        yield None
        return
    with registry.open_model(digest) as path:
        yield path


def source_digest(registry: Registry, source: str | None, name: str, version: str) -> str:
    """The digest to promote when none is given: the one the source stage holds."""
    pointer = registry.current(source, name) if source else None  # a default only: decided later
    if pointer is None or pointer.version != version:
        where = source or "the source stage"
        raise InputError(
            f"{name} {version} is not in {where}; pass --digest to name the sealed model"
        )
    return pointer.digest
