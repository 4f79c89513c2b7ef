package sealgate.promotion.review_test

import rego.v1

import data.sealgate.promotion.review

d1 := "sha256:1111111111111111111111111111111111111111111111111111111111111111"

alice := "key:a11ce00000000000000000000000000000000000000000000000000000000000"

approval(who) := {
	"file": concat("", [who, ".json"]), "approver": who, "key_id": who,
	"identity": concat("", ["key:", who]), "known": true,
	"signature_valid": true, "matches_request": true, "revoked": false, "expired": false,
	"not_yet_valid": false, "duplicate": false, "error": null,
}

attestation(file, producer, predicate) := {
	"file": file, "verified": true, "signed": true, "signature_valid": true,
	"producer": producer, "key_id": producer, "revoked": false, "expired": false,
	"not_yet_valid": false, "predicate_type": "https://sealgate.dev/attestations/x/v1",
	"statement_valid": true, "subject_bound": true, "predicate_valid": true,
	"duplicate": false, "predicate": predicate, "problem": null,
}

metrics(values) := attestation("m.json", "evaluation-pipeline", {"metrics": values})

scan(findings) := attestation("s.json", "model-scanner", {"scanner": "modelscan", "findings": findings})

sbom := attestation("b.json", "sbom-generator", {"format": "spdx", "components": [{"name": "torch", "version": "2"}]})

clean := {"critical": 0, "high": 0, "medium": 0, "low": 0}

requester := {"verified": true, "method": "key", "identity": alice, "name": "alice", "label": null, "problem": null}

# The request alice makes, to any stage: facts(by_alice, to, approvals, evidence) completes it.
by_alice := {
	"request": {"name": "m", "version": "2.0.0", "digest": d1, "from": "x", "requester": alice},
	"requester": requester,
}

facts(base, to, approvals, evidence) := object.union(
	base,
	{"request": {"to": to}, "approvals": approvals, "evidence": evidence},
)

ids(findings) := {f.id | some f in findings}

all_evidence := {"metrics": metrics({"accuracy": 0.95, "latency_p99_ms": 100}), "scan": scan(clean), "sbom": sbom}

good_prod := facts(by_alice, "prod", [approval("bob"), approval("carol")], all_evidence)

# object.union merges objects recursively: replace the evidence (or one entry) outright.
evidence_of(doc, ev) := object.union(object.remove(doc, ["evidence"]), {"evidence": ev})

with_evidence(kind, item) := evidence_of(good_prod, object.union(object.remove(all_evidence, [kind]), {kind: item}))

test_prod_with_two_approvers_and_all_evidence_is_allowed if {
	ids(review.deny) == set() with input as good_prod
}

test_dev_needs_nothing_not_even_an_authenticated_requester if {
	doc1 := object.union(facts(by_alice, "dev", [], {}), {"requester": {"verified": false, "identity": "unverified:ci"}})
	ids(review.deny) == set() with input as doc1
}

test_unauthenticated_requester_is_denied if {
	named := {"verified": false, "identity": "unverified:bob", "name": null, "problem": "no proof"}
	ids(review.deny) == {"SG-PROMO-040"} with input as object.union(good_prod, {"requester": named})
	ids(review.deny) == {"SG-PROMO-040"} with input as object.remove(good_prod, ["requester"])
}

test_unlisted_stage_requires_an_authenticated_requester_by_default if {
	stages := [{"name": "qa", "approvals": 0}]
	found := {f.id | some f in review.deny with input as object.union(
		facts(by_alice, "qa", [], {}),
		{"requester": {"verified": false}},
	)
		with data.config.promotion.stages as stages}
	found == {"SG-PROMO-040"}
}

test_approval_count_is_per_stage if {
	doc1 := facts(by_alice, "staging", [], {"metrics": metrics({"accuracy": 0.9}), "scan": scan(clean)})
	ids(review.deny) == {"SG-PROMO-020"} with input as doc1
	ids(review.deny) == {"SG-PROMO-020"} with input as object.union(good_prod, {"approvals": [approval("bob")]})
}

test_requester_cannot_approve_own_promotion if {
	# by the same key (the requester's identity) ...
	own_key := object.union(approval("x"), {"approver": "someone", "identity": alice})
	doc1 := object.union(good_prod, {"approvals": [approval("bob"), own_key]})
	ids(review.deny) == {"SG-PROMO-020", "SG-PROMO-021"} with input as doc1

	# ... or as the same person listed in both files with another key
	doc2 := object.union(good_prod, {"approvals": [approval("bob"), approval("alice")]})
	ids(review.deny) == {"SG-PROMO-020", "SG-PROMO-021"} with input as doc2
}

test_oidc_requester_has_no_person_name if {
	ci := {"verified": true, "method": "oidc", "identity": "oidc:https://issuer#repo:x", "name": null}
	doc1 := object.union(good_prod, {"requester": ci, "approvals": [approval("alice"), approval("bob")]})
	ids(review.deny) == set() with input as doc1
}

