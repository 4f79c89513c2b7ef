"""The three stacks' plans as the providers would check them before any request.

Each custom resource's inputs against the pinned azure-native (and kubernetes) SDK's input
types, each Azure resource's explicit name against its type's naming rule, each Kubernetes
object against the OpenAPI schema of the cluster version the stack pins, and each URN with
its full chain of parent types as the engine writes it. Every checker is also shown to
reject what the provider would reject.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
from kubernetes_validate.utils import (  # type: ignore[import-untyped]
    ValidationError,
    all_versions,
)
from sealgate.errors import InputError
from sealgate.inputs._pulumi_plan import kubernetes_manifest, plan_inputs
from sealgate.platform._config import load_stack_config
from sealgate.platform._naming import (
    NAME_RULES,
    NESTED_NAME_RULES,
    fit_name,
    name_rule,
    stable_suffix,
)
from sealgate.platform._plan import PROJECT, STACK_TYPE

from tests.infra.conftest import REPO, STACKS
from tests.infra.sdk_inputs import Checked, args_class, input_problems

AZURE = "azure-native:"
KUBERNETES = "kubernetes:"
# Kubernetes object names: an RFC 1123 DNS subdomain (Namespaces and Services: a label).
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def states(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [step["newState"] for step in plan["steps"]]


def sdk_problems(plan: dict[str, Any], checked: Checked) -> list[str]:
    return [
        f"{state['urn']}: {problem}"
        for state in states(plan)
        if state["custom"] and not state["type"].startswith(KUBERNETES)
        for problem in input_problems(state["type"], state["inputs"], checked)
    ]


def name_problems(plan: dict[str, Any], stack: str) -> list[str]:
    """Every Azure resource without an explicit name its type's rule accepts."""
    suffix = stable_suffix(PROJECT, stack)
    problems, seen = [], Counter[tuple[str, ...]]()
    for state in states(plan):
        if not state["type"].startswith(AZURE):
            continue
        urn, rule = state["urn"], NAME_RULES.get(state["type"])
        if rule is None:
            problems.append(f"{urn}: no naming rule for {state['type']}")
            continue
        name = state["inputs"].get(rule.property)
        if not isinstance(name, str):
            autoname = f"{urn.split('::')[-1]}-0123abcd"
            would = rule.problem(autoname) or "a random suffix, different on every new stack"
            problems.append(
                f"{urn}: no explicit {rule.property} (the provider's {autoname!r}: {would})"
            )
            continue
        problem = rule.problem(name)
        if problem:
            problems.append(f"{urn}: {rule.property} {name!r}: {problem} ({rule.doc})")
        if rule.scope == "global" and suffix not in name:
            problems.append(f"{urn}: global name {name!r} lacks the stack's suffix {suffix}")
        where = state.get("parent", "") if rule.scope == "parent" else ""
        seen[(state["type"], where, name.lower())] += 1
        problems += nested_name_problems(state)
    problems += [f"{key[0]} {key[2]!r}: {n} resources" for key, n in seen.items() if n > 1]
    return problems


def nested_name_problems(state: dict[str, Any]) -> list[str]:
    """The names of the sub-resources declared in a resource's inputs."""
    problems = []
    for part, rule in NESTED_NAME_RULES.get(state["type"], {}).items():
        items = state["inputs"].get(part) or []
        names = [item.get("name") for item in items]
        for index, name in enumerate(names):
            problem = rule.problem(name) if isinstance(name, str) else "no name"
            if problem:
                problems.append(f"{state['urn']}: {part}[{index}].name {name!r}: {problem}")
        if len(set(names)) != len(names):
            problems.append(f"{state['urn']}: {part}: two of one name")
    return problems


def kubernetes_problems(plan: dict[str, Any], version: str) -> list[str]:
    problems = []
    for state in states(plan):
        if not state["type"].startswith(KUBERNETES) or state["type"].startswith(
            "kubernetes:providers"
        ):
            continue
        manifest = kubernetes_manifest(state["type"], state["inputs"])
        assert manifest is not None, state["type"]
        try:
            kubernetes_validate.validate(manifest, version, strict=True)
        except ValidationError as exc:
            problems.append(f"{state['urn']}: {'.'.join(map(str, exc.path))}: {exc.message}")
        name = manifest.get("metadata", {}).get("name", "")
        label = manifest["kind"] in ("Namespace", "Service")
        if not (DNS_LABEL if label else DNS_SUBDOMAIN).fullmatch(name) or len(name) > 253:
            problems.append(f"{state['urn']}: metadata.name {name!r} is not a DNS name")
    return problems


def type_chain(urn: str) -> str:
    return urn.split("::")[2]


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_matches_the_sdk_input_types(
    stack: str, plans: dict[str, dict[str, Any]]
) -> None:
    checked = Checked()
    assert sdk_problems(plans[stack], checked) == []
    assert checked.resources >= 80 and checked.values >= 1000, checked


