"""The components as a library: a platform engineer's own Pulumi program that uses only the
key store, in its own resource group, run under the SDK's mock runtime."""

from __future__ import annotations

import base64
import dataclasses
import inspect
import json
import runpy
from typing import Any

import pulumi
import pulumi_azure_native.resources as resources
import pytest
import sealgate.platform as platform
from pulumi.runtime import settings
from sealgate.errors import InputError
from sealgate.platform import KeySpec, KeyStore, KeyStoreArgs, Placement
from sealgate.platform._plan import RecordedResource, Recorder, record_program
from sealgate.platform._policy_pack import findings_for_resource, resource_document

from tests.infra.conftest import REPO

TENANT = "0c6f5a2e-1b3d-4e5f-8a9b-0c1d2e3f4a5b"
SUBSCRIPTION = "5d2e8f1a-3b4c-4d5e-9f0a-1b2c3d4e5f6a"
SUBNET = (
    "/subscriptions/x/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/hub/subnets/pe"
)
VAULT_ZONE = "/subscriptions/x/resourceGroups/dns/providers/Microsoft.Network/privateDnsZones/privatelink.vaultcore.azure.net"
HSM_ZONE = "/subscriptions/x/resourceGroups/dns/providers/Microsoft.Network/privateDnsZones/privatelink.managedhsm.azure.net"
WORKSPACE = "/subscriptions/x/resourceGroups/logs/providers/Microsoft.OperationalInsights/workspaces/central"
ADMIN = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
TAGS = {"team": "ml-platform", "cost-centre": "4711"}
COMPONENT = "sealgate:infra:KeyStore"


def key_store_args(group: pulumi.Input[str], **changes: Any) -> KeyStoreArgs:
    settings: dict[str, Any] = {
        "placement": Placement(resource_group=group, location="northeurope", tags=TAGS),
        "tenant_id": TENANT,
        "subscription_id": SUBSCRIPTION,
        "endpoint_subnet_id": SUBNET,
        "private_dns_zone_id": VAULT_ZONE,
        "workspace_id": WORKSPACE,
        **changes,
    }
    return KeyStoreArgs(**settings)


def keys_only(**changes: Any) -> Recorder:
    """The user's program: a resource group, and a key store in it (nothing else)."""

    def program() -> None:
        group = resources.ResourceGroup("ml-keys-rg", location="northeurope", tags=TAGS)
        store = KeyStore("ml-keys", key_store_args(group.name, **changes))
        pulumi.export("vault_uri", store.vault_uri)

    return record_program(program, stack="sandbox", project="ml-keys")


def by_type(recorder: Recorder, type_token: str) -> list[RecordedResource]:
    return [r for r in recorder.resources if r.type == type_token]


def one(recorder: Recorder, type_token: str) -> RecordedResource:
    found = by_type(recorder, type_token)
    assert len(found) == 1, f"{len(found)} resources of {type_token}"
    return found[0]


def ancestors(recorder: Recorder, resource: RecordedResource) -> list[str]:
    parents = {r.urn: r.parent for r in recorder.resources}
    chain, urn = [], resource.parent
    while urn in parents:
        chain.append(urn)
        urn = parents[urn]
    return chain


@pytest.fixture(scope="module")
def vault_store() -> Recorder:
    return keys_only(
        keys=(
            KeySpec(name="wrap"),
            KeySpec(name="sign", kty="EC-HSM", curve_name="P-384", key_ops=("sign", "verify")),
            KeySpec(name="release", key_size=4096, exportable=True),
        ),
        cmk_keys=("wrap",),
        key_rotation_days=60,
    )


def test_only_the_key_store_is_declared(vault_store: Recorder) -> None:
    assert sorted(r.type for r in vault_store.resources) == sorted(
        [
            "azure-native:resources:ResourceGroup",
            COMPONENT,
            "azure-native:managedidentity:UserAssignedIdentity",
            "azure-native:keyvault:Vault",
            "azure-native:network:PrivateEndpoint",
            "azure-native:network:PrivateDnsZoneGroup",
            "azure-native:monitor:DiagnosticSetting",
            "azure-native:keyvault:Key",
            "azure-native:keyvault:Key",
            "azure-native:keyvault:Key",
            "azure-native:authorization:RoleAssignment",
        ]
    )
    component = one(vault_store, COMPONENT)
    assert component.urn == "urn:pulumi:sandbox::ml-keys::sealgate:infra:KeyStore::ml-keys"
    for resource in vault_store.resources:
        if resource.type not in (COMPONENT, "azure-native:resources:ResourceGroup"):
            assert component.urn in ancestors(vault_store, resource), resource.urn


