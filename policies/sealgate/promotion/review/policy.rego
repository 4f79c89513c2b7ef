# METADATA
# title: Promotion review
# description: >-
#   Who asked and what the evidence says (data.config.promotion.stages): a requester proven by
#   a signed request or a CI OIDC token; enough distinct approvers other than the requester's
#   identity, each with a valid signed approval of exactly this request; evidence of each
#   required type as a signed in-toto attestation about the model digest, from a producer
#   trusted for that type (data.config.promotion.evidence), within the stage's metric
#   thresholds and scan limits. Python verifies the signatures and the shape of every document
#   and hands the policy the facts (pipeline.promotion.facts).
# entrypoint: true
# custom:
#   input: promotion
package sealgate.promotion.review

import rego.v1

request := object.get(input, "request", {})

stage := s if {
	some s in data.config.promotion.stages
	s.name == request.to
}

default approvals := []

approvals := a if {
	a := object.get(input, "approvals", [])
	is_array(a)
}

default requester := {}

requester := r if {
	r := object.get(input, "requester", {})
	is_object(r)
}

default evidence := {}

evidence := e if {
	e := object.get(input, "evidence", {})
	is_object(e)
}

producers_for(kind) := p if {
	p := data.config.promotion.evidence[kind].producers
	is_array(p)
} else := []

# The approval is the requester's own: the same key, or the same person in both files.
self_approval(approval) if {
	object.get(approval, "identity", null) == object.get(requester, "identity", "")
}

self_approval(approval) if {
	name := object.get(requester, "name", null)
	is_string(name)
	approval.approver == name
}

key_valid(approval) if {
	every state in ["revoked", "expired", "not_yet_valid"] {
		object.get(approval, state, true) == false
	}
}

counts(approval) if {
	approval.signature_valid == true
	approval.known == true
	approval.matches_request == true
	object.get(approval, "duplicate", true) == false
	not self_approval(approval)
	key_valid(approval)
}

approvers contains approval.approver if {
	some approval in approvals
	counts(approval)
}

usable(kind, item) if {
	item.verified == true
	item.producer in producers_for(kind)
}

key_current(item) if {
	every state in ["revoked", "expired", "not_yet_valid"] {
		object.get(item, state, true) == false
	}
}

well_formed(item) if {
	item.statement_valid == true
	item.predicate_valid == true
}

outside(_, null, _) := true

outside("min", value, limit) if value < limit

outside("max", value, limit) if value > limit

# METADATA
# title: Not enough approvals
# description: The target stage needs this many distinct approvers other than the requester.
# custom:
#   id: SG-PROMO-020
#   severity: high
#   waivable: false
#   remediation: Collect approvals (`sealgate approve`) from enough distinct approvers.
deny contains finding if {
	required := object.get(stage, "approvals", 0)
	count(approvers) < required
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-020",
		sprintf(
			"%s needs %d distinct approver(s) other than the requester, has %d",
			[request.to, required, count(approvers)],
		),
		["approvals"],
	)
}

# METADATA
# title: Requester is not authenticated
# description: >-
#   The target stage needs a proven requester: a request signed with a key listed in the
#   requesters file (--requester-key), or a verified CI OIDC token (--oidc-token). A name typed
#   with --requester proves nothing.
# custom:
#   id: SG-PROMO-040
#   severity: high
#   waivable: false
#   remediation: Sign the request with your listed key, or promote from CI with its OIDC token.
deny contains finding if {
	object.get(stage, "authenticated_requester", true) != false
	object.get(requester, "verified", false) != true
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-040",
		sprintf(
			"%s needs an authenticated requester: %s",
			[request.to, object.get(requester, "problem", "no proof of who asks")],
		),
		["requester", "verified"],
	)
}

# METADATA
# title: Requester approved their own promotion
# description: >-
#   An approval by the requester's own identity (the requester's key, or the same person in
#   the requesters and approvers files) does not count and is reported.
# custom:
#   id: SG-PROMO-021
#   severity: high
#   waivable: false
#   remediation: Ask someone other than the requester to approve.
deny contains finding if {
	some i, approval in approvals
	approval.signature_valid == true
	self_approval(approval)
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-021",
		sprintf("%s approved their own promotion (%s)", [approval.approver, approval.file]),
		["approvals", i, "approver"],
	)
}

