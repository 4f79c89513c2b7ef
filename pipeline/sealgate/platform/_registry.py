"""The model registry: Azure Container Registry Premium, private, CMK, quarantine, retention."""

from __future__ import annotations

import pulumi
import pulumi_azure_native.containerregistry as containerregistry

from sealgate.platform._common import TYPE_PREFIX, Platform, diagnose, private_endpoint


class ModelRegistry(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        platform: Platform,
        *,
        cmk_identity_id: pulumi.Input[str],
        cmk_identity_client_id: pulumi.Input[str],
        key_uri: pulumi.Input[str],
        subnet_id: pulumi.Input[str],
        dns_zone_id: pulumi.Input[str],
        workspace_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(f"{TYPE_PREFIX}:ModelRegistry", name, None, opts)
        prod = platform.config.environment == "prod"
        self.registry = containerregistry.Registry(
            f"{name}-acr",
            resource_group_name=platform.resource_group,
            location=platform.location,
            sku={"name": "Premium"},
            identity={
                "type": "UserAssigned",
                "user_assigned_identities": pulumi.Output.from_input(cmk_identity_id).apply(
                    lambda identity: {identity: {}}
                ),
            },
            admin_user_enabled=False,
            anonymous_pull_enabled=False,
            public_network_access="Disabled",
            network_rule_bypass_options="None",
            data_endpoint_enabled=True,
            zone_redundancy="Enabled" if platform.config.availability_zones else "Disabled",
            encryption={
                "status": "enabled",
                "key_vault_properties": {
                    "key_identifier": key_uri,
                    "identity": cmk_identity_client_id,
                },
            },
            policies={
                "quarantine_policy": {"status": "enabled"},
                "retention_policy": {"status": "enabled", "days": 30 if prod else 7},
                "export_policy": {"status": "disabled"},
                "azure_ad_authentication_as_arm_policy": {"status": "disabled"},
            },
            tags=platform.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        private_endpoint(self.registry, f"{name}-acr", "registry", platform, subnet_id, dns_zone_id)
        diagnose(self.registry, f"{name}-acr", workspace_id)
        self.register_outputs({"login_server": self.registry.login_server})