def test_the_vault_is_in_the_users_group_and_locked_down(vault_store: Recorder) -> None:
    vault = one(vault_store, "azure-native:keyvault:Vault")
    assert vault.parent == one(vault_store, COMPONENT).urn
    assert vault.inputs["resourceGroupName"] == "ml-keys-rg"
    assert vault.inputs["location"] == "northeurope"
    assert vault.inputs["tags"] == TAGS
    props = vault.inputs["properties"]
    assert props["tenantId"] == TENANT
    assert props["sku"] == {"family": "A", "name": "premium"}
    assert props["enableRbacAuthorization"] is True
    assert props["enablePurgeProtection"] is True
    assert props["softDeleteRetentionInDays"] == 90
    assert props["publicNetworkAccess"] == "Disabled"
    assert props["networkAcls"] == {"defaultAction": "Deny", "bypass": "AzureServices"}
    endpoint = one(vault_store, "azure-native:network:PrivateEndpoint")
    assert endpoint.parent == vault.urn
    assert endpoint.inputs["subnet"] == {"id": SUBNET}
    assert endpoint.inputs["privateLinkServiceConnections"][0]["groupIds"] == ["vault"]
    zone_group = one(vault_store, "azure-native:network:PrivateDnsZoneGroup")
    assert zone_group.inputs["privateDnsZoneConfigs"] == [
        {"name": "vault", "privateDnsZoneId": VAULT_ZONE}
    ]
    diagnostics = one(vault_store, "azure-native:monitor:DiagnosticSetting")
    assert (diagnostics.parent, diagnostics.inputs["workspaceId"]) == (vault.urn, WORKSPACE)


def test_the_keys_are_hsm_keys_of_the_vault(vault_store: Recorder) -> None:
    vault = one(vault_store, "azure-native:keyvault:Vault")
    keys = {k.inputs["keyName"]: k for k in by_type(vault_store, "azure-native:keyvault:Key")}
    assert set(keys) == {"wrap", "sign", "release"}
    assert {k.parent for k in keys.values()} == {vault.urn}
    wrap, sign, release = (keys[n].inputs["properties"] for n in ("wrap", "sign", "release"))
    assert (wrap["kty"], wrap["keySize"], wrap["keyOps"]) == (
        "RSA-HSM",
        3072,
        ["wrapKey", "unwrapKey"],
    )
    assert (sign["kty"], sign["curveName"], sign["keyOps"]) == (
        "EC-HSM",
        "P-384",
        ["sign", "verify"],
    )
    assert "keySize" not in sign and "curveName" not in wrap
    assert (release["kty"], release["keySize"]) == ("RSA-HSM", 4096)
    for properties in (wrap, sign, release):
        assert properties["rotationPolicy"]["attributes"] == {"expiryTime": "P90D"}
        assert properties["rotationPolicy"]["lifetimeActions"][0]["trigger"] == {
            "timeAfterCreate": "P60D"
        }
    assert "attributes" not in wrap and "releasePolicy" not in wrap
    assert release["attributes"] == {"exportable": True}
    policy = json.loads(base64.urlsafe_b64decode(release["releasePolicy"]["data"] + "=="))
    assert policy["anyOf"][0]["authority"] == "https://sharedeus2.eus2.attest.azure.net"


def test_the_cmk_identity_may_use_only_its_cmks(vault_store: Recorder) -> None:
    identity = one(vault_store, "azure-native:managedidentity:UserAssignedIdentity")
    assert identity.inputs["resourceGroupName"] == "ml-keys-rg"
    grant = one(vault_store, "azure-native:authorization:RoleAssignment")
    wrap = next(
        k
        for k in by_type(vault_store, "azure-native:keyvault:Key")
        if k.inputs["keyName"] == "wrap"
    )
    # At the key, not the vault: a vault-wide grant would reach every other key too.
    assert grant.parent == wrap.urn
    vault = one(vault_store, "azure-native:keyvault:Vault").inputs["vaultName"]
    assert vault.startswith("ml-keys-vault-")
    assert grant.inputs["scope"].endswith(f"/providers/Microsoft.KeyVault/vaults/{vault}/keys/wrap")
    assert grant.inputs["roleDefinitionId"] == (
        f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/"
        "e147488a-f6f5-4113-8e2d-b22465e65bf6"
    )


def test_the_component_registers_its_outputs(vault_store: Recorder) -> None:
    outputs = vault_store.outputs[one(vault_store, COMPONENT).urn]
    vault = one(vault_store, "azure-native:keyvault:Vault").inputs["vaultName"]
    assert outputs["vault_uri"] == f"https://{vault}.vault.azure.net/"
    assert outputs["key_uris"] == {
        name: f"https://plan.vault.azure.net/keys/{name}" for name in ("wrap", "sign", "release")
    }
    assert outputs["cmk_identity_id"].endswith("/ml-keys-cmk-identity")


def test_the_defaults_pass_the_policies_at_production_strictness() -> None:
    # A stack the policy data does not know ("sandbox") is held to production settings.
    recorder = keys_only()
    keys = {k.inputs["keyName"] for k in by_type(recorder, "azure-native:keyvault:Key")}
    assert keys == {"model-kek", "signing", "storage-cmk", "registry-cmk"}
    for resource in recorder.resources:
        if resource.custom:
            document = resource_document(
                resource.type, resource.urn, resource.name, resource.parent, resource.inputs
            )
            assert findings_for_resource(document) == [], resource.urn


