# METADATA
# title: Promotion model scan
# description: >-
#   Every file of a sealed model is scanned before it is sealed (unsafe pickle imports, Keras
#   Lambda layers, NumPy object arrays, ONNX external data outside the model, safetensors
#   header sanity) and the result is signed into the seal header. Python verifies the header
#   and that the scan covers exactly the files model.sig signs, with the same digests, and
#   hands the scan over as input.model.scan (pipeline.promotion.facts). Each stage decides in
#   data.config.promotion.stages[].model_scan: required (a seal without a scan is refused),
#   deny_unsafe (any callable that runs on load is refused) and deny_severities. A stage that
#   does not say is held to the strictest setting.
# entrypoint: true
# custom:
#   input: promotion
package sealgate.promotion.model_scan

import rego.v1

request := object.get(input, "request", {})

scan := object.get(object.get(input, "model", {}), "scan", {})

default stage := {}

stage := s if {
	some s in data.config.promotion.stages
	s.name == request.to
}

# Each setting the stage gives with the wrong type (or does not give) is the strictest one:
# a typo in the data must not turn the scan off.
default configured := {}

configured := stage.model_scan if is_object(stage.model_scan)

default required := true

required := configured.required if is_boolean(configured.required)

default deny_unsafe := true

deny_unsafe := configured.deny_unsafe if is_boolean(configured.deny_unsafe)

default severity_list := ["critical", "high"]

severity_list := configured.deny_severities if {
	is_array(configured.deny_severities)
	count([s | some s in configured.deny_severities; not is_string(s)]) == 0
}

deny_severities := {s | some s in severity_list}

scan_findings contains [i, j, item] if {
	some i, file in object.get(scan, "files", [])
	some j, item in object.get(file, "findings", [])
}

# METADATA
# title: Model has no signed scan
# description: >-
#   The verified seal header carries no scan of the model's files (the model was sealed before
#   sealgate scanned), so nothing shows that loading it runs no code. A model that does not
#   verify is refused by the provenance policy (SG-PROMO-001), which says why.
# custom:
#   id: SG-PROMO-060
#   severity: critical
#   waivable: false
#   remediation: Seal the model again with this sealgate (`sealgate seal` scans every file) and promote the new seal.
deny contains finding if {
	required == true
	object.get(input, "model", {}).verified == true
	object.get(scan, "present", false) != true
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-060",
		sprintf(
			"%s %s has no signed scan of its files; %s requires one (seal it again)",
			[object.get(request, "name", "the model"), object.get(request, "version", ""), request.to],
		),
		["model", "scan"],
	)
}

# METADATA
# title: Model file runs code when loaded
# description: >-
#   A file of the model holds a callable that runs when it is loaded: a pickle import on
#   picklescan's deny list or on no allow list (os.system, builtins.eval, an arbitrary class),
#   a NumPy object array, or a Keras Lambda layer's bytecode.
# custom:
#   id: SG-PROMO-061
#   severity: critical
#   waivable: false
#   remediation: >-
#     Save the weights in a format that holds no code (safetensors, ONNX without custom
#     operators, a Keras archive without Lambda layers) and seal that.
deny contains finding if {
	deny_unsafe == true
	some [i, j, item] in scan_findings
	item.unsafe == true
	file := scan.files[i]
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-061",
		sprintf("%s (%s): %s [%s]", [file.path, file.format, item.message, item.id]),
		["model", "scan", "files", i, "findings", j],
	)
}

# METADATA
# title: Model scan finding above the stage's limit
# description: >-
#   The scan reported a finding of a severity the stage refuses (for example ONNX external data
#   that leaves the model directory, or a malformed pickle).
# custom:
#   id: SG-PROMO-062
#   severity: high
#   waivable: false
#   remediation: Fix the model file the finding names and seal the model again.
deny contains finding if {
	some [i, j, item] in scan_findings
	item.severity in deny_severities
	not reported_as_unsafe(item)
	file := scan.files[i]
	finding := data.sealgate.lib.findings.finding(
		"SG-PROMO-062",
		sprintf(
			"%s (%s): %s [%s, %s]; %s refuses %s findings",
			[file.path, file.format, item.message, item.id, item.severity, request.to, item.severity],
		),
		["model", "scan", "files", i, "findings", j],
	)
}

reported_as_unsafe(item) if {
	deny_unsafe == true
	item.unsafe == true
}
