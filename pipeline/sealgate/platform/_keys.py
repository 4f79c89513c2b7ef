"""Key store: Key Vault Premium (or Managed HSM), RBAC only, deny by default; HSM keys."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.keyvault as keyvault
import pulumi_azure_native.managedidentity as managedidentity

from sealgate.platform._common import (
    TYPE_PREFIX,
    Placement,
    diagnose,
    private_endpoint,
    require,
    role_definition,
)
from sealgate.platform._naming import azure_name

# Built-in role definition ids (the same in every tenant).
# Key Vault Crypto Service Encryption User: keys/read, keys/wrapKey/action,
# keys/unwrapKey/action and nothing else. It is the least built-in role that can unwrap (Crypto
# User adds encrypt, decrypt, sign, verify; Crypto Officer manages keys), so a custom role with
# the same three actions would add a definition to maintain and grant nothing less.
CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
# Key Vault Crypto Service Release User: keys/release/action only (Secure Key Release; Key Vault
# also evaluates the key's release policy against the attestation token).
CRYPTO_SERVICE_RELEASE_USER = "08bbd89e-9f13-488c-ac41-acfcb10c90ab"
# Every built-in Key Vault role that grants a key's cryptographic use (wrap, unwrap, decrypt,
# sign, release) or the right to grant it: a model server must hold none of them.
KEY_VAULT_CRYPTO_ROLES = {
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": "Key Vault Administrator",
    "14b46e9e-c2b7-41b4-b07b-48a6ebf60603": "Key Vault Crypto Officer",
    "12338af0-0e69-4776-bea7-57ae8d297424": "Key Vault Crypto User",
    CRYPTO_SERVICE_ENCRYPTION_USER: "Key Vault Crypto Service Encryption User",
    CRYPTO_SERVICE_RELEASE_USER: "Key Vault Crypto Service Release User",
    "21090545-7ca7-4776-b22c-e363652d74d2": "Key Vault Data Access Administrator",
}
# The built-in roles above that include keys/unwrapKey/action.
UNWRAP_ROLES = {
    "00482a5a-887f-4fb3-b363-3b7fe8e74483",
    "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
    "12338af0-0e69-4776-bea7-57ae8d297424",
    CRYPTO_SERVICE_ENCRYPTION_USER,
}

# Private network access, and Azure's trusted services through the firewall: storage and the
# registry read their customer-managed keys from the service side, not through the private
# endpoint, and reach a firewalled store only as trusted services
# (https://learn.microsoft.com/azure/key-vault/general/overview-vnet-service-endpoints#trusted-services;
# Managed HSM: https://learn.microsoft.com/azure/key-vault/managed-hsm/network-security).
# Everything else still needs the private endpoint and an RBAC grant on the key.
TRUSTED_SERVICES_BYPASS = "AzureServices"

KeyStoreKind = Literal["vault", "managed-hsm"]
# The private-link group (and so the private DNS zone) of each kind of key store.
PRIVATE_LINK_GROUPS: dict[str, str] = {"vault": "vault", "managed-hsm": "managedhsm"}
DEFAULT_ATTESTATION_AUTHORITY = "https://sharedeus2.eus2.attest.azure.net"
_RSA_SIZES = (2048, 3072, 4096)
_EC_CURVES = ("P-256", "P-384", "P-521")


@dataclass(frozen=True, kw_only=True)
class KeySpec:
    """One key of the vault. Only HSM-protected key types exist: a software key is refused."""

    name: str
    """The key's name in the vault (its URI ends in ``keys/<name>``)."""
    kty: Literal["RSA-HSM", "EC-HSM"] = "RSA-HSM"
    """Key type: ``RSA-HSM`` or ``EC-HSM``."""
    key_size: int | None = None
    """RSA modulus in bits (2048, 3072, 4096); 3072 when unset. RSA keys only."""
    curve_name: str | None = None
    """Elliptic curve (P-256, P-384, P-521); P-256 when unset. EC keys only."""
    key_ops: tuple[str, ...] = ("wrapKey", "unwrapKey")
    """What the key may do, e.g. ``("wrapKey", "unwrapKey")`` or ``("sign", "verify")``."""
    exportable: bool = False
    """Exportable under Secure Key Release (to an attested confidential VM) only."""

    def __post_init__(self) -> None:
        require(bool(self.name), self, "a key needs a name")
        require(
            self.kty in ("RSA-HSM", "EC-HSM"),
            self,
            f"key {self.name}: kty {self.kty!r} is not HSM-protected (RSA-HSM or EC-HSM)",
        )
        if self.kty == "RSA-HSM":
            require(self.curve_name is None, self, f"key {self.name}: an RSA key has no curve")
            require(
                self.key_size is None or self.key_size in _RSA_SIZES,
                self,
                f"key {self.name}: key_size must be one of {', '.join(map(str, _RSA_SIZES))}",
            )
        else:
            require(self.key_size is None, self, f"key {self.name}: an EC key has no key_size")
            require(
                self.curve_name is None or self.curve_name in _EC_CURVES,
                self,
                f"key {self.name}: curve_name must be one of {', '.join(_EC_CURVES)}",
            )
        require(bool(self.key_ops), self, f"key {self.name}: key_ops must not be empty")

    def properties(
        self, rotation: keyvault.RotationPolicyArgsDict, authority: str
    ) -> keyvault.KeyPropertiesArgsDict:
        """The key's ``properties`` input: type, size or curve, operations, rotation, release."""
        properties: keyvault.KeyPropertiesArgsDict = {"kty": self.kty}
        if self.kty == "RSA-HSM":
            properties["key_size"] = self.key_size or 3072
        else:
            properties["curve_name"] = self.curve_name or "P-256"
        properties["key_ops"] = list(self.key_ops)
        properties["rotation_policy"] = rotation
        if self.exportable:
            properties["attributes"] = {"exportable": True}
            properties["release_policy"] = release_policy(authority)
        return properties


