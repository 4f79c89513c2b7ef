"""Entry points behind the ``push``, ``promote`` and ``approve`` commands."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sealgate.errors import InputError
from sealgate.policy import builtin_policy_root
from sealgate.policy._engine import create_engine
from sealgate.policy._loader import load_policy_set
from sealgate.policy._opa_limits import OpaLimits
from sealgate.promotion._approvals import create_approval
from sealgate.promotion._backends import open_registry
from sealgate.promotion._digest import check_digest, sealed_model_digest
from sealgate.promotion._gate import (
    PROMOTION_KIND,
    GateContext,
    PromotionResult,
    run_promotion,
    source_digest,
)
from sealgate.promotion._oidc import oidc_issuers
from sealgate.promotion._registry import Registry
from sealgate.promotion._request import (
    PromotionRequest,
    identity_problem,
    previous_stage,
    stage_names,
    unverified,
)
from sealgate.promotion._requester import RequesterFacts, RequesterProof, authenticate
from sealgate.sealing._signing_keys import load_signing_private_key
from sealgate.sealing._trust import load_trust


def _builtin_policies() -> tuple[Path, ...]:
    return (builtin_policy_root(),)


@dataclass(frozen=True)
class GateOptions:
    registry: str
    trust: Path
    gate_key: Path
    approvers: Path | None = None
    requesters: Path | None = None  # trust file of the keys that sign promotion requests
    producers: Path | None = None  # trust file of the keys that sign evidence attestations
    # The policy folders to load, in order (data of later folders over earlier ones).
    policies: tuple[Path, ...] = field(default_factory=_builtin_policies)
    engine: str = "embedded"
    opa_url: str | None = None
    opa_push: bool = False
    opa_limits: OpaLimits | None = None  # default OpaLimits()


def open_gate(options: GateOptions, registry: Registry | None = None) -> GateContext:
    policy_set = load_policy_set(list(options.policies))
    if not policy_set.packages_for(PROMOTION_KIND):
        folders = ", ".join(str(p) for p in options.policies)
        raise InputError(f"no loaded policy reads {PROMOTION_KIND!r} inputs (policies: {folders})")
    return GateContext(
        registry=registry or open_registry(options.registry),
        policy_set=policy_set,
        engine=create_engine(
            options.engine,
            policy_set,
            opa_url=options.opa_url,
            push_policies=options.opa_push,
            opa_limits=options.opa_limits,
        ),
        trust=load_trust(options.trust),
        gate_key=load_signing_private_key(options.gate_key),
        approvers=load_trust(options.approvers) if options.approvers else None,
        requesters=load_trust(options.requesters) if options.requesters else None,
        producers=load_trust(options.producers) if options.producers else None,
    )


def _authenticated(
    context: GateContext, request: PromotionRequest, requester: str | RequesterProof
) -> tuple[PromotionRequest, RequesterFacts]:
    """The request under the requester's proven identity (a bare string proves nothing)."""
    proof = RequesterProof(label=requester) if isinstance(requester, str) else requester
    issuers = oidc_issuers(context.policy_set.data)
    return authenticate(proof, request, context.requesters, issuers)


def push(
    context: GateContext,
    sealed_dir: Path,
    requester: str | RequesterProof,
    *,
    before_commit: Callable[[], None] | None = None,
) -> PromotionResult:
    """Verify a local sealed model and, when the policy allows, store it in the first stage."""
    if not sealed_dir.is_dir():
        raise InputError(f"{sealed_dir}: not a directory")
    from sealgate.promotion._facts import model_facts

    model = model_facts(sealed_dir, context.trust)
    name, version = model["name"], model["version"]
    if name is None or version is None:
        # Unverifiable: decide (and record) under the names the header claims, if any.
        name, version = _claimed_name(sealed_dir)
    first = stage_names(context.policy_set.data)[0]
    request, facts = _authenticated(
        context,
        PromotionRequest(
            name, version, sealed_model_digest(sealed_dir), None, first, unverified(None)
        ),
        requester,
    )
    return run_promotion(
        context,
        request,
        action="push",
        approvals=[],
        evidence=[],
        local_model=sealed_dir,
        before_commit=before_commit,
        requester=facts,
    )


def _claimed_name(sealed_dir: Path) -> tuple[str, str]:
    import json

    from sealgate.sealing._envelope import open_envelope
    from sealgate.sealing._header import HEADER_FILE, PAYLOAD_TYPE

    try:
        opened = open_envelope((sealed_dir / HEADER_FILE).read_bytes(), PAYLOAD_TYPE)
        model = json.loads(opened.payload)["model"]
        return str(model["name"]), str(model["version"])
    except Exception:
        raise InputError(
            f"{sealed_dir}: not a sealed model (its header names no model); nothing was pushed"
        ) from None


def promote(
    context: GateContext,
    name: str,
    version: str,
    target: str,
    requester: str | RequesterProof,
    *,
    source: str | None = None,
    digest: str | None = None,
    approvals: list[Path] | None = None,
    evidence: list[Path] | None = None,
    before_commit: Callable[[], None] | None = None,
) -> PromotionResult:
    stages = stage_names(context.policy_set.data)
    if source is None:
        source = previous_stage(stages, target)
    if digest is None:
        digest = source_digest(context.registry, source, name, version)
    request, facts = _authenticated(
        context,
        PromotionRequest(
            name, version, check_digest(digest, "--digest"), source, target, unverified(None)
        ),
        requester,
    )
    return run_promotion(
        context,
        request,
        action="promote",
        approvals=approvals or [],
        evidence=evidence or [],
        before_commit=before_commit,
        requester=facts,
    )


def approve(
    name: str,
    version: str,
    target: str,
    digest: str,
    requester: str,
    key: Path,
    out: Path,
    *,
    source: str | None = None,
    policies: Sequence[Path] | None = None,
) -> PromotionRequest:
    """Sign an approval of exactly this request and write it to ``out`` (never overwritten).

    ``requester`` is the identity the promotion will be requested under (``key:<key id>`` or
    ``oidc:<issuer>#<subject>``): the approval counts only for a request proven by it.

    Without ``source``, the stage before ``target`` in the stage order of ``policies``
    (default: the built-in policies) is the source.
    """
    if source is None:
        roots = list(policies) if policies is not None else list(_builtin_policies())
        stages = stage_names(load_policy_set(roots).data)
        source = previous_stage(stages, target)
        if source is None:
            raise InputError(
                f"--to {target}: no stage comes before it in the stage order "
                f"({', '.join(stages)}); pass --from"
            )
    if requester.startswith("unverified:") or identity_problem(requester):
        raise InputError(
            f"--requester {requester[:80]!r}: a requester identity is key:<key id> "
            "(`sealgate trust show` lists key ids) or oidc:<issuer>#<subject>"
        )
    request = PromotionRequest(
        name, version, check_digest(digest, "--digest"), source, target, requester
    ).check()
    document = create_approval(request, load_signing_private_key(key))
    try:
        with out.open("xb") as handle:
            handle.write(document)
    except FileExistsError:
        raise InputError(f"{out}: already exists; approvals are never overwritten") from None
    except OSError as exc:
        raise InputError(f"{out}: cannot write: {exc.strerror}") from None
    return request
