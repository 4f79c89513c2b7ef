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

ids(doc) := {f.id | some f in key_vault.deny with input as doc}

test_hardened_vault_passes if count(ids(vault({}))) == 0

test_standard_sku_denied if ids(vault({"sku": {"name": "standard"}})) == {"SG-AZ-001"}

test_access_policies_denied if ids(vault({"enableRbacAuthorization": false})) == {"SG-AZ-002"}

test_unset_purge_protection_denied if {
	doc := json.remove(vault({}), ["inputs/properties/enablePurgeProtection"])
	ids(doc) == {"SG-AZ-003"}
}

test_short_retention_is_environment_aware if {
	ids(vault({"softDeleteRetentionInDays": 7})) == {"SG-AZ-003"}
	count(ids(object.union(vault({"softDeleteRetentionInDays": 7}), {"stack": "dev"}))) == 0
}

test_unknown_stack_is_held_to_prod if {
	ids(object.union(vault({"softDeleteRetentionInDays": 7}), {"stack": "sandbox"})) == {"SG-AZ-003"}
}

test_public_access_denied if {
	findings := key_vault.deny with input as vault({"publicNetworkAccess": "Enabled"})
	{f.path | some f in findings} == {["inputs", "properties", "publicNetworkAccess"]}
	ids(vault({"networkAcls": {"defaultAction": "Allow", "bypass": "AzureServices"}})) == {"SG-AZ-004"}
}

test_managed_hsm_checked if {
	hsm := {
		"type": "azure-native:keyvault:ManagedHsm",
		"stack": "prod",
		"inputs": {"properties": {"publicNetworkAccess": "Enabled"}},
	}
	ids(hsm) == {"SG-AZ-003", "SG-AZ-004", "SG-AZ-009"}
}

test_other_resources_ignored if count(ids({"type": "azure-native:storage:StorageAccount", "inputs": {}})) == 0

# With bypass None the storage account and the registry cannot read their CMKs (issue: the
# plan had `bypass: None` with public access off).
test_cmk_consumers_need_the_trusted_services_bypass if {
	ids(vault({"networkAcls": {"defaultAction": "Deny", "bypass": "None"}})) == {"SG-AZ-009"}
	ids(json.remove(vault({}), ["inputs/properties/networkAcls/bypass"])) == {"SG-AZ-009"}
}