# The keys sealgate uses: model data keys are wrapped with model-kek, models are signed with
# signing, the storage account and the registry are encrypted with their CMKs.
PLATFORM_KEYS = (
    KeySpec(name="model-kek"),
    KeySpec(name="signing", kty="EC-HSM", key_ops=("sign", "verify")),
    KeySpec(name="storage-cmk"),
    KeySpec(name="registry-cmk"),
)
# The customer-managed keys that the CMK identity may wrap and unwrap with (each at its key).
CMK_KEYS = ("storage-cmk", "registry-cmk")


def kek_name(environment: str) -> str:
    """The key-encryption key of an environment: only the key release service unwraps with it."""
    return f"sealgate-kek-{environment}"


def tee_key_name(environment: str) -> str:
    """The environment's key for confidential workloads, released only to an attested TEE."""
    return f"sealgate-kek-{environment}-tee"


def environment_keys(environment: str, *, tee: bool) -> tuple[KeySpec, ...]:
    """An environment's KEK (never exportable), and its Secure Key Release key when ``tee``."""
    kek = KeySpec(name=kek_name(environment))
    return (kek, KeySpec(name=tee_key_name(environment), exportable=True)) if tee else (kek,)


@dataclass(frozen=True, kw_only=True)
class KeyStoreArgs:
    """A Key Vault Premium (or Managed HSM), its HSM keys, and the identity that uses the CMKs."""

    placement: Placement
    """Resource group, region and tags."""
    tenant_id: str
    """Entra ID tenant of the vault."""
    subscription_id: pulumi.Input[str]
    """Subscription of the role definitions granted on the vault."""
    endpoint_subnet_id: pulumi.Input[str]
    """Subnet of the store's private endpoint (public network access is disabled)."""
    private_dns_zone_id: pulumi.Input[str]
    """Private DNS zone of the endpoint: ``privatelink.vaultcore.azure.net`` for a vault,
    ``privatelink.managedhsm.azure.net`` for a Managed HSM (see ``PRIVATE_DNS_ZONES``)."""
    workspace_id: pulumi.Input[str]
    """Log Analytics workspace that receives the store's logs and metrics."""
    kind: KeyStoreKind = "vault"
    """``vault`` (Key Vault Premium, HSM-backed keys) or ``managed-hsm``."""
    keys: tuple[KeySpec, ...] = PLATFORM_KEYS
    """The keys to create (a vault) or whose URIs to expose (a Managed HSM, whose keys are
    data-plane objects created after activation)."""
    key_rotation_days: int = 90
    """Every key rotates after this many days and expires 30 days later."""
    soft_delete_retention_days: int = 90
    """Days a deleted vault or key can be recovered (purge protection is always on)."""
    hsm_admin_object_ids: tuple[str, ...] = ()
    """Entra object ids of the Managed HSM's initial administrators (``managed-hsm`` only)."""
    attestation_authority: str = DEFAULT_ATTESTATION_AUTHORITY
    """Azure Attestation URL that an exportable key's release policy trusts."""
    cmk_keys: tuple[str, ...] = CMK_KEYS
    """Keys the CMK identity may wrap and unwrap with, each granted at its own key (not the
    vault: a vault-wide grant would also reach the key-encryption keys)."""

    def __post_init__(self) -> None:
        require(self.kind in PRIVATE_LINK_GROUPS, self, f"kind {self.kind!r}: vault or managed-hsm")
        require(30 <= self.key_rotation_days <= 365, self, "key_rotation_days must be 30..365")
        require(
            7 <= self.soft_delete_retention_days <= 90,
            self,
            "soft_delete_retention_days must be 7..90",
        )
        names = [key.name for key in self.keys]
        require(len(set(names)) == len(names), self, "key names must be distinct")
        unknown = sorted(set(self.cmk_keys) - set(names))
        require(not unknown, self, f"cmk_keys names keys it does not create: {unknown}")
        require(
            self.kind != "managed-hsm" or bool(self.hsm_admin_object_ids),
            self,
            "a Managed HSM needs at least one hsm_admin_object_ids entry",
        )


