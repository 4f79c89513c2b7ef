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
	slow := key({"rotationPolicy": {"attributes": {"expiryTime": "P400D"}, "lifetimeActions": [{"action": {"type": "Rotate"}, "trigger": {"timeAfterCreate": "P365D"}}]}})
	ids(slow) == {"SG-AZ-006"}
	count(ids(object.union(slow, {"stack": "dev"}))) == 0
}

test_rotation_without_expiry_denied if ids(json.remove(key({}), ["inputs/properties/rotationPolicy/attributes"])) == {"SG-AZ-006"}

test_exportable_key_needs_release_policy if {
	ids(key({"attributes": {"exportable": true}})) == {"SG-AZ-007"}
	count(ids(key({"attributes": {"exportable": true}, "releasePolicy": {"data": "eyJ2ZXJzaW9uIjoiMS4wLjAifQ"}}))) == 0
}
