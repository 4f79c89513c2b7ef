"""AKS: private API server, Entra ID + Azure RBAC, workload identity, sandboxed model pool."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.containerservice as containerservice
from typing_extensions import TypedDict

from sealgate.errors import InputError
from sealgate.platform._common import (
    TYPE_PREFIX,
    Placement,
    diagnose,
    require,
    role_definition,
    zones_or_none,
)
from sealgate.platform._config import CONFIDENTIAL_VM_SIZE
from sealgate.platform._naming import azure_name

SANDBOX_TAINT = "sealgate.io/sandboxed=true:NoSchedule"
SANDBOX_LABEL = ("sealgate.io/pool", "sandboxed")
# Pod sandboxing (Kata VM isolation) requires the Azure Linux node image, requested as
# `osSKU: AzureLinux` (https://learn.microsoft.com/azure/aks/use-pod-sandboxing: "--os-sku
# AzureLinux --workload-runtime KataVmIsolation"); on Kubernetes 1.32+ that SKU is Azure Linux 3.
# Every pool uses it, so one node image is patched and hardened.
NODE_OS = "AzureLinux"
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
# Confidential VM node pools (https://learn.microsoft.com/azure/aks/use-cvm): AMD SEV-SNP sizes
# DCasv5/DCadsv5/ECasv5/ECadsv5; OS SKU Ubuntu or AzureLinux (Azure Linux 3; in preview, needs
# the AzureLinuxCVMPreview feature of Microsoft.ContainerService); and "You can't use FIPS,
# ARM64, Trusted Launch, or Pod Sandboxing": such a pool is never a Kata pool, and FIPS is off.
CONFIDENTIAL_TAINT = "sealgate.io/confidential=true:NoSchedule"
CONFIDENTIAL_LABEL = ("sealgate.io/pool", "confidential")
CONFIDENTIAL_POOL = "confidential"


# Closed (PEP 728; typing_extensions, a dependency of pulumi): no other key, so the checker
# lets these settings be unpacked into an agent pool profile literal.
class _NodePoolSettings(TypedDict, closed=True):
    """Inputs that both an ``AgentPool`` and a cluster's agent pool profile take, by one name."""

    os_type: str
    os_sku: str
    enable_encryption_at_host: bool
    enable_node_public_ip: bool
    enable_fips: bool
    security_profile: containerservice.AgentPoolSecurityProfileArgsDict
    os_disk_type: str
    vnet_subnet_id: pulumi.Input[str]
    availability_zones: list[str] | None
    type: str


def _node_pool_settings(
    zones: tuple[str, ...], subnet_id: pulumi.Input[str], *, fips: bool = True
) -> _NodePoolSettings:
    """What every node pool shares: Azure Linux, host encryption, no SSH, the zones (and FIPS,
    except where the VMs cannot have it)."""
    return {
        "os_type": "Linux",
        "os_sku": NODE_OS,
        "enable_encryption_at_host": True,
        "enable_node_public_ip": False,
        "enable_fips": fips,
        "security_profile": {"ssh_access": "Disabled"},
        "os_disk_type": "Ephemeral",
        "vnet_subnet_id": subnet_id,
        "availability_zones": zones_or_none(zones),
        "type": "VirtualMachineScaleSets",
    }


