package sealgate.lib.infra_test

import rego.v1

test_environment_from_stack if {
	data.sealgate.lib.infra.environment({"stack": "dev"}) == "dev"
	data.sealgate.lib.infra.environment({"stack": "unknown"}) == "prod"
	data.sealgate.lib.infra.environment({}) == "prod"
}

test_days if {
	data.sealgate.lib.infra.days("P90D") == 90
	not data.sealgate.lib.infra.days("P1Y")
	not data.sealgate.lib.infra.days(90)
}

test_bounds if {
	data.sealgate.lib.infra.below(null, 1)
	data.sealgate.lib.infra.below(0, 1)
	not data.sealgate.lib.infra.below(1, 1)
	data.sealgate.lib.infra.above("x", 1)
	not data.sealgate.lib.infra.above(1, 1)
}

test_deleted_note if {
	doc := {"deleted": [
		{"type": "t", "name": "b", "parent": "p"},
		{"type": "t", "name": "a", "parent": "p"},
		{"type": "u", "name": "c", "parent": "p"},
	]}
	data.sealgate.lib.infra.deleted_note(doc, "p", "t") == " (this change deletes a, b)"
	data.sealgate.lib.infra.deleted_note(doc, "q", "t") == ""
	data.sealgate.lib.infra.deleted_note({}, "p", "t") == ""
}

test_input_finding if {
	data.sealgate.lib.infra.input_finding("SG-X-1", "m", ["a", 0]) == {
		"id": "SG-X-1",
		"msg": "m",
		"path": ["inputs", "a", 0],
	}
}
