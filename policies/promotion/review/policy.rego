# METADATA
# title: Promotion review
# description: >-
#   The approvals and evidence a stage requires (data.config.promotion.stages): enough
#   distinct approvers other than the requester, each with a valid signed approval of exactly
#   this request; evidence of each required kind, well-formed, bound to the model digest, and
#   within the stage's metric thresholds and scan limits. Python verifies the signatures and
#   the shape of every document and hands the policy the facts (pipeline.promotion.facts).
# custom:
#   input: promotion
package sealgate.promotion.review

import rego.v1

request := object.get(input, "request", {})

stage := s if {
	some s in data.config.promotion.stages
	s.name == request.to
}

approvals := a if {
	a := object.get(input, "approvals", [])
	is_array(a)
} else := []

evidence := e if {
	e := object.get(input, "evidence", [])
	is_array(e)
} else := []

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
	approval.approver != request.requester
	key_valid(approval)
}

approvers := {approval.approver | some approval in approvals; counts(approval)}

usable(item) if {
	item.valid == true
	item.bound == true
}

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
	finding := {
		"id": "SG-PROMO-020",
		"msg": sprintf("%s needs %d distinct approver(s) other than the requester, has %d", [request.to, required, count(approvers)]),
		"severity": "high",
		"path": ["approvals"],
	}
}

# METADATA
# title: Requester approved their own promotion
# description: An approval by the requester does not count and is reported.
# custom:
#   id: SG-PROMO-021
#   severity: high
#   waivable: false
#   remediation: Ask someone other than the requester to approve.
deny contains finding if {
	some i, approval in approvals
	approval.signature_valid == true
	approval.approver == request.requester
	finding := {
		"id": "SG-PROMO-021",
		"msg": sprintf("%s approved their own promotion (%s)", [approval.approver, approval.file]),
		"severity": "high",
		"path": ["approvals", i, "approver"],
	}
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
	finding := {
		"id": "SG-PROMO-022",
		"msg": sprintf("approval %s does not verify: %s", [approval.file, object.get(approval, "error", "unknown")]),
		"severity": "critical",
		"path": ["approvals", i, "signature_valid"],
	}
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
	finding := {
		"id": "SG-PROMO-023",
		"msg": sprintf("approval %s by %s signs a different promotion request", [approval.file, approval.approver]),
		"severity": "critical",
		"path": ["approvals", i, "matches_request"],
	}
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
	finding := {
		"id": "SG-PROMO-024",
		"msg": sprintf("approval %s: %s's key is %s", [approval.file, approval.approver, replace(state, "_", " ")]),
		"severity": "high",
		"path": ["approvals", i, state],
	}
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
	finding := {
		"id": "SG-PROMO-025",
		"msg": sprintf("approval %s duplicates another approval by %s", [approval.file, approval.approver]),
		"severity": "medium",
		"path": ["approvals", i, "duplicate"],
	}
}

# METADATA
# title: Evidence is malformed
# description: Evidence must be JSON of a known kind (metrics, scan, sbom) with the documented shape.
# custom:
#   id: SG-PROMO-030
#   severity: high
#   waivable: false
#   remediation: Produce evidence in the documented shape for its kind.
deny contains finding if {
	some i, item in evidence
	object.get(item, "valid", false) != true
	finding := {
		"id": "SG-PROMO-030",
		"msg": sprintf("evidence %s is malformed: %s", [item.file, concat("; ", object.get(item, "errors", []))]),
		"severity": "high",
		"path": ["evidence", i, "valid"],
	}
}

# METADATA
# title: Evidence is for another model
# description: Evidence binds to a model by digest; evidence for another digest does not count.
# custom:
#   id: SG-PROMO-031
#   severity: critical
#   waivable: false
#   remediation: Evaluate and scan the exact sealed model being promoted and record its digest.
deny contains finding if {
	some i, item in evidence
	object.get(item, "bound", false) != true
	finding := {
		"id": "SG-PROMO-031",
		"msg": sprintf("evidence %s is for %s, not %s", [item.file, object.get(item, "digest", "no digest"), request.digest]),
		"severity": "critical",
		"path": ["evidence", i, "digest"],
	}
}

# METADATA
# title: Required evidence is missing
# description: The target stage requires evidence of this kind, bound to the model digest.
# custom:
#   id: SG-PROMO-032
#   severity: high
#   waivable: false
#   remediation: Pass the required evidence with --evidence.
deny contains finding if {
	some kind in object.get(stage, "evidence", [])
	not kind in {item.kind | some item in evidence; usable(item)}
	finding := {
		"id": "SG-PROMO-032",
		"msg": sprintf("%s requires %s evidence for %s", [request.to, kind, request.digest]),
		"severity": "high",
		"path": ["evidence"],
	}
}

# METADATA
# title: Metric outside its threshold
# description: Every metric with a threshold in the target stage must be present and within it.
# custom:
#   id: SG-PROMO-033
#   severity: high
#   remediation: Improve the model, or change the threshold in policies/data/promotion.yaml by review.
deny contains finding if {
	some i, item in evidence
	usable(item)
	item.kind == "metrics"
	some bound in ["min", "max"]
	some metric, limit in object.get(object.get(stage, "metrics", {}), bound, {})
	value := object.get(item.metrics, metric, null)
	outside(bound, value, limit)
	finding := {
		"id": "SG-PROMO-033",
		"msg": sprintf("%s: %s is %v, %s requires %s %v", [item.file, metric, value, request.to, bound, limit]),
		"severity": "high",
		"path": ["evidence", i, "metrics", metric],
	}
}

outside(_, value, _) if value == null

outside("min", value, limit) if value < limit

outside("max", value, limit) if value > limit

# METADATA
# title: Scan findings above the limit
# description: The scan reports more findings of a severity than the target stage allows.
# custom:
#   id: SG-PROMO-034
#   severity: high
#   remediation: Fix the findings and scan again.
deny contains finding if {
	some i, item in evidence
	usable(item)
	item.kind == "scan"
	some level, limit in object.get(object.get(stage, "scan", {}), "max", {})
	found := object.get(item.findings, level, 0)
	found > limit
	finding := {
		"id": "SG-PROMO-034",
		"msg": sprintf("%s: %d %s finding(s), %s allows %d", [item.file, found, level, request.to, limit]),
		"severity": "high",
		"path": ["evidence", i, "findings", level],
	}
}
