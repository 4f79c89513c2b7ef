package sealgate.infra.storage_test

import rego.v1

import data.sealgate.infra.storage

account(inputs) := {"type": "azure-native:storage:StorageAccount", "stack": "prod", "inputs": object.union(
	{
		"sku": {"name": "Standard_GZRS"},
		"allowSharedKeyAccess": false,
		"allowBlobPublicAccess": false,
		"minimumTlsVersion": "TLS1_2",
		"enableHttpsTrafficOnly": true,
		"publicNetworkAccess": "Disabled",
		"networkRuleSet": {"defaultAction": "Deny"},
		"encryption": {
			"keySource": "Microsoft.Keyvault",
			"keyVaultProperties": {"keyName": "storage-cmk"},
			"requireInfrastructureEncryption": true,
		},
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

test_platform_managed_keys_denied if {
	ids(account({"encryption": {
		"keySource": "Microsoft.Storage",
		"requireInfrastructureEncryption": true,
	}})) == {"SG-AZ-014"}
}

test_redundancy_is_environment_aware if {
	ids(account({"sku": {"name": "Standard_LRS"}})) == {"SG-AZ-017", "SG-AZ-018"}
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
	policy := {
		"type": "azure-native:storage:BlobContainerImmutabilityPolicy",
		"stack": "prod",
		"inputs": {"immutabilityPeriodSinceCreationInDays": 30},
	}
	ids(policy) == {"SG-AZ-016"}
	count(ids(object.union(policy, {"stack": "dev"}))) == 0
}

# Production replicates to the paired region; zone redundancy alone (ZRS) is not enough there.
test_production_storage_is_geo_redundant if {
	ids(account({"sku": {"name": "Standard_ZRS"}})) == {"SG-AZ-018"}
	count(ids(object.union(account({"sku": {"name": "Standard_ZRS"}}), {"stack": "staging"}))) == 0
	count(ids(account({"sku": {"name": "Standard_RAGZRS"}}))) == 0
}

audit_container := {
	"type": "azure-native:storage:BlobContainer",
	"urn": "urn:c",
	"name": "c",
	"parent": "",
	"inputs": {"containerName": "audit-witness"},
}

worm := {
	"type": "azure-native:storage:BlobContainerImmutabilityPolicy",
	"urn": "urn:w",
	"name": "w",
	"parent": "urn:c",
	"inputs": {},
}

test_audit_containers_need_a_worm_policy if {
	count(ids({"type": "pulumi:plan", "resources": [audit_container, worm]})) == 0
	ids({"type": "pulumi:plan", "resources": [audit_container]}) == {"SG-AZ-016"}
	ids({
		"type": "pulumi:plan",
		"resources": [audit_container, object.union(worm, {"parent": "urn:other"})],
	}) == {"SG-AZ-016"}
	models := object.union(audit_container, {"inputs": {"containerName": "models"}})
	count(ids({"type": "pulumi:plan", "resources": [models]})) == 0
	findings := storage.deny with input as {"type": "pulumi:plan", "resources": [audit_container], "deleted": [worm]}
	[f.msg | some f in findings] == ["container audit-witness has no immutability (WORM) policy (this change deletes w)"]
}