def release_policy(authority: str) -> keyvault.KeyReleasePolicyArgsDict:
    """Secure Key Release: only a TEE that ``authority`` attested as SEV-SNP, compliant and not
    debuggable: a confidential VM (its claims under ``x-ms-isolation-tee``) or a confidential
    container (SEV-SNP utility VM, top-level claims)."""
    tee = "x-ms-isolation-tee"
    policy = {
        "version": "1.0.0",
        "anyOf": [
            {
                "authority": authority,
                "allOf": [
                    {"claim": f"{tee}.x-ms-attestation-type", "equals": "sevsnpvm"},
                    {"claim": f"{tee}.x-ms-compliance-status", "equals": "azure-compliant-cvm"},
                    {"claim": f"{tee}.x-ms-sevsnpvm-is-debuggable", "equals": False},
                ],
            },
            {
                "authority": authority,
                "allOf": [
                    {"claim": "x-ms-attestation-type", "equals": "sevsnpvm"},
                    {"claim": "x-ms-compliance-status", "equals": "azure-compliant-uvm"},
                    {"claim": "x-ms-sevsnpvm-is-debuggable", "equals": False},
                ],
            },
        ],
    }
    encoded = base64.urlsafe_b64encode(json.dumps(policy).encode()).decode().rstrip("=")
    return {"content_type": "application/json; charset=utf-8", "data": encoded}


def rotation_policy(days: int) -> keyvault.RotationPolicyArgsDict:
    """Rotate every ``days``, notify 30 days before expiry; keys expire 30 days after rotation."""
    return {
        "attributes": {"expiry_time": f"P{days + 30}D"},
        "lifetime_actions": [
            {
                "action": {"type": keyvault.KeyRotationPolicyActionType.ROTATE},
                "trigger": {"time_after_create": f"P{days}D"},
            },
            {
                "action": {"type": keyvault.KeyRotationPolicyActionType.NOTIFY},
                "trigger": {"time_before_expiry": "P30D"},
            },
        ],
    }


