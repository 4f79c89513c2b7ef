"""The model registry: Azure Container Registry Premium, private, CMK, quarantine, retention.

The customer-managed key sits in the private vault. A registry reaches a vault behind its
firewall only as a trusted service and only with its *system-assigned* identity, while a
registry can be created with a customer-managed key only through a *user-assigned* identity
(https://learn.microsoft.com/azure/container-registry/tutorial-enable-customer-managed-keys,
"Advanced scenario: Key Vault firewall"; a user-assigned identity behind the firewall fails,
MicrosoftDocs/azure-docs#61064). So the stack's bootstrap run creates the registry encrypted
with a key in a temporary vault outside the firewall (through the user-assigned identity),
with its system identity on and granted the private key; the next run rotates the registry to
the private key through the system identity (``identity: system``, the value
``az acr encryption rotate-key --identity [system]`` sends) and deletes the temporary vault.

Quarantine stays on: a pushed image cannot be pulled until the release pipeline, after the
image passes the gate, marks its manifest ``quarantineState: Passed``
(``grant_quarantine_release`` gives that identity AcrQuarantineWriter; docs/platform.md,
"Images and quarantine"). The cluster's kubelet pulls with AcrPull (``grant_pull``), which
reaches released images only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.containerregistry as containerregistry
import pulumi_azure_native.keyvault as keyvault

from sealgate.platform._common import (
    TYPE_PREFIX,
    Placement,
    diagnose,
    private_endpoint,
    require,
    role_definition,
)
from sealgate.platform._keys import CRYPTO_SERVICE_ENCRYPTION_USER
from sealgate.platform._naming import azure_name

ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
ACR_QUARANTINE_WRITER = "c8d4ff99-41c3-41a8-9f60-21dfdad59608"
_REGISTRY_NAME = re.compile(r"^[A-Za-z0-9]{5,50}$")
# The reserved identity name of a registry's system-assigned identity in its encryption
# settings (what `az acr encryption rotate-key --identity [system]` sends).
SYSTEM_IDENTITY = "system"
BOOTSTRAP_KEY = "registry-cmk-bootstrap"


def login_server(registry_name: str) -> str:
    """The login server of a registry named ``registry_name`` (Azure lowercases it)."""
    return f"{registry_name.lower()}.azurecr.io"


@dataclass(frozen=True, kw_only=True)
class ModelRegistryArgs:
    """A Premium container registry for model images: private, CMK-encrypted, quarantined."""

    placement: Placement
    """Resource group, region and tags."""
    cmk_identity_id: pulumi.Input[str]
    """Resource id of the user-assigned identity that reads the customer-managed key."""
    cmk_identity_client_id: pulumi.Input[str]
    """Client id of that identity."""
    cmk_identity_principal_id: pulumi.Input[str]
    """Principal id of that identity (granted the bootstrap key)."""
    tenant_id: str
    """Entra ID tenant of the bootstrap vault."""
    subscription_id: pulumi.Input[str]
    """Subscription of the role definitions granted on the keys."""
    key_uri: pulumi.Input[str]
    """URI of the customer-managed key (e.g. ``KeyStore.key_uris["registry-cmk"]``)."""
    key_id: pulumi.Input[str] | None
    """Resource id of that key (``KeyStore.key_ids["registry-cmk"]``), the scope of the
    registry system identity's grant; None for a Managed HSM key (granted with the HSM's
    local RBAC after activation, README)."""
    endpoint_subnet_id: pulumi.Input[str]
    """Subnet of the registry's private endpoint (public network access is disabled)."""
    private_dns_zone_id: pulumi.Input[str]
    """Private DNS zone ``privatelink.azurecr.io``."""
    workspace_id: pulumi.Input[str]
    """Log Analytics workspace that receives the registry's logs and metrics."""
    zone_redundant: bool = False
    """Zone redundancy (only in a region with availability zones)."""
    untagged_retention_days: int = 30
    """Days an untagged manifest is kept before the retention policy deletes it."""
    cmk_dependencies: Sequence[pulumi.Resource] = ()
    """The private key and its grants (``KeyStore.cmk_dependencies("registry-cmk")``)."""
    bootstrap: bool = False
    """The stack's first run: encrypt with a key in a temporary vault (module docstring)."""
    registry_name: str | None = None
    """The registry's Azure name (5-50 letters and digits, globally unique): its login server
    is ``<name>.azurecr.io``, known before deployment, so images in it can be named (and
    gated) in a preview. None: Pulumi names it."""

    def __post_init__(self) -> None:
        require(
            self.registry_name is None or _REGISTRY_NAME.match(self.registry_name) is not None,
            self,
            f"registry_name {self.registry_name!r} must be 5-50 letters and digits",
        )
        require(
            0 <= self.untagged_retention_days <= 365,
            self,
            "untagged_retention_days must be 0..365",
        )


