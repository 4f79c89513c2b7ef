"""The whole platform for one stack: ``build_platform(config)`` declares every component.

Here, and only here, a stack's ``StackConfig`` becomes each component's Args. ``deploy``
(called by ``infra/__main__.py`` under the Pulumi CLI) and ``sealgate.platform._plan``
(offline, under the mock runtime) both call ``build_platform``, so a plan describes exactly
what ``pulumi up`` would create.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, cast

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.containerregistry as containerregistry
import pulumi_azure_native.containerservice as containerservice
import pulumi_azure_native.managedidentity as managedidentity
import pulumi_azure_native.resources as resources
import pulumi_kubernetes as k8s

from sealgate.platform._apim import ApiGateway, ApiGatewayArgs, ApiManagementSku
from sealgate.platform._cluster import Cluster, ClusterArgs
from sealgate.platform._common import Placement, role_definition
from sealgate.platform._config import StackConfig, load_stack_config
from sealgate.platform._edge import Edge, EdgeArgs, IotHubSku
from sealgate.platform._gateway import Gateway, GatewayArgs
from sealgate.platform._keys import (
    PRIVATE_LINK_GROUPS,
    KeySpec,
    KeyStore,
    KeyStoreArgs,
    KeyStoreKind,
    environment_keys,
    kek_name,
    tee_key_name,
)
from sealgate.platform._keyserver import (
    BLOB_DATA_CONTRIBUTOR,
    KeyReleaseService,
    KeyReleaseServiceArgs,
    VaultKey,
    witness_url,
)
from sealgate.platform._keyserver import NAMESPACE as KEYSERVER_NAMESPACE
from sealgate.platform._monitoring import Monitoring, MonitoringArgs
from sealgate.platform._naming import azure_name
from sealgate.platform._network import Network, NetworkArgs, subnet_cidrs
from sealgate.platform._registry import ModelRegistry, ModelRegistryArgs, login_server
from sealgate.platform._storage import ModelStorage, ModelStorageArgs, witness_writer_condition
from sealgate.platform._workloads import (
    NAMESPACE,
    SERVICE_ACCOUNT,
    ModelTrust,
    Workloads,
    WorkloadsArgs,
    internal_ip,
)

# Storage Blob Data Reader: the model server's init container reads sealed models and pointers.
BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"

# The vault secret (certificate) of the App Gateway's HTTPS listener.
GATEWAY_CERTIFICATE_NAME = "gateway-tls"


def _kubeconfig(cluster: containerservice.ManagedCluster, group: Any) -> pulumi.Output[str]:
    credentials = containerservice.list_managed_cluster_user_credentials_output(
        resource_group_name=group, resource_name=cluster.name, format="exec"
    )
    return credentials.kubeconfigs.apply(lambda k: base64.b64decode(k[0].value).decode())


def _platform_keys(config: StackConfig) -> tuple[KeySpec, ...]:
    """The stack's keys: signing, the CMKs, and its environment's KEK (and TEE key)."""
    return (
        KeySpec(name="signing", kty="EC-HSM", key_ops=("sign", "verify")),
        KeySpec(name="storage-cmk"),
        KeySpec(name="registry-cmk"),
        *environment_keys(config.environment, tee=config.tee_key_release),
    )


def _gate_identity(
    prefix: str, placement: Placement, subscription_id: pulumi.Input[str], store: ModelStorage
) -> managedidentity.UserAssignedIdentity:
    """The promotion gate's identity (the pipeline's Azure service connection federates with
    it): it may create audit heads in the witness container, never delete one."""
    identity = managedidentity.UserAssignedIdentity(
        f"{prefix}-gate-identity",
        resource_name_=azure_name(managedidentity.UserAssignedIdentity, f"{prefix}-gate-identity"),
        resource_group_name=placement.resource_group,
        location=placement.location,
        tags=placement.tags,
    )
    authorization.RoleAssignment(
        f"{prefix}-gate-witness",
        role_assignment_name=azure_name(authorization.RoleAssignment, f"{prefix}-gate-witness"),
        scope=store.witness.id,
        principal_id=identity.principal_id,
        principal_type="ServicePrincipal",
        role_definition_id=role_definition(subscription_id, BLOB_DATA_CONTRIBUTOR),
        condition=witness_writer_condition(),
        condition_version="2.0",
        description="gate: create audit heads in the witness; never delete",
        opts=pulumi.ResourceOptions(parent=identity),
    )
    return identity


def _required_tee(config: StackConfig) -> dict[str, dict[str, Any]]:
    """Confidential serving: the environment's keys go only to an attested, compliant,
    non-debuggable AMD SEV-SNP confidential VM (policies/sealgate/unseal/confidential)."""
    if not config.confidential_serving:
        return {}
    return {
        config.environment: {
            "attestation_types": ["sevsnpvm"],
            "compliance_status": ["azure-compliant-cvm"],
            "policy_hashes": list(config.confidential_policy_hashes),
        }
    }


def model_trust(config: StackConfig) -> ModelTrust:
    """The model server's trust (ConfigMap ``sealgate-trust``) from the stack's settings:
    each release signer named by its key id."""
    from sealgate.sealing._signing_keys import parse_signing_public_key, signing_key_id

    signers = {
        f"release-{signing_key_id(parse_signing_public_key(pem.encode(), 'release signer'))[:16]}": pem
        for pem in config.release_signer_keys
    }
    return ModelTrust(
        signers=signers,
        gate_public_keys=tuple(config.gate_public_keys),
        keyserver_ca=config.keyserver_ca,
    )


def build_platform(config: StackConfig) -> dict[str, Any]:
    """Declare the stack's resources; return the stack outputs a pipeline needs."""
    prefix = f"{config.name_prefix}-{config.environment}"
    prod = config.environment == "prod"
    zones = tuple(config.availability_zones)
    tags = {"app": "sealgate", "environment": config.environment}
    group = resources.ResourceGroup(
        f"{prefix}-rg", location=config.location, resource_group_name=f"{prefix}-rg", tags=tags
    )
    placement = Placement(resource_group=group.name, location=config.location, tags=tags)
    subscription_id = authorization.get_client_config_output().subscription_id

    monitoring = Monitoring(
        f"{prefix}-monitoring",
        MonitoringArgs(
            placement=placement,
            retention_days=config.log_retention_days,
            alert_emails=tuple(config.alert_emails),
            alert_webhooks=tuple(config.alert_webhooks),
        ),
    )
    workspace_id = monitoring.workspace_id
    net = Network(
        f"{prefix}-network", NetworkArgs(placement=placement, address_space=config.vnet_cidr)
    )
    endpoints = net.subnet_ids["endpoints"]
    keys = KeyStore(
        f"{prefix}-keys",
        KeyStoreArgs(
            placement=placement,
            tenant_id=config.tenant_id,
            subscription_id=subscription_id,
            endpoint_subnet_id=endpoints,
            private_dns_zone_id=net.dns_zone_ids[PRIVATE_LINK_GROUPS[config.key_store]],
            workspace_id=workspace_id,
            kind=cast(KeyStoreKind, config.key_store),
            keys=_platform_keys(config),
            key_rotation_days=config.key_rotation_days,
            hsm_admin_object_ids=tuple(config.aks_admin_group_object_ids),
            attestation_authority=config.attestation_authority,
        ),
    )
    store = ModelStorage(
        f"{prefix}-storage",
        ModelStorageArgs(
            placement=placement,
            cmk_identity_id=keys.cmk_identity.id,
            key_vault_uri=keys.vault_uri,
            cmk_dependencies=keys.cmk_dependencies("storage-cmk"),
            endpoint_subnet_id=endpoints,
            private_dns_zone_id=net.dns_zone_ids["blob"],
            workspace_id=workspace_id,
            # Production survives a zone and a region (GZRS: zone-redundant, replicated to
            # the paired region); policies SG-AZ-017 and SG-AZ-018.
            sku="Standard_GZRS" if prod else "Standard_LRS",
            blob_soft_delete_days=config.blob_soft_delete_days,
            audit_retention_days=config.audit_retention_days,
        ),
    )
    gate_identity = _gate_identity(prefix, placement, subscription_id, store)
    registry_name = azure_name(
        containerregistry.Registry, f"{config.name_prefix}{config.environment}"
    )
    registry = ModelRegistry(
        f"{prefix}-registry",
        ModelRegistryArgs(
            placement=placement,
            registry_name=registry_name,
            cmk_identity_id=keys.cmk_identity.id,
            cmk_identity_client_id=keys.cmk_identity.client_id,
            cmk_identity_principal_id=keys.cmk_identity.principal_id,
            tenant_id=config.tenant_id,
            subscription_id=subscription_id,
            key_uri=keys.key_uris["registry-cmk"],
            key_id=keys.key_ids.get("registry-cmk"),
            cmk_dependencies=keys.cmk_dependencies("registry-cmk"),
            bootstrap=config.bootstrap,
            endpoint_subnet_id=endpoints,
            private_dns_zone_id=net.dns_zone_ids["registry"],
            workspace_id=workspace_id,
            zone_redundant=bool(zones),
            untagged_retention_days=30 if prod else 7,
        ),
    )
    # The release pipeline (the gate's identity) releases gated images from quarantine.
    registry.grant_quarantine_release(
        f"{prefix}-gate-acr-release", gate_identity.principal_id, subscription_id
    )
    cluster = Cluster(
        f"{prefix}-cluster",
        ClusterArgs(
            placement=placement,
            dns_prefix=prefix,
            tenant_id=config.tenant_id,
            admin_group_object_ids=tuple(config.aks_admin_group_object_ids),
            system_subnet_id=net.subnet_ids["aks-system"],
            model_subnet_id=net.subnet_ids["aks-models"],
            workspace_id=workspace_id,
            kubernetes_version=config.kubernetes_version,
            sku_tier="Standard" if prod else "Free",
            availability_zones=zones,
            system_node_vm_size=config.system_node_vm_size,
            system_node_count=config.system_node_count,
            model_node_vm_size=config.model_node_vm_size,
            model_node_min_count=config.model_node_min_count,
            model_node_max_count=config.model_node_max_count,
            confidential_node_vm_size=(
                config.confidential_node_vm_size if config.confidential_serving else None
            ),
        ),
    )
    # The model server's internal load balancer: a static address APIM, injected in the VNet
    # (Internal mode, its own subnet), reaches.
    cidrs = subnet_cidrs(config.vnet_cidr)
    model_server_ip = internal_ip(cidrs["aks-models"])
    model_server_url = f"http://{model_server_ip}:8080"
    cluster.grant_subnet(
        f"{prefix}-cluster-models-subnet", net.subnet_ids["aks-models"], subscription_id
    )
    # The kubelet pulls released images from the registry this program creates.
    registry.grant_pull(f"{prefix}-kubelet-acr-pull", cluster.kubelet_object_id, subscription_id)
    apim = ApiGateway(
        f"{prefix}-api",
        ApiGatewayArgs(
            placement=placement,
            tenant_id=config.tenant_id,
            audience=config.inference_app_id,
            publisher_email=config.apim_publisher_email,
            backend_url=model_server_url,
            subnet_id=net.subnet_ids["apim"],
            dns_zone_name=net.apim_zone_name,
            workspace_id=workspace_id,
            sku=cast(ApiManagementSku, config.apim_sku),
            capacity=config.apim_capacity,
            availability_zones=zones,
            rate_limit_calls_per_minute=config.rate_limit_calls_per_minute,
            quota_calls_per_day=config.quota_calls_per_day,
            max_request_bytes=config.max_request_bytes,
        ),
    )
    gateway_identity = managedidentity.UserAssignedIdentity(
        f"{prefix}-gateway-identity",
        resource_name_=azure_name(
            managedidentity.UserAssignedIdentity, f"{prefix}-gateway-identity"
        ),
        resource_group_name=group.name,
        location=config.location,
        tags=tags,
    )
    # The gateway needs its certificate in the private vault when it is created; the
    # bootstrap run creates the vault, the pipeline imports the certificate over the private
    # path, and the next run creates the gateway (docs/bootstrap.md).
    gateway = (
        None
        if config.bootstrap
        else Gateway(
            f"{prefix}-gateway",
            GatewayArgs(
                placement=placement,
                gateway_name=f"{prefix}-agw",
                subscription_id=subscription_id,
                subnet_id=net.subnet_ids["gateway"],
                backend_fqdn=apim.gateway_host,
                tls_secret_id=pulumi.Output.concat(
                    keys.vault_uri, f"secrets/{GATEWAY_CERTIFICATE_NAME}"
                ),
                tls_secret_scope=pulumi.Output.concat(
                    keys.scope, f"/secrets/{GATEWAY_CERTIFICATE_NAME}"
                ),
                identity_id=gateway_identity.id,
                identity_principal_id=gateway_identity.principal_id,
                workspace_id=workspace_id,
                min_capacity=config.appgw_min_capacity,
                max_capacity=config.appgw_max_capacity,
                availability_zones=zones,
                max_request_bytes=config.max_request_bytes,
            ),
        )
    )
    edge = Edge(
        f"{prefix}-edge",
        EdgeArgs(
            placement=placement,
            subscription_id=subscription_id,
            endpoint_subnet_id=endpoints,
            hub_private_dns_zone_id=net.dns_zone_ids["iotHub"],
            dps_private_dns_zone_id=net.dns_zone_ids["iotDps"],
            workspace_id=workspace_id,
            hub_sku=cast(IotHubSku, config.iot_hub_sku),
            hub_capacity=config.iot_hub_capacity,
        ),
    )

    # The model server's Azure identity, federated with its Kubernetes service account.
    server_identity = managedidentity.UserAssignedIdentity(
        f"{prefix}-model-server-identity",
        resource_name_=azure_name(
            managedidentity.UserAssignedIdentity, f"{prefix}-model-server-identity"
        ),
        resource_group_name=group.name,
        location=config.location,
        tags=tags,
    )
    # Its init container pulls sealed models and signed pointers: read, at the container.
    authorization.RoleAssignment(
        f"{prefix}-model-server-registry",
        role_assignment_name=azure_name(
            authorization.RoleAssignment, f"{prefix}-model-server-registry"
        ),
        scope=store.models.id,
        principal_id=server_identity.principal_id,
        principal_type="ServicePrincipal",
        role_definition_id=role_definition(subscription_id, BLOB_DATA_READER),
        description="model server: read sealed models and stage pointers",
        opts=pulumi.ResourceOptions(parent=server_identity),
    )
    managedidentity.FederatedIdentityCredential(
        f"{prefix}-model-server-federation",
        federated_identity_credential_resource_name=azure_name(
            managedidentity.FederatedIdentityCredential, f"{prefix}-model-server-federation"
        ),
        resource_group_name=group.name,
        resource_name_=server_identity.name,
        issuer=cluster.oidc_issuer_url,
        subject=f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}",
        audiences=["api://AzureADTokenExchange"],
        opts=pulumi.ResourceOptions(parent=server_identity),
    )
    provider = k8s.Provider(
        f"{prefix}-k8s",
        kubeconfig=_kubeconfig(cluster.cluster, group.name),
        enable_server_side_apply=True,
        opts=pulumi.ResourceOptions(
            depends_on=[cluster.model_pool]
            + ([cluster.confidential_pool] if cluster.confidential_pool else [])
        ),
    )
    environment = config.environment
    service_id = f"api://sealgate-keyserver-{environment}"
    tee = {environment: tee_key_name(environment)} if config.tee_key_release else {}
    keyserver = KeyReleaseService(
        f"{prefix}-keyserver",
        KeyReleaseServiceArgs(
            placement=placement,
            subscription_id=subscription_id,
            image=f"{login_server(registry_name)}/keyserver@{config.keyserver_image_digest}",
            service_id=service_id,
            oidc_issuer_url=cluster.oidc_issuer_url,
            keks={
                environment: VaultKey(
                    uri=keys.key_uris[kek_name(environment)],
                    id=keys.key_ids.get(kek_name(environment)),
                )
            },
            tee_keys={
                env: VaultKey(uri=keys.key_uris[key], id=keys.key_ids.get(key))
                for env, key in tee.items()
            },
            registry_account=store.account.name,
            registry_container_id=store.models.id,
            witness_container_id=store.witness.id,
            endpoint_cidr=cidrs["endpoints"],
            attestation_authority=config.attestation_authority if tee else None,
            required_tee=_required_tee(config),
            replicas=config.keyserver_replicas,
            provider=provider,
        ),
    )
    workloads = Workloads(
        f"{prefix}-workloads",
        WorkloadsArgs(
            image=f"{login_server(registry_name)}/model-server@{config.model_server_image_digest}",
            identity_client_id=server_identity.client_id,
            environment=environment,
            keyserver_url=keyserver.url,
            keyserver_audience=service_id,
            keyserver_namespace=KEYSERVER_NAMESPACE,
            network_cidr=config.vnet_cidr,
            endpoint_cidr=cidrs["endpoints"],
            model=config.served_model,
            stage=environment,
            registry_url=pulumi.Output.concat("azblob://", store.account.name, "/models"),
            trust=model_trust(config),
            load_balancer_subnet_id=net.subnet_ids["aks-models"],
            load_balancer_ip=model_server_ip,
            replicas=config.model_server_replicas,
            confidential=config.confidential_serving,
            provider=provider,
        ),
    )
    return {
        "environment": config.environment,
        "resource_group": group.name,
        "vault_uri": keys.vault_uri,
        "kek_uri": keys.key_uris[kek_name(config.environment)],
        "signing_key_uri": keys.key_uris["signing"],
        "storage_account": store.account.name,
        "audit_witness": store.account.name.apply(witness_url),
        "gate_client_id": gate_identity.client_id,
        "registry_login_server": registry.registry.login_server,
        "cluster_name": cluster.cluster.name,
        "oidc_issuer_url": cluster.oidc_issuer_url,
        "model_server_client_id": server_identity.client_id,
        "keyserver_url": keyserver.url,
        "keyserver_client_id": keyserver.identity.client_id,
        "model_namespace": workloads.namespace,
        "gateway_public_ip": gateway.public_ip if gateway else None,
        "bootstrap": config.bootstrap,
        "model_server_url": workloads.backend_url,
        "api_gateway_host": apim.gateway_host,
        "iot_hub_name": edge.hub.name,
        "dps_name": edge.dps.name,
        "log_analytics_workspace_id": workspace_id,
        "promotion_approvals": config.promotion_approvals,
    }


def deploy(project_dir: Path) -> dict[str, Any]:
    """The Pulumi program of the selected stack: read ``Pulumi.<stack>.yaml`` in
    ``project_dir``, declare the platform, export its outputs (and return them)."""
    outputs = build_platform(load_stack_config(project_dir, pulumi.get_stack()))
    for name, value in outputs.items():
        pulumi.export(name, value)
    return outputs
