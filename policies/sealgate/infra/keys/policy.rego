# METADATA
# title: Key Vault keys
# description: >-
#   The keys that wrap model data keys, sign models and encrypt storage and the registry are
#   HSM keys (RSA-HSM or EC-HSM) with a rotation policy; an exportable key is released only
#   under a Secure Key Release policy.
# custom:
#   input: pulumi-plan
package sealgate.infra.keys

import rego.v1

key if data.sealgate.lib.infra.is_type(input, "azure-native:keyvault:Key")

props := object.get(data.sealgate.lib.infra.inputs(input), "properties", {})

settings := data.sealgate.lib.infra.settings(input)

lifetime_actions := data.sealgate.lib.infra.as_array(object.get(props, ["rotationPolicy", "lifetimeActions"], []))

rotate_days contains days if {
	some action in lifetime_actions
	is_object(action)
	lower(sprintf("%v", [object.get(action, ["action", "type"], "")])) == "rotate"
	days := data.sealgate.lib.infra.days(object.get(action, ["trigger", "timeAfterCreate"], null))
}

# METADATA
# title: Key not HSM-protected
# description: Every key is generated and kept in an HSM (key type RSA-HSM or EC-HSM).
# custom:
#   id: SG-AZ-005
#   severity: high
#   remediation: Set `properties.kty` to `RSA-HSM` or `EC-HSM`.
deny contains finding if {
	key
	kty := object.get(props, "kty", null)
	not kty in data.config.infra.key_vault.hsm_key_types
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-005",
		sprintf("key type %v is not HSM-protected (RSA-HSM or EC-HSM)", [kty]),
		["properties", "kty"],
	)
}

# METADATA
# title: Key without rotation
# description: >-
#   Every key has a rotation policy that rotates it at least as often as the environment
#   requires and sets an expiry, so a compromised key version has a bounded lifetime.
# custom:
#   id: SG-AZ-006
#   setting: key_rotation_days
#   severity: medium
#   remediation: >-
#     Add `properties.rotationPolicy` with a `rotate` lifetime action (`timeAfterCreate:
#     P<days>D`, at most the environment's maximum) and `attributes.expiryTime`.
deny contains finding if {
	key
	count(rotate_days) == 0
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-006",
		"the key has no rotation policy with a rotate action after a number of days",
		["properties", "rotationPolicy"],
	)
}

deny contains finding if {
	key
	some days in rotate_days
	days > settings.max_key_rotation_days
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-006",
		sprintf(
			"the key rotates after %v days; this environment requires at most %v",
			[days, settings.max_key_rotation_days],
		),
		["properties", "rotationPolicy", "lifetimeActions"],
	)
}

deny contains finding if {
	key
	count(rotate_days) > 0
	not is_string(object.get(props, ["rotationPolicy", "attributes", "expiryTime"], null))
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-006",
		"the rotation policy sets no expiry time",
		["properties", "rotationPolicy", "attributes"],
	)
}

# METADATA
# title: Exportable key without a release policy
# description: >-
#   A key that can be exported must carry a Secure Key Release policy, so that it is
#   released only to an attested confidential environment.
# custom:
#   id: SG-AZ-007
#   severity: critical
#   remediation: Add `properties.releasePolicy` (Secure Key Release) or make the key non-exportable.
deny contains finding if {
	key
	object.get(props, ["attributes", "exportable"], false) == true
	policy := object.get(props, ["releasePolicy", "data"], "")
	not regex.match(`^[A-Za-z0-9_=-]{16,}$`, sprintf("%v", [policy]))
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-007",
		"the key is exportable but has no Secure Key Release policy",
		["properties", "releasePolicy"],
	)
}

# METADATA
# title: Customer-managed key without its role assignment
# description: >-
#   A key that encrypts storage or the registry is usable only by the identity that holds
#   a role on it; without that role assignment the service cannot reach its key.
# custom:
#   id: SG-AZ-008
#   severity: high
#   remediation: >-
#     Assign the encryption identity `Key Vault Crypto Service Encryption User` on the key
#     (a RoleAssignment that is a child of the key, as the KeyStore component does).
deny contains finding if {
	object.get(input, "type", null) == "pulumi:plan"
	some i, k in data.sealgate.lib.infra.as_array(object.get(input, "resources", []))
	is_object(k)
	object.get(k, "type", null) == "azure-native:keyvault:Key"
	name := object.get(k, ["inputs", "keyName"], null)
	name in data.config.infra.key_vault.customer_managed_keys
	not key_role_assigned(object.get(k, "urn", ""), name)
	finding := data.sealgate.lib.findings.finding(
		"SG-AZ-008",
		sprintf(
			"customer-managed key %v has no role assignment%s",
			[
				name,
				data.sealgate.lib.infra.deleted_note(input, object.get(k, "urn", ""), "azure-native:authorization:RoleAssignment"),
			],
		),
		["resources", i],
	)
}

# A role assignment is on the key when it is the key's child, or scoped to it by name.
key_role_assigned(urn, _) if data.sealgate.lib.infra.has_child(input, urn, "azure-native:authorization:RoleAssignment")

key_role_assigned(_, name) if {
	some r in data.sealgate.lib.infra.plan_resources(input, "azure-native:authorization:RoleAssignment")
	endswith(sprintf("%v", [object.get(r, ["inputs", "scope"], "")]), sprintf("/keys/%s", [name]))
}
