"""Pulumi previews and offline plans as policy inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sealgate.errors import InputError
from sealgate.inputs._pulumi_plan import kubernetes_manifest, parse_pulumi_plan

STACK = "urn:pulumi:prod::sealgate::pulumi:pulumi:Stack::sealgate-prod"
VAULT = "urn:pulumi:prod::sealgate::azure-native:keyvault:Vault::vault"
DEPLOYMENT = "urn:pulumi:prod::sealgate::kubernetes:apps/v1:Deployment::server"

PREVIEW = {
    "config": {},
    "steps": [
        {
            "op": "create",
            "urn": VAULT,
            "newState": {
                "urn": VAULT,
                "type": "azure-native:keyvault:Vault",
                "custom": True,
                "parent": STACK,
                "inputs": {"properties": {"enablePurgeProtection": True}},
            },
        },
        {
            "op": "delete",
            "urn": "urn:pulumi:prod::sealgate::azure-native:keyvault:Key::old",
            "oldState": {
                "urn": "urn:pulumi:prod::sealgate::azure-native:keyvault:Key::old",
                "type": "azure-native:keyvault:Key",
                "parent": STACK,
                "inputs": {"keyName": "old"},
            },
        },
        {
            "op": "same",
            "urn": DEPLOYMENT,
            "newState": {
                "urn": DEPLOYMENT,
                "type": "kubernetes:apps/v1:Deployment",
                "parent": STACK,
                "inputs": {
                    "metadata": {"name": "server", "namespace": "models"},
                    "spec": {"replicas": 2},
                },
            },
        },
    ],
}


def write(tmp_path: Path, plan: object) -> Path:
    path = tmp_path / "preview.json"
    path.write_text(json.dumps(plan, indent=2))
    return path


def test_one_input_per_resource_plus_the_plan(tmp_path: Path) -> None:
    inputs = parse_pulumi_plan("pulumi-plan", write(tmp_path, PREVIEW))
    kinds = [(i.kind, i.document.get("type")) for i in inputs]
    assert kinds == [
        ("pulumi-plan", "pulumi:plan"),
        ("pulumi-plan", "azure-native:keyvault:Vault"),
        ("pulumi-plan", "kubernetes:apps/v1:Deployment"),
        ("kubernetes", None),
    ]
    plan, vault, _, manifest = inputs
    assert [r["urn"] for r in plan.document["resources"]] == [VAULT, DEPLOYMENT]
    assert [r["name"] for r in plan.document["deleted"]] == ["old"]
    assert plan.document["stack"] == "prod"
    assert vault.document == {
        "type": "azure-native:keyvault:Vault",
        "urn": VAULT,
        "name": "vault",
        "parent": STACK,
        "stack": "prod",
        "custom": True,
        "inputs": {"properties": {"enablePurgeProtection": True}},
    }
    assert vault.target.endswith(f"#{VAULT}")
    assert manifest.document == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "server", "namespace": "models"},
        "spec": {"replicas": 2},
    }
    assert manifest.target.endswith("#Deployment/models/server")


def test_lines_point_into_the_plan_file(tmp_path: Path) -> None:
    path = write(tmp_path, PREVIEW)
    lines = path.read_text().splitlines()
    _, vault, _, manifest = parse_pulumi_plan("pulumi-plan", path)
    line = vault.locate(["inputs", "properties", "enablePurgeProtection"])
    assert '"enablePurgeProtection": true' in lines[line - 1]
    assert '"replicas": 2' in lines[manifest.locate(["spec", "replicas"]) - 1]


def test_core_group_and_declared_api_version() -> None:
    assert kubernetes_manifest("kubernetes:core/v1:Namespace", {})["apiVersion"] == "v1"
    assert (
        kubernetes_manifest("kubernetes:apps/v1:Deployment", {"apiVersion": "apps/v1beta1"})[
            "apiVersion"
        ]
        == "apps/v1beta1"
    )


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ([], "one JSON object with `steps`"),
        ({"resources": []}, "needs a `steps` list"),
        ({"steps": [{"newState": {"type": "x"}}]}, "needs `urn` and `type`"),
        ({"steps": [{"newState": {"urn": "vault", "type": "x"}}]}, "not a Pulumi URN"),
        ({"steps": [{"newState": {"urn": VAULT, "type": "x", "inputs": []}}]}, "is not an object"),
        (
            {
                "steps": [
                    {"newState": {"urn": VAULT, "type": "x"}},
                    {"newState": {"urn": VAULT.replace("prod", "dev"), "type": "x"}},
                ]
            },
            "resources of several stacks",
        ),
    ],
)
def test_malformed_plans_are_input_errors(tmp_path: Path, plan: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_pulumi_plan("pulumi-plan", write(tmp_path, plan))
