"""A model that reaches its pod, on every stack's plan: the kubelet pulls from the registry the
program creates, released from quarantine by the release pipeline; the trust ConfigMap exists
with what the pod reads; an init container pulls the promoted sealed model; the network
policy admits exactly the pod's peers; an internal load balancer is APIM's backend."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import click
import pytest
from sealgate.cli import cli
from sealgate.platform._cluster import NETWORK_CONTRIBUTOR
from sealgate.platform._network import subnet_cidrs
from sealgate.platform._plan import principal_id
from sealgate.platform._registry import ACR_PULL, ACR_QUARANTINE_WRITER
from sealgate.platform._workloads import GATE_PUB, KEYSERVER_CA, SEALED_MODEL, TRUST_FILE
from sealgate.promotion._signed import key_ring
from sealgate.sealing._signing_keys import parse_signing_public_key
from sealgate.sealing._trust import load_trust

from tests.infra.conftest import STACKS, only, resources

ROLE = "azure-native:authorization:RoleAssignment"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def named(plan: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    [found] = [r for r in resources(plan, kind) if r["metadata"]["name"] == name]
    return found


def pod(plan: dict[str, Any]) -> dict[str, Any]:
    return dict(named(plan, DEPLOYMENT, "model-server")["spec"]["template"]["spec"])


def grants(plan: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [g for g in resources(plan, ROLE) if g["roleDefinitionId"].endswith(f"/{role}")]


def config_value(plan: dict[str, Any], key: str) -> str:
    return str(plan["config"][f"sealgate:{key}"])


def parse(argv: list[str]) -> click.Context:
    assert argv[0] == "sealgate"
    command = cli.get_command(click.Context(cli), argv[1])
    assert command is not None
    return command.make_context(argv[1], list(argv[2:]))


@pytest.mark.parametrize("stack", STACKS)
def test_the_kubelet_pulls_the_image_from_the_programs_own_registry(
    stack: str, plans: dict[str, dict[str, Any]]
) -> None:
    plan = plans[stack]
    registry = only(plan, "azure-native:containerregistry:Registry")
    login_server = f"{registry['registryName'].lower()}.azurecr.io"
    digest = config_value(plan, "model_server_image_digest")
    spec = pod(plan)
    for container in spec["initContainers"] + spec["containers"]:
        assert container["image"] == f"{login_server}/model-server@{digest}"
    [pull] = grants(plan, ACR_PULL)
    assert pull["principalId"] == principal_id(f"sealgate-{stack}-cluster-aks-kubelet")
    assert pull["scope"].endswith(f"/sealgate-{stack}-registry-acr")  # the registry's id


@pytest.mark.parametrize("stack", STACKS)
def test_quarantine_has_a_release_path(stack: str, plans: dict[str, dict[str, Any]]) -> None:
    """Quarantine stays on, and the release pipeline's identity (the gate's) may release."""
    plan = plans[stack]
    registry = only(plan, "azure-native:containerregistry:Registry")
    assert registry["policies"]["quarantinePolicy"] == {"status": "enabled"}
    [release] = grants(plan, ACR_QUARANTINE_WRITER)
    assert release["principalId"] == principal_id(f"sealgate-{stack}-gate-identity")
    [pull] = grants(plan, ACR_PULL)
    assert release["scope"] == pull["scope"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_trust_config_map_holds_what_the_pod_reads(
    stack: str, plans: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    plan = plans[stack]
    spec = pod(plan)
    [volume] = [v for v in spec["volumes"] if v["name"] == "trust"]
    trust_map = named(plan, "kubernetes:core/v1:ConfigMap", volume["configMap"]["name"])
    assert trust_map["metadata"]["namespace"] == "models"
    for key, text in trust_map["data"].items():
        (tmp_path / key).write_text(text)
    folder = str(Path(TRUST_FILE).parent)
    assert load_trust(tmp_path / Path(TRUST_FILE).name).signers  # the release signers load
    gate = parse_signing_public_key((tmp_path / Path(GATE_PUB).name).read_bytes(), "gate")
    assert key_ring([gate])
    assert (tmp_path / Path(KEYSERVER_CA).name).read_text().startswith("-----BEGIN CERTIFICATE")
    for container in spec["initContainers"] + spec["containers"]:
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert mounts[folder]["name"] == "trust" and mounts[folder]["readOnly"] is True


@pytest.mark.parametrize("stack", STACKS)
def test_the_init_container_pulls_the_promoted_model_into_the_sealed_volume(
    stack: str, plans: dict[str, dict[str, Any]]
) -> None:
    plan = plans[stack]
    spec = pod(plan)
    [init] = spec["initContainers"]
    ctx = parse(init["command"])
    assert ctx.info_name == "pull"
    assert ctx.params["name"] == config_value(plan, "served_model")
    assert ctx.params["stage"] == stack
    assert ctx.params["registry_url"].startswith("azblob://") and ctx.params[
        "registry_url"
    ].endswith("/models")
    assert ctx.params["gate_pubs"] == (Path(GATE_PUB),)
    assert ctx.params["into"] == Path(SEALED_MODEL)
    init_mounts = {m["mountPath"]: m for m in init["volumeMounts"]}
    assert init_mounts["/sealed"]["name"] == "sealed" and not init_mounts["/sealed"].get("readOnly")
    [server] = spec["containers"]
    server_mounts = {m["mountPath"]: m for m in server["volumeMounts"]}
    assert server_mounts["/sealed"] == {"mountPath": "/sealed", "name": "sealed", "readOnly": True}
    unseal = parse(server["command"])
    assert unseal.params["sealed_dir"] == Path(SEALED_MODEL)
    assert unseal.params["expect_name"] == ctx.params["name"]
    # The pod's identity may read the registry's container, nothing more.
    identity = principal_id(f"sealgate-{stack}-model-server-identity")
    [read] = [g for g in resources(plan, ROLE) if g["principalId"] == identity]
    assert read["scope"].endswith("/blobServices/default/containers/models")


@pytest.mark.parametrize("stack", STACKS)
def test_the_network_policy_admits_exactly_the_pods_peers(
    stack: str, plans: dict[str, dict[str, Any]]
) -> None:
    plan = plans[stack]
    policy = named(plan, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "model-server")["spec"]
    cidrs = subnet_cidrs(config_value(plan, "vnet_cidr"))
    egress = policy["egress"]
    assert len(egress) == 4
    keyserver, endpoints, entra, dns = egress
    assert keyserver["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "sealgate-keys"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "keyserver"}},
        }
    ]
    assert keyserver["ports"] == [{"port": 8443, "protocol": "TCP"}]
    assert endpoints == {
        "to": [{"ipBlock": {"cidr": cidrs["endpoints"]}}],
        "ports": [{"port": 443, "protocol": "TCP"}],
    }
    # Entra ID's token endpoint is public: HTTPS outside private space and the metadata service.
    [block] = entra["to"]
    assert block["ipBlock"]["cidr"] == "0.0.0.0/0" and entra["ports"] == [
        {"port": 443, "protocol": "TCP"}
    ]
    assert {"10.0.0.0/8", "169.254.0.0/16"} <= set(block["ipBlock"]["except"])
    assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert {p["port"] for p in dns["ports"]} == {53}


@pytest.mark.parametrize("stack", STACKS)
def test_an_internal_load_balancer_is_apims_backend(
    stack: str, plans: dict[str, dict[str, Any]]
) -> None:
    plan = plans[stack]
    service = named(plan, "kubernetes:core/v1:Service", "model-server")
    annotations = service["metadata"]["annotations"]
    assert service["spec"]["type"] == "LoadBalancer"
    assert annotations["service.beta.kubernetes.io/azure-load-balancer-internal"] == "true"
    # The cluster may place the load balancer's frontend in the model subnet, named here.
    [network] = grants(plan, NETWORK_CONTRIBUTOR)
    assert network["principalId"] == principal_id(f"sealgate-{stack}-cluster-aks")
    assert network["scope"].endswith("-aks-models")
    subnet = network["scope"].rsplit("/", 1)[-1]
    assert annotations["service.beta.kubernetes.io/azure-load-balancer-internal-subnet"] == subnet
    address = annotations["service.beta.kubernetes.io/azure-load-balancer-ipv4"]
    models_subnet = ipaddress.ip_network(
        subnet_cidrs(config_value(plan, "vnet_cidr"))["aks-models"]
    )
    assert ipaddress.ip_address(address) in models_subnet
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": "model-server"}
    assert service["spec"]["ports"][0]["port"] == 8080
    api = only(plan, "azure-native:apimanagement:Api")
    assert api["serviceUrl"] == f"http://{address}:8080"
    assert "cluster.local" not in api["serviceUrl"]


def test_apim_refuses_a_backend_at_a_cluster_dns_name() -> None:
    """The old backend, `model-server.models.svc.cluster.local`, is not an address APIM in its
    VNet can resolve: the component refuses it before any resource is declared."""
    from sealgate.errors import InputError
    from sealgate.platform import Placement
    from sealgate.platform._apim import ApiGatewayArgs

    settings: dict[str, Any] = {
        "placement": Placement(resource_group="rg", location="westeurope", tags={}),
        "tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "audience": "3f1c2a6e-8b4d-4e7a-9c1f-5a2b7d9e0c41",
        "publisher_email": "platform@sealgate.example",
        "subnet_id": "subnet",
        "dns_zone_name": "azure-api.net",
        "workspace_id": "workspace",
    }
    with pytest.raises(InputError, match="cannot resolve cluster DNS names"):
        ApiGatewayArgs(backend_url="http://model-server.models.svc.cluster.local:8080", **settings)
    assert ApiGatewayArgs(backend_url="http://10.40.7.254:8080", **settings).backend_url
