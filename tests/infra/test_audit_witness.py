"""The audit head witness as every stack's plan declares it: a separate container under a
time-based WORM policy, written by the key release service and the gate only, never deleted."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sealgate.platform._keyserver import BLOB_DATA_CONTRIBUTOR
from sealgate.platform._plan import principal_id
from sealgate.platform._storage import WITNESS_CONTAINER, witness_writer_condition

from tests.infra.conftest import STACKS, resources

ROLE = "azure-native:authorization:RoleAssignment"
WORM = "azure-native:storage:BlobContainerImmutabilityPolicy"
_BLOB = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
# Built-in roles that can write or delete blobs (Owner and Contributor hold no data actions).
BLOB_WRITERS = {
    BLOB_DATA_CONTRIBUTOR,
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",  # Storage Blob Data Owner
}


def state(plan: dict[str, Any], type_token: str, suffix: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        step["newState"]
        for step in plan["steps"]
        if step["newState"]["type"] == type_token and step["newState"]["urn"].endswith(suffix)
    ]
    assert len(found) == 1, f"{len(found)} resources {type_token} ...{suffix}"
    return found[0]


def witness_scope(plan: dict[str, Any], stack: str) -> str:
    [container] = [
        c
        for c in resources(plan, "azure-native:storage:BlobContainer")
        if c["containerName"] == WITNESS_CONTAINER
    ]
    return (
        f"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
        f"{container['resourceGroupName']}/providers/Microsoft.Storage/storageAccounts/"
        f"{container['accountName']}/blobServices/default/containers/{WITNESS_CONTAINER}"
    )


def writers(plan: dict[str, Any], scope: str) -> list[dict[str, Any]]:
    """Role assignments that can write to the container: at it, or at any scope above it."""
    return [
        grant
        for grant in resources(plan, ROLE)
        if str(grant["roleDefinitionId"]).rsplit("/", 1)[-1] in BLOB_WRITERS
        and (scope == grant["scope"] or scope.startswith(str(grant["scope"]).rstrip("/") + "/"))
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_the_witness_container_is_under_a_time_based_worm_policy(
    stack: str, plans: dict[str, dict[str, Any]]
) -> None:
    plan = plans[stack]
    container = state(plan, "azure-native:storage:BlobContainer", "-storage-witness")
    assert container["inputs"]["containerName"] == WITNESS_CONTAINER
    assert container["inputs"]["publicAccess"] == "None"
    # Container-level WORM: with version-level immutability an overwrite would succeed as a
    # new current version; here it is refused.
    assert "immutableStorageWithVersioning" not in container["inputs"]
    worm = state(plan, WORM, "-storage-witness-worm")
    assert worm["parent"] == container["urn"]
    assert worm["inputs"]["containerName"] == WITNESS_CONTAINER
    audit_days = int(plan["config"]["sealgate:audit_retention_days"])
    assert worm["inputs"]["immutabilityPeriodSinceCreationInDays"] == audit_days
    # Heads are written whole and once: no further blocks may be committed to one.
    assert worm["inputs"]["allowProtectedAppendWrites"] is False
    assert worm["inputs"]["allowProtectedAppendWritesAll"] is False


@pytest.mark.parametrize("stack", STACKS)
def test_only_the_key_release_service_and_the_gate_write_heads(
    stack: str, plans: dict[str, dict[str, Any]]
) -> None:
    plan = plans[stack]
    scope = witness_scope(plan, stack)
    grants = writers(plan, scope)
    assert {g["principalId"] for g in grants} == {
        principal_id(f"sealgate-{stack}-keyserver-identity"),
        principal_id(f"sealgate-{stack}-gate-identity"),
    }
    for grant in grants:
        assert grant["scope"] == scope  # at the container, not the account
        assert grant["conditionVersion"] == "2.0"
        assert grant["condition"] == witness_writer_condition()


def test_a_writer_above_the_container_is_seen(plans: dict[str, dict[str, Any]]) -> None:
    """The check is real: an account-wide data role would also reach the witness."""
    plan = copy.deepcopy(plans["prod"])
    scope = witness_scope(plan, "prod")
    leaked = {
        "scope": scope.split("/blobServices/", 1)[0],
        "principalId": principal_id("sealgate-prod-model-server-identity"),
        "roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{BLOB_DATA_CONTRIBUTOR}",
    }
    plan["steps"].append({"newState": {"type": ROLE, "urn": "urn:leak", "inputs": leaked}})
    assert principal_id("sealgate-prod-model-server-identity") in {
        g["principalId"] for g in writers(plan, scope)
    }


def test_the_writer_condition_allows_heads_only_and_no_removal() -> None:
    condition = witness_writer_condition()
    assert f"@Resource[{_BLOB}:path] StringStartsWith 'heads/'" in condition
    for action in ("write", "add/action"):
        assert f"!(ActionMatches{{'{_BLOB}/{action}'}})" in condition
    # Removals are excluded outright, not only outside heads/.
    removals = condition.rsplit(" AND ((", 1)[1]
    for action in ("delete", "move/action", "deleteBlobVersion/action"):
        assert f"!(ActionMatches{{'{_BLOB}/{action}'}})" in removals
    assert "OR" not in removals


@pytest.mark.parametrize("stack", STACKS)
def test_the_key_release_service_is_told_where_the_witness_is(
    stack: str, plans: dict[str, dict[str, Any]]
) -> None:
    plan = plans[stack]
    deployment = state(plan, "kubernetes:apps/v1:Deployment", "-keyserver-deployment")
    [container] = deployment["inputs"]["spec"]["template"]["spec"]["containers"]
    witness = state(plan, "azure-native:storage:BlobContainer", "-storage-witness")
    env = {e["name"]: e["value"] for e in container["env"]}
    account = witness["inputs"]["accountName"]
    assert env["SEALGATE_AUDIT_WITNESS"] == f"azblob://{account}/{WITNESS_CONTAINER}"
    # The same account as the registry the service opens.
    [config_map] = [
        step["newState"]["inputs"]
        for step in plan["steps"]
        if step["newState"]["urn"].endswith("-keyserver-config")
    ]
    assert f"registry: azblob://{account}/models" in config_map["data"]["keyserver.yaml"]
