"""The unseal policy: asked with verified facts before any data key is unwrapped.

Facts: the verified model (name, version, digest of seal.json, signer), the environment, the
consumer as its identity establishes it (token claims of a workload, the TPM key of a
device), a TPM quote verified here with a fresh nonce, and the registry stages where this
exact digest is the current pointer. The decision (allow or deny, every reason) is logged as
one JSON line; a deny raises ``DeniedError`` so nothing is unwrapped. Any failure to gather
a fact is a denial too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypedDict

from sealgate.errors import DeniedError, InputError, SealgateError, VerificationError
from sealgate.inputs._model import PolicyInput
from sealgate.policy._engine import DecisionEngine
from sealgate.policy._evaluate import evaluate_input
from sealgate.policy._loader import PolicySet
from sealgate.policy._opa_limits import OpaLimits
from sealgate.policy._revision import policy_revision
from sealgate.runtime._unseal import UnsealRequest
from sealgate.sealing.recipients import Identity, requires_unseal_policy

UNSEAL_KIND = "unseal"


class StagePointer(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def digest(self) -> str: ...


class Registry(Protocol):
    """What the unseal policy needs of the promotion registry."""

    def current(self, stage: str, name: str) -> StagePointer | None: ...


class RegistryFacts(TypedDict):
    checked: bool  # False: no registry was given, so no stage could be confirmed
    stages: list[str]  # the stages whose current pointer is this exact digest


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reasons: tuple[str, ...]
    document: dict[str, Any]
    revision: str


def _unseal_config(policy_set: PolicySet) -> dict[str, Any]:
    config = policy_set.data.get("config", {}).get("unseal")
    if not isinstance(config, dict):
        raise InputError("no unseal policy data (policies/data/unseal.yaml): cannot decide")
    return config


def _stages(config: dict[str, Any]) -> list[str]:
    environments = config.get("environments")
    if not isinstance(environments, dict):
        return []
    return sorted(
        {e["stage"] for e in environments.values() if isinstance(e, dict) and "stage" in e}
    )


def _attested_pcrs(config: dict[str, Any]) -> list[int]:
    pcrs = (config.get("attestation") or {}).get("pcrs")
    if not isinstance(pcrs, list) or not pcrs or not all(isinstance(p, int) for p in pcrs):
        raise InputError("policies/data/unseal.yaml: attestation.pcrs must list PCR indexes")
    return pcrs


def registry_facts(
    registry: Registry | None, stages: Sequence[str], name: str, digest: str
) -> RegistryFacts:
    if registry is None:
        return {"checked": False, "stages": []}
    current: list[str] = []
    for stage in stages:
        try:
            pointer = registry.current(stage, name)
        except VerificationError:
            continue  # an unsigned, forged or rolled-back pointer confirms no stage
        if pointer is not None and pointer.digest == digest:
            current.append(stage)
    return {"checked": True, "stages": current}


class UnsealData:
    """What the unseal policy's data says besides grants: stages, attested PCRs."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def stages(self) -> list[str]:
        return _stages(self.config)

    def stage_for(self, environment: str) -> str | None:
        entry = (self.config.get("environments") or {}).get(environment)
        stage = entry.get("stage") if isinstance(entry, dict) else None
        return stage if isinstance(stage, str) else None

    def attested_pcrs(self) -> list[int]:
        return _attested_pcrs(self.config)

    def pcr_bank(self) -> str:
        bank = (self.config.get("attestation") or {}).get("pcr_bank", "sha256")
        return bank if isinstance(bank, str) else "sha256"


class UnsealPolicy(UnsealData):
    """The unseal policy and its data: decides on a facts document (used by the release
    service, and in-process for development identities)."""

    def __init__(self, policy_set: PolicySet, engine: DecisionEngine) -> None:
        if not policy_set.packages_for(UNSEAL_KIND):
            raise InputError("no loaded policy reads unseal requests (policies/sealgate/unseal/)")
        super().__init__(_unseal_config(policy_set))
        self.policy_set = policy_set
        self.engine = engine

    @property
    def revision(self) -> str:
        return policy_revision(self.policy_set)

    def decide(self, document: dict[str, Any]) -> Decision:
        model = document.get("model") or {}
        target = f"unseal/{model.get('name')}@{model.get('version')}"
        findings = evaluate_input(
            self.policy_set,
            self.engine,
            PolicyInput(UNSEAL_KIND, target, target, document),
        )
        reasons = tuple(sorted(f"{f.rule_id}: {f.message}" for f in findings))
        return Decision(not reasons, reasons, document, self.revision)


