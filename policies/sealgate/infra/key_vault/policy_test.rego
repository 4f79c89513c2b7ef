package sealgate.infra.key_vault_test

import rego.v1

import data.sealgate.infra.key_vault

vault(props) := {"type": "azure-native:keyvault:Vault", "stack": "prod", "inputs": {"properties": object.union(
	{
		"sku": {"family": "A", "name": "premium"},
		"enableRbacAuthorization": true,
		"enablePurgeProtection": true,
		"softDeleteRetentionInDays": 90,
		"publicNetworkAccess": "Disabled",
		"networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"},
	},
	props,
)}}

ids contains f.id if some f in key_vault.deny

test_hardened_vault_passes if count(ids) == 0 with input as vault({})

test_standard_sku_denied if ids == {"SG-AZ-001"} with input as vault({"sku": {"name": "standard"}})

test_access_policies_denied if ids == {"SG-AZ-002"} with input as vault({"enableRbacAuthorization": false})

test_unset_purge_protection_denied if {
	doc := json.remove(vault({}), ["inputs/properties/enablePurgeProtection"])
	ids == {"SG-AZ-003"} with input as doc
}

test_short_retention_is_environment_aware if {
	ids == {"SG-AZ-003"} with input as vault({"softDeleteRetentionInDays": 7})
	count(ids) == 0 with input as object.union(vault({"softDeleteRetentionInDays": 7}), {"stack": "dev"})
}

test_unknown_stack_is_held_to_prod if {
	ids == {"SG-AZ-003"} with input as object.union(vault({"softDeleteRetentionInDays": 7}), {"stack": "sandbox"})
}

test_public_access_denied if {
	findings := key_vault.deny with input as vault({"publicNetworkAccess": "Enabled"})
	{f.path | some f in findings} == {["inputs", "properties", "publicNetworkAccess"]}
	ids == {"SG-AZ-004"} with input as vault({"networkAcls": {"defaultAction": "Allow", "bypass": "AzureServices"}})
}

test_managed_hsm_checked if {
	hsm := {
		"type": "azure-native:keyvault:ManagedHsm",
		"stack": "prod",
		"inputs": {"properties": {"publicNetworkAccess": "Enabled"}},
	}
	ids == {"SG-AZ-003", "SG-AZ-004", "SG-AZ-009"} with input as hsm
}

test_other_resources_ignored if {
	count(ids) == 0 with input as {"type": "azure-native:storage:StorageAccount", "inputs": {}}
}

# With bypass None the storage account and the registry cannot read their CMKs (issue: the
# plan had `bypass: None` with public access off).
test_cmk_consumers_need_the_trusted_services_bypass if {
	ids == {"SG-AZ-009"} with input as vault({"networkAcls": {"defaultAction": "Deny", "bypass": "None"}})
	ids == {"SG-AZ-009"} with input as json.remove(vault({}), ["inputs/properties/networkAcls/bypass"])
}