# METADATA
# title: Approval does not verify
# description: >-
#   The approval is not a signed approval, its key is not a listed approver, or its signature
#   does not verify (forged or altered).
# custom:
#   id: SG-PROMO-022
#   severity: critical
#   waivable: false
#   remediation: Create approvals with `sealgate approve` using a key listed in the approvers file.
deny contains finding if {
	some i, approval in approvals
	object.get(approval, "signature_valid", false) != true
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-022",
		sprintf("approval %s does not verify: %s", [approval.file, object.get(approval, "error", "unknown")]),
		["approvals", i, "signature_valid"],
	)
}

# METADATA
# title: Approval is for another request
# description: >-
#   A valid approval signs a different request (name, version, digest, stages or requester):
#   approvals cannot be reused for other promotions.
# custom:
#   id: SG-PROMO-023
#   severity: critical
#   waivable: false
#   remediation: Approve exactly this request (same digest, stages and requester).
deny contains finding if {
	some i, approval in approvals
	approval.signature_valid == true
	object.get(approval, "matches_request", false) != true
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-023",
		sprintf("approval %s by %s signs a different promotion request", [approval.file, approval.approver]),
		["approvals", i, "matches_request"],
	)
}

# METADATA
# title: Approver key is revoked or expired
# description: The approver's key is revoked or outside its validity window.
# custom:
#   id: SG-PROMO-024
#   severity: high
#   waivable: false
#   remediation: The approver approves again with a current key.
deny contains finding if {
	some i, approval in approvals
	approval.signature_valid == true
	some state in ["revoked", "expired", "not_yet_valid"]
	object.get(approval, state, true) != false
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-024",
		sprintf("approval %s: %s's key is %s", [approval.file, approval.approver, replace(state, "_", " ")]),
		["approvals", i, state],
	)
}

# METADATA
# title: Duplicate approval
# description: The same person approved more than once; one person counts once.
# custom:
#   id: SG-PROMO-025
#   severity: medium
#   remediation: Pass each approver's approval once.
deny contains finding if {
	some i, approval in approvals
	approval.duplicate == true
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-025",
		sprintf("approval %s duplicates another approval by %s", [approval.file, approval.approver]),
		["approvals", i, "duplicate"],
	)
}

# METADATA
# title: Evidence is not a signed attestation
# description: >-
#   Evidence counts only as a DSSE envelope of an in-toto Statement v1 signed by a producer;
#   unsigned JSON (hand-written metrics) or a malformed envelope is refused.
# custom:
#   id: SG-PROMO-030
#   severity: critical
#   waivable: false
#   remediation: Produce evidence with `sealgate evidence sign` (or any in-toto DSSE signer) using a producer key.
deny contains finding if {
	some kind, item in evidence
	object.get(item, "signed", false) != true
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-030",
		sprintf(
			"%s evidence %s is not a signed attestation: %s",
			[kind, item.file, object.get(item, "problem", "unsigned")],
		),
		["evidence", kind, "signed"],
	)
}

# METADATA
# title: Evidence signature does not verify
# description: >-
#   The attestation is signed by a key that is not in the producers file, or its signature does
#   not verify (forged or altered).
# custom:
#   id: SG-PROMO-035
#   severity: critical
#   waivable: false
#   remediation: Sign evidence with a key listed in the producers file (--producers).
deny contains finding if {
	some kind, item in evidence
	item.signed == true
	object.get(item, "signature_valid", false) != true
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-035",
		sprintf("%s evidence %s: %s", [kind, item.file, object.get(item, "problem", "signature does not verify")]),
		["evidence", kind, "signature_valid"],
	)
}

# METADATA
# title: Evidence producer key is revoked or expired
# description: The producer's key is revoked or outside its validity window.
# custom:
#   id: SG-PROMO-039
#   severity: high
#   waivable: false
#   remediation: The producer attests again with a current key.
deny contains finding if {
	some kind, item in evidence
	item.signature_valid == true
	not key_current(item)
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-039",
		sprintf("%s evidence %s: the key of producer %s is not current", [kind, item.file, item.producer]),
		["evidence", kind, "producer"],
	)
}

