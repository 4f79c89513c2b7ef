package sealgate.promotion.provenance_test

import rego.v1

import data.sealgate.promotion.provenance

d1 := concat("", ["sha256:", concat("", [x | some _ in numbers.range(1, 32); x := "1f"])])

d2 := concat("", ["sha256:", concat("", [x | some _ in numbers.range(1, 32); x := "2e"])])

signer := {"name": "release", "key_id": "k1", "known": true, "revoked": false, "expired": false, "not_yet_valid": false}

facts := {
	"action": "promote",
	"request": {"name": "m", "version": "1.4.0", "digest": d1, "from": "dev", "to": "staging", "requester": "alice"},
	"model": {"digest": d1, "verified": true, "error": null, "name": "m", "version": "1.4.0", "signer": signer},
	"version": {"valid": true, "against_target": "newer"},
	"source": {"stage": "dev", "current": {"version": "1.4.0", "digest": d1}},
	"target": {"stage": "staging", "current": {"version": "1.3.0", "digest": d2}},
	"approvals": [],
	"evidence": [],
}

ids(findings) := {f.id | some f in findings}

test_verified_promotion_one_stage_forward_is_allowed if {
	ids(provenance.deny) == set() with input as facts
}

test_push_into_first_stage_is_allowed if {
	doc1 := object.union(facts, {
		"action": "push",
		"request": object.union(facts.request, {"from": null, "to": "dev"}),
		"source": {"stage": null, "current": null},
		"target": {"stage": "dev", "current": null},
		"version": {"valid": true, "against_target": "none"},
	})
	ids(provenance.deny) == set() with input as doc1
}

test_unsigned_model_is_denied if {
	doc1 := object.union(facts, {"model": {"verified": false, "signer": null, "error": "no envelope"}})
	ids(provenance.deny) == {"SG-PROMO-001"} with input as doc1
}

test_missing_model_facts_fail_closed if {
	ids(provenance.deny) == {"SG-PROMO-001"} with input as object.remove(facts, ["model"])
}

test_tampered_model_is_denied if {
	doc1 := object.union(facts, {"model": object.union(facts.model, {"verified": false})})
	ids(provenance.deny) == {"SG-PROMO-001"} with input as doc1
}

test_untrusted_signer_is_denied_once if {
	doc1 := object.union(
		facts,
		{"model": {"verified": false, "signer": {"key_id": "k9", "known": false}}},
	)
	ids(provenance.deny) == {"SG-PROMO-002"} with input as doc1
}

test_revoked_expired_or_early_signer_is_denied if {
	every state in ["revoked", "expired", "not_yet_valid"] {
		doc := object.union(facts, {"model": object.union(facts.model, {"signer": object.union(signer, {state: true})})})
		ids(provenance.deny) == {"SG-PROMO-003"} with input as doc
	}
}

test_signer_without_revocation_facts_fails_closed if {
	model := object.union(object.remove(facts.model, ["signer"]), {"signer": {"name": "r", "key_id": "k1", "known": true}})
	doc1 := object.union(object.remove(facts, ["model"]), {"model": model})
	ids(provenance.deny) == {"SG-PROMO-003"} with input as doc1
}

test_header_naming_another_model_is_denied if {
	doc1 := object.union(facts, {"model": object.union(facts.model, {"name": "other"})})
	ids(provenance.deny) == {"SG-PROMO-004"} with input as doc1
	doc2 := object.union(facts, {"model": object.union(facts.model, {"digest": d2})})
	ids(provenance.deny) == {"SG-PROMO-004"} with input as doc2
}

test_unknown_stage_is_denied if {
	doc1 := object.union(facts, {"request": object.union(facts.request, {"to": "qa"})})
	ids(provenance.deny) == {"SG-PROMO-005"} with input as doc1
	doc2 := object.union(facts, {"request": object.union(facts.request, {"from": "test"})})
	ids(provenance.deny) == {"SG-PROMO-005"} with input as doc2
}

test_skipping_or_reversing_stages_is_denied if {
	doc1 := object.union(facts, {"request": object.union(facts.request, {"to": "prod"})})
	ids(provenance.deny) == {"SG-PROMO-006"} with input as doc1
	doc2 := object.union(
		facts,
		{"request": object.union(facts.request, {"from": "staging", "to": "dev"})},
	)
	ids(provenance.deny) == {"SG-PROMO-006"} with input as doc2
}

test_push_into_a_later_stage_is_denied if {
	doc := object.union(
		facts,
		{
			"action": "push",
			"request": object.union(facts.request, {"from": null}),
			"source": {"stage": null, "current": null},
		},
	)
	ids(provenance.deny) == {"SG-PROMO-006"} with input as doc
}

test_promotion_without_source_is_denied if {
	doc := object.union(
		facts,
		{"request": object.union(facts.request, {"from": null, "to": "dev"}), "source": {"stage": null, "current": null}},
	)
	ids(provenance.deny) == {"SG-PROMO-006"} with input as doc
}

test_model_must_be_in_source_stage_with_same_digest if {
	doc1 := object.union(facts, {"source": {"stage": "dev", "current": null}})
	ids(provenance.deny) == {"SG-PROMO-007"} with input as doc1
	doc2 := object.union(
		facts,
		{"source": {"stage": "dev", "current": {"version": "1.4.0", "digest": d2}}},
	)
	ids(provenance.deny) == {"SG-PROMO-007"} with input as doc2
	doc3 := object.union(
		facts,
		{"source": {"stage": "dev", "current": {"version": "1.3.9", "digest": d1}}},
	)
	ids(provenance.deny) == {"SG-PROMO-007"} with input as doc3
}

test_non_semver_version_is_denied if {
	doc1 := object.union(facts, {"version": {"valid": false, "against_target": "invalid"}})
	ids(provenance.deny) == {"SG-PROMO-008"} with input as doc1
	ids(provenance.deny) == {"SG-PROMO-008"} with input as object.remove(facts, ["version"])
}

test_rollback_and_same_version_are_denied if {
	every against in ["older", "same", "invalid"] {
		doc1 := object.union(facts, {"version": {"valid": true, "against_target": against}})
		ids(provenance.deny) == {"SG-PROMO-009"} with input as doc1
	}
}
