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

ids contains f.id if some f in registry.deny

test_hardened_registry_passes if count(ids) == 0 with input as acr({})

test_each_weakening_denied if {
	ids == {"SG-AZ-020"} with input as acr({"sku": {"name": "Standard"}})
	ids == {"SG-AZ-021"} with input as json.remove(acr({}), ["inputs/adminUserEnabled"])
	ids == {"SG-AZ-021"} with input as acr({"anonymousPullEnabled": true})
	ids == {"SG-AZ-022"} with input as acr({"publicNetworkAccess": "Enabled"})
	ids == {"SG-AZ-023"} with input as acr({"encryption": {"status": "disabled"}})
	ids == {"SG-AZ-023"} with input as json.remove(acr({}), ["inputs/encryption/keyVaultProperties/keyIdentifier"])
	ids == {"SG-AZ-024"} with input as json.remove(acr({}), ["inputs/policies/quarantinePolicy"])
	ids == {"SG-AZ-025"} with input as acr({"policies": {"retentionPolicy": {"status": "disabled"}}})
}

test_zone_redundancy_is_environment_aware if {
	ids == {"SG-AZ-026"} with input as acr({"zoneRedundancy": "Disabled"})
	count(ids) == 0 with input as object.union(acr({"zoneRedundancy": "Disabled"}), {"stack": "dev"})
}

# The known failure: a CMK read through a user-assigned identity behind the vault firewall.
test_key_through_the_system_identity if {
	user_assigned := {"keyVaultProperties": {"identity": "2b5c1d3e-0000-4000-8000-000000000001"}}
	ids == {"SG-AZ-027"} with input as acr({"encryption": user_assigned})
	ids == {"SG-AZ-027"} with input as acr({"identity": {"type": "UserAssigned"}})
}
