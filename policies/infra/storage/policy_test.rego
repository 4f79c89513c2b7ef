package sealgate.infra.storage_test

import rego.v1

import data.sealgate.infra.storage

account(inputs) := {"type": "azure-native:storage:StorageAccount", "stack": "prod", "inputs": object.union(
	{
		"sku": {"name": "Standard_ZRS"},
		"allowSharedKeyAccess": false,
		"allowBlobPublicAccess": false,
		"minimumTlsVersion": "TLS1_2",
		"enableHttpsTrafficOnly": true,
		"publicNetworkAccess": "Disabled",
		"networkRuleSet": {"defaultAction": "Deny"},
		"encryption": {"keySource": "Microsoft.Keyvault", "keyVaultProperties": {"keyName": "storage-cmk"}, "requireInfrastructureEncryption": true},
	},
	inputs,
)}

ids(doc) := {f.id | some f in storage.deny with input as doc}

test_hardened_account_passes if count(ids(account({}))) == 0

test_unset_shared_key_access_denied if ids(json.remove(account({}), ["inputs/allowSharedKeyAccess"])) == {"SG-AZ-010"}

test_old_tls_denied if ids(account({"minimumTlsVersion": "TLS1_1"})) == {"SG-AZ-011"}

test_public_blobs_denied if {
	ids(account({"allowBlobPublicAccess": true})) == {"SG-AZ-012"}
	ids({"type": "azure-native:storage:BlobContainer", "inputs": {"containerName": "models"}}) == {"SG-AZ-012"}
}

test_public_network_denied if ids(account({"networkRuleSet": {"defaultAction": "Allow"}})) == {"SG-AZ-013"}

test_platform_managed_keys_denied if ids(account({"encryption": {"keySource": "Microsoft.Storage", "requireInfrastructureEncryption": true}})) == {"SG-AZ-014"}

test_redundancy_is_environment_aware if {
	ids(account({"sku": {"name": "Standard_LRS"}})) == {"SG-AZ-017"}
	count(ids(object.union(account({"sku": {"name": "Standard_LRS"}}), {"stack": "dev"}))) == 0
}

test_blob_service_recovery if {
	good := {"type": "azure-native:storage:BlobServiceProperties", "stack": "dev", "inputs": {
		"isVersioningEnabled": true,
		"deleteRetentionPolicy": {"enabled": true, "days": 7},
		"containerDeleteRetentionPolicy": {"enabled": true, "days": 7},
	}}
	count(ids(good)) == 0
	ids(object.union(good, {"stack": "prod"})) == {"SG-AZ-015"}
	ids(json.remove(good, ["inputs/isVersioningEnabled"])) == {"SG-AZ-015"}
}

test_audit_container_is_worm if {
	audit := {"type": "azure-native:storage:BlobContainer", "inputs": {"containerName": "audit", "publicAccess": "None"}}
	ids(audit) == {"SG-AZ-016"}
	count(ids(object.union(audit, {"inputs": {"immutableStorageWithVersioning": {"enabled": true}}}))) == 0
	policy := {"type": "azure-native:storage:BlobContainerImmutabilityPolicy", "stack": "prod", "inputs": {"immutabilityPeriodSinceCreationInDays": 30}}
	ids(policy) == {"SG-AZ-016"}
	count(ids(object.union(policy, {"stack": "dev"}))) == 0
}