def test_a_managed_hsm_has_no_control_plane_keys() -> None:
    recorder = keys_only(
        kind="managed-hsm", hsm_admin_object_ids=(ADMIN,), private_dns_zone_id=HSM_ZONE
    )
    hsm = one(recorder, "azure-native:keyvault:ManagedHsm")
    assert hsm.inputs["properties"]["initialAdminObjectIds"] == [ADMIN]
    assert hsm.inputs["properties"]["publicNetworkAccess"] == "Disabled"
    assert not by_type(recorder, "azure-native:keyvault:Vault")
    assert not by_type(recorder, "azure-native:keyvault:Key")
    endpoint = one(recorder, "azure-native:network:PrivateEndpoint")
    assert endpoint.inputs["privateLinkServiceConnections"][0]["groupIds"] == ["managedhsm"]
    outputs = recorder.outputs[one(recorder, COMPONENT).urn]
    assert hsm.inputs["name"].startswith("ml-keys-hsm-")
    assert outputs["key_uris"]["signing"] == (
        f"https://{hsm.inputs['name']}.managedhsm.azure.net/keys/signing"
    )


@pytest.mark.parametrize(
    ("build", "problem"),
    [
        (lambda: KeySpec(name="soft", kty="RSA"), "kty 'RSA' is not HSM-protected"),
        (lambda: KeySpec(name="k", key_size=1024), "key_size must be one of 2048, 3072, 4096"),
        (lambda: KeySpec(name="k", kty="EC-HSM", key_size=3072), "an EC key has no key_size"),
        (lambda: KeySpec(name="k", curve_name="P-256"), "an RSA key has no curve"),
        (lambda: key_store_args("rg", kind="managed-hsm"), "needs at least one hsm_admin"),
        (lambda: key_store_args("rg", kind="hsm"), "kind 'hsm'"),
        (lambda: key_store_args("rg", key_rotation_days=400), "key_rotation_days must be"),
        (lambda: key_store_args("rg", soft_delete_retention_days=3), "soft_delete_retention"),
        (
            lambda: key_store_args("rg", keys=(KeySpec(name="a"), KeySpec(name="a"))),
            "key names must be distinct",
        ),
        (
            lambda: key_store_args("rg", keys=(KeySpec(name="a"),)),
            "cmk_keys names keys it does not create: \\['registry-cmk', 'storage-cmk'\\]",
        ),
    ],
)
def test_args_refuse_weak_or_impossible_settings(build: Any, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        build()


def test_args_are_frozen() -> None:
    args = key_store_args("rg")
    with pytest.raises(dataclasses.FrozenInstanceError):
        args.kind = "managed-hsm"  # type: ignore[misc]


COMPONENTS = [
    "ApiGateway",
    "Cluster",
    "Edge",
    "Gateway",
    "KeyReleaseService",
    "KeyStore",
    "ModelRegistry",
    "ModelStorage",
    "Monitoring",
    "Network",
    "Workloads",
]


@pytest.mark.parametrize("name", COMPONENTS)
def test_every_component_takes_name_args_opts(name: str) -> None:
    component, args = getattr(platform, name), getattr(platform, f"{name}Args")
    assert issubclass(component, pulumi.ComponentResource)
    assert dataclasses.is_dataclass(args) and args.__dataclass_params__.frozen
    parameters = list(inspect.signature(component.__init__).parameters.values())
    assert [p.name for p in parameters] == ["self", "name", "args", "opts"]
    assert parameters[2].annotation == f"{name}Args"
    assert {f"{name}", f"{name}Args"} <= set(platform.__all__)


def test_the_entry_point_deploys_the_selected_stack(plans: dict[str, dict[str, Any]]) -> None:
    exported: dict[str, Any] = {}

    def program() -> None:
        runpy.run_path(str(REPO / "infra" / "__main__.py"))
        # The mock runtime does not send a stack's exports: read them from the root resource.
        stack_outputs = settings.get_root_resource().outputs  # type: ignore[union-attr]
        for name, value in stack_outputs.items():
            pulumi.Output.from_input(value).apply(lambda v, n=name: exported.__setitem__(n, v))

    recorder = record_program(program, "dev")
    assert {r.urn for r in recorder.resources} == {step["urn"] for step in plans["dev"]["steps"]}
    assert exported["environment"] == "dev"
    assert exported["resource_group"] == "sealgate-dev-rg"
    assert exported["kek_uri"] == "https://plan.vault.azure.net/keys/sealgate-kek-dev"
    assert exported["keyserver_url"] == "https://keyserver.sealgate-keys.svc.cluster.local:8443"
    assert exported["promotion_approvals"] == 0
