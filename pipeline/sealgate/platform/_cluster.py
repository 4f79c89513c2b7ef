"""AKS: private API server, Entra ID + Azure RBAC, workload identity, sandboxed model pool."""

from __future__ import annotations

import pulumi
import pulumi_azure_native.containerservice as containerservice

from sealgate.platform._common import TYPE_PREFIX, Platform, diagnose

SANDBOX_TAINT = "sealgate.io/sandboxed=true:NoSchedule"
SANDBOX_LABEL = ("sealgate.io/pool", "sandboxed")
NODE_OS = "AzureLinux3"


def _node_pool_settings(platform: Platform, subnet_id: pulumi.Input[str]) -> dict[str, object]:
    """What every node pool shares: Azure Linux 3, host encryption, no SSH, the zones."""
    zones = platform.config.availability_zones
    return {
        "os_type": "Linux",
        "os_sku": NODE_OS,
        "enable_encryption_at_host": True,
        "enable_node_public_ip": False,
        "enable_fips": True,
        "security_profile": {"ssh_access": "Disabled"},
        "os_disk_type": "Ephemeral",
        "vnet_subnet_id": subnet_id,
        "availability_zones": zones or None,
        "type": "VirtualMachineScaleSets",
    }


class Cluster(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        platform: Platform,
        *,
        system_subnet_id: pulumi.Input[str],
        model_subnet_id: pulumi.Input[str],
        workspace_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(f"{TYPE_PREFIX}:Cluster", name, None, opts)
        config = platform.config
        prod = config.environment == "prod"
        self.cluster = containerservice.ManagedCluster(
            f"{name}-aks",
            resource_group_name=platform.resource_group,
            location=platform.location,
            dns_prefix=f"{config.name_prefix}-{config.environment}",
            kubernetes_version=config.kubernetes_version,
            sku={"name": "Base", "tier": "Standard" if prod else "Free"},
            identity={"type": "SystemAssigned"},
            enable_rbac=True,
            disable_local_accounts=True,
            aad_profile={
                "managed": True,
                "enable_azure_rbac": True,
                "tenant_id": config.tenant_id,
                "admin_group_object_ids": config.aks_admin_group_object_ids,
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
                    "log_analytics_workspace_resource_id": workspace_id,
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
                        "logAnalyticsWorkspaceResourceID": workspace_id,
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
                    **_node_pool_settings(platform, system_subnet_id),
                    "name": "system",
                    "mode": "System",
                    "vm_size": config.system_node_vm_size,
                    "count": config.system_node_count,
                    "node_taints": ["CriticalAddonsOnly=true:NoSchedule"],
                }
            ],
            tags=platform.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Model servers hold decrypted models: they run only in Kata VMs (pod sandboxing),
        # on nodes that nothing else may use (taint), selected by label.
        self.model_pool = containerservice.AgentPool(
            f"{name}-models-pool",
            resource_group_name=platform.resource_group,
            resource_name_=self.cluster.name,
            agent_pool_name="models",
            **_node_pool_settings(platform, model_subnet_id),
            mode="User",
            vm_size=config.model_node_vm_size,
            workload_runtime="KataVmIsolation",
            enable_auto_scaling=True,
            count=config.model_node_min_count,
            min_count=config.model_node_min_count,
            max_count=config.model_node_max_count,
            node_taints=[SANDBOX_TAINT],
            node_labels=dict([SANDBOX_LABEL]),
            opts=pulumi.ResourceOptions(parent=self.cluster),
        )
        diagnose(self.cluster, f"{name}-aks", workspace_id)
        self.oidc_issuer_url = self.cluster.oidc_issuer_profile.apply(
            lambda profile: profile.issuer_url if profile else None
        )
        self.register_outputs({"cluster_name": self.cluster.name})