@dataclass(frozen=True, kw_only=True)
class ClusterArgs:
    """A private AKS cluster (Entra ID and Azure RBAC only) with a sandboxed model node pool."""

    placement: Placement
    """Resource group, region and tags."""
    dns_prefix: str
    """DNS prefix of the cluster."""
    tenant_id: str
    """Entra ID tenant of the cluster's users."""
    admin_group_object_ids: tuple[str, ...]
    """Entra groups that administer the cluster (there are no local accounts)."""
    system_subnet_id: pulumi.Input[str]
    """Subnet of the system node pool."""
    model_subnet_id: pulumi.Input[str]
    """Subnet of the sandboxed model node pool."""
    workspace_id: pulumi.Input[str]
    """Log Analytics workspace of Defender, Container Insights and the diagnostic setting."""
    kubernetes_version: str = "1.33"
    """Kubernetes version (patches are applied automatically)."""
    sku_tier: Literal["Free", "Standard", "Premium"] = "Standard"
    """AKS tier: ``Standard`` has the uptime SLA; ``Free`` for development."""
    availability_zones: tuple[str, ...] = ()
    """Zones of both node pools (none: regional)."""
    system_node_vm_size: str = "Standard_D4ds_v5"
    """VM size of the system pool."""
    system_node_count: int = 1
    """Nodes of the system pool."""
    model_node_vm_size: str = "Standard_D8ds_v5"
    """VM size of the model pool (it must support Kata VM isolation)."""
    model_node_min_count: int = 1
    """Fewest nodes of the autoscaled model pool."""
    model_node_max_count: int = 3
    """Most nodes of the autoscaled model pool."""
    confidential_node_vm_size: str | None = None
    """AMD SEV-SNP confidential VM size of a third pool for model servers (None: no such
    pool), e.g. ``Standard_DC4as_v5``; it scales like the model pool."""

    def __post_init__(self) -> None:
        require(
            self.sku_tier in ("Free", "Standard", "Premium"),
            self,
            "sku_tier: Free, Standard or Premium",
        )
        require(bool(self.admin_group_object_ids), self, "admin_group_object_ids is empty")
        require(1 <= self.system_node_count <= 100, self, "system_node_count must be 1..100")
        require(
            self.confidential_node_vm_size is None
            or CONFIDENTIAL_VM_SIZE.match(self.confidential_node_vm_size) is not None,
            self,
            f"confidential_node_vm_size {self.confidential_node_vm_size!r} is not an AMD "
            "SEV-SNP size AKS supports (Standard_DC<n>as_v5, DC<n>ads_v5, EC<n>as_v5, EC<n>ads_v5)",
        )
        require(
            1 <= self.model_node_min_count <= self.model_node_max_count,
            self,
            f"model_node_min_count ({self.model_node_min_count}) must be at least 1 and at "
            f"most model_node_max_count ({self.model_node_max_count})",
        )


