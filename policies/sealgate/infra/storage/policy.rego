# METADATA
# title: Model storage
# description: >-
#   The storage account that holds sealed models and the audit trail: Entra ID only (no
#   shared keys), TLS 1.2+, no public blobs, private network access, customer-managed keys,
#   versioning and soft delete, and a write-once (WORM) audit container.
# custom:
#   input: pulumi-plan
package sealgate.infra.storage

import rego.v1

account if data.sealgate.lib.infra.is_type(input, "azure-native:storage:StorageAccount")

blob_service if data.sealgate.lib.infra.is_type(input, "azure-native:storage:BlobServiceProperties")

container if data.sealgate.lib.infra.is_type(input, "azure-native:storage:BlobContainer")

worm_policy if data.sealgate.lib.infra.is_type(input, "azure-native:storage:BlobContainerImmutabilityPolicy")

inputs := data.sealgate.lib.infra.inputs(input)

settings := data.sealgate.lib.infra.settings(input)

# METADATA
# title: Shared key access allowed
# description: Account keys and SAS tokens bypass Entra ID; only Entra ID identities may access model storage.
# custom:
#   id: SG-AZ-010
#   severity: high
#   remediation: >-
#     Set `allowSharedKeyAccess: false` (and `defaultToOAuthAuthentication: true`).
deny contains finding if {
	account
	object.get(inputs, "allowSharedKeyAccess", null) != false
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-010",
		"shared key access is not disabled (allowSharedKeyAccess is not false)",
		["allowSharedKeyAccess"],
	)
}

# METADATA
# title: Weak transport security
# description: Storage accepts HTTPS only, with TLS 1.2 or later.
# custom:
#   id: SG-AZ-011
#   severity: high
#   remediation: >-
#     Set `minimumTlsVersion: TLS1_2` and `enableHttpsTrafficOnly: true`.
deny contains finding if {
	account
	version := object.get(inputs, "minimumTlsVersion", null)
	not version in data.config.infra.storage.tls_versions
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-011",
		sprintf("minimum TLS version is %v, not TLS 1.2 or later", [version]),
		["minimumTlsVersion"],
	)
}

deny contains finding if {
	account
	object.get(inputs, "enableHttpsTrafficOnly", null) != true
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-011",
		"HTTP traffic is not refused (enableHttpsTrafficOnly is not true)",
		["enableHttpsTrafficOnly"],
	)
}

# METADATA
# title: Public blob access
# description: No container may be readable anonymously; the account forbids it and every container says so.
# custom:
#   id: SG-AZ-012
#   severity: critical
#   remediation: >-
#     Set `allowBlobPublicAccess: false` on the account and `publicAccess: None` on every container.
deny contains finding if {
	account
	object.get(inputs, "allowBlobPublicAccess", null) != false
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-012",
		"anonymous blob access is not disallowed (allowBlobPublicAccess is not false)",
		["allowBlobPublicAccess"],
	)
}

deny contains finding if {
	container
	object.get(inputs, "publicAccess", null) != "None"
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-012",
		sprintf("container public access is %v, not None", [object.get(inputs, "publicAccess", null)]),
		["publicAccess"],
	)
}

# METADATA
# title: Storage reachable from public networks
# description: Model storage is reached only through its private endpoint.
# custom:
#   id: SG-AZ-013
#   severity: high
#   remediation: >-
#     Set `publicNetworkAccess: Disabled` and `networkRuleSet.defaultAction: Deny`.
deny contains finding if {
	account
	object.get(inputs, "publicNetworkAccess", null) != "Disabled"
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-013",
		sprintf("public network access is %v, not Disabled", [object.get(inputs, "publicNetworkAccess", null)]),
		["publicNetworkAccess"],
	)
}

deny contains finding if {
	account
	object.get(inputs, ["networkRuleSet", "defaultAction"], null) != "Deny"
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-013",
		"the network rules do not deny by default",
		["networkRuleSet", "defaultAction"],
	)
}

# METADATA
# title: Storage without a customer-managed key
# description: Data at rest is encrypted with the platform's HSM key (CMK), with infrastructure encryption on top.
# custom:
#   id: SG-AZ-014
#   severity: high
#   remediation: >-
#     Set `encryption.keySource: Microsoft.Keyvault` with `keyVaultProperties` and an encryption
#     identity, and `requireInfrastructureEncryption: true`.
deny contains finding if {
	account
	object.get(inputs, ["encryption", "keySource"], null) != "Microsoft.Keyvault"
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-014",
		"encryption does not use a customer-managed key (encryption.keySource is not Microsoft.Keyvault)",
		["encryption", "keySource"],
	)
}

deny contains finding if {
	account
	object.get(inputs, ["encryption", "keySource"], null) == "Microsoft.Keyvault"
	not is_string(object.get(inputs, ["encryption", "keyVaultProperties", "keyName"], null))
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-014",
		"the customer-managed key is not named (encryption.keyVaultProperties.keyName)",
		["encryption", "keyVaultProperties"],
	)
}

deny contains finding if {
	account
	object.get(inputs, ["encryption", "requireInfrastructureEncryption"], null) != true
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-014",
		"infrastructure (double) encryption is not required",
		["encryption", "requireInfrastructureEncryption"],
	)
}

