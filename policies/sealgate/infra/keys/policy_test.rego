package sealgate.infra.keys_test

import rego.v1

import data.sealgate.infra.keys

key(props) := {"type": "azure-native:keyvault:Key", "stack": "prod", "inputs": {"properties": object.union(
	{
		"kty": "RSA-HSM",
		"rotationPolicy": {
			"attributes": {"expiryTime": "P120D"},
			"lifetimeActions": [{"action": {"type": "rotate"}, "trigger": {"timeAfterCreate": "P90D"}}],
		},
	},
	props,
)}}

ids contains f.id if some f in keys.deny

test_hsm_key_with_rotation_passes if count(ids) == 0 with input as key({})

test_software_key_denied if ids == {"SG-AZ-005"} with input as key({"kty": "RSA"})

test_missing_rotation_denied if {
	ids == {"SG-AZ-006"} with input as json.remove(key({}), ["inputs/properties/rotationPolicy"])
}

test_rotation_period_is_environment_aware if {
	slow := key({"rotationPolicy": {
		"attributes": {"expiryTime": "P400D"},
		"lifetimeActions": [{"action": {"type": "Rotate"}, "trigger": {"timeAfterCreate": "P365D"}}],
	}})
	ids == {"SG-AZ-006"} with input as slow
	count(ids) == 0 with input as object.union(slow, {"stack": "dev"})
}

test_rotation_without_expiry_denied if {
	ids == {"SG-AZ-006"} with input as json.remove(key({}), ["inputs/properties/rotationPolicy/attributes"])
}

test_exportable_key_needs_release_policy if {
	ids == {"SG-AZ-007"} with input as key({"attributes": {"exportable": true}})
	count(ids) == 0 with input as key({
		"attributes": {"exportable": true},
		"releasePolicy": {"data": "eyJ2ZXJzaW9uIjoiMS4wLjAifQ"},
	})
}

cmk := {
	"type": "azure-native:keyvault:Key",
	"urn": "urn:k",
	"name": "k",
	"parent": "",
	"inputs": {"keyName": "storage-cmk"},
}

assignment(parent, scope) := {
	"type": "azure-native:authorization:RoleAssignment",
	"urn": "urn:ra",
	"name": "ra",
	"parent": parent,
	"inputs": {"scope": scope},
}

test_cmk_needs_a_role_assignment if {
	ids == {"SG-AZ-008"} with input as {"type": "pulumi:plan", "resources": [cmk]}
	count(ids) == 0 with input as {"type": "pulumi:plan", "resources": [cmk, assignment("urn:k", "unknown")]}
	count(ids) == 0 with input as {
		"type": "pulumi:plan",
		"resources": [cmk, assignment("urn:x", "/vaults/v/keys/storage-cmk")],
	}
	ids == {"SG-AZ-008"} with input as {
		"type": "pulumi:plan",
		"resources": [cmk, assignment("urn:x", "/vaults/v/keys/registry-cmk")],
	}
	signing := object.union(cmk, {"inputs": {"keyName": "signing"}})
	count(ids) == 0 with input as {"type": "pulumi:plan", "resources": [signing]}
}

test_deleted_role_assignment_is_named if {
	findings := keys.deny with input as {"type": "pulumi:plan", "resources": [cmk], "deleted": [assignment("urn:k", "s")]}
	[f.msg | some f in findings] == ["customer-managed key storage-cmk has no role assignment (this change deletes ra)"]
}
