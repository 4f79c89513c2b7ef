# METADATA
# title: Key Vault and Managed HSM
# description: >-
#   The key store holds the model key encryption keys: HSM-backed (Key Vault Premium or
#   Managed HSM), access by Azure RBAC only, purge protection, long soft-delete retention,
#   no public network access and a network ACL that denies by default.
# custom:
#   input: pulumi-plan
package sealgate.infra.key_vault

import rego.v1

vault if data.sealgate.lib.infra.is_type(input, "azure-native:keyvault:Vault")

hsm if data.sealgate.lib.infra.is_type(input, "azure-native:keyvault:ManagedHsm")

store if vault

store if hsm

props := object.get(data.sealgate.lib.infra.inputs(input), "properties", {})

settings := data.sealgate.lib.infra.settings(input)

# METADATA
# title: Key Vault not HSM-backed
# description: Keys that protect models live in HSMs, so a vault must use the Premium SKU.
# custom:
#   id: SG-AZ-001
#   severity: high
#   remediation: >-
#     Set `properties.sku.name` to `premium` (or use a Managed HSM, `key_store: managed-hsm`).
deny contains finding if {
	vault
	sku := object.get(props, ["sku", "name"], null)
	lower(sprintf("%v", [sku])) != "premium"
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-001",
		sprintf("Key Vault SKU is %v, not premium (HSM-backed keys)", [sku]),
		["properties", "sku", "name"],
	)
}

# METADATA
# title: Key Vault access policies instead of RBAC
# description: >-
#   Vault access policies grant broad, unaudited permissions per vault; Azure RBAC grants
#   per key and is governed like every other role assignment.
# custom:
#   id: SG-AZ-002
#   severity: high
#   remediation: >-
#     Set `properties.enableRbacAuthorization: true` and remove access policies.
deny contains finding if {
	vault
	object.get(props, "enableRbacAuthorization", null) != true
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-002",
		"Key Vault does not use Azure RBAC authorization (enableRbacAuthorization is not true)",
		["properties", "enableRbacAuthorization"],
	)
}

# METADATA
# title: Key store without purge protection
# description: >-
#   Without purge protection a deleted key can be purged at once, destroying every model
#   sealed to it; soft delete retention must also meet the environment's minimum.
# custom:
#   id: SG-AZ-003
#   severity: critical
#   remediation: >-
#     Set `properties.enablePurgeProtection: true` and `softDeleteRetentionInDays` to at least
#     the environment's minimum.
deny contains finding if {
	store
	object.get(props, "enablePurgeProtection", null) != true
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-003",
		"purge protection is not enabled",
		["properties", "enablePurgeProtection"],
	)
}

deny contains finding if {
	store
	retention := object.get(props, "softDeleteRetentionInDays", null)
	data.sealgate.lib.infra.below(retention, settings.min_soft_delete_days)
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-003",
		sprintf(
			"soft delete retention %v days is below the %v-day minimum of this environment",
			[retention, settings.min_soft_delete_days],
		),
		["properties", "softDeleteRetentionInDays"],
	)
}

# METADATA
# title: Key store reachable from public networks
# description: >-
#   The key store is reached only through its private endpoint: public network access is
#   disabled and the network ACL denies by default.
# custom:
#   id: SG-AZ-004
#   severity: high
#   remediation: >-
#     Set `properties.publicNetworkAccess: Disabled` and `properties.networkAcls.defaultAction: Deny`.
deny contains finding if {
	store
	object.get(props, "publicNetworkAccess", null) != "Disabled"
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-004",
		sprintf("public network access is %v, not Disabled", [object.get(props, "publicNetworkAccess", null)]),
		["properties", "publicNetworkAccess"],
	)
}

deny contains finding if {
	store
	object.get(props, ["networkAcls", "defaultAction"], null) != "Deny"
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-004",
		"the network ACL does not deny by default (networkAcls.defaultAction is not Deny)",
		["properties", "networkAcls", "defaultAction"],
	)
}

# METADATA
# title: Customer-managed keys unreachable behind the key store's firewall
# description: >-
#   Storage and the registry read their customer-managed keys from the service side, not
#   through the private endpoint: with public access off they reach the store only as trusted
#   services, so the network ACL must let trusted Azure services bypass it
#   (https://learn.microsoft.com/azure/key-vault/general/overview-vnet-service-endpoints#trusted-services).
#   The bypass grants no access by itself: each service still needs an RBAC grant on its key.
# custom:
#   id: SG-AZ-009
#   severity: high
#   remediation: >-
#     Set `properties.networkAcls.bypass` to AzureServices (with `defaultAction` Deny).
deny contains finding if {
	store
	object.get(props, ["networkAcls", "bypass"], null) != "AzureServices"
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-009",
		sprintf(
			"networkAcls.bypass is %v: storage and the registry cannot reach their customer-managed keys (AzureServices)",
			[object.get(props, ["networkAcls", "bypass"], null)],
		),
		["properties", "networkAcls", "bypass"],
	)
}
