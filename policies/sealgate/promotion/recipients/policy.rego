# METADATA
# title: Promotion key release
# description: >-
#   A model promoted into an enforced stage (data.config.promotion.stages[].enforced) must be
#   sealed only to that stage's key release service KEKs (recipients: the key ids in the seal
#   header), so its data key is released only by the service after the unseal policy allows
#   it. A model sealed directly to a consumer-held key (tpm: or local:) is refused: its
#   holder could unwrap it without asking. Python verifies the seal header and lists its
#   recipients (pipeline.promotion.facts).
# entrypoint: true
# custom:
#   input: promotion
package sealgate.promotion.recipients

import rego.v1

request := object.get(input, "request", {})

model := object.get(input, "model", {})

stage := s if {
	some s in data.config.promotion.stages
	s.name == request.to
}

enforced if object.get(stage, "enforced", false) == true

keks := {k | some k in object.get(stage, "recipients", [])}

default sealed_to := []

sealed_to := r if {
	r := object.get(model, "recipients", [])
	is_array(r)
}

consumer_held := {"tpm", "local"}

# METADATA
# title: Enforced stage has no key release KEKs configured
# description: >-
#   The stage is enforced but lists no KEK key ids, so no model can be shown to be sealed only
#   to the key release service: every promotion into it is refused until they are configured.
# custom:
#   id: SG-PROMO-050
#   severity: critical
#   waivable: false
#   remediation: List the stage's KEK key ids (the Key Vault key URL) under recipients in policies/data/promotion.yaml.
deny contains finding if {
	enforced
	count(keks) == 0
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-050",
		sprintf(
			"%s is enforced but lists no key release KEKs (data.config.promotion.stages: recipients)",
			[request.to],
		),
		["model", "recipients"],
	)
}

# METADATA
# title: Model sealed to a consumer-held key
# description: >-
#   The data key is also wrapped to a TPM or local key that a consumer holds: it could be
#   unwrapped without the key release service and the unseal policy.
# custom:
#   id: SG-PROMO-051
#   severity: critical
#   waivable: false
#   remediation: >-
#     Seal the model only to the stage's KEK (sealgate seal --recipient keyvault:...) and let
#     consumers get the key from the release service.
deny contains finding if {
	enforced
	some i, recipient in sealed_to
	recipient.type in consumer_held
	not recipient.key_id in keks
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-051",
		sprintf(
			"%s is sealed to a consumer-held %s key %s; %s releases keys only through the key release service",
			[request.name, recipient.type, recipient.key_id, request.to],
		),
		["model", "recipients", i],
	)
}

# METADATA
# title: Model sealed to a key that is not the stage's KEK
# description: >-
#   The data key is wrapped to a key that is not one of the stage's KEKs (another
#   environment's KEK, or an unlisted Key Vault key).
# custom:
#   id: SG-PROMO-052
#   severity: high
#   waivable: false
#   remediation: Seal the model only to the KEKs of the stages it may reach that are listed for this stage.
deny contains finding if {
	enforced
	some i, recipient in sealed_to
	not recipient.type in consumer_held
	not recipient.key_id in keks
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-052",
		sprintf(
			"%s is sealed to %s key %s, which is not a KEK of %s",
			[request.name, recipient.type, recipient.key_id, request.to],
		),
		["model", "recipients", i],
	)
}

# METADATA
# title: Recipients of the model are unknown
# description: >-
#   The model did not verify, so its recipients are not known; an enforced stage needs them
#   (the provenance policy reports why the model does not verify).
# custom:
#   id: SG-PROMO-053
#   severity: high
#   waivable: false
#   remediation: Promote a sealed model that verifies.
deny contains finding if {
	enforced
	count(sealed_to) == 0
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-053",
		sprintf("%s: the recipients of %s are not verified", [request.to, request.name]),
		["model", "recipients"],
	)
}