class Cluster(pulumi.ComponentResource):
    """The managed cluster and its model node pool (Kata VMs, tainted, labelled).

    Outputs: ``cluster`` (the ManagedCluster), ``model_pool`` (its AgentPool),
    ``oidc_issuer_url`` (for workload identity federation), ``principal_id`` (the cluster's
    own identity) and ``kubelet_object_id`` (the kubelet identity: it pulls images).
    """

    def __init__(
        self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:Cluster", name, None, opts)
        placement = args.placement
        self.cluster = containerservice.ManagedCluster(
            f"{name}-aks",
            resource_name_=azure_name(containerservice.ManagedCluster, f"{name}-aks"),
            resource_group_name=placement.resource_group,
            location=placement.location,
            dns_prefix=args.dns_prefix,
            kubernetes_version=args.kubernetes_version,
            sku={"name": "Base", "tier": args.sku_tier},
            identity={"type": containerservice.ResourceIdentityType.SYSTEM_ASSIGNED},
            enable_rbac=True,
            disable_local_accounts=True,
            aad_profile={
                "managed": True,
                "enable_azure_rbac": True,
                "tenant_id": args.tenant_id,
                "admin_group_object_ids": list(args.admin_group_object_ids),
            },
            api_server_access_profile={
                "enable_private_cluster": True,
                "enable_private_cluster_public_fqdn": False,
                "disable_run_command": True,
            },
            oidc_issuer_profile={"enabled": True},
            security_profile={
                "workload_identity": {"enabled": True},
                "defender": {
                    "log_analytics_workspace_resource_id": args.workspace_id,
                    "security_monitoring": {"enabled": True},
                },
                "image_cleaner": {"enabled": True, "interval_hours": 24},
            },
            network_profile={
                "network_plugin": "azure",
                "network_plugin_mode": "overlay",
                "network_policy": "cilium",
                "network_dataplane": "cilium",
                "load_balancer_sku": "standard",
                "outbound_type": "loadBalancer",
            },
            addon_profiles={
                "azurepolicy": {"enabled": True, "config": {"version": "v2"}},
                "omsagent": {
                    "enabled": True,
                    "config": {
                        "logAnalyticsWorkspaceResourceID": args.workspace_id,
                        "useAADAuth": "true",
                    },
                },
            },
            auto_upgrade_profile={
                "upgrade_channel": "patch",
                "node_os_upgrade_channel": "NodeImage",
            },
            agent_pool_profiles=[
                {
                    **_node_pool_settings(args.availability_zones, args.system_subnet_id),
                    "name": "system",
                    "mode": "System",
                    "vm_size": args.system_node_vm_size,
                    "count": args.system_node_count,
                    "node_taints": ["CriticalAddonsOnly=true:NoSchedule"],
                }
            ],
            tags=placement.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Model servers hold decrypted models: they run only in Kata VMs (pod sandboxing),
        # on nodes that nothing else may use (taint), selected by label.
        self.model_pool = containerservice.AgentPool(
            f"{name}-models-pool",
            resource_group_name=placement.resource_group,
            resource_name_=self.cluster.name,
            agent_pool_name="models",
            **_node_pool_settings(args.availability_zones, args.model_subnet_id),
            mode="User",
            vm_size=args.model_node_vm_size,
            workload_runtime="KataVmIsolation",
            enable_auto_scaling=True,
            count=args.model_node_min_count,
            min_count=args.model_node_min_count,
            max_count=args.model_node_max_count,
            node_taints=[SANDBOX_TAINT],
            node_labels=dict([SANDBOX_LABEL]),
            opts=pulumi.ResourceOptions(parent=self.cluster),
        )
        self.confidential_pool = (
            None
            if args.confidential_node_vm_size is None
            else self._confidential_pool(name, args, args.confidential_node_vm_size)
        )
        diagnose(self.cluster, f"{name}-aks", args.workspace_id)
        self.oidc_issuer_url = self.cluster.oidc_issuer_profile.apply(
            lambda profile: profile.issuer_url if profile else None
        )
        self.principal_id = self.cluster.identity.apply(
            lambda identity: identity.principal_id if identity else None
        )
        self.kubelet_object_id = self.cluster.identity_profile.apply(_kubelet_object_id)
        self.register_outputs(
            {
                "cluster_name": self.cluster.name,
                "oidc_issuer_url": self.oidc_issuer_url,
                "kubelet_object_id": self.kubelet_object_id,
            }
        )

    def _confidential_pool(
        self, name: str, args: ClusterArgs, vm_size: str
    ) -> containerservice.AgentPool:
        """Model servers whose memory the host cannot read (SEV-SNP), tainted and labelled like
        the sandboxed pool; no pod sandboxing and no FIPS (neither is possible on CVMs)."""
        return containerservice.AgentPool(
            f"{name}-confidential-pool",
            resource_group_name=args.placement.resource_group,
            resource_name_=self.cluster.name,
            agent_pool_name=azure_name(containerservice.AgentPool, CONFIDENTIAL_POOL),
            **_node_pool_settings(args.availability_zones, args.model_subnet_id, fips=False),
            mode="User",
            vm_size=vm_size,
            enable_auto_scaling=True,
            count=args.model_node_min_count,
            min_count=args.model_node_min_count,
            max_count=args.model_node_max_count,
            node_taints=[CONFIDENTIAL_TAINT],
            node_labels=dict([CONFIDENTIAL_LABEL]),
            opts=pulumi.ResourceOptions(parent=self.cluster),
        )

    def grant_subnet(
        self, name: str, subnet_id: pulumi.Input[str], subscription_id: pulumi.Input[str]
    ) -> authorization.RoleAssignment:
        """Network Contributor for the cluster's identity on ``subnet_id``: it places an
        internal load balancer's frontend there (a subnet the cluster did not create)."""
        return authorization.RoleAssignment(
            name,
            role_assignment_name=azure_name(authorization.RoleAssignment, name),
            scope=subnet_id,
            principal_id=self.principal_id,
            principal_type="ServicePrincipal",
            role_definition_id=role_definition(subscription_id, NETWORK_CONTRIBUTOR),
            description="cluster: internal load balancers in this subnet",
            opts=pulumi.ResourceOptions(parent=self.cluster),
        )


def _kubelet_object_id(profile: object) -> str:
    """The object id of ``identityProfile.kubeletidentity`` (known once the cluster exists;
    until then the output is unknown and this is not called). A cluster without one cannot
    pull images: stop rather than grant nothing."""
    kubelet = profile.get("kubeletidentity") if isinstance(profile, dict) else None
    object_id = getattr(kubelet, "object_id", None)
    if not isinstance(object_id, str) or not object_id:
        raise InputError("cluster: identityProfile has no kubeletidentity object id")
    return object_id
