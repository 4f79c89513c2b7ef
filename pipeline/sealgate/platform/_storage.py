"""Model storage: CMK-encrypted account, Entra-only access, versioning, WORM audit trail."""

from __future__ import annotations

import pulumi
import pulumi_azure_native.storage as storage

from sealgate.platform._common import TYPE_PREFIX, Platform, diagnose, private_endpoint


class ModelStorage(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        platform: Platform,
        *,
        cmk_identity_id: pulumi.Input[str],
        vault_uri: pulumi.Input[str],
        subnet_id: pulumi.Input[str],
        dns_zone_id: pulumi.Input[str],
        workspace_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(f"{TYPE_PREFIX}:ModelStorage", name, None, opts)
        config = platform.config
        prod = config.environment == "prod"
        self.account = storage.StorageAccount(
            f"{name}-account",
            resource_group_name=platform.resource_group,
            location=platform.location,
            kind="StorageV2",
            sku={"name": "Standard_ZRS" if prod else "Standard_LRS"},
            identity={"type": "UserAssigned", "user_assigned_identities": [cmk_identity_id]},
            allow_shared_key_access=False,
            default_to_o_auth_authentication=True,
            allow_blob_public_access=False,
            allow_cross_tenant_replication=False,
            minimum_tls_version="TLS1_2",
            enable_https_traffic_only=True,
            public_network_access="Disabled",
            network_rule_set={"default_action": "Deny", "bypass": "None"},
            encryption={
                "key_source": "Microsoft.Keyvault",
                "require_infrastructure_encryption": True,
                "key_vault_properties": {"key_name": "storage-cmk", "key_vault_uri": vault_uri},
                "encryption_identity": {"encryption_user_assigned_identity": cmk_identity_id},
                "services": {
                    "blob": {"enabled": True, "key_type": "Account"},
                    "file": {"enabled": True, "key_type": "Account"},
                },
            },
            tags=platform.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self.account)
        blob_service = storage.BlobServiceProperties(
            f"{name}-blob-service",
            resource_group_name=platform.resource_group,
            account_name=self.account.name,
            blob_services_name="default",
            is_versioning_enabled=True,
            change_feed={"enabled": True},
            delete_retention_policy={"enabled": True, "days": config.blob_soft_delete_days},
            container_delete_retention_policy={
                "enabled": True,
                "days": config.blob_soft_delete_days,
            },
            opts=child,
        )
        after_service = pulumi.ResourceOptions(parent=self.account, depends_on=[blob_service])
        storage.BlobContainer(
            f"{name}-models",
            resource_group_name=platform.resource_group,
            account_name=self.account.name,
            container_name="models",
            public_access="None",
            opts=after_service,
        )
        audit = storage.BlobContainer(
            f"{name}-audit",
            resource_group_name=platform.resource_group,
            account_name=self.account.name,
            container_name="audit",
            public_access="None",
            immutable_storage_with_versioning={"enabled": True},
            opts=after_service,
        )
        # Time-based retention (WORM); append-only writes keep the audit log growing.
        # Locking the policy is a one-way operation left to the operator (see README).
        storage.BlobContainerImmutabilityPolicy(
            f"{name}-audit-worm",
            resource_group_name=platform.resource_group,
            account_name=self.account.name,
            container_name=audit.name,
            immutability_policy_name="default",
            immutability_period_since_creation_in_days=config.audit_retention_days,
            allow_protected_append_writes_all=True,
            opts=pulumi.ResourceOptions(parent=audit),
        )
        private_endpoint(self.account, f"{name}-blob", "blob", platform, subnet_id, dns_zone_id)
        diagnose(self.account, f"{name}-account", workspace_id)
        diagnose(blob_service, f"{name}-blob-service", workspace_id)
        self.register_outputs({"account_name": self.account.name})
