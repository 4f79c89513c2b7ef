# METADATA
# title: Waivers
# description: >-
#   Every waiver names one rule and one exact target, has an owner and a reason, and
#   expires within the allowed window. Python hands the policy each entry's parsed expiry
#   (input.expiry[i]: valid, days_left) so that date parsing never fails inside the policy.
# entrypoint: true
# custom:
#   input: waivers
package sealgate.gate.waivers

import rego.v1

required_fields := ["rule", "target", "owner", "reason", "expires"]

max_days := data.config.gate.waivers.max_days

entries := input.waivers if is_array(input.waivers)

entries := [] if input.waivers == null

# METADATA
# title: Waivers file must hold a list of waivers
# description: The file must be a mapping whose `waivers` key is a list of waiver entries.
# custom:
#   id: SG-WAIVER-001
#   severity: high
#   waivable: false
#   remediation: "Write `waivers:` followed by a list of entries, or `waivers: []`."
deny contains finding if {
	waivers := object.get(input, "waivers", null)
	not is_array(waivers)
	waivers != null
	finding := data.sealgate.lib.findings.finding(
		"SG-WAIVER-001",
		sprintf("`waivers` must be a list, found %s", [type_name(waivers)]),
		["waivers"],
	)
}

# METADATA
# title: Waiver lacks a required field
# description: A waiver needs rule, target, owner, reason and expires, each a non-empty string.
# custom:
#   id: SG-WAIVER-002
#   severity: high
#   waivable: false
#   remediation: Fill in rule, target, owner, reason and expires.
deny contains finding if {
	some i, entry in entries
	not is_object(entry)
	finding := data.sealgate.lib.findings.finding(
		"SG-WAIVER-002",
		sprintf("waiver %d is a %s, not a mapping", [i, type_name(entry)]),
		["waivers", i],
	)
}

deny contains finding if {
	some i, entry in entries
	is_object(entry)
	some field in required_fields

	# object.get, not entry[field]: OPA treats `not f(x)` with an undefined x as undefined
	# (the check would fail open there), while the embedded engine treats it as true.
	not filled(object.get(entry, field, null))
	finding := data.sealgate.lib.findings.finding(
		"SG-WAIVER-002",
		sprintf("waiver %d: `%s` must be a non-empty string", [i, field]),
		["waivers", i],
	)
}

# METADATA
# title: Waiver expiry is not a date
# description: The expiry must be a calendar date written YYYY-MM-DD.
# custom:
#   id: SG-WAIVER-003
#   severity: high
#   waivable: false
#   remediation: Write the expiry as YYYY-MM-DD, for example 2027-01-15.
deny contains finding if {
	some i, entry in entries
	filled(entry.expires)
	not input.expiry[i].valid
	finding := data.sealgate.lib.findings.finding(
		"SG-WAIVER-003",
		sprintf("waiver %d: expiry \"%s\" is not a YYYY-MM-DD date", [i, entry.expires]),
		["waivers", i, "expires"],
	)
}

# METADATA
# title: Waiver has expired
# description: An expired waiver fails the gate until it is renewed (with a new review) or removed.
# custom:
#   id: SG-WAIVER-004
#   severity: high
#   waivable: false
#   remediation: Fix the finding and delete the waiver, or renew it after review.
deny contains finding if {
	some i, entry in entries
	input.expiry[i].valid
	input.expiry[i].days_left < 0
	finding := data.sealgate.lib.findings.finding(
		"SG-WAIVER-004",
		sprintf("waiver %d for %s expired on %s", [i, entry.rule, entry.expires]),
		["waivers", i, "expires"],
	)
}

# METADATA
# title: Waiver lasts too long
# description: A waiver may not expire more than the configured number of days ahead (90).
# custom:
#   id: SG-WAIVER-005
#   severity: high
#   waivable: false
#   remediation: Choose an expiry at most 90 days from today; renew it when it runs out.
deny contains finding if {
	some i, entry in entries
	input.expiry[i].valid
	input.expiry[i].days_left > max_days
	finding := data.sealgate.lib.findings.finding(
		"SG-WAIVER-005",
		sprintf(
			"waiver %d expires in %d days, more than the %d allowed",
			[i, input.expiry[i].days_left, max_days],
		),
		["waivers", i, "expires"],
	)
}

# METADATA
# title: Duplicate waiver
# description: Two waivers for the same rule and target make ownership and expiry ambiguous.
# custom:
#   id: SG-WAIVER-006
#   severity: medium
#   waivable: false
#   remediation: Keep a single waiver per rule and target.
deny contains finding if {
	some i, entry in entries
	some j, other in entries
	j < i
	filled(entry.rule)
	entry.rule == other.rule
	entry.target == other.target
	finding := data.sealgate.lib.findings.finding(
		"SG-WAIVER-006",
		sprintf("waiver %d repeats waiver %d (%s on %s)", [i, j, entry.rule, entry.target]),
		["waivers", i],
	)
}

# METADATA
# title: Waiver is not exact
# description: >-
#   A waiver names one rule id and one target literally: no wildcards, and never a rule of
#   the gate itself or of the waiver checks.
# custom:
#   id: SG-WAIVER-007
#   severity: high
#   waivable: false
#   remediation: Name the exact rule id (SG-...) and the exact target shown in the report.
deny contains finding if {
	some i, entry in entries
	some field in ["rule", "target"]
	filled(entry[field])
	regex.match(`[*?\[\]]`, entry[field])
	finding := data.sealgate.lib.findings.finding(
		"SG-WAIVER-007",
		sprintf("waiver %d: %s \"%s\" contains a wildcard", [i, field, entry[field]]),
		["waivers", i, field],
	)
}

deny contains finding if {
	some i, entry in entries
	filled(entry.rule)
	not regex.match(`^SG-[A-Z0-9]+(-[A-Z0-9]+)*$`, entry.rule)
	finding := data.sealgate.lib.findings.finding(
		"SG-WAIVER-007",
		sprintf("waiver %d: \"%s\" is not a rule id", [i, entry.rule]),
		["waivers", i, "rule"],
	)
}

deny contains finding if {
	some i, entry in entries
	filled(entry.rule)
	some prefix in ["SG-GATE-", "SG-WAIVER-"]
	startswith(entry.rule, prefix)
	finding := data.sealgate.lib.findings.finding(
		"SG-WAIVER-007",
		sprintf("waiver %d: %s is a gate rule and cannot be waived", [i, entry.rule]),
		["waivers", i, "rule"],
	)
}

# METADATA
# title: Waiver owner is not reachable
# description: The owner is an e-mail address or a team handle (@org/team) that can be asked.
# custom:
#   id: SG-WAIVER-008
#   severity: medium
#   waivable: false
#   remediation: Set owner to an e-mail address or an @org/team handle.
deny contains finding if {
	some i, entry in entries
	filled(entry.owner)
	not regex.match(`^([^@\s]+@[^@\s]+\.[^@\s]+|@[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)$`, entry.owner)
	finding := data.sealgate.lib.findings.finding(
		"SG-WAIVER-008",
		sprintf("waiver %d: owner \"%s\" is neither an e-mail address nor an @org/team", [i, entry.owner]),
		["waivers", i, "owner"],
	)
}

filled(value) if {
	is_string(value)
	trim_space(value) != ""
}