@pytest.mark.parametrize("stack", STACKS)
def test_every_azure_resource_has_a_valid_explicit_name(
    stack: str, plans: dict[str, dict[str, Any]]
) -> None:
    assert name_problems(plans[stack], stack) == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_kubernetes_object_matches_the_pinned_cluster_schema(
    stack: str, plans: dict[str, dict[str, Any]]
) -> None:
    version = load_stack_config(REPO, stack).kubernetes_version
    assert version in {v.rsplit(".", 1)[0] for v in all_versions()}
    objects = [s for s in states(plans[stack]) if s["type"].startswith("kubernetes:apps")]
    assert objects, "no Deployment in the plan"
    assert kubernetes_problems(plans[stack], version) == []


@pytest.mark.parametrize("stack", STACKS)
def test_urns_carry_every_ancestor_type(stack: str, plans: dict[str, dict[str, Any]]) -> None:
    by_urn = {state["urn"]: state for state in states(plans[stack])}
    nested = 0
    for urn, state in by_urn.items():
        parent = state.get("parent", "")
        if type_chain(parent) == STACK_TYPE:
            assert type_chain(urn) == state["type"], urn
        else:
            assert type_chain(urn) == f"{type_chain(parent)}${state['type']}", urn
            nested += type_chain(parent).count("$") > 0
    assert nested > 0, "no resource below a child of a component"
    deployment = (
        f"urn:pulumi:{stack}::sealgate::sealgate:infra:KeyReleaseService"
        "$kubernetes:core/v1:Namespace$kubernetes:apps/v1:Deployment"
        f"::sealgate-{stack}-keyserver-deployment"
    )
    assert deployment in by_urn


def test_a_nested_urn_reads_as_one_resource_of_its_stack(
    plans: dict[str, dict[str, Any]],
) -> None:
    from pathlib import Path

    plan = plans["prod"]
    inputs = plan_inputs("pulumi-plan", plan, {}, Path("prod.json"), "prod.json", 1)
    [vault_key] = [
        i.document
        for i in inputs
        if i.document.get("urn", "").endswith("::sealgate-prod-keys-signing")
    ]
    assert vault_key["name"] == "sealgate-prod-keys-signing"
    assert vault_key["stack"] == "prod"
    assert vault_key["type"] == "azure-native:keyvault:Key"
    assert type_chain(vault_key["urn"]) == (
        "sealgate:infra:KeyStore$azure-native:keyvault:Vault$azure-native:keyvault:Key"
    )


# The checkers reject what the providers reject.


def test_sdk_types_reject_unknown_missing_and_mistyped_inputs(
    plans: dict[str, dict[str, Any]],
) -> None:
    plan = copy.deepcopy(plans["dev"])
    vault = next(s for s in states(plan) if s["type"] == "azure-native:keyvault:Vault")
    props = vault["inputs"]["properties"]
    props["softDeleteRetentionInDays"] = "90"
    props["sku"] = "premium"
    props["networkAcl"] = props.pop("networkAcls")
    del props["tenantId"]
    problems = sdk_problems(plan, Checked())
    assert len(problems) == 4, problems
    assert any(".properties.softDeleteRetentionInDays: expected int" in p for p in problems)
    assert any(".properties.sku: expected an object (SkuArgs)" in p for p in problems)
    assert any(".properties.networkAcl: not an input of VaultPropertiesArgs" in p for p in problems)
    assert any(".properties.tenantId: required by VaultPropertiesArgs" in p for p in problems)


def test_names_left_to_the_provider_fail(plans: dict[str, dict[str, Any]]) -> None:
    """The names the program had before: the provider's logical name + 8 hex characters."""
    plan = copy.deepcopy(plans["staging"])
    for state in states(plan):
        if state["type"] in (
            "azure-native:keyvault:Vault",
            "azure-native:storage:StorageAccount",
        ):
            del state["inputs"][NAME_RULES[state["type"]].property]
        if state["type"] == "azure-native:containerregistry:Registry":
            state["inputs"]["registryName"] = "sealgatestaging"
    problems = name_problems(plan, "staging")
    assert len(problems) == 3, problems
    vault, account = sorted(p for p in problems if "no explicit" in p)
    assert "'sealgate-staging-keys-vault-0123abcd': 36 characters, allowed 3-24" in vault
    assert "'sealgate-staging-storage-account-0123abcd': 41 characters" in account
    assert any("'sealgatestaging' lacks the stack's suffix" in p for p in problems)


def test_names_break_their_rules(plans: dict[str, dict[str, Any]]) -> None:
    plan = copy.deepcopy(plans["dev"])
    renames = {
        "azure-native:keyvault:Vault": "sealgate--dev-" + stable_suffix(PROJECT, "dev"),
        "azure-native:storage:StorageAccount": "Sealgatedev" + stable_suffix(PROJECT, "dev"),
        "azure-native:apimanagement:ApiPolicy": "inference",
        "azure-native:containerservice:ManagedCluster": "aks-",
    }
    for state in states(plan):
        if state["type"] in renames:
            state["inputs"][NAME_RULES[state["type"]].property] = renames[state["type"]]
    problems = name_problems(plan, "dev")
    assert len(problems) == 4, problems
    assert any("consecutive hyphens" in p for p in problems)
    assert any("characters not allowed: 'S'" in p for p in problems)
    assert any("'inference': 9 characters, allowed 6-6" in p for p in problems)
    assert any("'aks-': does not match" in p for p in problems)


