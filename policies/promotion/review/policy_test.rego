package sealgate.promotion.review_test

import rego.v1

import data.sealgate.promotion.review

d1 := "sha256:1111111111111111111111111111111111111111111111111111111111111111"

d2 := "sha256:2222222222222222222222222222222222222222222222222222222222222222"

approval(who) := {
	"file": concat("", [who, ".json"]), "approver": who, "key_id": who, "known": true,
	"signature_valid": true, "matches_request": true, "revoked": false, "expired": false,
	"not_yet_valid": false, "duplicate": false, "error": null,
}

metrics(values) := {"file": "m.json", "kind": "metrics", "digest": d1, "bound": true, "valid": true, "errors": [], "metrics": values}

scan(findings) := {"file": "s.json", "kind": "scan", "digest": d1, "bound": true, "valid": true, "errors": [], "findings": findings}

sbom := {"file": "b.json", "kind": "sbom", "digest": d1, "bound": true, "valid": true, "errors": [], "components": 3}

clean := {"critical": 0, "high": 0, "medium": 0, "low": 0}

facts(to, approvals, evidence) := {
	"request": {"name": "m", "version": "2.0.0", "digest": d1, "from": "x", "to": to, "requester": "alice"},
	"approvals": approvals,
	"evidence": evidence,
}

ids(doc) := {f.id | some f in review.deny with input as doc}

good_prod := facts("prod", [approval("bob"), approval("carol")], [metrics({"accuracy": 0.95, "latency_p99_ms": 100}), scan(clean), sbom])

test_prod_with_two_approvers_and_all_evidence_is_allowed if {
	ids(good_prod) == set()
}

test_dev_needs_nothing if {
	ids(facts("dev", [], [])) == set()
}

test_approval_count_is_per_stage if {
	ids(facts("staging", [], [metrics({"accuracy": 0.9}), scan(clean)])) == {"SG-PROMO-020"}
	ids(object.union(good_prod, {"approvals": [approval("bob")]})) == {"SG-PROMO-020"}
}

test_requester_cannot_approve_own_promotion if {
	ids(object.union(good_prod, {"approvals": [approval("bob"), approval("alice")]})) == {"SG-PROMO-020", "SG-PROMO-021"}
}

test_forged_or_unknown_approval_is_denied if {
	forged := object.union(approval("carol"), {"signature_valid": false, "error": "bad signature"})
	ids(object.union(good_prod, {"approvals": [approval("bob"), forged]})) == {"SG-PROMO-020", "SG-PROMO-022"}
	unknown := object.remove(approval("x"), ["signature_valid"])
	ids(object.union(good_prod, {"approvals": [approval("bob"), approval("carol"), unknown]})) == {"SG-PROMO-022"}
}

test_approval_of_another_request_is_denied if {
	reused := object.union(approval("carol"), {"matches_request": false})
	ids(object.union(good_prod, {"approvals": [approval("bob"), reused]})) == {"SG-PROMO-020", "SG-PROMO-023"}
}

test_revoked_approver_key_is_denied if {
	every state in ["revoked", "expired", "not_yet_valid"] {
		stale := object.union(approval("carol"), {state: true})
		ids(object.union(good_prod, {"approvals": [approval("bob"), stale]})) == {"SG-PROMO-020", "SG-PROMO-024"}
	}
}

test_duplicate_approval_counts_once if {
	again := object.union(approval("bob"), {"duplicate": true})
	ids(object.union(good_prod, {"approvals": [approval("bob"), again]})) == {"SG-PROMO-020", "SG-PROMO-025"}
}

test_malformed_evidence_is_denied if {
	bad := {"file": "x.json", "kind": null, "digest": null, "bound": false, "valid": false, "errors": ["not JSON"]}
	ids(object.union(good_prod, {"evidence": array.concat(good_prod.evidence, [bad])})) == {"SG-PROMO-030", "SG-PROMO-031"}
}

test_evidence_for_another_digest_does_not_count if {
	other := object.union(sbom, {"digest": d2, "bound": false})
	ids(object.union(good_prod, {"evidence": [good_prod.evidence[0], good_prod.evidence[1], other]})) == {"SG-PROMO-031", "SG-PROMO-032"}
}

test_required_evidence_kinds_per_stage if {
	ids(object.union(good_prod, {"evidence": []})) == {"SG-PROMO-032"}
	count([f | some f in review.deny with input as object.union(good_prod, {"evidence": []})]) == 3
}

test_metric_thresholds if {
	ids(object.union(good_prod, {"evidence": [metrics({"accuracy": 0.85, "latency_p99_ms": 100}), scan(clean), sbom]})) == {"SG-PROMO-033"}
	ids(object.union(good_prod, {"evidence": [metrics({"accuracy": 0.95, "latency_p99_ms": 900}), scan(clean), sbom]})) == {"SG-PROMO-033"}
	ids(object.union(good_prod, {"evidence": [metrics({"accuracy": 0.95}), scan(clean), sbom]})) == {"SG-PROMO-033"}
}

test_scan_limits if {
	ids(object.union(good_prod, {"evidence": [good_prod.evidence[0], scan(object.union(clean, {"critical": 1})), sbom]})) == {"SG-PROMO-034"}
	ids(facts("staging", [approval("bob")], [metrics({"accuracy": 0.81}), scan(object.union(clean, {"high": 3}))])) == set()
}

test_unknown_stage_requires_nothing_here if {
	# the provenance policy denies unknown stages (SG-PROMO-005)
	ids(facts("qa", [], [])) == set()
}
