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

facts(to, approvals, evidence) := {
	"request": {"name": "m", "version": "2.0.0", "digest": d1, "from": "x", "to": to, "requester": alice},
	"requester": requester,
	"approvals": approvals,
	"evidence": evidence,
}

ids(doc) := {f.id | some f in review.deny with input as doc}

all_evidence := {"metrics": metrics({"accuracy": 0.95, "latency_p99_ms": 100}), "scan": scan(clean), "sbom": sbom}

good_prod := facts("prod", [approval("bob"), approval("carol")], all_evidence)

# object.union merges objects recursively: replace the evidence (or one entry) outright.
evidence_of(doc, ev) := object.union(object.remove(doc, ["evidence"]), {"evidence": ev})

with_evidence(kind, item) := evidence_of(good_prod, object.union(object.remove(all_evidence, [kind]), {kind: item}))

test_prod_with_two_approvers_and_all_evidence_is_allowed if {
	ids(good_prod) == set()
}

test_dev_needs_nothing_not_even_an_authenticated_requester if {
	ids(object.union(facts("dev", [], {}), {"requester": {"verified": false, "identity": "unverified:ci"}})) == set()
}

test_unauthenticated_requester_is_denied if {
	named := {"verified": false, "identity": "unverified:bob", "name": null, "problem": "no proof"}
	ids(object.union(good_prod, {"requester": named})) == {"SG-PROMO-040"}
	ids(object.remove(good_prod, ["requester"])) == {"SG-PROMO-040"}
}

test_unlisted_stage_requires_an_authenticated_requester_by_default if {
	stages := [{"name": "qa", "approvals": 0}]
	found := {f.id | some f in review.deny with input as object.union(
		facts("qa", [], {}),
		{"requester": {"verified": false}},
	)
		with data.config.promotion.stages as stages}
	found == {"SG-PROMO-040"}
}

test_approval_count_is_per_stage if {
	ids(facts("staging", [], {"metrics": metrics({"accuracy": 0.9}), "scan": scan(clean)})) == {"SG-PROMO-020"}
	ids(object.union(good_prod, {"approvals": [approval("bob")]})) == {"SG-PROMO-020"}
}

test_requester_cannot_approve_own_promotion if {
	# by the same key (the requester's identity) ...
	own_key := object.union(approval("x"), {"approver": "someone", "identity": alice})
	ids(object.union(good_prod, {"approvals": [approval("bob"), own_key]})) == {"SG-PROMO-020", "SG-PROMO-021"}

	# ... or as the same person listed in both files with another key
	ids(object.union(good_prod, {"approvals": [approval("bob"), approval("alice")]})) == {"SG-PROMO-020", "SG-PROMO-021"}
}

test_oidc_requester_has_no_person_name if {
	ci := {"verified": true, "method": "oidc", "identity": "oidc:https://issuer#repo:x", "name": null}
	ids(object.union(good_prod, {"requester": ci, "approvals": [approval("alice"), approval("bob")]})) == set()
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

unsigned := {
	"file": "m.json",
	"verified": false,
	"signed": false,
	"signature_valid": false,
	"problem": "evidence is not a DSSE envelope (unsigned)",
}

test_hand_written_metrics_are_denied if {
	ids(with_evidence("metrics", unsigned)) == {"SG-PROMO-030", "SG-PROMO-032"}
}

test_forged_or_unlisted_producer_is_denied if {
	forged := object.union(
		metrics({"accuracy": 0.99}),
		{"verified": false, "signature_valid": false, "problem": "signature does not verify"},
	)
	ids(with_evidence("metrics", forged)) == {"SG-PROMO-035", "SG-PROMO-032"}
}

test_producer_not_trusted_for_the_type_is_denied if {
	by_scanner := object.union(metrics({"accuracy": 0.99, "latency_p99_ms": 1}), {"producer": "model-scanner"})
	ids(with_evidence("metrics", by_scanner)) == {"SG-PROMO-036", "SG-PROMO-032"}
}

test_revoked_producer_key_is_denied if {
	every state in ["revoked", "expired", "not_yet_valid"] {
		stale := object.union(sbom, {state: true, "verified": false})
		ids(with_evidence("sbom", stale)) == {"SG-PROMO-039", "SG-PROMO-032"}
	}
}

test_evidence_for_another_digest_does_not_count if {
	other := object.union(sbom, {"subject_bound": false, "verified": false})
	ids(with_evidence("sbom", other)) == {"SG-PROMO-031", "SG-PROMO-032"}
}

test_malformed_statement_or_predicate_is_denied if {
	bad := object.union(scan(clean), {"verified": false, "predicate_valid": false, "predicate": null})
	ids(with_evidence("scan", bad)) == {"SG-PROMO-037", "SG-PROMO-032"}
	not_statement := object.union(scan(clean), {"verified": false, "statement_valid": false, "subject_bound": false})
	ids(with_evidence("scan", not_statement)) == {"SG-PROMO-037", "SG-PROMO-032"}
}

test_duplicate_attestations_count_for_nothing if {
	twice := object.union(
		metrics({"accuracy": 0.95, "latency_p99_ms": 100}),
		{"verified": false, "duplicate": true, "problem": "more than one"},
	)
	ids(with_evidence("metrics", twice)) == {"SG-PROMO-032", "SG-PROMO-038"}
}

test_required_evidence_types_per_stage if {
	ids(evidence_of(good_prod, {})) == {"SG-PROMO-032"}
	count([f | some f in review.deny with input as evidence_of(good_prod, {})]) == 3
}

test_metric_thresholds if {
	ids(with_evidence("metrics", metrics({"accuracy": 0.85, "latency_p99_ms": 100}))) == {"SG-PROMO-033"}
	ids(with_evidence("metrics", metrics({"accuracy": 0.95, "latency_p99_ms": 900}))) == {"SG-PROMO-033"}
	ids(with_evidence("metrics", metrics({"accuracy": 0.95}))) == {"SG-PROMO-033"}
}

test_scan_limits if {
	ids(with_evidence("scan", scan(object.union(clean, {"critical": 1})))) == {"SG-PROMO-034"}
	ids(facts(
		"staging",
		[approval("bob")],
		{"metrics": metrics({"accuracy": 0.81}), "scan": scan(object.union(clean, {"high": 3}))},
	)) == set()
}

test_unknown_stage_requires_nothing_here if {
	# the provenance policy denies unknown stages (SG-PROMO-005)
	ids(facts("qa", [], {})) == set()
}