def test_sub_resource_names_break_their_rules(plans: dict[str, dict[str, Any]]) -> None:
    plan = copy.deepcopy(plans["dev"])
    cluster = next(
        s for s in states(plan) if s["type"] == "azure-native:containerservice:ManagedCluster"
    )
    cluster["inputs"]["agentPoolProfiles"][0]["name"] = "system-pool"
    gateway = next(
        s for s in states(plan) if s["type"] == "azure-native:network:ApplicationGateway"
    )
    gateway["inputs"]["probes"].append(dict(gateway["inputs"]["probes"][0]))
    problems = name_problems(plan, "dev")
    assert len(problems) == 2, problems
    assert any("agentPoolProfiles[0].name 'system-pool': characters" in p for p in problems)
    assert any("probes: two of one name" in p for p in problems)


def test_two_resources_of_one_name_fail(plans: dict[str, dict[str, Any]]) -> None:
    plan = copy.deepcopy(plans["dev"])
    groups = [s for s in states(plan) if s["type"] == "azure-native:network:NetworkSecurityGroup"]
    groups[1]["inputs"]["networkSecurityGroupName"] = groups[0]["inputs"][
        "networkSecurityGroupName"
    ]
    assert name_problems(plan, "dev") == [
        f"azure-native:network:NetworkSecurityGroup "
        f"{groups[0]['inputs']['networkSecurityGroupName']!r}: 2 resources"
    ]


def test_kubernetes_schema_rejects_wrong_types_and_unknown_fields(
    plans: dict[str, dict[str, Any]],
) -> None:
    plan = copy.deepcopy(plans["prod"])
    deployment = next(s for s in states(plan) if s["type"] == "kubernetes:apps/v1:Deployment")
    deployment["inputs"]["spec"]["replicas"] = "3"
    service = next(s for s in states(plan) if s["type"] == "kubernetes:core/v1:Service")
    service["inputs"]["spec"]["port"] = 8080
    namespace = next(s for s in states(plan) if s["type"] == "kubernetes:core/v1:Namespace")
    namespace["inputs"]["metadata"]["name"] = "Models"
    problems = kubernetes_problems(plan, "1.33")
    assert len(problems) == 3, problems
    assert any("spec.replicas: '3' is not of type 'integer'" in p for p in problems)
    assert any("'port' was unexpected" in p for p in problems)
    assert any("metadata.name 'Models' is not a DNS name" in p for p in problems)


# The naming rules themselves.


@pytest.mark.parametrize("type_token", sorted(NAME_RULES))
def test_each_rule_names_an_input_of_its_resource(type_token: str) -> None:
    from pulumi import _types as pulumi_types

    rule = NAME_RULES[type_token]
    assert rule.property in pulumi_types.input_type_types(args_class(type_token))
    assert rule.min_length <= rule.max_length
    assert rule.doc.startswith("https://learn.microsoft.com/")


def test_the_suffix_is_stable_and_differs_per_stack_and_subscription() -> None:
    assert stable_suffix("sealgate", "prod") == stable_suffix("sealgate", "prod")
    assert re.fullmatch("[0-9a-f]{6}", stable_suffix("sealgate", "prod"))
    suffixes = {
        stable_suffix("sealgate", "prod"),
        stable_suffix("sealgate", "dev"),
        stable_suffix("other", "prod"),
        stable_suffix("sealgate", "prod", "11111111-1111-1111-1111-111111111111"),
    }
    assert len(suffixes) == 4


def test_fitting_drops_what_the_type_refuses() -> None:
    vault = name_rule("azure-native:keyvault:Vault")
    assert fit_name(vault, "sealgate-staging-keys-vault", "abc123") == "sealgate-staging-abc123"
    assert fit_name(vault, "Sealgate--x", "abc123") == "Sealgate-x-abc123"
    account = name_rule("azure-native:storage:StorageAccount")
    assert fit_name(account, "Sealgate-Prod_Storage", "abc123") == "sealgateprodstoragabc123"
    assert fit_name(account, "sealgate-prod", "abc123") == "sealgateprodabc123"
    role = name_rule("azure-native:authorization:RoleAssignment")
    assert fit_name(role, "x", "abc123") == fit_name(role, "x", "abc123")
    assert fit_name(role, "x", "abc123") != fit_name(role, "y", "abc123")


def test_a_name_that_cannot_fit_is_an_input_error() -> None:
    with pytest.raises(InputError, match="within Azure's rules"):
        fit_name(name_rule("azure-native:apimanagement:ApiPolicy"), "inference", "abc123")
    with pytest.raises(InputError, match="within Azure's rules"):
        fit_name(name_rule("azure-native:containerregistry:Registry"), "---", "")
    with pytest.raises(InputError, match="no Azure naming rule"):
        name_rule("azure-native:web:WebApp")
