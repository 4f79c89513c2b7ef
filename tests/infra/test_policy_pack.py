"""The CrossGuard pack's validate functions, called as the Pulumi engine calls them."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from sealgate.platform._policy_pack import pack_policies

from tests.infra.conftest import REPO


def options(parent: str | None) -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], parent)


def states(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [step["newState"] for step in plan["steps"]]


def resource_args(state: dict[str, Any]) -> ResourceValidationArgs:
    name = state["urn"].split("::")[-1]
    return ResourceValidationArgs(
        state["type"], state["inputs"], state["urn"], name, options(state.get("parent")), None
    )


@pytest.fixture(scope="module")
def policies() -> list[Any]:
    return pack_policies(REPO / "policies")


def run_resource(policies: list[Any], state: dict[str, Any]) -> list[tuple[str, str | None]]:
    violations: list[tuple[str, str | None]] = []
    policies[0].validate(
        resource_args(state), lambda message, urn=None: violations.append((message, urn))
    )
    return violations


def test_hardened_resources_have_no_violation(policies: list[Any], plans: dict[str, Any]) -> None:
    for state in states(plans["prod"]):
        assert run_resource(policies, state) == [], state["urn"]


def test_weakened_vault_is_a_violation_with_rule_id(
    policies: list[Any], plans: dict[str, Any]
) -> None:
    vault = next(s for s in states(plans["prod"]) if s["type"] == "azure-native:keyvault:Vault")
    weak = copy.deepcopy(vault)
    weak["inputs"]["properties"]["enablePurgeProtection"] = False
    [(message, urn)] = run_resource(policies, weak)
    assert message.startswith("SG-AZ-003 [critical] purge protection is not enabled")
    assert urn == vault["urn"]


def test_kubernetes_resources_go_through_the_container_rules(
    policies: list[Any], plans: dict[str, Any]
) -> None:
    deployment = next(
        s
        for s in states(plans["prod"])
        if s["type"] == "kubernetes:apps/v1:Deployment"
        and s["inputs"]["metadata"]["name"] == "model-server"
    )
    weak = copy.deepcopy(deployment)
    weak["inputs"]["spec"]["template"]["spec"]["runtimeClassName"] = "runc"
    assert [m.split(" ")[0] for m, _ in run_resource(policies, weak)] == ["SG-K8S-030"]


def stack_args(plan_states: list[dict[str, Any]]) -> StackValidationArgs:
    resources: dict[str, PolicyResource] = {}
    for state in plan_states:
        parent = resources.get(state.get("parent", ""))
        name = state["urn"].split("::")[-1]
        resources[state["urn"]] = PolicyResource(
            state["type"],
            state["inputs"],
            state["urn"],
            name,
            options(state.get("parent")),
            None,
            parent,
            [],
            {},
        )
    return StackValidationArgs(list(resources.values()))


def run_stack(policies: list[Any], plan_states: list[dict[str, Any]]) -> list[str]:
    violations: list[str] = []
    policies[1].validate(
        stack_args(plan_states), lambda message, urn=None: violations.append(message)
    )
    return violations


def test_stack_rules(policies: list[Any], plans: dict[str, Any]) -> None:
    plan_states = states(plans["staging"])
    assert run_stack(policies, plan_states) == []
    without_endpoints = [
        s for s in plan_states if s["type"] != "azure-native:network:PrivateEndpoint"
    ]
    ids = {message.split(" ")[0] for message in run_stack(policies, without_endpoints)}
    assert ids == {"SG-AZ-060"}
    without_pool = [
        s for s in plan_states if s["type"] != "azure-native:containerservice:AgentPool"
    ]
    assert [m.split(" ")[0] for m in run_stack(policies, without_pool)] == ["SG-AZ-038"]
