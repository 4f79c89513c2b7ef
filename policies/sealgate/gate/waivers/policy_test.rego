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

check(entries, expiry) := findings if {
	findings := waivers.deny with input as {"waivers": entries, "today": "2026-11-22", "expiry": expiry}
		with data.config.gate.waivers.max_days as 90
}

test_valid_waiver_passes if {
	count(check([good], [{"valid": true, "days_left": 54}])) == 0
}

test_no_waivers_passes if {
	count(check([], [])) == 0
	count(waivers.deny) == 0 with input as {"waivers": null, "today": "2026-11-22", "expiry": []}
		with data.config.gate.waivers.max_days as 90
}

test_file_must_hold_a_list if {
	ids(waivers.deny) == {"SG-WAIVER-001"} with input as {"waivers": {"rule": "x"}, "expiry": []}
		with data.config.gate.waivers.max_days as 90
}

test_entry_must_be_a_mapping if {
	ids(check(["SG-K8S-001"], [{"valid": false}])) == {"SG-WAIVER-002"}
}

test_missing_owner_is_denied if {
	entry := object.remove(good, ["owner"])
	findings := check([entry], [{"valid": true, "days_left": 10}])
	ids(findings) == {"SG-WAIVER-002"}
	some f in findings
	f.path == ["waivers", 0]
}

test_blank_reason_is_denied if {
	entry := object.union(good, {"reason": "   "})
	ids(check([entry], [{"valid": true, "days_left": 10}])) == {"SG-WAIVER-002"}
}

test_unparsable_expiry_is_denied if {
	entry := object.union(good, {"expires": "next friday"})
	findings := check([entry], [{"valid": false, "days_left": null}])
	ids(findings) == {"SG-WAIVER-003"}
	some f in findings
	f.path == ["waivers", 0, "expires"]
}

test_expired_waiver_is_denied if {
	ids(check([good], [{"valid": true, "days_left": -1}])) == {"SG-WAIVER-004"}
}

test_waiver_expiring_today_is_still_valid if {
	count(check([good], [{"valid": true, "days_left": 0}])) == 0
}

test_waiver_longer_than_90_days_is_denied if {
	ids(check([good], [{"valid": true, "days_left": 91}])) == {"SG-WAIVER-005"}
	count(check([good], [{"valid": true, "days_left": 90}])) == 0
}

test_duplicate_waiver_is_denied if {
	findings := check([good, good], [{"valid": true, "days_left": 5}, {"valid": true, "days_left": 5}])
	ids(findings) == {"SG-WAIVER-006"}
	some f in findings
	f.path == ["waivers", 1]
}

test_wildcard_target_is_denied if {
	entry := object.union(good, {"target": "deploy/*.yaml"})
	ids(check([entry], [{"valid": true, "days_left": 5}])) == {"SG-WAIVER-007"}
}

test_rule_must_be_a_rule_id if {
	entry := object.union(good, {"rule": "privileged pods"})
	ids(check([entry], [{"valid": true, "days_left": 5}])) == {"SG-WAIVER-007"}
}

test_gate_rules_cannot_be_waived if {
	entry := object.union(good, {"rule": "SG-GATE-001"})
	ids(check([entry], [{"valid": true, "days_left": 5}])) == {"SG-WAIVER-007"}
	waiver_rule := object.union(good, {"rule": "SG-WAIVER-004"})
	ids(check([waiver_rule], [{"valid": true, "days_left": 5}])) == {"SG-WAIVER-007"}
}

test_owner_must_be_reachable if {
	entry := object.union(good, {"owner": "bob"})
	ids(check([entry], [{"valid": true, "days_left": 5}])) == {"SG-WAIVER-008"}
	team := object.union(good, {"owner": "@contoso/platform"})
	count(check([team], [{"valid": true, "days_left": 5}])) == 0
}