# METADATA
# title: Evidence producer not trusted for this type
# description: >-
#   Only the producers named for an evidence type in data.config.promotion.evidence may attest
#   it (a scanner cannot vouch for accuracy).
# custom:
#   id: SG-PROMO-036
#   severity: critical
#   waivable: false
#   remediation: >-
#     Have the producer trusted for this evidence type attest it, or name the producer in
#     policies/data/promotion.yaml by review.
deny contains finding if {
	some kind, item in evidence
	item.signature_valid == true
	not item.producer in producers_for(kind)
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-036",
		sprintf("%s evidence %s: producer %s is not trusted for %s evidence", [kind, item.file, item.producer, kind]),
		["evidence", kind, "producer"],
	)
}

# METADATA
# title: Evidence is for another model
# description: >-
#   The attestation's subject digest must be the sealed model's digest; evidence about another
#   model does not count.
# custom:
#   id: SG-PROMO-031
#   severity: critical
#   waivable: false
#   remediation: Evaluate and scan the exact sealed model being promoted and attest its digest.
deny contains finding if {
	some kind, item in evidence
	item.signature_valid == true
	item.statement_valid == true
	object.get(item, "subject_bound", false) != true
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-031",
		sprintf("%s evidence %s is not about %s", [kind, item.file, request.digest]),
		["evidence", kind, "subject_bound"],
	)
}

# METADATA
# title: Evidence is malformed
# description: >-
#   The signed payload is not an in-toto Statement v1, its predicate type is not a known
#   evidence type, or the predicate does not have the documented shape.
# custom:
#   id: SG-PROMO-037
#   severity: high
#   waivable: false
#   remediation: Produce the predicate in the documented shape for its type.
deny contains finding if {
	some kind, item in evidence
	item.signature_valid == true
	not well_formed(item)
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-037",
		sprintf("%s evidence %s is malformed: %s", [kind, item.file, object.get(item, "problem", "unknown")]),
		["evidence", kind, "predicate"],
	)
}

# METADATA
# title: Duplicate evidence
# description: More than one attestation of a type was passed; none of them counts.
# custom:
#   id: SG-PROMO-038
#   severity: medium
#   remediation: Pass one attestation per evidence type.
deny contains finding if {
	some kind, item in evidence
	item.duplicate == true
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-038",
		sprintf("%s: %s", [kind, object.get(item, "problem", "more than one attestation")]),
		["evidence", kind, "duplicate"],
	)
}

# METADATA
# title: Required evidence is missing
# description: >-
#   The target stage requires evidence of this type: a verified attestation about the model
#   digest from a producer trusted for the type.
# custom:
#   id: SG-PROMO-032
#   severity: high
#   waivable: false
#   remediation: Pass the required signed attestation with --evidence.
deny contains finding if {
	some kind in object.get(stage, "evidence", [])
	not usable(kind, object.get(evidence, kind, {}))
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-032",
		sprintf("%s requires verified %s evidence for %s", [request.to, kind, request.digest]),
		["evidence", kind],
	)
}

# METADATA
# title: Metric outside its threshold
# description: Every metric with a threshold in the target stage must be present and within it.
# custom:
#   id: SG-PROMO-033
#   severity: high
#   remediation: Improve the model, or change the threshold in policies/data/promotion.yaml by review.
deny contains finding if {
	item := evidence.metrics
	usable("metrics", item)
	some bound in ["min", "max"]
	some metric, limit in object.get(object.get(stage, "metrics", {}), bound, {})
	value := object.get(item.predicate.metrics, metric, null)
	outside(bound, value, limit)
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-033",
		sprintf("%s: %s is %v, %s requires %s %v", [item.file, metric, value, request.to, bound, limit]),
		["evidence", "metrics", "predicate", "metrics", metric],
	)
}

# METADATA
# title: Scan findings above the limit
# description: The scan reports more findings of a severity than the target stage allows.
# custom:
#   id: SG-PROMO-034
#   severity: high
#   remediation: Fix the findings and scan again.
deny contains finding if {
	item := evidence.scan
	usable("scan", item)
	some level, limit in object.get(object.get(stage, "scan", {}), "max", {})
	found := object.get(item.predicate.findings, level, 0)
	found > limit
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-034",
		sprintf("%s: %d %s finding(s), %s allows %d", [item.file, found, level, request.to, limit]),
		["evidence", "scan", "predicate", "findings", level],
	)
}
