"""Model storage: CMK-encrypted account, Entra-only access, versioning, WORM audit trail, and
the audit head witness (a container where a blob, once created, is neither replaced nor deleted
within the retention)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_azure_native.storage as storage

from sealgate.platform._common import TYPE_PREFIX, Placement, diagnose, private_endpoint, require
from sealgate.platform._naming import azure_name

WITNESS_CONTAINER = "audit-witness"
# Where the head witness writes (sealgate.promotion._witness: heads/<count>.json).
WITNESS_PREFIX = "heads/"
_BLOB = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"


def witness_writer_condition(prefix: str = WITNESS_PREFIX) -> str:
    """An Azure ABAC condition for a witness writer: blob writes only under ``prefix``, and no
    delete, move or version delete anywhere (the WORM policy refuses overwrites and deletes
    already; the condition keeps the grant at what the writer needs)."""
    writes = " AND ".join(
        f"!(ActionMatches{{'{_BLOB}/{action}'}})" for action in ("write", "add/action")
    )
    removals = " AND ".join(
        f"!(ActionMatches{{'{_BLOB}/{action}'}})"
        for action in ("delete", "move/action", "deleteBlobVersion/action")
    )
    path = f"@Resource[{_BLOB}:path] StringStartsWith '{prefix}'"
    return f"(({writes}) OR ({path})) AND (({removals}))"


@dataclass(frozen=True, kw_only=True)
class ModelStorageArgs:
    """A storage account for sealed models (``models``) and the audit trail (``audit``, WORM)."""

    placement: Placement
    """Resource group, region and tags."""
    cmk_identity_id: pulumi.Input[str]
    """Resource id of the user-assigned identity that reads the customer-managed key."""
    key_vault_uri: pulumi.Input[str]
    """URI of the vault (or Managed HSM) that holds the customer-managed key."""
    endpoint_subnet_id: pulumi.Input[str]
    """Subnet of the account's private blob endpoint (public network access is disabled)."""
    private_dns_zone_id: pulumi.Input[str]
    """Private DNS zone ``privatelink.blob.core.windows.net``."""
    workspace_id: pulumi.Input[str]
    """Log Analytics workspace that receives the account's and the blob service's logs."""
    key_name: str = "storage-cmk"
    """Name of the customer-managed key in that vault."""
    sku: str = "Standard_ZRS"
    """Storage SKU: zone-redundant by default (``Standard_LRS`` where redundancy is not needed)."""
    blob_soft_delete_days: int = 7
    """Days a deleted blob or container can be restored."""
    audit_retention_days: int = 30
    """Days every audit record is immutable (time-based retention of the ``audit`` container)."""
    witness_retention_days: int | None = None
    """Days every witnessed audit head is immutable (None: ``audit_retention_days``)."""
    cmk_dependencies: Sequence[pulumi.Resource] = ()
    """The key and its role assignment (``KeyStore.cmk_dependencies(key_name)``): Azure checks
    the key when the account is created, so the account is created after them."""

    def __post_init__(self) -> None:
        require(
            1 <= self.blob_soft_delete_days <= 365, self, "blob_soft_delete_days must be 1..365"
        )
        require(
            1 <= self.audit_retention_days <= 146000,
            self,
            "audit_retention_days must be 1..146000",
        )
        require(
            self.witness_retention_days is None or 1 <= self.witness_retention_days <= 146000,
            self,
            "witness_retention_days must be 1..146000",
        )