class KeyStore(pulumi.ComponentResource):
    """The vault (or HSM), its keys, and the identity that uses the CMKs.

    Outputs: ``vault_uri``, ``key_uris`` (key name -> key URI), ``key_ids`` (key name -> the
    key's resource id, the scope of a role assignment on that key alone; a vault only),
    ``keys`` (key name -> the Key resource; a vault only), ``cmk_grants`` (CMK key name -> the
    CMK identity's role assignment on it; a vault only): what a CMK-encrypted resource must be
    created after (``cmk_dependencies``),
    ``cmk_identity`` (its ``id``, ``client_id`` and ``principal_id`` are what CMK-encrypted
    services need), ``scope`` (the store's resource id).
    """

    def __init__(
        self, name: str, args: KeyStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:KeyStore", name, None, opts)
        self._args = args
        placement = args.placement
        child = pulumi.ResourceOptions(parent=self)
        self.cmk_identity = managedidentity.UserAssignedIdentity(
            f"{name}-cmk-identity",
            resource_name_=azure_name(managedidentity.UserAssignedIdentity, f"{name}-cmk-identity"),
            resource_group_name=placement.resource_group,
            location=placement.location,
            tags=placement.tags,
            opts=child,
        )
        self.key_uris: dict[str, pulumi.Output[str]] = {}
        self.key_ids: dict[str, pulumi.Output[str]] = {}
        self.keys: dict[str, keyvault.Key] = {}
        self.cmk_grants: dict[str, authorization.RoleAssignment] = {}
        if args.kind == "managed-hsm":
            hsm = keyvault.ManagedHsm(
                f"{name}-hsm",
                name=azure_name(keyvault.ManagedHsm, f"{name}-hsm"),
                resource_group_name=placement.resource_group,
                location=placement.location,
                sku={"family": "B", "name": keyvault.ManagedHsmSkuName.STANDARD_B1},
                properties={
                    "tenant_id": args.tenant_id,
                    "initial_admin_object_ids": list(args.hsm_admin_object_ids),
                    "enable_purge_protection": True,
                    "enable_soft_delete": True,
                    "soft_delete_retention_in_days": args.soft_delete_retention_days,
                    "public_network_access": "Disabled",
                    "network_acls": {"bypass": TRUSTED_SERVICES_BYPASS, "default_action": "Deny"},
                },
                tags=placement.tags,
                opts=child,
            )
            self.vault: pulumi.CustomResource = hsm
            self.vault_uri = pulumi.Output.concat("https://", hsm.name, ".managedhsm.azure.net/")
            self.scope = hsm.id
            private_endpoint(
                hsm,
                f"{name}-hsm",
                PRIVATE_LINK_GROUPS["managed-hsm"],
                placement,
                args.endpoint_subnet_id,
                args.private_dns_zone_id,
            )
            diagnose(hsm, f"{name}-hsm", args.workspace_id)
            # Managed HSM keys and role assignments are data-plane objects (local RBAC):
            # created after activation with `az keyvault key create --hsm-name` (see README).
            for spec in args.keys:
                self.key_uris[spec.name] = pulumi.Output.concat(self.vault_uri, "keys/", spec.name)
        else:
            vault = keyvault.Vault(
                f"{name}-vault",
                vault_name=azure_name(keyvault.Vault, f"{name}-vault"),
                resource_group_name=placement.resource_group,
                location=placement.location,
                properties={
                    "tenant_id": args.tenant_id,
                    "sku": {"family": "A", "name": keyvault.SkuName.PREMIUM},
                    "enable_rbac_authorization": True,
                    "enable_purge_protection": True,
                    "enable_soft_delete": True,
                    "soft_delete_retention_in_days": args.soft_delete_retention_days,
                    "enabled_for_deployment": False,
                    "enabled_for_disk_encryption": False,
                    "enabled_for_template_deployment": False,
                    "public_network_access": "Disabled",
                    "network_acls": {"bypass": TRUSTED_SERVICES_BYPASS, "default_action": "Deny"},
                },
                tags=placement.tags,
                opts=child,
            )
            self.vault = vault
            self.vault_uri = vault.properties.vault_uri
            self.scope = vault.id
            private_endpoint(
                vault,
                f"{name}-vault",
                PRIVATE_LINK_GROUPS["vault"],
                placement,
                args.endpoint_subnet_id,
                args.private_dns_zone_id,
            )
            diagnose(vault, f"{name}-vault", args.workspace_id)
            rotation = rotation_policy(args.key_rotation_days)
            for spec in args.keys:
                key = keyvault.Key(
                    f"{name}-{spec.name}",
                    resource_group_name=placement.resource_group,
                    vault_name=vault.name,
                    key_name=spec.name,
                    properties=spec.properties(rotation, args.attestation_authority),
                    opts=pulumi.ResourceOptions(parent=vault),
                )
                self.key_uris[spec.name] = key.key_uri
                self.key_ids[spec.name] = key.id
                self.keys[spec.name] = key
                if spec.name in args.cmk_keys:
                    self.cmk_grants[spec.name] = authorization.RoleAssignment(
                        f"{name}-cmk-identity-{spec.name}",
                        role_assignment_name=azure_name(
                            authorization.RoleAssignment, f"{name}-cmk-identity-{spec.name}"
                        ),
                        scope=key.id,
                        principal_id=self.cmk_identity.principal_id,
                        principal_type="ServicePrincipal",
                        role_definition_id=role_definition(
                            args.subscription_id, CRYPTO_SERVICE_ENCRYPTION_USER
                        ),
                        opts=pulumi.ResourceOptions(parent=key),
                    )
        self.register_outputs(
            {
                "vault_uri": self.vault_uri,
                "key_uris": self.key_uris,
                "cmk_identity_id": self.cmk_identity.id,
            }
        )

    def cmk_dependencies(self, key_name: str) -> list[pulumi.Resource]:
        """What a resource encrypted with ``key_name`` is created after: the key and the CMK
        identity's grant on it (none for a Managed HSM, whose keys and grants are data-plane
        objects made after activation)."""
        found = [self.keys.get(key_name), self.cmk_grants.get(key_name)]
        return [resource for resource in found if resource is not None]
