"""The whole platform for one stack: ``build(config)`` declares every component.

``infra/__main__.py`` (the Pulumi CLI) and ``infra/plan.py`` (offline, under the mock
runtime) both call ``build``, so a plan describes exactly what ``pulumi up`` would create.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.containerservice as containerservice
import pulumi_azure_native.managedidentity as managedidentity
import pulumi_azure_native.resources as resources
import pulumi_kubernetes as k8s

from sealgate.platform._apim import ApiGateway
from sealgate.platform._cluster import Cluster
from sealgate.platform._common import Platform
from sealgate.platform._config import StackConfig
from sealgate.platform._edge import Edge
from sealgate.platform._gateway import Gateway
from sealgate.platform._keys import KeyStore
from sealgate.platform._monitoring import Monitoring
from sealgate.platform._network import Network
from sealgate.platform._registry import ModelRegistry
from sealgate.platform._storage import ModelStorage
from sealgate.platform._workloads import NAMESPACE, SERVICE_ACCOUNT, Workloads


def _kubeconfig(cluster: containerservice.ManagedCluster, group: Any) -> pulumi.Output[str]:
    import base64

    credentials = containerservice.list_managed_cluster_user_credentials_output(
        resource_group_name=group, resource_name=cluster.name, format="exec"
    )
    return credentials.kubeconfigs.apply(lambda k: base64.b64decode(k[0].value).decode())


def build(config: StackConfig) -> dict[str, Any]:
    """Declare the stack's resources; return the stack outputs a pipeline needs."""
    prefix = f"{config.name_prefix}-{config.environment}"
    tags = {"app": "sealgate", "environment": config.environment}
    group = resources.ResourceGroup(
        f"{prefix}-rg", location=config.location, resource_group_name=f"{prefix}-rg", tags=tags
    )
    platform = Platform(config, group.name, config.location, tags)
    client = authorization.get_client_config_output()
    subscription_id = client.subscription_id

    monitoring = Monitoring(f"{prefix}-monitoring", platform)
    workspace_id = monitoring.workspace_id
    net = Network(f"{prefix}-network", platform)
    endpoints = net.subnet_ids["endpoints"]
    keys = KeyStore(
        f"{prefix}-keys",
        platform,
        subscription_id=subscription_id,
        subnet_id=endpoints,
        dns_zone_ids=net.dns_zone_ids,
        workspace_id=workspace_id,
    )
    store = ModelStorage(
        f"{prefix}-storage",
        platform,
        cmk_identity_id=keys.cmk_identity.id,
        vault_uri=keys.vault_uri,
        subnet_id=endpoints,
        dns_zone_id=net.dns_zone_ids["blob"],
        workspace_id=workspace_id,
    )
    registry = ModelRegistry(
        f"{prefix}-registry",
        platform,
        cmk_identity_id=keys.cmk_identity.id,
        cmk_identity_client_id=keys.cmk_identity.client_id,
        key_uri=keys.keys["registry-cmk"],
        subnet_id=endpoints,
        dns_zone_id=net.dns_zone_ids["registry"],
        workspace_id=workspace_id,
    )
    cluster = Cluster(
        f"{prefix}-cluster",
        platform,
        system_subnet_id=net.subnet_ids["aks-system"],
        model_subnet_id=net.subnet_ids["aks-models"],
        workspace_id=workspace_id,
    )
    apim = ApiGateway(
        f"{prefix}-api",
        platform,
        backend_url=f"http://model-server.{NAMESPACE}.svc.cluster.local:8080",
        subnet_id=endpoints,
        dns_zone_id=net.dns_zone_ids["Gateway"],
        workspace_id=workspace_id,
    )
    gateway_identity = managedidentity.UserAssignedIdentity(
        f"{prefix}-gateway-identity",
        resource_group_name=group.name,
        location=config.location,
        tags=tags,
    )
    gateway = Gateway(
        f"{prefix}-gateway",
        platform,
        subscription_id=subscription_id,
        subnet_id=net.subnet_ids["gateway"],
        backend_fqdn=apim.gateway_host,
        tls_secret_id=pulumi.Output.concat(keys.vault_uri, "secrets/gateway-tls"),
        identity_id=gateway_identity.id,
        workspace_id=workspace_id,
    )
    edge = Edge(
        f"{prefix}-edge",
        platform,
        subscription_id=subscription_id,
        subnet_id=endpoints,
        dns_zone_ids=net.dns_zone_ids,
        workspace_id=workspace_id,
    )
    monitoring.add_alerts()

    # The model server's Azure identity, federated with its Kubernetes service account.
    server_identity = managedidentity.UserAssignedIdentity(
        f"{prefix}-model-server-identity",
        resource_group_name=group.name,
        location=config.location,
        tags=tags,
    )
    managedidentity.FederatedIdentityCredential(
        f"{prefix}-model-server-federation",
        resource_group_name=group.name,
        resource_name_=server_identity.name,
        issuer=cluster.oidc_issuer_url,
        subject=f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}",
        audiences=["api://AzureADTokenExchange"],
        opts=pulumi.ResourceOptions(parent=server_identity),
    )
    keys.grant_crypto_user(
        f"{prefix}-model-server-crypto", server_identity.principal_id, subscription_id
    )
    provider = k8s.Provider(
        f"{prefix}-k8s",
        kubeconfig=_kubeconfig(cluster.cluster, group.name),
        enable_server_side_apply=True,
        opts=pulumi.ResourceOptions(depends_on=[cluster.model_pool]),
    )
    workloads = Workloads(
        f"{prefix}-workloads",
        platform,
        provider=provider,
        identity_client_id=server_identity.client_id,
        model_key_uri=keys.keys["model-kek"],
    )
    return {
        "environment": config.environment,
        "resource_group": group.name,
        "vault_uri": keys.vault_uri,
        "model_key_uri": keys.keys["model-kek"],
        "signing_key_uri": keys.keys["signing"],
        "storage_account": store.account.name,
        "registry_login_server": registry.registry.login_server,
        "cluster_name": cluster.cluster.name,
        "oidc_issuer_url": cluster.oidc_issuer_url,
        "model_server_client_id": server_identity.client_id,
        "model_namespace": workloads.namespace,
        "gateway_public_ip": gateway.public_ip,
        "api_gateway_host": apim.gateway_host,
        "iot_hub_name": edge.hub.name,
        "dps_name": edge.dps.name,
        "log_analytics_workspace_id": workspace_id,
        "promotion_approvals": config.promotion_approvals,
    }
