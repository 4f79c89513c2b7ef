# METADATA
# title: Infrastructure plan helpers
# description: >-
#   Shared helpers of the infrastructure policies: the environment of a plan resource (from
#   its stack, data.config.infra), its inputs, and findings whose path points into them.
package sealgate.lib.infra

import rego.v1

environment(doc) := env if {
	env := object.get(data.config.infra.environments, object.get(doc, "stack", ""), null)
	is_string(env)
} else := data.config.infra.default_environment

settings(doc) := data.config.infra.settings[environment(doc)]

is_type(doc, type_token) if object.get(doc, "type", null) == type_token

inputs(doc) := value if {
	value := object.get(doc, "inputs", {})
	is_object(value)
} else := {}

get(doc, path) := object.get(inputs(doc), path, null)

as_array(value) := value if is_array(value)

else := []

# A finding of rule `id` at `path` within the resource's inputs (lib.findings.finding, the
# severity left to the rule's METADATA).
input_finding(id, msg, path) := data.sealgate.lib.findings.finding(id, msg, array.concat(["inputs"], path))

# The plan summary (type pulumi:plan): its resources of a type, and the children of a URN.
plan_resources(doc, type_token) := [r |
	object.get(doc, "type", null) == "pulumi:plan"
	some r in as_array(object.get(doc, "resources", []))
	is_object(r)
	object.get(r, "type", null) == type_token
]

has_child(doc, parent_urn, type_token) if {
	some r in as_array(object.get(doc, "resources", []))
	is_object(r)
	object.get(r, "type", null) == type_token
	object.get(r, "parent", null) == parent_urn
}

# ISO 8601 durations of whole days ("P90D"); anything else is not a number of days.
days(duration) := to_number(trim_suffix(trim_prefix(duration, "P"), "D")) if {
	is_string(duration)
	regex.match(`^P[0-9]+D$`, duration)
}

# A number below a minimum, or no number at all (unset fails the check).
below(value, _) if not is_number(value)

below(value, minimum) if {
	is_number(value)
	value < minimum
}

# A number above a maximum, or no number at all.
above(value, _) if not is_number(value)

above(value, maximum) if {
	is_number(value)
	value > maximum
}

# What a change removes (the plan's `deleted`): " (this change deletes NAME)" when it deletes
# a child of that type of parent_urn, else "" (for the message of a rule that requires it).
deleted_note(doc, parent_urn, type_token) := sprintf(" (this change deletes %s)", [concat(", ", names)]) if {
	names := sort([object.get(r, "name", "?") |
		some r in as_array(object.get(doc, "deleted", []))
		is_object(r)
		object.get(r, "type", null) == type_token
		object.get(r, "parent", null) == parent_urn
	])
	count(names) > 0
} else := ""
