# METADATA
# title: Model registry
# description: >-
#   The Azure Container Registry that stores model server images and sealed models:
#   Premium, Entra ID only (no admin user, no anonymous pull), private, encrypted with a
#   customer-managed key, with quarantine and retention policies.
# custom:
#   input: pulumi-plan
package sealgate.infra.registry

import rego.v1

container_registry if data.sealgate.lib.infra.is_type(input, "azure-native:containerregistry:Registry")

inputs := data.sealgate.lib.infra.inputs(input)

settings := data.sealgate.lib.infra.settings(input)

# METADATA
# title: Registry not Premium
# description: Private endpoints, customer-managed keys and quarantine need the Premium SKU.
# custom:
#   id: SG-AZ-020
#   severity: high
#   remediation: >-
#     Set `sku.name: Premium`.
deny contains finding if {
	container_registry
	object.get(inputs, ["sku", "name"], null) != "Premium"
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-020",
		sprintf("registry SKU is %v, not Premium", [object.get(inputs, ["sku", "name"], null)]),
		["sku", "name"],
	)
}

# METADATA
# title: Registry credentials outside Entra ID
# description: The admin user (a shared password) and anonymous pull bypass Entra ID and RBAC.
# custom:
#   id: SG-AZ-021
#   severity: high
#   remediation: >-
#     Set `adminUserEnabled: false` and `anonymousPullEnabled: false`.
deny contains finding if {
	container_registry
	some flag in ["adminUserEnabled", "anonymousPullEnabled"]
	object.get(inputs, flag, null) != false
	finding := data.sealgate.lib.infra.input_finding("SG-AZ-021", sprintf("%s is not false", [flag]), [flag])
}

# METADATA
# title: Registry reachable from public networks
# description: The registry is reached only through its private endpoint; nothing bypasses the network rules.
# custom:
#   id: SG-AZ-022
#   severity: high
#   remediation: >-
#     Set `publicNetworkAccess: Disabled` and `networkRuleBypassOptions: None`.
deny contains finding if {
	container_registry
	object.get(inputs, "publicNetworkAccess", null) != "Disabled"
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-022",
		sprintf("public network access is %v, not Disabled", [object.get(inputs, "publicNetworkAccess", null)]),
		["publicNetworkAccess"],
	)
}

# METADATA
# title: Registry without a customer-managed key
# description: Images and sealed models at rest are encrypted with the platform's HSM key.
# custom:
#   id: SG-AZ-023
#   severity: high
#   remediation: >-
#     Set `encryption.status: enabled` with `keyVaultProperties.keyIdentifier` and its identity.
deny contains finding if {
	container_registry
	lower(sprintf("%v", [object.get(inputs, ["encryption", "status"], null)])) != "enabled"
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-023",
		"the registry is not encrypted with a customer-managed key",
		["encryption", "status"],
	)
}

deny contains finding if {
	container_registry
	lower(sprintf("%v", [object.get(inputs, ["encryption", "status"], null)])) == "enabled"
	not is_string(object.get(inputs, ["encryption", "keyVaultProperties", "keyIdentifier"], null))
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-023",
		"the registry's customer-managed key is not named (keyVaultProperties.keyIdentifier)",
		["encryption", "keyVaultProperties"],
	)
}

# METADATA
# title: Registry key unreachable behind the vault firewall
# description: >-
#   A registry reaches a key vault behind its firewall (as a trusted service) only with its
#   system-assigned identity; through a user-assigned identity the key is unreachable
#   (https://learn.microsoft.com/azure/container-registry/tutorial-enable-customer-managed-keys,
#   "Advanced scenario: Key Vault firewall"). The registry is created through a user-assigned
#   identity and a bootstrap key, then rotated to the private key (docs/bootstrap.md).
# custom:
#   id: SG-AZ-027
#   severity: high
#   remediation: >-
#     Enable the system-assigned identity (`identity.type` with SystemAssigned), grant it the key,
#     and set `encryption.keyVaultProperties.identity` to `system`.
deny contains finding if {
	container_registry
	lower(sprintf("%v", [object.get(inputs, ["encryption", "status"], null)])) == "enabled"
	object.get(inputs, ["encryption", "keyVaultProperties", "identity"], null) != "system"
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-027",
		concat(" ", [
			"the registry reads its key with a user-assigned identity, which cannot pass the vault firewall",
			"(keyVaultProperties.identity is not system)",
		]),
		["encryption", "keyVaultProperties", "identity"],
	)
}

deny contains finding if {
	container_registry
	not contains(sprintf("%v", [object.get(inputs, ["identity", "type"], "")]), "SystemAssigned")
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-027",
		"the registry has no system-assigned identity to read its key behind the vault firewall",
		["identity", "type"],
	)
}

# METADATA
# title: Registry without quarantine
# description: Pushed artifacts stay quarantined until the gate has scanned and released them.
# custom:
#   id: SG-AZ-024
#   severity: medium
#   remediation: >-
#     Set `policies.quarantinePolicy.status: enabled`.
deny contains finding if {
	container_registry
	lower(sprintf("%v", [object.get(inputs, ["policies", "quarantinePolicy", "status"], null)])) != "enabled"
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-024",
		"the quarantine policy is not enabled",
		["policies", "quarantinePolicy", "status"],
	)
}

# METADATA
# title: Registry without retention
# description: Untagged manifests are deleted after a retention period instead of accumulating forever.
# custom:
#   id: SG-AZ-025
#   severity: low
#   remediation: >-
#     Set `policies.retentionPolicy.status: enabled` with `days`.
deny contains finding if {
	container_registry
	lower(sprintf("%v", [object.get(inputs, ["policies", "retentionPolicy", "status"], null)])) != "enabled"
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-025",
		"the retention policy for untagged manifests is not enabled",
		["policies", "retentionPolicy", "status"],
	)
}

# METADATA
# title: Production registry not zone-redundant
# description: Where the environment uses availability zones, the registry is zone-redundant.
# custom:
#   id: SG-AZ-026
#   severity: medium
#   remediation: >-
#     Set `zoneRedundancy: Enabled`.
deny contains finding if {
	container_registry
	settings.min_zones > 1
	object.get(inputs, "zoneRedundancy", null) != "Enabled"
	finding := data.sealgate.lib.infra.input_finding("SG-AZ-026", "the registry is not zone-redundant", ["zoneRedundancy"])
}
