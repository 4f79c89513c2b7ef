"""The plans of every stack pass the gate with no waiver; weakened copies are denied."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sealgate.inputs._kinds import parse_file
from sealgate.policy._engine import create_engine
from sealgate.policy._gate import run_gate
from sealgate.policy._loader import load_policy_set

from tests.infra.conftest import REPO, STACKS


@pytest.fixture(scope="module")
def gate() -> Callable[[Path], Any]:
    policy_set = load_policy_set([REPO / "policies"])
    engine = create_engine("embedded", policy_set)

    def run(path: Path) -> Any:
        return run_gate(policy_set, engine, parse_file("pulumi-plan", path), waivers_file=None)

    return run


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_passes_with_zero_waivers(
    stack: str, plan_files: dict[str, Path], gate: Callable[[Path], Any]
) -> None:
    result = gate(plan_files[stack])
    assert [f"{f.rule_id} {f.target} {f.message}" for f in result.findings] == []
    assert result.passed and result.input_errors == 0
    packages = {check.package for check in result.checks}
    assert {"sealgate.infra.aks", "sealgate.infra.network", "sealgate.infra.workloads"} <= packages
    # The Kubernetes objects of the plan went through the container rules too.
    assert {
        "sealgate.containers.k8s_restricted",
        "sealgate.containers.k8s_model_server",
    } <= packages


def _edit(
    type_token: str, change: Callable[[dict[str, Any]], Any]
) -> Callable[[dict[str, Any]], None]:
    def apply(plan: dict[str, Any]) -> None:
        for step in plan["steps"]:
            if step["newState"]["type"] == type_token:
                change(step["newState"]["inputs"])

    return apply


def _drop(type_token: str) -> Callable[[dict[str, Any]], None]:
    def apply(plan: dict[str, Any]) -> None:
        plan["steps"] = [s for s in plan["steps"] if s["newState"]["type"] != type_token]

    return apply


def _set(*path_and_value: Any) -> Callable[[dict[str, Any]], None]:
    *path, value = path_and_value

    def change(inputs: dict[str, Any]) -> None:
        for key in path[:-1]:
            inputs = inputs[key]
        if value is _UNSET:
            inputs.pop(path[-1], None)
        else:
            inputs[path[-1]] = value

    return change


_UNSET = object()
WEAKENINGS = {
    "vault public access on": (
        _edit("azure-native:keyvault:Vault", _set("properties", "publicNetworkAccess", "Enabled")),
        "SG-AZ-004",
    ),
    "purge protection off": (
        _edit("azure-native:keyvault:Vault", _set("properties", "enablePurgeProtection", _UNSET)),
        "SG-AZ-003",
    ),
    "software key": (
        _edit("azure-native:keyvault:Key", _set("properties", "kty", "RSA")),
        "SG-AZ-005",
    ),
    "storage shared keys on": (
        _edit("azure-native:storage:StorageAccount", _set("allowSharedKeyAccess", True)),
        "SG-AZ-010",
    ),
    "storage without CMK": (
        _edit(
            "azure-native:storage:StorageAccount",
            _set("encryption", "keySource", "Microsoft.Storage"),
        ),
        "SG-AZ-014",
    ),
    "registry admin user on": (
        _edit("azure-native:containerregistry:Registry", _set("adminUserEnabled", True)),
        "SG-AZ-021",
    ),
    "registry public": (
        _edit("azure-native:containerregistry:Registry", _set("publicNetworkAccess", "Enabled")),
        "SG-AZ-022",
    ),
    "public API server": (
        _edit(
            "azure-native:containerservice:ManagedCluster",
            _set("apiServerAccessProfile", "enablePrivateCluster", False),
        ),
        "SG-AZ-030",
    ),
    "no sandboxed pool": (_drop("azure-native:containerservice:AgentPool"), "SG-AZ-038"),
    "WAF in detection mode": (
        _edit(
            "azure-native:network:WebApplicationFirewallPolicy",
            _set("policySettings", "mode", "Detection"),
        ),
        "SG-AZ-040",
    ),
    "APIM outside the VNet (private endpoint design)": (
        _edit(
            "azure-native:apimanagement:ApiManagementService",
            _set("virtualNetworkType", "None"),
        ),
        "SG-AZ-050",
    ),
    "APIM in External mode": (
        _edit(
            "azure-native:apimanagement:ApiManagementService",
            _set("virtualNetworkType", "External"),
        ),
        "SG-AZ-050",
    ),
    "APIM without validate-jwt": (
        _edit(
            "azure-native:apimanagement:ApiPolicy",
            lambda i: i.update(
                value=re.sub(r"<validate-jwt.*?</validate-jwt>", "", i["value"], flags=re.S)
            ),
        ),
        "SG-AZ-051",
    ),
    "APIM validate-jwt commented out": (
        _edit(
            "azure-native:apimanagement:ApiPolicy",
            lambda i: i.update(
                value=re.sub(
                    r"(<validate-jwt.*?</validate-jwt>)", r"<!-- \1 -->", i["value"], flags=re.S
                )
            ),
        ),
        "SG-AZ-051",
    ),
    "no API policy": (_drop("azure-native:apimanagement:ApiPolicy"), "SG-AZ-051"),
    "no WORM policies": (
        _drop("azure-native:storage:BlobContainerImmutabilityPolicy"),
        "SG-AZ-016",
    ),
    "no DNS zone groups": (_drop("azure-native:network:PrivateDnsZoneGroup"), "SG-AZ-063"),
    "no role assignments": (_drop("azure-native:authorization:RoleAssignment"), "SG-AZ-008"),
    "no private endpoints": (_drop("azure-native:network:PrivateEndpoint"), "SG-AZ-060"),
    "no diagnostic settings": (_drop("azure-native:monitor:DiagnosticSetting"), "SG-AZ-070"),
    "IoT Hub local auth on": (
        _edit("azure-native:iothub:IotHubResource", _set("properties", "disableLocalAuth", False)),
        "SG-AZ-080",
    ),
    "namespace not restricted": (
        _edit("kubernetes:core/v1:Namespace", _set("metadata", "labels", {})),
        "SG-AZ-090",
    ),
    "model server not in Kata": (
        _edit(
            "kubernetes:apps/v1:Deployment",
            _set("spec", "template", "spec", "runtimeClassName", _UNSET),
        ),
        "SG-K8S-030",
    ),
    "model on disk": (
        _edit(
            "kubernetes:apps/v1:Deployment",
            lambda i: i["spec"]["template"]["spec"]["volumes"][0].update(emptyDir={}),
        ),
        "SG-K8S-031",
    ),
}


@pytest.mark.parametrize("weakening", sorted(WEAKENINGS))
def test_weakened_component_is_denied_with_its_rule(
    weakening: str, plans: dict[str, dict[str, Any]], gate: Callable[[Path], Any], tmp_path: Path
) -> None:
    apply, rule_id = WEAKENINGS[weakening]
    plan = copy.deepcopy(plans["prod"])
    apply(plan)
    path = tmp_path / "weakened.json"
    path.write_text(json.dumps(plan, indent=2))
    result = gate(path)
    assert not result.passed
    assert {f.rule_id for f in result.findings} == {rule_id}
    # Findings point at the resource's line, those of stack-level rules at the resource that
    # lacks what the rule requires (a plan without any sandboxed pool: at the plan).
    assert all(f.line > 1 for f in result.findings if f.rule_id != "SG-AZ-038")


def _sealgate(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sealgate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_plan_and_check(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    done = _sealgate("plan", "--stack", "dev", "--out", str(out))
    assert done.returncode == 0, done.stderr
    # Resources are recorded as the mock runtime registers them (thread timing decides the
    # order), so the plan is checked for its content, not for which step comes first.
    types = [step["newState"]["type"] for step in json.loads(out.read_text())["steps"]]
    assert types.count("azure-native:resources:ResourceGroup") == 1
    checked = _sealgate("check", "--preview", str(out), "--format", "json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    plan = json.loads(out.read_text())
    for step in plan["steps"]:
        if step["newState"]["type"] == "azure-native:network:WebApplicationFirewallPolicy":
            step["newState"]["inputs"]["policySettings"]["mode"] = "Detection"
    out.write_text(json.dumps(plan))
    denied = _sealgate("check", "--preview", str(out))
    assert denied.returncode == 1
    assert "SG-AZ-040" in denied.stdout


def test_cli_plan_bad_config_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.qa.yaml").write_text("config:\n  sealgate:environment: qa\n")
    done = _sealgate(
        "plan", "--stack", "qa", "--project-dir", str(tmp_path), "--out", str(tmp_path / "p.json")
    )
    assert done.returncode == 2
    assert "sealgate:environment: 'qa' must be one of dev, staging, prod" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "p.json").exists()