def _user_assigned_identities(
    identity_id: str,
) -> dict[str, containerregistry.UserIdentityPropertiesArgsDict]:
    """The registry's ``user_assigned_identities``: the identity's resource id, no settings."""
    return {identity_id: {}}


class ModelRegistry(pulumi.ComponentResource):
    """The registry, its private endpoint and diagnostic setting.

    Outputs: ``registry`` (``registry.login_server`` is what clients push to and pull from).
    """

    def __init__(
        self, name: str, args: ModelRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:ModelRegistry", name, None, opts)
        placement = args.placement
        key_uri: pulumi.Input[str]
        key_identity: pulumi.Input[str]
        after: list[pulumi.Resource]
        if args.bootstrap:
            key_uri, key_identity, after = self._bootstrap_key(name, args)
        else:
            key_uri, key_identity, after = (
                args.key_uri,
                SYSTEM_IDENTITY,
                list(args.cmk_dependencies),
            )
        self.registry = containerregistry.Registry(
            f"{name}-acr",
            resource_group_name=placement.resource_group,
            location=placement.location,
            registry_name=args.registry_name,
            sku={"name": "Premium"},
            identity={
                "type": containerregistry.ResourceIdentityType.SYSTEM_ASSIGNED_USER_ASSIGNED,
                "user_assigned_identities": pulumi.Output.from_input(args.cmk_identity_id).apply(
                    _user_assigned_identities
                ),
            },
            admin_user_enabled=False,
            anonymous_pull_enabled=False,
            public_network_access="Disabled",
            network_rule_bypass_options="None",
            data_endpoint_enabled=True,
            zone_redundancy="Enabled" if args.zone_redundant else "Disabled",
            encryption={
                "status": "enabled",
                "key_vault_properties": {"key_identifier": key_uri, "identity": key_identity},
            },
            policies={
                "quarantine_policy": {"status": "enabled"},
                "retention_policy": {"status": "enabled", "days": args.untagged_retention_days},
                "export_policy": {"status": "disabled"},
                "azure_ad_authentication_as_arm_policy": {"status": "disabled"},
            },
            tags=placement.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=after),
        )
        if args.key_id is not None:
            # Declared from the bootstrap run on, so the grant exists before the run that
            # switches the registry to the private key (the grant needs the registry's
            # principal, so it cannot be ordered before the registry in one run).
            authorization.RoleAssignment(
                f"{name}-acr-system-cmk",
                role_assignment_name=azure_name(
                    authorization.RoleAssignment, f"{name}-acr-system-cmk"
                ),
                scope=args.key_id,
                principal_id=self.registry.identity.apply(
                    lambda i: (i.principal_id or "") if i else ""
                ),
                principal_type="ServicePrincipal",
                role_definition_id=role_definition(
                    args.subscription_id, CRYPTO_SERVICE_ENCRYPTION_USER
                ),
                description="registry system identity: its customer-managed key",
                opts=pulumi.ResourceOptions(parent=self.registry),
            )
        private_endpoint(
            self.registry,
            f"{name}-acr",
            "registry",
            placement,
            args.endpoint_subnet_id,
            args.private_dns_zone_id,
        )
        diagnose(self.registry, f"{name}-acr", args.workspace_id)
        self.register_outputs(
            {"login_server": self.registry.login_server, "registry_id": self.registry.id}
        )

    def _bootstrap_key(
        self, name: str, args: ModelRegistryArgs
    ) -> tuple[pulumi.Output[str], pulumi.Input[str], list[pulumi.Resource]]:
        """A temporary vault outside the firewall with the key the registry is created with,
        and the user-assigned identity's grant on it (deleted by the run after bootstrap)."""
        placement = args.placement
        child = pulumi.ResourceOptions(parent=self)
        vault = keyvault.Vault(
            f"{name}-cmk-bootstrap-vault",
            vault_name=azure_name(keyvault.Vault, f"{name}-cmkboot"),
            resource_group_name=placement.resource_group,
            location=placement.location,
            properties={
                "tenant_id": args.tenant_id,
                "sku": {"family": "A", "name": keyvault.SkuName.PREMIUM},
                "enable_rbac_authorization": True,
                "enable_purge_protection": True,
                "enable_soft_delete": True,
                "soft_delete_retention_in_days": 7,
                "public_network_access": "Enabled",
                "network_acls": {"bypass": "AzureServices", "default_action": "Allow"},
            },
            tags={**placement.tags, "sealgate-phase": "bootstrap"},
            opts=child,
        )
        key = keyvault.Key(
            f"{name}-cmk-bootstrap-key",
            resource_group_name=placement.resource_group,
            vault_name=vault.name,
            key_name=BOOTSTRAP_KEY,
            properties={"kty": "RSA-HSM", "key_size": 3072, "key_ops": ["wrapKey", "unwrapKey"]},
            opts=pulumi.ResourceOptions(parent=vault),
        )
        grant = authorization.RoleAssignment(
            f"{name}-cmk-bootstrap-grant",
            role_assignment_name=azure_name(
                authorization.RoleAssignment, f"{name}-cmk-bootstrap-grant"
            ),
            scope=key.id,
            principal_id=args.cmk_identity_principal_id,
            principal_type="ServicePrincipal",
            role_definition_id=role_definition(
                args.subscription_id, CRYPTO_SERVICE_ENCRYPTION_USER
            ),
            opts=pulumi.ResourceOptions(parent=key),
        )
        return key.key_uri, args.cmk_identity_client_id, [key, grant]

    def _grant(
        self,
        name: str,
        principal_id: pulumi.Input[str],
        subscription_id: pulumi.Input[str],
        role: str,
        description: str,
    ) -> authorization.RoleAssignment:
        return authorization.RoleAssignment(
            name,
            role_assignment_name=azure_name(authorization.RoleAssignment, name),
            scope=self.registry.id,
            principal_id=principal_id,
            principal_type="ServicePrincipal",
            role_definition_id=role_definition(subscription_id, role),
            description=description,
            opts=pulumi.ResourceOptions(parent=self.registry),
        )

    def grant_pull(
        self, name: str, principal_id: pulumi.Input[str], subscription_id: pulumi.Input[str]
    ) -> authorization.RoleAssignment:
        """AcrPull on the registry (e.g. for a cluster's kubelet identity)."""
        return self._grant(
            name, principal_id, subscription_id, ACR_PULL, "kubelet: pull released images"
        )

    def grant_quarantine_release(
        self, name: str, principal_id: pulumi.Input[str], subscription_id: pulumi.Input[str]
    ) -> authorization.RoleAssignment:
        """AcrQuarantineWriter on the registry: read quarantined images and mark them
        released (the release pipeline, after the gate passed the image)."""
        return self._grant(
            name,
            principal_id,
            subscription_id,
            ACR_QUARANTINE_WRITER,
            "release pipeline: release images from quarantine after the gate",
        )
