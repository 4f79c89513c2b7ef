package sealgate.gate.waivers_test

import rego.v1

import data.sealgate.gate.waivers

good := {
	"rule": "SG-K8S-001",
	"target": "deploy/app.yaml#Deployment/models/server",
	"owner": "platform@example.com",
	"reason": "fix lands with the next release",
	"expires": "2027-01-15",
}

ids(findings) := {f.id | some f in findings}

waiver_input(entries, expiry) := {"waivers": entries, "today": "2026-11-22", "expiry": expiry}
test_valid_waiver_passes if {
	count(waivers.deny) == 0 with input as waiver_input([good], [{"valid": true, "days_left": 54}])
		with data.config.gate.waivers.max_days as 90
}

test_no_waivers_passes if {
	count(waivers.deny) == 0 with input as waiver_input([], [])
		with data.config.gate.waivers.max_days as 90
	count(waivers.deny) == 0 with input as {"waivers": null, "today": "2026-11-22", "expiry": []}
		with data.config.gate.waivers.max_days as 90
}

test_file_must_hold_a_list if {
	ids(waivers.deny) == {"SG-WAIVER-001"} with input as {"waivers": {"rule": "x"}, "expiry": []}
		with data.config.gate.waivers.max_days as 90
}

test_entry_must_be_a_mapping if {
	ids(waivers.deny) == {"SG-WAIVER-002"} with input as waiver_input(["SG-K8S-001"], [{"valid": false}])
		with data.config.gate.waivers.max_days as 90
}

test_missing_owner_is_denied if {
	entry := object.remove(good, ["owner"])
	findings := waivers.deny with input as waiver_input([entry], [{"valid": true, "days_left": 10}])
		with data.config.gate.waivers.max_days as 90
	ids(findings) == {"SG-WAIVER-002"}
	some f in findings
	f.path == ["waivers", 0]
}

test_blank_reason_is_denied if {
	entry := object.union(good, {"reason": "   "})
	ids(waivers.deny) == {"SG-WAIVER-002"} with input as waiver_input([entry], [{"valid": true, "days_left": 10}])
		with data.config.gate.waivers.max_days as 90
}

test_unparsable_expiry_is_denied if {
	entry := object.union(good, {"expires": "next friday"})
	findings := waivers.deny with input as waiver_input([entry], [{"valid": false, "days_left": null}])
		with data.config.gate.waivers.max_days as 90
	ids(findings) == {"SG-WAIVER-003"}
	some f in findings
	f.path == ["waivers", 0, "expires"]
}

test_expired_waiver_is_denied if {
	ids(waivers.deny) == {"SG-WAIVER-004"} with input as waiver_input([good], [{"valid": true, "days_left": -1}])
		with data.config.gate.waivers.max_days as 90
}

test_waiver_expiring_today_is_still_valid if {
	count(waivers.deny) == 0 with input as waiver_input([good], [{"valid": true, "days_left": 0}])
		with data.config.gate.waivers.max_days as 90
}

test_waiver_longer_than_90_days_is_denied if {
	ids(waivers.deny) == {"SG-WAIVER-005"} with input as waiver_input([good], [{"valid": true, "days_left": 91}])
		with data.config.gate.waivers.max_days as 90
	count(waivers.deny) == 0 with input as waiver_input([good], [{"valid": true, "days_left": 90}])
		with data.config.gate.waivers.max_days as 90
}

test_duplicate_waiver_is_denied if {
	subject := waiver_input([good, good], [{"valid": true, "days_left": 5}, {"valid": true, "days_left": 5}])
	findings := waivers.deny with input as subject
		with data.config.gate.waivers.max_days as 90
	ids(findings) == {"SG-WAIVER-006"}
	some f in findings
	f.path == ["waivers", 1]
}

test_wildcard_target_is_denied if {
	entry := object.union(good, {"target": "deploy/*.yaml"})
	ids(waivers.deny) == {"SG-WAIVER-007"} with input as waiver_input([entry], [{"valid": true, "days_left": 5}])
		with data.config.gate.waivers.max_days as 90
}

test_rule_must_be_a_rule_id if {
	entry := object.union(good, {"rule": "privileged pods"})
	ids(waivers.deny) == {"SG-WAIVER-007"} with input as waiver_input([entry], [{"valid": true, "days_left": 5}])
		with data.config.gate.waivers.max_days as 90
}

test_gate_rules_cannot_be_waived if {
	entry := object.union(good, {"rule": "SG-GATE-001"})
	ids(waivers.deny) == {"SG-WAIVER-007"} with input as waiver_input([entry], [{"valid": true, "days_left": 5}])
		with data.config.gate.waivers.max_days as 90
	waiver_rule := object.union(good, {"rule": "SG-WAIVER-004"})
	ids(waivers.deny) == {"SG-WAIVER-007"} with input as waiver_input([waiver_rule], [{"valid": true, "days_left": 5}])
		with data.config.gate.waivers.max_days as 90
}

test_owner_must_be_reachable if {
	entry := object.union(good, {"owner": "bob"})
	ids(waivers.deny) == {"SG-WAIVER-008"} with input as waiver_input([entry], [{"valid": true, "days_left": 5}])
		with data.config.gate.waivers.max_days as 90
	team := object.union(good, {"owner": "@contoso/platform"})
	count(waivers.deny) == 0 with input as waiver_input([team], [{"valid": true, "days_left": 5}])
		with data.config.gate.waivers.max_days as 90
}
