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

ids contains f.id if some f in storage.deny

test_hardened_account_passes if count(ids) == 0 with input as account({})

test_unset_shared_key_access_denied if {
	ids == {"SG-AZ-010"} with input as json.remove(account({}), ["inputs/allowSharedKeyAccess"])
}

test_old_tls_denied if ids == {"SG-AZ-011"} with input as account({"minimumTlsVersion": "TLS1_1"})

test_public_blobs_denied if {
	ids == {"SG-AZ-012"} with input as account({"allowBlobPublicAccess": true})
	ids == {"SG-AZ-012"} with input as {
		"type": "azure-native:storage:BlobContainer",
		"inputs": {"containerName": "models"},
	}
}

test_public_network_denied if ids == {"SG-AZ-013"} with input as account({"networkRuleSet": {"defaultAction": "Allow"}})

test_platform_managed_keys_denied if {
	ids == {"SG-AZ-014"} with input as account({"encryption": {
		"keySource": "Microsoft.Storage",
		"requireInfrastructureEncryption": true,
	}})
}

test_redundancy_is_environment_aware if {
	ids == {"SG-AZ-017", "SG-AZ-018"} with input as account({"sku": {"name": "Standard_LRS"}})
	count(ids) == 0 with input as object.union(account({"sku": {"name": "Standard_LRS"}}), {"stack": "dev"})
}

test_blob_service_recovery if {
	good := {"type": "azure-native:storage:BlobServiceProperties", "stack": "dev", "inputs": {
		"isVersioningEnabled": true,
		"deleteRetentionPolicy": {"enabled": true, "days": 7},
		"containerDeleteRetentionPolicy": {"enabled": true, "days": 7},
	}}
	count(ids) == 0 with input as good
	ids == {"SG-AZ-015"} with input as object.union(good, {"stack": "prod"})
	ids == {"SG-AZ-015"} with input as json.remove(good, ["inputs/isVersioningEnabled"])
}

test_audit_container_is_worm if {
	audit := {"type": "azure-native:storage:BlobContainer", "inputs": {"containerName": "audit", "publicAccess": "None"}}
	ids == {"SG-AZ-016"} with input as audit
	count(ids) == 0 with input as object.union(audit, {"inputs": {"immutableStorageWithVersioning": {"enabled": true}}})
	policy := {
		"type": "azure-native:storage:BlobContainerImmutabilityPolicy",
		"stack": "prod",
		"inputs": {"immutabilityPeriodSinceCreationInDays": 30},
	}
	ids == {"SG-AZ-016"} with input as policy
	count(ids) == 0 with input as object.union(policy, {"stack": "dev"})
}

# Production replicates to the paired region; zone redundancy alone (ZRS) is not enough there.
test_production_storage_is_geo_redundant if {
	ids == {"SG-AZ-018"} with input as account({"sku": {"name": "Standard_ZRS"}})
	count(ids) == 0 with input as object.union(account({"sku": {"name": "Standard_ZRS"}}), {"stack": "staging"})
	count(ids) == 0 with input as account({"sku": {"name": "Standard_RAGZRS"}})
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
	count(ids) == 0 with input as {"type": "pulumi:plan", "resources": [audit_container, worm]}
	ids == {"SG-AZ-016"} with input as {"type": "pulumi:plan", "resources": [audit_container]}
	ids == {"SG-AZ-016"} with input as {
		"type": "pulumi:plan",
		"resources": [audit_container, object.union(worm, {"parent": "urn:other"})],
	}
	models := object.union(audit_container, {"inputs": {"containerName": "models"}})
	count(ids) == 0 with input as {"type": "pulumi:plan", "resources": [models]}
	findings := storage.deny with input as {"type": "pulumi:plan", "resources": [audit_container], "deleted": [worm]}
	[f.msg | some f in findings] == ["container audit-witness has no immutability (WORM) policy (this change deletes w)"]
}
