"""Deployable as declared: each plan property that Azure needs to accept and run the stack.

Every test reads the plan the provider would receive (and, where the order matters, the
dependencies the engine would wait for), for the steady state and for a stack's bootstrap run.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import yaml
from sealgate.errors import InputError
from sealgate.inputs._kinds import parse_file
from sealgate.platform._apim import too_large_condition
from sealgate.platform._common import DIAGNOSTIC_CATEGORIES, Placement, diagnostic_categories
from sealgate.platform._config import load_stack_config, parse_config
from sealgate.platform._gateway import KEY_VAULT_SECRETS_USER
from sealgate.platform._keys import CRYPTO_SERVICE_ENCRYPTION_USER
from sealgate.platform._monitoring import MonitoringArgs
from sealgate.platform._naming import name_rule
from sealgate.platform._plan import build_plan
from sealgate.policy._engine import create_engine
from sealgate.policy._gate import run_gate
from sealgate.policy._loader import load_policy_set

from tests.infra.conftest import REPO, only, resources

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def client_id(identity_name: str) -> str:
    """The client id the offline plan gives a user-assigned identity."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"client/{identity_name}"))


def states(plan: dict[str, Any], type_token: str) -> list[dict[str, Any]]:
    return [s["newState"] for s in plan["steps"] if s["newState"]["type"] == type_token]


def state(plan: dict[str, Any], urn_suffix: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        s["newState"] for s in plan["steps"] if s["newState"]["urn"].endswith(urn_suffix)
    ]
    assert len(found) == 1, f"{len(found)} resources whose URN ends in {urn_suffix}"
    return found[0]


