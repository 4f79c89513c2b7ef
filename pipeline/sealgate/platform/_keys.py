"""Key store: Key Vault Premium (or Managed HSM), RBAC only, deny by default; HSM keys."""

from __future__ import annotations

import base64
import json

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.keyvault as keyvault
import pulumi_azure_native.managedidentity as managedidentity

from sealgate.platform._common import TYPE_PREFIX, Platform, diagnose, private_endpoint

# Built-in role definition ids (the same in every tenant).
CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"


def role_definition(subscription_id: pulumi.Input[str], role: str) -> pulumi.Output[str]:
    return pulumi.Output.concat(
        "/subscriptions/",
        subscription_id,
        "/providers/Microsoft.Authorization/roleDefinitions/",
        role,
    )


def release_policy(authority: str) -> dict[str, str]:
    """Secure Key Release: only a confidential VM (SEV-SNP) attested by ``authority``."""
    policy = {
        "version": "1.0.0",
        "anyOf": [
            {
                "authority": authority,
                "allOf": [
                    {"claim": "x-ms-isolation-tee.x-ms-attestation-type", "equals": "sevsnpvm"},
                    {
                        "claim": "x-ms-isolation-tee.x-ms-compliance-status",
                        "equals": "azure-compliant-cvm",
                    },
                ],
            }
        ],
    }
    encoded = base64.urlsafe_b64encode(json.dumps(policy).encode()).decode().rstrip("=")
    return {"content_type": "application/json; charset=utf-8", "data": encoded}


def rotation_policy(days: int) -> dict[str, object]:
    """Rotate every ``days``, notify 30 days before expiry; keys expire 30 days after rotation."""
    return {
        "attributes": {"expiry_time": f"P{days + 30}D"},
        "lifetime_actions": [
            {"action": {"type": "rotate"}, "trigger": {"time_after_create": f"P{days}D"}},
            {"action": {"type": "notify"}, "trigger": {"time_before_expiry": "P30D"}},
        ],
    }


class KeyStore(pulumi.ComponentResource):
    """The vault (or HSM), its keys, and the identity that uses the CMKs."""

    def __init__(
        self,
        name: str,
        platform: Platform,
        *,
        subscription_id: pulumi.Input[str],
        subnet_id: pulumi.Input[str],
        dns_zone_ids: dict[str, pulumi.Output[str]],
        workspace_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(f"{TYPE_PREFIX}:KeyStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        config = platform.config
        self.cmk_identity = managedidentity.UserAssignedIdentity(
            f"{name}-cmk-identity",
            resource_group_name=platform.resource_group,
            location=platform.location,
            tags=platform.tags,
            opts=child,
        )
        network_acls = {"bypass": "None", "default_action": "Deny"}
        retention = 90
        self.keys: dict[str, pulumi.Output[str]] = {}
        if config.key_store == "managed-hsm":
            hsm = keyvault.ManagedHsm(
                f"{name}-hsm",
                resource_group_name=platform.resource_group,
                location=platform.location,
                sku={"family": "B", "name": "Standard_B1"},
                properties={
                    "tenant_id": config.tenant_id,
                    "initial_admin_object_ids": config.aks_admin_group_object_ids,
                    "enable_purge_protection": True,
                    "enable_soft_delete": True,
                    "soft_delete_retention_in_days": retention,
                    "public_network_access": "Disabled",
                    "network_acls": network_acls,
                },
                tags=platform.tags,
                opts=child,
            )
            self.vault: pulumi.CustomResource = hsm
            self.vault_uri = pulumi.Output.concat("https://", hsm.name, ".managedhsm.azure.net/")
            self.scope = hsm.id
            private_endpoint(
                hsm, f"{name}-hsm", "managedhsm", platform, subnet_id, dns_zone_ids["managedhsm"]
            )
            diagnose(hsm, f"{name}-hsm", workspace_id)
            # Managed HSM keys and role assignments are data-plane objects (local RBAC):
            # created after activation with `az keyvault key create --hsm-name` (see README).
            for key in ("model-kek", "signing", "storage-cmk", "registry-cmk"):
                self.keys[key] = pulumi.Output.concat(self.vault_uri, "keys/", key)
        else:
            vault = keyvault.Vault(
                f"{name}-vault",
                resource_group_name=platform.resource_group,
                location=platform.location,
                properties={
                    "tenant_id": config.tenant_id,
                    "sku": {"family": "A", "name": "premium"},
                    "enable_rbac_authorization": True,
                    "enable_purge_protection": True,
                    "enable_soft_delete": True,
                    "soft_delete_retention_in_days": retention,
                    "enabled_for_deployment": False,
                    "enabled_for_disk_encryption": False,
                    "enabled_for_template_deployment": False,
                    "public_network_access": "Disabled",
                    "network_acls": network_acls,
                },
                tags=platform.tags,
                opts=child,
            )
            self.vault = vault
            self.vault_uri = vault.properties.vault_uri
            self.scope = vault.id
            private_endpoint(
                vault, f"{name}-vault", "vault", platform, subnet_id, dns_zone_ids["vault"]
            )
            diagnose(vault, f"{name}-vault", workspace_id)
            rotation = rotation_policy(config.key_rotation_days)
            kek: dict[str, object] = {
                "kty": "RSA-HSM",
                "key_size": 3072,
                "key_ops": ["wrapKey", "unwrapKey"],
                "rotation_policy": rotation,
            }
            if config.model_key_exportable:
                kek["attributes"] = {"exportable": True}
                kek["release_policy"] = release_policy(config.attestation_authority)
            specs: dict[str, dict[str, object]] = {
                "model-kek": kek,
                "signing": {
                    "kty": "EC-HSM",
                    "curve_name": "P-256",
                    "key_ops": ["sign", "verify"],
                    "rotation_policy": rotation,
                },
                "storage-cmk": {
                    "kty": "RSA-HSM",
                    "key_size": 3072,
                    "key_ops": ["wrapKey", "unwrapKey"],
                    "rotation_policy": rotation,
                },
                "registry-cmk": {
                    "kty": "RSA-HSM",
                    "key_size": 3072,
                    "key_ops": ["wrapKey", "unwrapKey"],
                    "rotation_policy": rotation,
                },
            }
            for key_name, properties in specs.items():
                key = keyvault.Key(
                    f"{name}-{key_name}",
                    resource_group_name=platform.resource_group,
                    vault_name=vault.name,
                    key_name=key_name,
                    properties=properties,
                    opts=pulumi.ResourceOptions(parent=vault),
                )
                self.keys[key_name] = key.key_uri
            authorization.RoleAssignment(
                f"{name}-cmk-identity-crypto",
                scope=vault.id,
                principal_id=self.cmk_identity.principal_id,
                principal_type="ServicePrincipal",
                role_definition_id=role_definition(subscription_id, CRYPTO_SERVICE_ENCRYPTION_USER),
                opts=pulumi.ResourceOptions(parent=vault),
            )
        self.register_outputs({"vault_uri": self.vault_uri})

    def grant_crypto_user(
        self, name: str, principal_id: pulumi.Input[str], subscription_id: pulumi.Input[str]
    ) -> None:
        """Let a workload identity wrap and unwrap with the vault's keys."""
        if isinstance(self.vault, keyvault.Vault):
            authorization.RoleAssignment(
                name,
                scope=self.scope,
                principal_id=principal_id,
                principal_type="ServicePrincipal",
                role_definition_id=role_definition(subscription_id, CRYPTO_USER),
                opts=pulumi.ResourceOptions(parent=self.vault),
            )