class UnsealAuthorizer:
    """The ``authorize`` hook of ``unseal_model``: evaluates the unseal policy, logs, denies."""

    def __init__(
        self,
        policy_set: PolicySet,
        engine: DecisionEngine,
        *,
        identities: Sequence[Identity],
        environment: str,
        registry: Registry | None,
        log: Callable[[str], None],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._policy = UnsealPolicy(policy_set, engine)
        self._policy_set = policy_set
        self._identities = identities
        self._environment = environment
        self._registry = registry
        self._log = log
        self._now = now
        self._config = self._policy.config
        self.decision: Decision | None = None

    def _identity_for(self, request: UnsealRequest) -> Identity:
        for identity in self._identities:
            if identity.type_name == request.recipient_type and (
                identity.key_id == request.recipient_key_id
            ):
                return identity
        raise DeniedError("the unwrapping identity is not among the given identities")

    def facts(self, request: UnsealRequest) -> dict[str, Any]:
        identity = self._identity_for(request)
        consumer = identity.consumer()
        attestation = None
        if consumer.get("type") == "device":
            attestation = identity.attestation(_attested_pcrs(self._config))
        return {
            "model": {
                "name": request.model_name,
                "version": request.model_version,
                "digest": request.digest,
                "signer": {"name": request.signer_name, "key_id": request.signer_key_id},
            },
            "environment": self._environment,
            "consumer": consumer,
            "attestation": attestation,
            "registry": registry_facts(
                self._registry, _stages(self._config), request.model_name, request.digest
            ),
        }

    def decide(self, document: dict[str, Any]) -> Decision:
        return self._policy.decide(document)

    def __call__(self, request: UnsealRequest) -> None:
        try:
            document = self.facts(request)
            decision = self.decide(document)
        except SealgateError as exc:
            # A fact that cannot be established (a TPM that does not answer, a token that
            # cannot be had, a registry that fails) is a denial, and is logged like one.
            document = {
                "model": {
                    "name": request.model_name,
                    "version": request.model_version,
                    "digest": request.digest,
                },
                "environment": self._environment,
            }
            reason = f"cannot establish the facts: {exc}"
            decision = Decision(False, (reason,), document, policy_revision(self._policy_set))
        self.decision = decision
        self._log(self._log_line(decision))
        if not decision.allowed:
            raise DeniedError(
                f"unseal of {request.model_name} {request.model_version} in "
                f"{self._environment} denied by policy: " + "; ".join(decision.reasons)
            )

    def _log_line(self, decision: Decision) -> str:
        document = decision.document
        record = {
            "time": self._now().isoformat(timespec="seconds").replace("+00:00", "Z"),
            "event": "unseal.decision",
            "decision": "allow" if decision.allowed else "deny",
            "model": document.get("model"),
            "environment": self._environment,
            "consumer": document.get("consumer"),
            "attestation": document.get("attestation"),
            "registry": document.get("registry"),
            "reasons": list(decision.reasons),
            "policy_revision": decision.revision,
        }
        return json.dumps(record, sort_keys=True, default=str)


def build_authorizer(
    identities: Sequence[Identity],
    *,
    environment: str | None,
    registry_url: str | None,
    policies: Sequence[Path],
    engine: str,
    opa_url: str | None,
    opa_push: bool,
    log: Callable[[str], None],
    opa_limits: OpaLimits | None = None,
) -> UnsealAuthorizer | None:
    """The authorizer for ``sealgate unseal``; ``None`` only without --environment and when
    every identity's recipient type opts out of the policy (``local`` development keys).

    ``policies``: the policy folders to load, in order (the built-in ones first, for the CLI).
    """
    from sealgate.policy._engine import create_engine
    from sealgate.policy._loader import load_policy_set

    if environment is None:
        # Each recipient type says whether its identities need the policy; only a type that
        # opts out (local development keys) may unseal without one.
        needing = sorted({i.type_name for i in identities if requires_unseal_policy(i.type_name)})
        if needing:
            raise InputError(
                f"{', '.join(needing)} identities unseal only after the unseal policy allows it: "
                "pass --environment ENV (and --registry URL)"
            )
        return None
    policy_set = load_policy_set(list(policies))
    registry: Registry | None = None
    if registry_url:
        from sealgate.promotion import open_registry
        from sealgate.promotion._pointers import gate_keys_from_environment
        from sealgate.promotion._verified_pointers import VerifiedPointers

        # Only gate-signed pointers (SEALGATE_GATE_PUB) that are the latest allow count.
        registry = VerifiedPointers(open_registry(registry_url), gate_keys_from_environment())
    return UnsealAuthorizer(
        policy_set,
        create_engine(
            engine, policy_set, opa_url=opa_url, push_policies=opa_push, opa_limits=opa_limits
        ),
        identities=identities,
        environment=environment,
        registry=registry,
        log=log,
    )