test_forged_or_unknown_approval_is_denied if {
	forged := object.union(approval("carol"), {"signature_valid": false, "error": "bad signature"})
	doc1 := object.union(good_prod, {"approvals": [approval("bob"), forged]})
	ids(review.deny) == {"SG-PROMO-020", "SG-PROMO-022"} with input as doc1
	unknown := object.remove(approval("x"), ["signature_valid"])
	doc2 := object.union(good_prod, {"approvals": [approval("bob"), approval("carol"), unknown]})
	ids(review.deny) == {"SG-PROMO-022"} with input as doc2
}

test_approval_of_another_request_is_denied if {
	reused := object.union(approval("carol"), {"matches_request": false})
	doc1 := object.union(good_prod, {"approvals": [approval("bob"), reused]})
	ids(review.deny) == {"SG-PROMO-020", "SG-PROMO-023"} with input as doc1
}

test_revoked_approver_key_is_denied if {
	every state in ["revoked", "expired", "not_yet_valid"] {
		stale := object.union(approval("carol"), {state: true})
		doc1 := object.union(good_prod, {"approvals": [approval("bob"), stale]})
		ids(review.deny) == {"SG-PROMO-020", "SG-PROMO-024"} with input as doc1
	}
}

test_duplicate_approval_counts_once if {
	again := object.union(approval("bob"), {"duplicate": true})
	doc1 := object.union(good_prod, {"approvals": [approval("bob"), again]})
	ids(review.deny) == {"SG-PROMO-020", "SG-PROMO-025"} with input as doc1
}

unsigned := {
	"file": "m.json",
	"verified": false,
	"signed": false,
	"signature_valid": false,
	"problem": "evidence is not a DSSE envelope (unsigned)",
}

test_hand_written_metrics_are_denied if {
	ids(review.deny) == {"SG-PROMO-030", "SG-PROMO-032"} with input as with_evidence("metrics", unsigned)
}

test_forged_or_unlisted_producer_is_denied if {
	forged := object.union(
		metrics({"accuracy": 0.99}),
		{"verified": false, "signature_valid": false, "problem": "signature does not verify"},
	)
	ids(review.deny) == {"SG-PROMO-035", "SG-PROMO-032"} with input as with_evidence("metrics", forged)
}

test_producer_not_trusted_for_the_type_is_denied if {
	by_scanner := object.union(metrics({"accuracy": 0.99, "latency_p99_ms": 1}), {"producer": "model-scanner"})
	ids(review.deny) == {"SG-PROMO-036", "SG-PROMO-032"} with input as with_evidence("metrics", by_scanner)
}

test_revoked_producer_key_is_denied if {
	every state in ["revoked", "expired", "not_yet_valid"] {
		stale := object.union(sbom, {state: true, "verified": false})
		ids(review.deny) == {"SG-PROMO-039", "SG-PROMO-032"} with input as with_evidence("sbom", stale)
	}
}

test_evidence_for_another_digest_does_not_count if {
	other := object.union(sbom, {"subject_bound": false, "verified": false})
	ids(review.deny) == {"SG-PROMO-031", "SG-PROMO-032"} with input as with_evidence("sbom", other)
}

test_malformed_statement_or_predicate_is_denied if {
	bad := object.union(scan(clean), {"verified": false, "predicate_valid": false, "predicate": null})
	ids(review.deny) == {"SG-PROMO-037", "SG-PROMO-032"} with input as with_evidence("scan", bad)
	not_statement := object.union(scan(clean), {"verified": false, "statement_valid": false, "subject_bound": false})
	ids(review.deny) == {"SG-PROMO-037", "SG-PROMO-032"} with input as with_evidence("scan", not_statement)
}

test_duplicate_attestations_count_for_nothing if {
	twice := object.union(
		metrics({"accuracy": 0.95, "latency_p99_ms": 100}),
		{"verified": false, "duplicate": true, "problem": "more than one"},
	)
	ids(review.deny) == {"SG-PROMO-032", "SG-PROMO-038"} with input as with_evidence("metrics", twice)
}

test_required_evidence_types_per_stage if {
	ids(review.deny) == {"SG-PROMO-032"} with input as evidence_of(good_prod, {})
	count([f | some f in review.deny with input as evidence_of(good_prod, {})]) == 3
}

test_metric_thresholds if {
	doc1 := with_evidence("metrics", metrics({"accuracy": 0.85, "latency_p99_ms": 100}))
	ids(review.deny) == {"SG-PROMO-033"} with input as doc1
	doc2 := with_evidence("metrics", metrics({"accuracy": 0.95, "latency_p99_ms": 900}))
	ids(review.deny) == {"SG-PROMO-033"} with input as doc2
	ids(review.deny) == {"SG-PROMO-033"} with input as with_evidence("metrics", metrics({"accuracy": 0.95}))
}

test_scan_limits if {
	ids(review.deny) == {"SG-PROMO-034"} with input as with_evidence("scan", scan(object.union(clean, {"critical": 1})))
	doc1 := facts(
		by_alice,
		"staging",
		[approval("bob")],
		{"metrics": metrics({"accuracy": 0.81}), "scan": scan(object.union(clean, {"high": 3}))},
	)
	ids(review.deny) == set() with input as doc1
}

test_unknown_stage_requires_nothing_here if {
	# the provenance policy denies unknown stages (SG-PROMO-005)
	ids(review.deny) == set() with input as facts(by_alice, "qa", [], {})
}
