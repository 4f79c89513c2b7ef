package sealgate.infra.registry_test

import rego.v1

import data.sealgate.infra.registry

acr(inputs) := {"type": "azure-native:containerregistry:Registry", "stack": "prod", "inputs": object.union(
	{
		"sku": {"name": "Premium"},
		"adminUserEnabled": false,
		"anonymousPullEnabled": false,
		"publicNetworkAccess": "Disabled",
		"zoneRedundancy": "Enabled",
		"identity": {"type": "SystemAssigned, UserAssigned"},
		"encryption": {
			"status": "enabled",
			"keyVaultProperties": {"keyIdentifier": "https://v.vault.azure.net/keys/registry-cmk", "identity": "system"},
		},
		"policies": {"quarantinePolicy": {"status": "enabled"}, "retentionPolicy": {"status": "enabled", "days": 30}},
	},
	inputs,
)}

ids(doc) := {f.id | some f in registry.deny with input as doc}

test_hardened_registry_passes if count(ids(acr({}))) == 0

test_each_weakening_denied if {
	ids(acr({"sku": {"name": "Standard"}})) == {"SG-AZ-020"}
	ids(json.remove(acr({}), ["inputs/adminUserEnabled"])) == {"SG-AZ-021"}
	ids(acr({"anonymousPullEnabled": true})) == {"SG-AZ-021"}
	ids(acr({"publicNetworkAccess": "Enabled"})) == {"SG-AZ-022"}
	ids(acr({"encryption": {"status": "disabled"}})) == {"SG-AZ-023"}
	ids(json.remove(acr({}), ["inputs/encryption/keyVaultProperties/keyIdentifier"])) == {"SG-AZ-023"}
	ids(json.remove(acr({}), ["inputs/policies/quarantinePolicy"])) == {"SG-AZ-024"}
	ids(acr({"policies": {"retentionPolicy": {"status": "disabled"}}})) == {"SG-AZ-025"}
}

test_zone_redundancy_is_environment_aware if {
	ids(acr({"zoneRedundancy": "Disabled"})) == {"SG-AZ-026"}
	count(ids(object.union(acr({"zoneRedundancy": "Disabled"}), {"stack": "dev"}))) == 0
}

# The known failure: a CMK read through a user-assigned identity behind the vault firewall.
test_key_through_the_system_identity if {
	ids(acr({"encryption": {"keyVaultProperties": {"identity": "2b5c1d3e-0000-4000-8000-000000000001"}}})) == {"SG-AZ-027"}
	ids(acr({"identity": {"type": "UserAssigned"}})) == {"SG-AZ-027"}
}
