"""The key release service as every stack's plan declares it: who may unwrap, who may reach it.

Role assignments are read as Azure evaluates them: an assignment covers its scope and
everything below it (a vault-wide grant covers every key of the vault), so a KEK's unwrap
principals are those of every unwrap-capable assignment at the key or any scope above it.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from sealgate.errors import InputError
from sealgate.inputs._pulumi_plan import kubernetes_manifest
from sealgate.platform import KeyReleaseServiceArgs, Placement, VaultKey
from sealgate.platform._keys import (
    CRYPTO_SERVICE_ENCRYPTION_USER,
    CRYPTO_SERVICE_RELEASE_USER,
    KEY_VAULT_CRYPTO_ROLES,
    UNWRAP_ROLES,
)
from sealgate.platform._keyserver import BLOB_DATA_CONTRIBUTOR, writable_paths_condition
from sealgate.platform._naming import stable_suffix
from sealgate.platform._plan import PROJECT, SUBSCRIPTION, principal_id

from tests.infra.conftest import STACKS, resources

ROLE = "azure-native:authorization:RoleAssignment"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
KEYSERVER_NS = "sealgate-keys"
MODEL_SERVER_LABELS = {
    "app.kubernetes.io/name": "model-server",
    "sealgate.io/role": "model-server",
    "azure.workload.identity/use": "true",
}
KEYSERVER_LABELS = {
    "app.kubernetes.io/name": "keyserver",
    "sealgate.io/role": "keyserver",
    "azure.workload.identity/use": "true",
}


def states(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [step["newState"] for step in plan["steps"]]


def named(plan: dict[str, Any], type_token: str, suffix: str) -> dict[str, Any]:
    [state] = [
        s for s in states(plan) if s["type"] == type_token and s["urn"].endswith(f"-{suffix}")
    ]
    return state


def principal(stack: str, identity: str) -> str:
    return principal_id(f"sealgate-{stack}-{identity}")


def role_of(assignment: dict[str, Any]) -> str:
    return str(assignment["roleDefinitionId"]).rsplit("/", 1)[-1]


def key_id(key: dict[str, Any]) -> str:
    return (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{key['resourceGroupName']}/providers/"
        f"Microsoft.KeyVault/vaults/{key['vaultName']}/keys/{key['keyName']}"
    )


def covers(scope: str, resource_id: str) -> bool:
    scope = scope.rstrip("/")
    return resource_id == scope or resource_id.startswith(scope + "/")


def keks(plan: dict[str, Any]) -> dict[str, str]:
    """Each environment KEK of the plan: key name -> resource id."""
    return {
        key["keyName"]: key_id(key)
        for key in resources(plan, "azure-native:keyvault:Key")
        if key["keyName"].startswith("sealgate-kek-") and not key["keyName"].endswith("-tee")
    }


def unwrap_grants(plan: dict[str, Any], resource_id: str) -> list[dict[str, Any]]:
    """Every role assignment of the plan that lets its principal unwrap with the key."""
    return [
        grant
        for grant in resources(plan, ROLE)
        if role_of(grant) in UNWRAP_ROLES and covers(str(grant["scope"]), resource_id)
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_the_model_server_identity_has_no_key_vault_crypto_role(
    stack: str, plans: dict[str, dict[str, Any]]
) -> None:
    model_server = principal(stack, "model-server-identity")
    grants = [g for g in resources(plans[stack], ROLE) if g["principalId"] == model_server]
    assert [role_of(g) for g in grants if role_of(g) in KEY_VAULT_CRYPTO_ROLES] == []
    # Its one Azure role: read the promotion registry's container (its init container pulls
    # the sealed model). Keys come from the key release service, never from Key Vault.
    assert [(role_of(g), g["scope"].rsplit("/", 1)[-1]) for g in grants] == [
        ("2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", "models")
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_only_the_key_release_service_may_unwrap_with_a_kek(
    stack: str, plans: dict[str, dict[str, Any]]
) -> None:
    plan = plans[stack]
    found = keks(plan)
    assert set(found) == {f"sealgate-kek-{stack}"}
    for kek in found.values():
        [grant] = unwrap_grants(plan, kek)
        assert grant["principalId"] == principal(stack, "keyserver-identity")
        assert grant["scope"] == kek  # at the key itself, not the vault
        assert role_of(grant) == CRYPTO_SERVICE_ENCRYPTION_USER


@pytest.mark.parametrize(
    "scope",
    ["vault", "group", "subscription"],
)
def test_a_grant_above_the_key_is_seen_as_one_on_the_kek(
    scope: str, plans: dict[str, dict[str, Any]]
) -> None:
    # What main had: the model server with Crypto User on the vault (the attack's credential).
    plan = copy.deepcopy(plans["prod"])
    kek = keks(plan)["sealgate-kek-prod"]
    scopes = {
        "vault": kek.rsplit("/keys/", 1)[0],
        "group": kek.split("/providers/", 1)[0],
        "subscription": f"/subscriptions/{SUBSCRIPTION}",
    }
    leaked = {
        "scope": scopes[scope],
        "principalId": principal("prod", "model-server-identity"),
        "roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/"
        "12338af0-0e69-4776-bea7-57ae8d297424",
    }
    plan["steps"].append({"newState": {"type": ROLE, "urn": "urn:leak", "inputs": leaked}})
    principals = {g["principalId"] for g in unwrap_grants(plan, kek)}
    assert principals == {
        principal("prod", "keyserver-identity"),
        principal("prod", "model-server-identity"),
    }


def test_the_tee_key_is_released_only_by_the_service(plans: dict[str, dict[str, Any]]) -> None:
    plan = plans["prod"]
    [tee] = [
        key
        for key in resources(plan, "azure-native:keyvault:Key")
        if key["keyName"].endswith("-tee")
    ]
    grants = [g for g in resources(plan, ROLE) if covers(str(g["scope"]), key_id(tee))]
    assert [(g["principalId"], role_of(g)) for g in grants] == [
        (principal("prod", "keyserver-identity"), CRYPTO_SERVICE_RELEASE_USER)
    ]
    assert unwrap_grants(plan, key_id(tee)) == []


def test_the_service_writes_only_its_state_and_the_audit_log(
    plans: dict[str, dict[str, Any]],
) -> None:
    plan = plans["prod"]
    keyserver = principal("prod", "keyserver-identity")
    grants = [g for g in resources(plan, ROLE) if g["principalId"] == keyserver]
    [storage] = [g for g in grants if g["scope"].endswith("/containers/models")]
    account = named(plan, "azure-native:storage:StorageAccount", "storage-account")["inputs"]
    assert storage["scope"].endswith(
        f"/storageAccounts/{account['accountName']}/blobServices/default/containers/models"
    )
    assert role_of(storage) == BLOB_DATA_CONTRIBUTOR
    assert storage["conditionVersion"] == "2.0"
    condition = storage["condition"]
    assert condition == writable_paths_condition()
    for action in ("write", "add/action", "delete", "move/action"):
        assert f"containers/blobs/{action}'}})" in condition
    assert "StringStartsWith 'keyserver/'" in condition
    assert "StringStartsWith 'audit/'" in condition
    # Unwrap on the KEK, release on the TEE key, the registry, the audit head witness.
    assert len(grants) == 4


# NetworkPolicy semantics, enough for the selectors the platform uses (matchLabels only).
def _selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    assert selector is None or set(selector) <= {"matchLabels"}, selector
    wanted = (selector or {}).get("matchLabels", {})
    return all(labels.get(k) == v for k, v in wanted.items())


def _peer_matches(
    peer: dict[str, Any], own_namespace: str, namespace: str, labels: dict[str, str]
) -> bool:
    if "ipBlock" in peer:
        return False  # pods have overlay addresses outside every ipBlock the platform uses
    namespace_labels = {"kubernetes.io/metadata.name": namespace}
    if "namespaceSelector" in peer:
        in_namespace = _selects(peer["namespaceSelector"], namespace_labels)
    else:
        in_namespace = namespace == own_namespace
    return in_namespace and _selects(peer.get("podSelector"), labels)


def allowed(
    plan: dict[str, Any],
    direction: str,
    pod: tuple[str, dict[str, str]],
    peer: tuple[str, dict[str, str]],
    port: int,
) -> bool:
    """Whether the plan's NetworkPolicies let ``pod`` receive from (Ingress) or send to
    (Egress) a pod ``peer`` on TCP ``port``."""
    namespace, labels = pod
    selecting = [
        p
        for p in resources(plan, NETWORK_POLICY)
        if p["metadata"]["namespace"] == namespace
        and _selects(p["spec"]["podSelector"], labels)
        and direction in p["spec"]["policyTypes"]
    ]
    if not selecting:
        return True
    field, peers = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in selecting:
        for rule in policy["spec"].get(field, []):
            ports = rule.get("ports")
            if ports and not any(p.get("port") == port and p["protocol"] == "TCP" for p in ports):
                continue
            sources = rule.get(peers)
            if sources is None or any(_peer_matches(s, namespace, *peer) for s in sources):
                return True
    return False


KEYSERVER_POD = (KEYSERVER_NS, KEYSERVER_LABELS)
MODEL_SERVER_POD = ("models", MODEL_SERVER_LABELS)


@pytest.mark.parametrize("stack", STACKS)
def test_only_model_server_pods_reach_the_service(
    stack: str, plans: dict[str, dict[str, Any]]
) -> None:
    plan = plans[stack]
    assert allowed(plan, "Ingress", KEYSERVER_POD, MODEL_SERVER_POD, 8443)
    assert allowed(plan, "Egress", MODEL_SERVER_POD, KEYSERVER_POD, 8443)
    refused = [
        ("models", {"app.kubernetes.io/name": "debug"}),  # another pod of the namespace
        ("default", MODEL_SERVER_LABELS),  # a model-server label outside the namespace
        ("kube-system", {"k8s-app": "kube-dns"}),
        (KEYSERVER_NS, KEYSERVER_LABELS),  # one replica to another
    ]
    for source in refused:
        assert not allowed(plan, "Ingress", KEYSERVER_POD, source, 8443), source
    assert not allowed(plan, "Ingress", KEYSERVER_POD, MODEL_SERVER_POD, 8080)


def test_the_service_reaches_private_endpoints_and_public_https_only(
    plans: dict[str, dict[str, Any]],
) -> None:
    [policy] = [
        p
        for p in resources(plans["prod"], NETWORK_POLICY)
        if p["metadata"] == {"name": "keyserver", "namespace": KEYSERVER_NS}
    ]
    blocks = [
        peer["ipBlock"]
        for rule in policy["spec"]["egress"]
        for peer in rule["to"]
        if "ipBlock" in peer
    ]
    # The endpoints subnet of prod's 10.42.0.0/16 (Key Vault and Storage private endpoints).
    assert {"cidr": "10.42.8.0/22"} in blocks
    [public] = [b for b in blocks if b["cidr"] == "0.0.0.0/0"]
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= set(
        public["except"]
    )
    assert not allowed(plans["prod"], "Egress", KEYSERVER_POD, MODEL_SERVER_POD, 8080)


def _keyserver_manifests(plan: dict[str, Any]) -> list[dict[str, Any]]:
    service = named(plan, "sealgate:infra:KeyReleaseService", "keyserver")["urn"]
    namespace = next(
        s["urn"]
        for s in states(plan)
        if s.get("parent") == service and s["type"].startswith("kubernetes:")
    )
    objects = [s for s in states(plan) if s["urn"] == namespace or s.get("parent") == namespace]
    manifests = [kubernetes_manifest(s["type"], copy.deepcopy(s["inputs"])) for s in objects]
    return [m for m in manifests if m is not None]


def _check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sealgate", "check", str(path), "--format", "json"],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_rendered_manifests_pass_sealgate_check(
    plans: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    manifests = _keyserver_manifests(plans["prod"])
    kinds = sorted(m["kind"] for m in manifests)
    assert kinds == [
        "ConfigMap",
        "Deployment",
        "Namespace",
        "NetworkPolicy",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    ]
    path = tmp_path / "keyserver.yaml"
    path.write_text(yaml.safe_dump_all(manifests, sort_keys=False))
    done = _check(path)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["findings"] == []
    # The same manifests, weakened: the container rules see them.
    deployment = next(m for m in manifests if m["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["readOnlyRootFilesystem"] = False
    container["image"] = "docker.io/library/keyserver:latest"
    path.write_text(yaml.safe_dump_all(manifests, sort_keys=False))
    denied = _check(path)
    assert denied.returncode == 1
    ids = {f["id"] for f in json.loads(denied.stdout)["findings"]}
    assert {"SG-K8S-014", "SG-K8S-016", "SG-K8S-017"} <= ids


@pytest.mark.parametrize("stack", STACKS)
def test_the_deployment(stack: str, plans: dict[str, dict[str, Any]]) -> None:
    plan = plans[stack]
    deployment = named(plan, DEPLOYMENT, "keyserver-deployment")["inputs"]
    assert deployment["spec"]["replicas"] == (3 if stack == "prod" else 2)
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    registry = named(plan, "azure-native:containerregistry:Registry", "registry-acr")["inputs"]
    assert registry["registryName"] == f"sealgate{stack}{stable_suffix(PROJECT, stack)}"
    image = container["image"]
    assert image.startswith(f"{registry['registryName']}.azurecr.io/keyserver@sha256:")
    assert container["command"] == [
        "sealgate",
        "keyserver",
        "serve",
        "--config",
        "/etc/sealgate/keyserver.yaml",
    ]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["readinessProbe"]["httpGet"] == {
        "path": "/v1/health",
        "port": "https",
        "scheme": "HTTPS",
    }
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "keyserver-tls"
    assert pod["serviceAccountName"] == "keyserver"
    assert pod["automountServiceAccountToken"] is False
    service = named(plan, "kubernetes:core/v1:Service", "keyserver-service")["inputs"]
    assert service["spec"]["ports"] == [{"name": "https", "port": 8443, "targetPort": "https"}]
    assert service["spec"]["selector"].items() <= KEYSERVER_LABELS.items()


@pytest.mark.parametrize("stack", STACKS)
def test_the_configuration_names_the_programs_registry_kek_and_issuer(
    stack: str, plans: dict[str, dict[str, Any]]
) -> None:
    plan = plans[stack]
    config_map = named(plan, "kubernetes:core/v1:ConfigMap", "keyserver-config")["inputs"]
    config = yaml.safe_load(config_map["data"]["keyserver.yaml"])
    account = named(plan, "azure-native:storage:StorageAccount", "storage-account")["inputs"]
    assert config["registry"] == f"azblob://{account['accountName']}/models"
    assert config["environments"] == {
        stack: {"kek": f"keyvault:https://plan.vault.azure.net/keys/sealgate-kek-{stack}"}
    }
    audience = f"api://sealgate-keyserver-{stack}"
    issuer = f"https://oidc.plan.invalid/sealgate-{stack}-cluster-aks/"
    assert config["service_id"] == audience
    assert config["issuers"] == [{"issuer": issuer, "audiences": [audience]}]
    assert config["tls"] == {
        "certificate": "/run/sealgate/tls/tls.crt",
        "key": "/run/sealgate/tls/tls.key",
    }
    # The model servers' projected token is for this audience, from this issuer.
    model_server = next(
        d for d in resources(plan, DEPLOYMENT) if d["metadata"]["name"] == "model-server"
    )
    token = next(
        v
        for v in model_server["spec"]["template"]["spec"]["volumes"]
        if v["name"] == "keyserver-token"
    )
    assert token["projected"]["sources"][0]["serviceAccountToken"]["audience"] == audience
    federation = named(
        plan, "azure-native:managedidentity:FederatedIdentityCredential", "keyserver-federation"
    )["inputs"]
    assert federation["subject"] == "system:serviceaccount:sealgate-keys:keyserver"
    assert federation["issuer"] == issuer


def _args(**changes: Any) -> KeyReleaseServiceArgs:
    settings: dict[str, Any] = {
        "placement": Placement(resource_group="rg", location="westeurope"),
        "subscription_id": SUBSCRIPTION,
        "image": "sealgateprod.azurecr.io/keyserver@sha256:" + "a" * 64,
        "service_id": "api://sealgate-keyserver-prod",
        "oidc_issuer_url": "https://oidc.example/",
        "keks": {"prod": VaultKey(uri="https://v.vault.azure.net/keys/k", id="/k")},
        "registry_account": "account",
        "registry_container_id": "/c",
        "endpoint_cidr": "10.42.8.0/22",
        **changes,
    }
    return KeyReleaseServiceArgs(**settings)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"replicas": 1}, "replicas must be 2..20"),
        ({"image": "sealgateprod.azurecr.io/keyserver:1.0"}, "must be pinned by digest"),
        ({"keks": {}}, "keks must name at least one environment"),
        ({"keks": {"Prod!": VaultKey(uri="u")}}, "environment 'Prod!'"),
        ({"tee_keys": {"dev": VaultKey(uri="u")}}, "tee_keys names an environment"),
        ({"endpoint_cidr": "endpoints"}, "endpoint_cidr 'endpoints' is not an IPv4 CIDR"),
    ],
)
def test_args_refuse_what_would_weaken_the_service(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        _args(**changes)
