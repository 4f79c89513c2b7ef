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

ids(doc) := {f.id | some f in keys.deny with input as doc}

test_hsm_key_with_rotation_passes if count(ids(key({}))) == 0

test_software_key_denied if ids(key({"kty": "RSA"})) == {"SG-AZ-005"}

test_missing_rotation_denied if ids(json.remove(key({}), ["inputs/properties/rotationPolicy"])) == {"SG-AZ-006"}

test_rotation_period_is_environment_aware if {
	slow := key({"rotationPolicy": {
		"attributes": {"expiryTime": "P400D"},
		"lifetimeActions": [{"action": {"type": "Rotate"}, "trigger": {"timeAfterCreate": "P365D"}}],
	}})
	ids(slow) == {"SG-AZ-006"}
	count(ids(object.union(slow, {"stack": "dev"}))) == 0
}

test_rotation_without_expiry_denied if {
	ids(json.remove(key({}), ["inputs/properties/rotationPolicy/attributes"])) == {"SG-AZ-006"}
}

test_exportable_key_needs_release_policy if {
	ids(key({"attributes": {"exportable": true}})) == {"SG-AZ-007"}
	count(ids(key({"attributes": {"exportable": true}, "releasePolicy": {"data": "eyJ2ZXJzaW9uIjoiMS4wLjAifQ"}}))) == 0
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
	ids({"type": "pulumi:plan", "resources": [cmk]}) == {"SG-AZ-008"}
	count(ids({"type": "pulumi:plan", "resources": [cmk, assignment("urn:k", "unknown")]})) == 0
	count(ids({"type": "pulumi:plan", "resources": [cmk, assignment("urn:x", "/vaults/v/keys/storage-cmk")]})) == 0
	ids({"type": "pulumi:plan", "resources": [cmk, assignment("urn:x", "/vaults/v/keys/registry-cmk")]}) == {"SG-AZ-008"}
	signing := object.union(cmk, {"inputs": {"keyName": "signing"}})
	count(ids({"type": "pulumi:plan", "resources": [signing]})) == 0
}

test_deleted_role_assignment_is_named if {
	findings := keys.deny with input as {"type": "pulumi:plan", "resources": [cmk], "deleted": [assignment("urn:k", "s")]}
	[f.msg | some f in findings] == ["customer-managed key storage-cmk has no role assignment (this change deletes ra)"]
}