class ModelStorage(pulumi.ComponentResource):
    """The account, its blob service, the ``models``, ``audit`` and ``audit-witness`` containers.

    Outputs: ``account`` (the StorageAccount; ``account.name`` is its Azure name), ``models``
    (the BlobContainer of the model registry: sealed models, signed stage pointers, the audit
    log; ``models.id`` is the scope of a role assignment on it), ``witness`` (the BlobContainer
    of the audit head witness, ``azblob://<account>/audit-witness``; ``witness.id`` is the scope
    of its writers' roles).
    """

    def __init__(
        self, name: str, args: ModelStorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:ModelStorage", name, None, opts)
        placement = args.placement
        cmk_identity_id = args.cmk_identity_id
        self.account = storage.StorageAccount(
            f"{name}-account",
            account_name=azure_name(storage.StorageAccount, f"{name}-account"),
            resource_group_name=placement.resource_group,
            location=placement.location,
            kind="StorageV2",
            sku={"name": args.sku},
            identity={"type": "UserAssigned", "user_assigned_identities": [cmk_identity_id]},
            allow_shared_key_access=False,
            default_to_o_auth_authentication=True,
            allow_blob_public_access=False,
            allow_cross_tenant_replication=False,
            minimum_tls_version="TLS1_2",
            enable_https_traffic_only=True,
            public_network_access="Disabled",
            network_rule_set={"default_action": storage.DefaultAction.DENY, "bypass": "None"},
            encryption={
                "key_source": "Microsoft.Keyvault",
                "require_infrastructure_encryption": True,
                "key_vault_properties": {
                    "key_name": args.key_name,
                    "key_vault_uri": args.key_vault_uri,
                },
                "encryption_identity": {"encryption_user_assigned_identity": cmk_identity_id},
                "services": {
                    "blob": {"enabled": True, "key_type": "Account"},
                    "file": {"enabled": True, "key_type": "Account"},
                },
            },
            tags=placement.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.cmk_dependencies)),
        )
        child = pulumi.ResourceOptions(parent=self.account)
        blob_service = storage.BlobServiceProperties(
            f"{name}-blob-service",
            resource_group_name=placement.resource_group,
            account_name=self.account.name,
            blob_services_name="default",
            is_versioning_enabled=True,
            change_feed={"enabled": True},
            delete_retention_policy={"enabled": True, "days": args.blob_soft_delete_days},
            container_delete_retention_policy={
                "enabled": True,
                "days": args.blob_soft_delete_days,
            },
            opts=child,
        )
        after_service = pulumi.ResourceOptions(parent=self.account, depends_on=[blob_service])
        self.models = storage.BlobContainer(
            f"{name}-models",
            resource_group_name=placement.resource_group,
            account_name=self.account.name,
            container_name="models",
            public_access=storage.PublicAccess.NONE,
            opts=after_service,
        )
        audit = storage.BlobContainer(
            f"{name}-audit",
            resource_group_name=placement.resource_group,
            account_name=self.account.name,
            container_name="audit",
            public_access=storage.PublicAccess.NONE,
            immutable_storage_with_versioning={"enabled": True},
            opts=after_service,
        )
        # Time-based retention (WORM); append-only writes keep the audit log growing.
        # Locking the policy is a one-way operation left to the operator (see README).
        storage.BlobContainerImmutabilityPolicy(
            f"{name}-audit-worm",
            resource_group_name=placement.resource_group,
            account_name=self.account.name,
            container_name=audit.name,
            immutability_policy_name="default",
            immutability_period_since_creation_in_days=args.audit_retention_days,
            allow_protected_append_writes_all=True,
            opts=pulumi.ResourceOptions(parent=audit),
        )
        self.witness = storage.BlobContainer(
            f"{name}-witness",
            resource_group_name=placement.resource_group,
            account_name=self.account.name,
            container_name=WITNESS_CONTAINER,
            public_access=storage.PublicAccess.NONE,
            opts=after_service,
        )
        # A container-level time-based retention, no version-level immutability: a head blob
        # once created can be neither overwritten (not even as a new version) nor deleted.
        # Heads are written whole, once: no protected append writes (which would let a writer
        # commit further blocks to a head).
        storage.BlobContainerImmutabilityPolicy(
            f"{name}-witness-worm",
            resource_group_name=placement.resource_group,
            account_name=self.account.name,
            container_name=WITNESS_CONTAINER,
            immutability_policy_name="default",
            immutability_period_since_creation_in_days=(
                args.witness_retention_days or args.audit_retention_days
            ),
            allow_protected_append_writes=False,
            allow_protected_append_writes_all=False,
            opts=pulumi.ResourceOptions(parent=self.witness, depends_on=[self.witness]),
        )
        private_endpoint(
            self.account,
            f"{name}-blob",
            "blob",
            placement,
            args.endpoint_subnet_id,
            args.private_dns_zone_id,
        )
        diagnose(self.account, f"{name}-account", args.workspace_id)
        diagnose(blob_service, f"{name}-blob-service", args.workspace_id)
        self.register_outputs({"account_name": self.account.name})