def role_assignments(plan: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [
        a
        for a in states(plan, "azure-native:authorization:RoleAssignment")
        if a["inputs"]["roleDefinitionId"].endswith(f"/roleDefinitions/{role}")
    ]


@pytest.fixture(scope="module")
def prod(plans: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return plans["prod"]


@pytest.fixture(scope="module")
def bootstrap(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The prod stack's first run (``sealgate:bootstrap: true``)."""
    root = tmp_path_factory.mktemp("bootstrap")
    document = yaml.safe_load((REPO / "Pulumi.prod.yaml").read_text())
    document["config"]["sealgate:bootstrap"] = True
    (root / "Pulumi.prod.yaml").write_text(yaml.safe_dump(document))
    shutil.copy(REPO / "Pulumi.yaml", root / "Pulumi.yaml")
    return build_plan(root, "prod")


# --- API Management ---------------------------------------------------------------------


def test_apim_is_injected_internal_from_the_first_run(
    prod: dict[str, Any], bootstrap: dict[str, Any]
) -> None:
    # Internal VNet mode is set at creation, so no two-step: the bootstrap run and every
    # later one declare the same service. publicNetworkAccess stays Enabled: Azure refuses
    # Disabled on a service without an approved private endpoint, and injected services take
    # none.
    for plan in (bootstrap, prod):
        service = only(plan, "azure-native:apimanagement:ApiManagementService")
        assert service["virtualNetworkType"] == "Internal"
        assert service["publicNetworkAccess"] == "Enabled"
        assert service["publicIpAddressId"].endswith("-apim-ip")


def test_apim_subnet_admits_only_what_azure_requires(prod: dict[str, Any]) -> None:
    from sealgate.platform._network import subnet_cidrs

    [nsg] = [
        n
        for n in resources(prod, "azure-native:network:NetworkSecurityGroup")
        if n["networkSecurityGroupName"].endswith("-apim-nsg")
    ]
    inbound = {
        (r["sourceAddressPrefix"], r.get("destinationPortRange"), r["access"])
        for r in nsg["securityRules"]
        if r["direction"] == "Inbound"
    }
    gateway_cidr = subnet_cidrs(load_stack_config(REPO, "prod").vnet_cidr)["gateway"]
    assert inbound == {
        ("ApiManagement", "3443", "Allow"),
        ("AzureLoadBalancer", "6390", "Allow"),
        (gateway_cidr, "443", "Allow"),
        ("Internet", "*", "Deny"),
    }
    outbound = {
        r["destinationAddressPrefix"]: r.get("destinationPortRanges") or [r["destinationPortRange"]]
        for r in nsg["securityRules"]
        if r["direction"] == "Outbound"
    }
    assert outbound == {
        "Storage": ["443"],
        "Sql": ["1433"],
        "AzureKeyVault": ["443"],
        "AzureMonitor": ["1886", "443"],
        "Internet": ["80"],
        "AzureActiveDirectory": ["443"],
    }


def test_app_gateway_reaches_apim_by_its_private_host_name(prod: dict[str, Any]) -> None:
    service = only(prod, "azure-native:apimanagement:ApiManagementService")
    gateway = only(prod, "azure-native:network:ApplicationGateway")
    host = f"{service['serviceName']}.azure-api.net"
    assert gateway["backendAddressPools"][0]["backendAddresses"] == [{"fqdn": host}]
    record = only(prod, "azure-native:privatedns:PrivateRecordSet")
    assert f"{record['relativeRecordSetName']}.{record['privateZoneName']}" == host
    links = [
        link
        for link in resources(prod, "azure-native:privatedns:VirtualNetworkLink")
        if link["privateZoneName"] == "azure-api.net"
    ]
    assert len(links) == 1 and links[0]["registrationEnabled"] is False


def test_apim_policy_xml_parses_to_intact_csharp(prod: dict[str, Any]) -> None:
    xml = only(prod, "azure-native:apimanagement:ApiPolicy")["value"]
    assert "&amp;" not in xml  # nothing escaped twice
    root = ElementTree.fromstring(xml)  # noqa: S314 (the plan's own document)
    [when] = root.iter("when")
    # What APIM evaluates after parsing: the C# comparison with a plain `>`.
    assert when.get("condition") == too_large_condition(1_048_576)
    assert " > 1048576)" in when.get("condition", "")
    for element in ("rate-limit-by-key", "quota-by-key"):
        [limit] = root.iter(element)
        assert limit.get("counter-key") == (
            '@(context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt()?.Subject)'
        )


def test_apim_validates_entra_v2_tokens(prod: dict[str, Any]) -> None:
    xml = only(prod, "azure-native:apimanagement:ApiPolicy")["value"]
    root = ElementTree.fromstring(xml)  # noqa: S314 (the plan's own document)
    [jwt] = root.iter("validate-jwt")
    config = load_stack_config(REPO, "prod")
    [openid] = jwt.iter("openid-config")
    assert openid.get("url") == (
        f"https://login.microsoftonline.com/{TENANT}/v2.0/.well-known/openid-configuration"
    )
    assert [i.text for i in jwt.iter("issuer")] == [
        f"https://login.microsoftonline.com/{TENANT}/v2.0"
    ]
    # A v2 access token's `aud` is the API application's client id.
    assert [a.text for a in jwt.iter("audience")] == [config.inference_app_id]
    assert jwt.get("require-signed-tokens") == "true"


def test_apim_units_spread_evenly_over_its_zones() -> None:
    from sealgate.platform._apim import ApiGatewayArgs

    common: dict[str, Any] = {
        "placement": Placement(resource_group="rg", location="westeurope"),
        "tenant_id": TENANT,
        "audience": "3f1c2a6e-8b4d-4e7a-9c1f-5a2b7d9e0c43",
        "publisher_email": "p@x.example",
        "backend_url": "https://b",
        "subnet_id": "s",
        "dns_zone_name": "azure-api.net",
        "workspace_id": "w",
        "sku": "Premium",
        "availability_zones": ("1", "2", "3"),
    }
    assert ApiGatewayArgs(**common, capacity=3).capacity == 3
    with pytest.raises(InputError, match="capacity 2 does not spread evenly over 3"):
        ApiGatewayArgs(**common, capacity=2)
    with pytest.raises(InputError, match="audience must be an application"):
        ApiGatewayArgs(**{**common, "audience": "api://sealgate-inference"}, capacity=3)


def test_inference_app_id_must_be_an_application_id() -> None:
    base = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())["config"]
    with pytest.raises(InputError, match="inference_app_id: 'api://sealgate' must be a UUID"):
        parse_config({**base, "sealgate:inference_app_id": "api://sealgate"}, "x")


# --- Customer-managed keys ----------------------------------------------------------------


def test_vault_lets_trusted_services_reach_the_cmks(prod: dict[str, Any]) -> None:
    vault = only(prod, "azure-native:keyvault:Vault")["properties"]
    assert vault["publicNetworkAccess"] == "Disabled"
    assert vault["networkAcls"] == {"defaultAction": "Deny", "bypass": "AzureServices"}


@pytest.mark.parametrize(
    ("type_token", "key"),
    [
        ("azure-native:storage:StorageAccount", "storage-cmk"),
        ("azure-native:containerregistry:Registry", "registry-cmk"),
    ],
)
def test_cmk_resource_waits_for_its_key_and_grant(
    prod: dict[str, Any], type_token: str, key: str
) -> None:
    [resource] = states(prod, type_token)
    key_urn = state(prod, f"keyvault:Key::sealgate-prod-keys-{key}")["urn"]
    grant_urn = state(prod, f"RoleAssignment::sealgate-prod-keys-cmk-identity-{key}")["urn"]
    assert {key_urn, grant_urn} <= set(resource["dependencies"])


def test_registry_reads_its_key_with_its_system_identity(prod: dict[str, Any]) -> None:
    acr = only(prod, "azure-native:containerregistry:Registry")
    assert acr["identity"]["type"] == "SystemAssigned, UserAssigned"
    assert acr["encryption"]["keyVaultProperties"]["identity"] == "system"
    assert acr["encryption"]["keyVaultProperties"]["keyIdentifier"].endswith("/keys/registry-cmk")
    [grant] = [
        a
        for a in role_assignments(prod, CRYPTO_SERVICE_ENCRYPTION_USER)
        if a["urn"].endswith("::sealgate-prod-registry-acr-system-cmk")
    ]
    vault = only(prod, "azure-native:keyvault:Vault")["vaultName"]
    assert grant["inputs"]["scope"].endswith(f"/vaults/{vault}/keys/registry-cmk")
    assert grant["parent"].endswith("Registry::sealgate-prod-registry-acr")


def test_bootstrap_registry_is_created_through_a_reachable_key(
    bootstrap: dict[str, Any],
) -> None:
    acr = state(bootstrap, "Registry::sealgate-prod-registry-acr")
    [vault] = [
        v
        for v in states(bootstrap, "azure-native:keyvault:Vault")
        if v["urn"].endswith("-cmk-bootstrap-vault")
    ]
    assert vault["inputs"]["vaultName"].startswith("sealgate-prod-")
    assert name_rule("azure-native:keyvault:Vault").problem(vault["inputs"]["vaultName"]) is None
    assert len(vault["inputs"]["vaultName"]) <= 24
    assert vault["inputs"]["properties"]["publicNetworkAccess"] == "Enabled"
    key = state(bootstrap, "-cmk-bootstrap-key")
    grant = state(bootstrap, "-cmk-bootstrap-grant")
    assert grant["inputs"]["scope"].endswith("/keys/registry-cmk-bootstrap")
    assert grant["inputs"]["roleDefinitionId"].endswith(CRYPTO_SERVICE_ENCRYPTION_USER)
    # Created through the user-assigned identity (the only one a new CMK registry can use),
    # after the key and its grant; the system identity's grant on the private key is
    # declared already, for the run that switches to it.
    kv = acr["inputs"]["encryption"]["keyVaultProperties"]
    assert kv["identity"] == client_id("sealgate-prod-keys-cmk-identity")
    assert kv["keyIdentifier"].endswith("/keys/registry-cmk-bootstrap")
    assert {key["urn"], grant["urn"]} <= set(acr["dependencies"])
    system_grant = state(bootstrap, "::sealgate-prod-registry-acr-system-cmk")
    assert system_grant["inputs"]["scope"].endswith("/keys/registry-cmk")


# --- Application Gateway ------------------------------------------------------------------


def test_gateway_reads_only_its_certificate_secret(prod: dict[str, Any]) -> None:
    [grant] = role_assignments(prod, KEY_VAULT_SECRETS_USER)
    vault = only(prod, "azure-native:keyvault:Vault")["vaultName"]
    assert grant["inputs"]["scope"].endswith(f"/vaults/{vault}/secrets/gateway-tls")
    identity = state(prod, "UserAssignedIdentity::sealgate-prod-gateway-identity")
    gateway = only(prod, "azure-native:network:ApplicationGateway")
    assert gateway["identity"]["userAssignedIdentities"] == [
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/sealgate-prod-rg/"
        "providers/azure-native:managedidentity:UserAssignedIdentity/sealgate-prod-gateway-identity"
    ]
    principal = grant["inputs"]["principalId"]
    others = [
        a
        for a in states(prod, "azure-native:authorization:RoleAssignment")
        if a["inputs"]["principalId"] == principal
    ]
    assert others == [grant]  # no other role for the gateway's identity
    assert identity["urn"] in grant["dependencies"]
    [gateway_state] = states(prod, "azure-native:network:ApplicationGateway")
    assert grant["urn"] in gateway_state["dependencies"]
    [certificate] = gateway["sslCertificates"]
    assert certificate["keyVaultSecretId"] == (
        f"https://{vault}.vault.azure.net/secrets/gateway-tls"
    )


def test_bootstrap_run_declares_no_gateway_before_its_certificate(
    bootstrap: dict[str, Any],
) -> None:
    assert states(bootstrap, "azure-native:network:ApplicationGateway") == []
    assert role_assignments(bootstrap, KEY_VAULT_SECRETS_USER) == []


# --- Diagnostic settings ------------------------------------------------------------------


def _parent_type(setting: dict[str, Any]) -> str:
    return str(setting["parent"].split("::")[2].split("$")[-1])


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_diagnostic_categories_match_the_resource_type(
    plans: dict[str, dict[str, Any]], stack: str
) -> None:
    settings = states(plans[stack], "azure-native:monitor:DiagnosticSetting")
    assert settings
    for setting in settings:
        categories = DIAGNOSTIC_CATEGORIES[_parent_type(setting)]
        logs = setting["inputs"].get("logs") or []
        assert [entry["categoryGroup"] for entry in logs] == (
            ["allLogs"] if categories.log_groups else []
        ), setting["urn"]
        assert bool(setting["inputs"].get("metrics")) == categories.metrics


def test_storage_account_setting_sends_metrics_only(prod: dict[str, Any]) -> None:
    [account] = [
        s
        for s in states(prod, "azure-native:monitor:DiagnosticSetting")
        if _parent_type(s) == "azure-native:storage:StorageAccount"
    ]
    assert "logs" not in account["inputs"]
    assert account["inputs"]["metrics"] == [{"category": "AllMetrics", "enabled": True}]
    [blob] = [
        s
        for s in states(prod, "azure-native:monitor:DiagnosticSetting")
        if _parent_type(s) == "azure-native:storage:BlobServiceProperties"
    ]
    assert blob["inputs"]["logs"] == [{"categoryGroup": "allLogs", "enabled": True}]


def test_the_policy_table_is_the_program_table() -> None:
    data = yaml.safe_load((REPO / "policies/data/infra.yaml").read_text())
    table = data["monitoring"]["categories"]
    assert table == {
        t: {"log_groups": list(c.log_groups), "metrics": c.metrics}
        for t, c in DIAGNOSTIC_CATEGORIES.items()
    }
    assert set(data["monitoring"]["diagnosed_types"]) <= set(table)


def test_a_type_without_known_categories_is_refused() -> None:
    with pytest.raises(InputError, match="no diagnostic categories known for azure-native:x:Y"):
        diagnostic_categories("azure-native:x:Y")


# --- Alerts -------------------------------------------------------------------------------


def test_every_alert_notifies_the_action_group(prod: dict[str, Any]) -> None:
    group = state(prod, "ActionGroup::sealgate-prod-monitoring-alerts")
    assert group["inputs"]["location"] == "Global"
    assert len(group["inputs"]["groupShortName"]) <= 12
    assert group["inputs"]["emailReceivers"] == [
        {
            "name": "email-0",
            "emailAddress": "platform@sealgate.example",
            "useCommonAlertSchema": True,
        }
    ]
    rules = states(prod, "azure-native:monitor:ScheduledQueryRule")
    assert len(rules) == 2
    for rule in rules:
        [target] = rule["inputs"]["actions"]["actionGroups"]
        assert target.endswith("/sealgate-prod-monitoring-alerts")
        assert group["urn"] in rule["dependencies"]


def test_receivers_are_stack_settings() -> None:
    base = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())["config"]
    hooks = {**base, "sealgate:alert_webhooks": ["https://alerts.example/hook"]}
    assert parse_config(hooks, "x").alert_webhooks == ["https://alerts.example/hook"]
    with pytest.raises(InputError, match="at least one receiver"):
        parse_config({k: v for k, v in base.items() if k != "sealgate:alert_emails"}, "x")
    with pytest.raises(InputError, match="is not an https:// URL"):
        parse_config({**hooks, "sealgate:alert_webhooks": ["http://alerts.example"]}, "x")
    with pytest.raises(InputError, match="is not an e-mail address"):
        parse_config({**base, "sealgate:alert_emails": ["platform"]}, "x")
    placement = Placement(resource_group="rg", location="westeurope")
    with pytest.raises(InputError, match="MonitoringArgs: alerts need at least one receiver"):
        MonitoringArgs(placement=placement)
    with pytest.raises(InputError, match="not https:// URLs"):
        MonitoringArgs(placement=placement, alert_webhooks=("http://x.example",))


# --- DR: what the prod stack needs ------------------------------------------------------


def test_prod_survives_a_zone_and_a_region(prod: dict[str, Any]) -> None:
    assert only(prod, "azure-native:storage:StorageAccount")["sku"] == {"name": "Standard_GZRS"}
    vault = only(prod, "azure-native:keyvault:Vault")["properties"]
    assert vault["enablePurgeProtection"] is True and vault["softDeleteRetentionInDays"] == 90
    assert only(prod, "azure-native:containerregistry:Registry")["zoneRedundancy"] == "Enabled"
    apim = only(prod, "azure-native:apimanagement:ApiManagementService")
    assert apim["zones"] == ["1", "2", "3"] and apim["sku"]["name"] == "Premium"
    assert only(prod, "azure-native:network:ApplicationGateway")["zones"] == ["1", "2", "3"]
    for pool in resources(prod, "azure-native:containerservice:AgentPool"):
        assert pool["availabilityZones"] == ["1", "2", "3"]


# --- The gate: end state vs. bootstrap run -------------------------------------------------


@pytest.fixture(scope="module")
def gate() -> Callable[[Path], Any]:
    policy_set = load_policy_set([REPO / "policies"])
    engine = create_engine("embedded", policy_set)
    return lambda path: run_gate(
        policy_set, engine, parse_file("pulumi-plan", path), waivers_file=None
    )


def test_the_gate_holds_the_end_state_not_the_bootstrap_run(
    bootstrap: dict[str, Any], tmp_path: Path, gate: Callable[[Path], Any]
) -> None:
    path = tmp_path / "bootstrap.json"
    path.write_text(json.dumps(bootstrap), encoding="utf-8")
    result = gate(path)
    ids = {f.rule_id for f in result.findings}
    # The bootstrap run is the documented exception: the registry's temporary key outside
    # the firewall. API Management is Internal from its creation on, so no SG-AZ-050.
    assert {"SG-AZ-027", "SG-AZ-004"} <= ids
    assert "SG-AZ-050" not in ids
