"""The program under Pulumi's mock runtime: the exact value of every hardening property.

The provider fills Azure defaults for what a program leaves unset, so each property is
asserted to be set, to exactly the hardened value, in the inputs the provider receives.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.conftest import only, resources

COMPONENTS = {
    "sealgate:infra:Network",
    "sealgate:infra:KeyStore",
    "sealgate:infra:ModelStorage",
    "sealgate:infra:ModelRegistry",
    "sealgate:infra:Cluster",
    "sealgate:infra:Gateway",
    "sealgate:infra:ApiGateway",
    "sealgate:infra:Monitoring",
    "sealgate:infra:Edge",
    "sealgate:infra:Workloads",
    "sealgate:infra:KeyReleaseService",
}


def model_server(plan: dict[str, Any]) -> dict[str, Any]:
    [deployment] = [
        d
        for d in resources(plan, "kubernetes:apps/v1:Deployment")
        if d["metadata"]["name"] == "model-server"
    ]
    return deployment


@pytest.fixture(scope="module")
def prod(plans: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return plans["prod"]


def test_plan_has_every_component_in_preview_shape(prod: dict[str, Any]) -> None:
    states = [step["newState"] for step in prod["steps"]]
    assert {s["type"] for s in states} >= COMPONENTS
    for state in states:
        assert state["urn"].startswith("urn:pulumi:prod::sealgate::")
        assert "pulumi:pulumi:Stack$" not in state["urn"]
        assert isinstance(state["inputs"], dict)
    parents = {s["urn"] for s in states} | {
        "urn:pulumi:prod::sealgate::pulumi:pulumi:Stack::sealgate-prod"
    }
    assert all(s.get("parent") in parents for s in states)


def test_key_vault(prod: dict[str, Any]) -> None:
    props = only(prod, "azure-native:keyvault:Vault")["properties"]
    assert props["sku"] == {"family": "A", "name": "premium"}
    assert props["enableRbacAuthorization"] is True
    assert props["enablePurgeProtection"] is True
    assert props["enableSoftDelete"] is True
    assert props["softDeleteRetentionInDays"] == 90
    assert props["publicNetworkAccess"] == "Disabled"
    assert props["networkAcls"] == {"defaultAction": "Deny", "bypass": "AzureServices"}
    assert "accessPolicies" not in props


def test_hsm_keys_rotate(prod: dict[str, Any]) -> None:
    keys = {k["keyName"]: k["properties"] for k in resources(prod, "azure-native:keyvault:Key")}
    assert set(keys) == {
        "signing",
        "storage-cmk",
        "registry-cmk",
        "sealgate-kek-prod",
        "sealgate-kek-prod-tee",
    }
    assert keys["signing"]["kty"] == "EC-HSM" and keys["signing"]["curveName"] == "P-256"
    for name in ("sealgate-kek-prod", "sealgate-kek-prod-tee", "storage-cmk", "registry-cmk"):
        assert keys[name]["kty"] == "RSA-HSM" and keys[name]["keySize"] == 3072
        assert keys[name]["keyOps"] == ["wrapKey", "unwrapKey"]
    for properties in keys.values():
        assert properties["rotationPolicy"]["lifetimeActions"][0] == {
            "action": {"type": "rotate"},
            "trigger": {"timeAfterCreate": "P90D"},
        }
        assert properties["rotationPolicy"]["attributes"] == {"expiryTime": "P120D"}
    # The KEK never leaves the HSM; only the TEE key is exportable, under a release policy.
    assert "attributes" not in keys["sealgate-kek-prod"]
    assert "releasePolicy" not in keys["sealgate-kek-prod"]
    assert keys["sealgate-kek-prod-tee"]["attributes"] == {"exportable": True}
    assert "releasePolicy" in keys["sealgate-kek-prod-tee"]


def test_exportable_model_key_carries_a_release_policy() -> None:
    import base64
    import json

    from sealgate.platform._keys import release_policy

    policy = release_policy("https://sharedeus2.eus2.attest.azure.net")
    decoded = json.loads(base64.urlsafe_b64decode(policy["data"] + "=="))
    assert decoded["anyOf"][0]["authority"] == "https://sharedeus2.eus2.attest.azure.net"
    assert {"claim": "x-ms-isolation-tee.x-ms-attestation-type", "equals": "sevsnpvm"} in decoded[
        "anyOf"
    ][0]["allOf"]
    # Every accepted TEE is SEV-SNP, compliant and not debuggable, attested by that authority.
    for option in decoded["anyOf"]:
        assert option["authority"] == "https://sharedeus2.eus2.attest.azure.net"
        claims = {c["claim"].rsplit(".", 1)[-1]: c["equals"] for c in option["allOf"]}
        assert claims["x-ms-attestation-type"] == "sevsnpvm"
        assert claims["x-ms-sevsnpvm-is-debuggable"] is False
        assert claims["x-ms-compliance-status"] in ("azure-compliant-cvm", "azure-compliant-uvm")


def test_storage(prod: dict[str, Any]) -> None:
    account = only(prod, "azure-native:storage:StorageAccount")
    expected = {
        "allowSharedKeyAccess": False,
        "defaultToOAuthAuthentication": True,
        "allowBlobPublicAccess": False,
        "allowCrossTenantReplication": False,
        "minimumTlsVersion": "TLS1_2",
        "enableHttpsTrafficOnly": True,
        "publicNetworkAccess": "Disabled",
        "networkRuleSet": {"defaultAction": "Deny", "bypass": "None"},
        "sku": {"name": "Standard_GZRS"},
    }
    assert {k: account[k] for k in expected} == expected
    assert account["encryption"]["keySource"] == "Microsoft.Keyvault"
    assert account["encryption"]["keyVaultProperties"]["keyName"] == "storage-cmk"
    assert account["encryption"]["requireInfrastructureEncryption"] is True
    service = only(prod, "azure-native:storage:BlobServiceProperties")
    assert service["isVersioningEnabled"] is True
    assert service["deleteRetentionPolicy"] == {"enabled": True, "days": 30}
    assert service["containerDeleteRetentionPolicy"] == {"enabled": True, "days": 30}
    containers = {
        c["containerName"]: c for c in resources(prod, "azure-native:storage:BlobContainer")
    }
    assert {c["publicAccess"] for c in containers.values()} == {"None"}
    assert containers["audit"]["immutableStorageWithVersioning"] == {"enabled": True}
    [worm] = [
        step["newState"]["inputs"]
        for step in prod["steps"]
        if step["newState"]["type"] == "azure-native:storage:BlobContainerImmutabilityPolicy"
        and step["newState"]["urn"].endswith("-audit-worm")
    ]
    assert worm["immutabilityPeriodSinceCreationInDays"] == 2555
    assert worm["allowProtectedAppendWritesAll"] is True


def test_registry(prod: dict[str, Any]) -> None:
    acr = only(prod, "azure-native:containerregistry:Registry")
    assert acr["sku"] == {"name": "Premium"}
    assert acr["adminUserEnabled"] is False
    assert acr["anonymousPullEnabled"] is False
    assert acr["publicNetworkAccess"] == "Disabled"
    assert acr["networkRuleBypassOptions"] == "None"
    assert acr["zoneRedundancy"] == "Enabled"
    assert acr["encryption"]["status"] == "enabled"
    assert acr["encryption"]["keyVaultProperties"]["keyIdentifier"].endswith("/keys/registry-cmk")
    assert acr["policies"]["quarantinePolicy"] == {"status": "enabled"}
    assert acr["policies"]["retentionPolicy"] == {"status": "enabled", "days": 30}
    assert acr["policies"]["exportPolicy"] == {"status": "disabled"}


def test_cluster(prod: dict[str, Any]) -> None:
    aks = only(prod, "azure-native:containerservice:ManagedCluster")
    assert aks["apiServerAccessProfile"]["enablePrivateCluster"] is True
    assert aks["apiServerAccessProfile"]["enablePrivateClusterPublicFQDN"] is False
    assert aks["aadProfile"]["managed"] is True and aks["aadProfile"]["enableAzureRBAC"] is True
    assert aks["disableLocalAccounts"] is True
    assert aks["oidcIssuerProfile"] == {"enabled": True}
    assert aks["securityProfile"]["workloadIdentity"] == {"enabled": True}
    assert aks["securityProfile"]["defender"]["securityMonitoring"] == {"enabled": True}
    assert aks["networkProfile"]["networkPolicy"] == "cilium"
    assert aks["addonProfiles"]["azurepolicy"]["enabled"] is True
    assert aks["sku"]["tier"] == "Standard"
    assert "linuxProfile" not in aks  # no SSH key at all
    system = aks["agentPoolProfiles"][0]
    pool = only(prod, "azure-native:containerservice:AgentPool")
    for node_pool in (system, pool):
        assert node_pool["osSKU"] == "AzureLinux"
        assert node_pool["enableEncryptionAtHost"] is True
        assert node_pool["securityProfile"] == {"sshAccess": "Disabled"}
        assert node_pool["availabilityZones"] == ["1", "2", "3"]
    assert system["mode"] == "System"
    assert pool["workloadRuntime"] == "KataVmIsolation"
    assert pool["nodeTaints"] == ["sealgate.io/sandboxed=true:NoSchedule"]
    assert pool["nodeLabels"] == {"sealgate.io/pool": "sandboxed"}
    assert (pool["minCount"], pool["maxCount"]) == (3, 12)


def test_waf(prod: dict[str, Any]) -> None:
    policy = only(prod, "azure-native:network:WebApplicationFirewallPolicy")
    assert policy["policySettings"]["mode"] == "Prevention"
    assert policy["policySettings"]["state"] == "Enabled"
    assert policy["policySettings"]["requestBodyCheck"] is True
    assert policy["policySettings"]["maxRequestBodySizeInKb"] == 1024
    assert policy["managedRules"]["managedRuleSets"] == [
        {"ruleSetType": "Microsoft_DefaultRuleSet", "ruleSetVersion": "2.1"},
        {"ruleSetType": "Microsoft_BotManagerRuleSet", "ruleSetVersion": "1.1"},
    ]
    gateway = only(prod, "azure-native:network:ApplicationGateway")
    assert gateway["sku"] == {"name": "WAF_v2", "tier": "WAF_v2"}
    assert gateway["sslPolicy"]["policyName"] == "AppGwSslPolicy20220101S"
    assert gateway["httpListeners"][0]["protocol"] == "Https"


def test_api_management(prod: dict[str, Any]) -> None:
    service = only(prod, "azure-native:apimanagement:ApiManagementService")
    # Injected in its own subnet, Internal mode: it reaches the model server's internal load
    # balancer; no private endpoint (Azure refuses one on an injected service).
    assert service["virtualNetworkType"] == "Internal"
    apim_subnet = next(
        s
        for s in resources(prod, "azure-native:network:Subnet")
        if s["subnetName"].endswith("-apim")
    )
    subnet_id = service["virtualNetworkConfiguration"]["subnetResourceId"]
    assert subnet_id.endswith(f"/{apim_subnet['subnetName']}")
    assert not any(
        e["privateLinkServiceConnections"][0]["groupIds"] == ["Gateway"]
        for e in resources(prod, "azure-native:network:PrivateEndpoint")
    )
    assert service["publicNetworkAccess"] == "Enabled"
    public_ip = next(
        ip
        for ip in resources(prod, "azure-native:network:PublicIPAddress")
        if ip["publicIpAddressName"].endswith("-apim-ip")
    )
    assert public_ip["sku"]["name"] == "Standard"
    assert public_ip["dnsSettings"]["domainNameLabel"] == service["serviceName"]
    assert public_ip["zones"] == service["zones"] == ["1", "2", "3"]
    record = only(prod, "azure-native:privatedns:PrivateRecordSet")
    assert (record["privateZoneName"], record["recordType"]) == ("azure-api.net", "A")
    assert record["relativeRecordSetName"] == service["serviceName"]
    assert record["aRecords"] == [{"ipv4Address": "192.0.2.20"}]
    assert (
        service["customProperties"][
            "Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Protocols.Tls10"
        ]
        == "False"
    )
    xml = only(prod, "azure-native:apimanagement:ApiPolicy")["value"]
    assert (
        '<openid-config url="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0/.well-known/openid-configuration" />'
        in xml
    )
    assert '<rate-limit-by-key calls="120" renewal-period="60"' in xml
    assert '<quota-by-key calls="100000" renewal-period="86400"' in xml
    assert 'max-size="1048576" size-exceeded-action="prevent"' in xml
    assert 'validate-as="json" action="prevent" schema-id="inference-request"' in xml
    schema = only(prod, "azure-native:apimanagement:ApiSchema")
    assert schema["components"]["schemas"]["InferenceRequest"]["required"] == ["inputs"]


def test_inference_schema_accepts_and_refuses() -> None:
    import jsonschema
    from sealgate.platform._apim import INFERENCE_REQUEST_SCHEMA

    good = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}
    jsonschema.validate(good, INFERENCE_REQUEST_SCHEMA)
    for bad in ({}, {"inputs": []}, {**good, "extra": 1}, {"inputs": [{"name": "x"}]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, INFERENCE_REQUEST_SCHEMA)


def test_every_data_plane_service_is_private_with_diagnostics(prod: dict[str, Any]) -> None:
    states = [step["newState"] for step in prod["steps"]]
    children: dict[str, set[str]] = {}
    for state in states:
        children.setdefault(state.get("parent", ""), set()).add(state["type"])
    services = {
        "azure-native:keyvault:Vault",
        "azure-native:storage:StorageAccount",
        "azure-native:containerregistry:Registry",
        "azure-native:iothub:IotHubResource",
        "azure-native:deviceprovisioningservices:IotDpsResource",
    }
    apim = "azure-native:apimanagement:ApiManagementService"
    for state in states:
        if state["type"] in services:
            assert "azure-native:network:PrivateEndpoint" in children[state["urn"]], state["urn"]
        if state["type"] in services | {apim}:
            assert "azure-native:monitor:DiagnosticSetting" in children[state["urn"]], state["urn"]
    # API Management is private by VNet injection (Internal mode), its host name in the
    # VNet's private zone azure-api.net; Azure refuses a private endpoint on it.
    (apim_urn,) = [state["urn"] for state in states if state["type"] == apim]
    assert "azure-native:network:PrivateEndpoint" not in children[apim_urn]
    zones = {z["privateZoneName"] for z in resources(prod, "azure-native:privatedns:PrivateZone")}
    assert "privatelink.vaultcore.azure.net" in zones and "privatelink.azurecr.io" in zones
    assert "azure-api.net" in zones and "privatelink.azure-api.net" not in zones


def test_edge(prod: dict[str, Any]) -> None:
    hub = only(prod, "azure-native:iothub:IotHubResource")["properties"]
    assert hub["disableLocalAuth"] is True
    assert hub["disableDeviceSAS"] is False and hub["disableModuleSAS"] is True
    assert hub["minTlsVersion"] == "1.2"
    assert hub["publicNetworkAccess"] == "Disabled"
    dps = only(prod, "azure-native:deviceprovisioningservices:IotDpsResource")["properties"]
    assert dps["publicNetworkAccess"] == "Disabled"


def test_alerts(prod: dict[str, Any]) -> None:
    queries = [
        rule["criteria"]["allOf"][0]["query"]
        for rule in resources(prod, "azure-native:monitor:ScheduledQueryRule")
    ]
    assert any("AZKVAuditLogs" in q and "KeyUnwrap" in q for q in queries)
    assert any("/denied/" in q for q in queries)
    assert only(prod, "azure-native:operationalinsights:Workspace")["retentionInDays"] == 365


def test_cluster_workloads(prod: dict[str, Any]) -> None:
    namespaces = {n["metadata"]["name"]: n for n in resources(prod, "kubernetes:core/v1:Namespace")}
    assert set(namespaces) == {"models", "sealgate-keys"}
    for namespace in namespaces.values():
        labels = namespace["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    policies = {
        p["metadata"]["name"]: p
        for p in resources(prod, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
    }
    assert policies["default-deny"]["spec"] == {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
    }
    deployment = model_server(prod)
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 3
    assert pod["runtimeClassName"] == "kata-vm-isolation"
    assert pod["nodeSelector"] == {"sealgate.io/pool": "sandboxed"}
    assert pod["tolerations"][0] == {
        "key": "sealgate.io/sandboxed",
        "operator": "Equal",
        "value": "true",
        "effect": "NoSchedule",
    }
    assert (
        deployment["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"]
        == "true"
    )
    container = pod["containers"][0]
    assert container["command"][:3] == ["sealgate", "unseal", "/sealed/current"]
    command = container["command"]
    assert command[command.index("--keyserver") + 1] == (
        "https://keyserver.sealgate-keys.svc.cluster.local:8443"
    )
    assert command[command.index("--environment") + 1] == "prod"
    assert not any("vault.azure.net" in part for part in command)
    token = next(v for v in pod["volumes"] if v["name"] == "keyserver-token")
    assert token["projected"]["sources"] == [
        {
            "serviceAccountToken": {
                "audience": "api://sealgate-keyserver-prod",
                "expirationSeconds": 3600,
                "path": "token",
            }
        }
    ]
    assert container["command"][container["command"].index("--into") + 1] == "/models/current"
    assert "--exec" in container["command"]
    models = next(v for v in pod["volumes"] if v["name"] == "models")
    assert models["emptyDir"]["medium"] == "Memory"


def test_environments_differ(plans: dict[str, dict[str, Any]]) -> None:
    dev, prod = plans["dev"], plans["prod"]
    assert only(dev, "azure-native:storage:StorageAccount")["sku"] == {"name": "Standard_LRS"}
    assert "availabilityZones" not in only(dev, "azure-native:containerservice:AgentPool")
    assert model_server(dev)["spec"]["replicas"] == 1
    assert only(prod, "azure-native:apimanagement:ApiManagementService")["sku"] == {
        "name": "Premium",
        "capacity": 3,
    }
