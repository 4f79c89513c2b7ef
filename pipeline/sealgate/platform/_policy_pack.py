"""The CrossGuard policy pack: the same Rego policies, evaluated by ``pulumi preview``.

``policies/pack/__main__.py`` builds the pack from here, so ``pulumi preview --policy-pack
policies/pack`` enforces exactly what ``sealgate check --preview`` enforces. Each resource
is turned into the document the ``pulumi-plan`` parser makes (and, for Kubernetes objects,
into a manifest for the container policies); the whole stack into the plan summary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from sealgate.inputs._kubernetes import KUBERNETES_KIND
from sealgate.inputs._model import PolicyInput
from sealgate.inputs._pulumi_plan import (
    KUBERNETES_TYPE_PREFIX,
    PULUMI_PLAN_KIND,
    kubernetes_manifest,
    normalize_inputs,
    plan_document,
)
from sealgate.policy import builtin_policy_root
from sealgate.policy._decision import Finding
from sealgate.policy._engine import create_engine
from sealgate.policy._evaluate import evaluate_input
from sealgate.policy._loader import load_policy_set

PACK_NAME = "sealgate"
DEFAULT_POLICIES = builtin_policy_root()
ReportViolation = Callable[..., None]


@cache
def _evaluator(policies: Path) -> Callable[[PolicyInput], list[Finding]]:
    policy_set = load_policy_set([policies])
    engine = create_engine("embedded", policy_set)
    return lambda policy_input: evaluate_input(policy_set, engine, policy_input)


def _stack(urn: str) -> str:
    return urn.split("::")[0].removeprefix("urn:pulumi:")


def resource_document(
    resource_type: str, urn: str, name: str, parent: str | None, props: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "type": resource_type,
        "urn": urn,
        "name": name,
        "parent": parent or "",
        "stack": _stack(urn),
        "custom": True,
        "inputs": normalize_inputs(resource_type, _plain(props)),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # unknowns and secrets: never equal to a hardened value


def findings_for_resource(
    document: dict[str, Any], policies: Path = DEFAULT_POLICIES
) -> list[Finding]:
    evaluate = _evaluator(policies)
    target = document["urn"]
    findings = evaluate(PolicyInput(PULUMI_PLAN_KIND, target, target, document))
    if document["type"].startswith(KUBERNETES_TYPE_PREFIX) and not document["type"].startswith(
        "kubernetes:providers"
    ):
        manifest = kubernetes_manifest(document["type"], document["inputs"])
        if manifest is not None:
            findings += evaluate(PolicyInput(KUBERNETES_KIND, target, target, manifest))
    return findings


def findings_for_stack(
    resources: Iterable[dict[str, Any]], policies: Path = DEFAULT_POLICIES
) -> list[Finding]:
    documents = list(resources)
    stack = documents[0]["stack"] if documents else ""
    summary = plan_document(stack, documents)
    urn = summary["urn"]
    return _evaluator(policies)(PolicyInput(PULUMI_PLAN_KIND, urn, "", summary))


def _message(finding: Finding) -> str:
    where = ".".join(str(p) for p in finding.path)
    return f"{finding.rule_id} [{finding.severity.value}] {finding.message}" + (
        f" (at {where})" if where else ""
    )


def validate_resource(
    args: Any, report_violation: ReportViolation, policies: Path = DEFAULT_POLICIES
) -> None:
    """ResourceValidationPolicy callback: every finding is a violation of this resource."""
    document = resource_document(
        args.resource_type, args.urn, args.name, getattr(args.opts, "parent", None), args.props
    )
    for finding in findings_for_resource(document, policies):
        report_violation(_message(finding), args.urn)


def validate_stack(
    args: Any, report_violation: ReportViolation, policies: Path = DEFAULT_POLICIES
) -> None:
    """StackValidationPolicy callback: the rules that span resources (endpoints, diagnostics...)."""
    documents = [
        resource_document(
            r.resource_type, r.urn, r.name, r.parent.urn if r.parent is not None else None, r.props
        )
        for r in args.resources
    ]
    for finding in findings_for_stack(documents, policies):
        report_violation(_message(finding), None)


def pack_policies(policies: Path = DEFAULT_POLICIES) -> list[Any]:
    """The pack's two policies: per resource, and over the whole stack."""
    from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

    return [
        ResourceValidationPolicy(
            name="sealgate-resource-rules",
            description="Every resource against sealgate's infrastructure and container Rego policies.",
            validate=lambda args, report: validate_resource(args, report, policies),
        ),
        StackValidationPolicy(
            name="sealgate-stack-rules",
            description="Rules that span resources: private endpoints, diagnostic settings, alerts, node pools, network policies.",
            validate=lambda args, report: validate_stack(args, report, policies),
        ),
    ]


def build_pack(policies: Path = DEFAULT_POLICIES) -> Any:
    """Build and serve the pack (the constructor serves the engine's gRPC calls until exit)."""
    from pulumi_policy import EnforcementLevel, PolicyPack

    return PolicyPack(
        name=PACK_NAME,
        enforcement_level=EnforcementLevel.MANDATORY,
        policies=pack_policies(policies),
    )
