# METADATA
# title: Promotion provenance
# description: >-
#   The sealed model verifies and was signed by a trusted, valid key; it is the model the
#   request names; it moves one stage at a time in the order of data.config.promotion.stages,
#   from the stage that holds exactly this digest, to a strictly newer version. Python hands
#   the policy verified facts (see pipeline.promotion.facts).
# entrypoint: true
# custom:
#   input: promotion
package sealgate.promotion.provenance

import rego.v1

stage_names := [s.name | some s in data.config.promotion.stages]

position(name) := i if {
	some i, stage_name in stage_names
	stage_name == name
}

request := object.get(input, "request", {})

model := object.get(input, "model", {})

signer := object.get(model, "signer", null)

source_current := object.get(object.get(input, "source", {}), "current", null)

default target_version := "none"

target_version := v if {
	current := object.get(object.get(input, "target", {}), "current", null)
	is_object(current)
	v := object.get(current, "version", "none")
}

signer_unknown if {
	signer != null
	object.get(signer, "known", false) != true
}

# METADATA
# title: Sealed model does not verify
# description: >-
#   The sealed model is unsigned, tampered with (header, model.sig or a ciphertext changed),
#   or not a sealed model at all.
# custom:
#   id: SG-PROMO-001
#   severity: critical
#   waivable: false
#   remediation: Promote only models sealed by `sealgate seal` and pushed unchanged.
deny contains finding if {
	object.get(model, "verified", false) != true
	not signer_unknown
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-001",
		sprintf("sealed model does not verify: %s", [object.get(model, "error", "no verification")]),
		["model", "verified"],
	)
}

# METADATA
# title: Signer is not trusted
# description: The key that signed the sealed model is not in the trust file.
# custom:
#   id: SG-PROMO-002
#   severity: critical
#   waivable: false
#   remediation: Seal with a key listed in the trust file, or add the release key to it.
deny contains finding if {
	signer_unknown
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-002",
		sprintf("signer key %s is not trusted", [object.get(signer, "key_id", "unknown")]),
		["model", "signer", "known"],
	)
}

# METADATA
# title: Signer key is revoked, expired or not yet valid
# description: The signer is listed, but its key is revoked or outside its validity window.
# custom:
#   id: SG-PROMO-003
#   severity: critical
#   waivable: false
#   remediation: Re-seal the model with a current release key.
deny contains finding if {
	signer != null
	object.get(signer, "known", false) == true
	some state in ["revoked", "expired", "not_yet_valid"]
	object.get(signer, state, true) != false
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-003",
		sprintf("signer %s: key is %s", [signer.name, replace(state, "_", " ")]),
		["model", "signer", state],
	)
}

# METADATA
# title: Sealed model is not the requested one
# description: >-
#   The signed header names another model or version than the request, or the stored
#   model's digest is not the digest being promoted.
# custom:
#   id: SG-PROMO-004
#   severity: critical
#   waivable: false
#   remediation: Promote the name, version and digest that were sealed and tested.
deny contains finding if {
	model.verified == true
	some field in ["name", "version", "digest"]
	model[field] != request[field]
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-004",
		sprintf("the sealed model's %s is %s, the request says %s", [field, model[field], request[field]]),
		["model", field],
	)
}

# METADATA
# title: Unknown stage
# description: The request names a stage that is not in data.config.promotion.stages.
# custom:
#   id: SG-PROMO-005
#   severity: high
#   remediation: Use one of the stages in policies/data/promotion.yaml.
deny contains finding if {
	some field in ["from", "to"]
	name := object.get(request, field, null)
	name != null
	not name in stage_names
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-005",
		sprintf("stage %s is not one of %s", [name, concat(", ", stage_names)]),
		["request", field],
	)
}

# METADATA
# title: Stage skipped
# description: >-
#   A model enters the first stage by push and then moves exactly one stage forward;
#   promotions that skip a stage, go backwards or push into a later stage are denied.
# custom:
#   id: SG-PROMO-006
#   severity: high
#   waivable: false
#   remediation: Promote through every stage in order.
deny contains finding if {
	to := position(request.to)
	from := position(request.from)
	to != from + 1
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-006",
		sprintf(
			"%s -> %s skips or reverses the stage order %s",
			[request.from, request.to, concat(" -> ", stage_names)],
		),
		["request", "to"],
	)
}

deny contains finding if {
	object.get(request, "from", null) == null
	to := position(request.to)
	to != 0
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-006",
		sprintf("a model enters %s only by promotion from the stage before it", [request.to]),
		["request", "to"],
	)
}

deny contains finding if {
	object.get(request, "from", null) == null
	object.get(input, "action", null) != "push"
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-006",
		"a promotion needs a source stage; a model enters the first stage by push",
		["request", "from"],
	)
}

# METADATA
# title: Model is not in the source stage
# description: The source stage must hold exactly this version and digest (the tested bytes).
# custom:
#   id: SG-PROMO-007
#   severity: critical
#   waivable: false
#   remediation: Promote the digest that the source stage holds; push or promote it there first.
deny contains finding if {
	object.get(request, "from", null) != null
	source_current == null
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-007",
		sprintf("%s is not in %s", [request.name, request.from]),
		["source", "current"],
	)
}

deny contains finding if {
	source_current != null
	some field in ["version", "digest"]
	source_current[field] != request[field]
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-007",
		sprintf(
			"%s holds %s %s, the request promotes %s",
			[request.from, field, source_current[field], request[field]],
		),
		["source", "current", field],
	)
}

# METADATA
# title: Version is not semantic
# description: Versions are compared as semantic versions (MAJOR[.MINOR[.PATCH]][-pre][+build]).
# custom:
#   id: SG-PROMO-008
#   severity: high
#   remediation: Seal the model with a semantic version such as 1.4.0.
deny contains finding if {
	object.get(object.get(input, "version", {}), "valid", false) != true
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-008",
		sprintf("version %s is not a semantic version", [request.version]),
		["request", "version"],
	)
}

# METADATA
# title: Rollback
# description: The version must be strictly newer than the version the target stage holds.
# custom:
#   id: SG-PROMO-009
#   severity: critical
#   waivable: false
#   remediation: Seal a new version; a stage never goes back to an older or the same version.
deny contains finding if {
	input.version.valid == true
	not object.get(input.version, "against_target", null) in {"none", "newer"}
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-009",
		sprintf("%s %s is not newer than %s in %s", [request.name, request.version, target_version, request.to]),
		["request", "version"],
	)
}