# METADATA
# title: Blob versions and deletes not recoverable
# description: >-
#   Versioning and soft delete (blobs and containers, for at least the environment's
#   minimum) let an overwritten or deleted model be recovered and its history audited.
# custom:
#   id: SG-AZ-015
#   setting: blob_soft_delete_days
#   severity: medium
#   remediation: >-
#     Set `isVersioningEnabled: true` and enabled `deleteRetentionPolicy` and
#     `containerDeleteRetentionPolicy` with enough days.
deny contains finding if {
	blob_service
	object.get(inputs, "isVersioningEnabled", null) != true
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-015",
		"blob versioning is not enabled",
		["isVersioningEnabled"],
	)
}

deny contains finding if {
	blob_service
	some policy in ["deleteRetentionPolicy", "containerDeleteRetentionPolicy"]
	object.get(inputs, [policy, "enabled"], null) != true
	finding := data.sealgate.lib.infra.input_finding("SG-AZ-015", sprintf("%s is not enabled", [policy]), [policy])
}

deny contains finding if {
	blob_service
	some policy in ["deleteRetentionPolicy", "containerDeleteRetentionPolicy"]
	object.get(inputs, [policy, "enabled"], null) == true
	days := object.get(inputs, [policy, "days"], null)
	data.sealgate.lib.infra.below(days, settings.min_blob_soft_delete_days)
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-015",
		sprintf(
			"%s keeps deleted data %v days; this environment requires %v",
			[policy, days, settings.min_blob_soft_delete_days],
		),
		[policy, "days"],
	)
}

# METADATA
# title: Audit trail not write-once
# description: >-
#   The audit container is immutable (version-level WORM), and every audit container (the
#   audit log and its witness) has a time-based retention policy at least as long as the
#   environment requires, so promotion records cannot be rewritten or deleted.
# custom:
#   id: SG-AZ-016
#   setting: audit_retention_days
#   severity: critical
#   remediation: >-
#     Set `immutableStorageWithVersioning.enabled: true` on the audit container and a
#     BlobContainerImmutabilityPolicy with enough days.
deny contains finding if {
	container
	object.get(inputs, "containerName", null) == "audit"
	object.get(inputs, ["immutableStorageWithVersioning", "enabled"], null) != true
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-016",
		"the audit container is not immutable (immutableStorageWithVersioning.enabled is not true)",
		["immutableStorageWithVersioning", "enabled"],
	)
}

deny contains finding if {
	worm_policy
	days := object.get(inputs, "immutabilityPeriodSinceCreationInDays", null)
	data.sealgate.lib.infra.below(days, settings.min_audit_retention_days)
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-016",
		sprintf(
			"the audit trail is immutable for %v days; this environment requires %v",
			[days, settings.min_audit_retention_days],
		),
		["immutabilityPeriodSinceCreationInDays"],
	)
}

# Each write-once container has its time-based retention policy (a child of the container):
# without one, nothing stops the records from being deleted.
deny contains finding if {
	object.get(input, "type", null) == "pulumi:plan"
	some i, c in data.sealgate.lib.infra.as_array(object.get(input, "resources", []))
	is_object(c)
	object.get(c, "type", null) == "azure-native:storage:BlobContainer"
	object.get(c, ["inputs", "containerName"], null) in data.config.infra.storage.worm_containers
	not data.sealgate.lib.infra.has_child(
		input,
		object.get(c, "urn", ""),
		"azure-native:storage:BlobContainerImmutabilityPolicy",
	)
	finding := data.sealgate.lib.findings.finding(
		"SG-AZ-016",
		sprintf(
			"container %v has no immutability (WORM) policy%s",
			[
				object.get(c, ["inputs", "containerName"], "?"),
				data.sealgate.lib.infra.deleted_note(
					input,
					object.get(c, "urn", ""),
					"azure-native:storage:BlobContainerImmutabilityPolicy",
				),
			],
		),
		["resources", i],
	)
}

# METADATA
# title: Production storage not zone-redundant
# description: In environments that require it, model storage survives the loss of a zone.
# custom:
#   id: SG-AZ-017
#   severity: medium
#   remediation: Use a zone-redundant SKU such as `Standard_ZRS` or `Standard_GZRS`.
deny contains finding if {
	account
	settings.redundant_storage
	sku := object.get(inputs, ["sku", "name"], null)
	not sku in data.config.infra.storage.redundant_skus
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-017",
		sprintf("storage SKU %v is not zone-redundant", [sku]),
		["sku", "name"],
	)
}

# METADATA
# title: Production storage not geo-redundant
# description: >-
#   Sealed models, stage pointers and the audit trail survive the loss of the region: in
#   environments that require it the account replicates to the paired region (GZRS keeps the
#   zone redundancy of SG-AZ-017 in the primary region;
#   https://learn.microsoft.com/azure/storage/common/storage-redundancy).
# custom:
#   id: SG-AZ-018
#   severity: medium
#   remediation: Use `Standard_GZRS` (or `Standard_RAGZRS`).
deny contains finding if {
	account
	settings.geo_redundant_storage
	sku := object.get(inputs, ["sku", "name"], null)
	not sku in data.config.infra.storage.geo_redundant_skus
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-018",
		sprintf("storage SKU %v does not replicate to another region", [sku]),
		["sku", "name"],
	)
}
