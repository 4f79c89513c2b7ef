package sealgate.promotion.model_scan_test

import rego.v1

import data.sealgate.promotion.model_scan

stages := [
	{"name": "dev", "model_scan": {"required": false, "deny_unsafe": false, "deny_severities": []}},
	{"name": "staging", "model_scan": {"required": true, "deny_unsafe": false, "deny_severities": ["critical"]}},
	{"name": "prod", "model_scan": {"required": true, "deny_unsafe": true, "deny_severities": ["critical", "high"]}},
	{"name": "qa"},
]

unsafe_global := {
	"id": "pickle-unsafe-global", "severity": "critical", "unsafe": true,
	"message": "archive/data.pkl: imports posix.system, a callable that runs code when loaded",
}

unknown_global := {
	"id": "pickle-unknown-global", "severity": "high", "unsafe": true,
	"message": "imports sklearn.tree.DecisionTreeClassifier, a callable on no allow list",
}

outside := {
	"id": "onnx-external-data-outside", "severity": "critical", "unsafe": false,
	"message": "external data location '../../etc/passwd' resolves outside the model directory",
}

bad_offsets := {
	"id": "safetensors-bad-offsets", "severity": "medium", "unsafe": false,
	"message": "tensor 'a' data_offsets [0, 4096] are outside the 8-byte buffer",
}

facts(to, findings) := {
	"request": {"name": "m", "version": "2.0.0", "to": to},
	"model": {"verified": true, "scan": {
		"present": true,
		"files": [
			{"path": "config.json", "format": "other", "findings": []},
			{"path": "model.pt", "format": "pytorch", "findings": findings},
		],
	}},
}

ids(findings) := {f.id | some f in findings}

old_seal(to) := {
	"request": {"name": "m", "version": "1.0.0", "to": to},
	"model": {"verified": true, "scan": {"present": false}},
}

test_a_clean_scan_passes_every_stage if {
	every to in ["dev", "staging", "prod", "qa"] {
		count(model_scan.deny) == 0 with input as facts(to, []) with data.config.promotion.stages as stages
	}
}

test_prod_refuses_any_unsafe_callable_with_the_file_and_rule if {
	found := model_scan.deny with input as facts("prod", [unsafe_global])
		with data.config.promotion.stages as stages
	ids(found) == {"SG-PROMO-061"}
	some f in found
	f.path == ["model", "scan", "files", 1, "findings", 0]
	contains(f.msg, "model.pt (pytorch)")
	contains(f.msg, "posix.system")
	unknown := model_scan.deny with input as facts("prod", [unknown_global])
		with data.config.promotion.stages as stages
	ids(unknown) == {"SG-PROMO-061"}
}

test_staging_refuses_critical_only if {
	evil := model_scan.deny with input as facts("staging", [unsafe_global])
		with data.config.promotion.stages as stages
	ids(evil) == {"SG-PROMO-062"}
	unknown := model_scan.deny with input as facts("staging", [unknown_global])
		with data.config.promotion.stages as stages
	ids(unknown) == set()
	leaving := model_scan.deny with input as facts("staging", [outside])
		with data.config.promotion.stages as stages
	ids(leaving) == {"SG-PROMO-062"}
}

test_dev_allows_what_the_scan_reports if {
	found := model_scan.deny with input as facts("dev", [unsafe_global, outside])
		with data.config.promotion.stages as stages
	ids(found) == set()
}

test_prod_refuses_critical_findings_that_are_not_callables if {
	leaving := model_scan.deny with input as facts("prod", [outside])
		with data.config.promotion.stages as stages
	ids(leaving) == {"SG-PROMO-062"}
	medium := model_scan.deny with input as facts("prod", [bad_offsets])
		with data.config.promotion.stages as stages
	ids(medium) == set()
}

test_a_seal_without_a_scan_is_refused_where_required if {
	old := model_scan.deny with input as old_seal("prod") with data.config.promotion.stages as stages
	ids(old) == {"SG-PROMO-060"}
	unverified := {"request": {"name": "m", "version": "1.0.0", "to": "prod"}, "model": {"verified": false}}
	none := model_scan.deny with input as unverified with data.config.promotion.stages as stages
	ids(none) == set() # the provenance policy refuses it (SG-PROMO-001) and says why
	dev := model_scan.deny with input as old_seal("dev") with data.config.promotion.stages as stages
	ids(dev) == set()
}

test_a_stage_without_settings_gets_the_strictest if {
	unknown := model_scan.deny with input as facts("qa", [unknown_global])
		with data.config.promotion.stages as stages
	ids(unknown) == {"SG-PROMO-061"}
	leaving := model_scan.deny with input as facts("qa", [outside])
		with data.config.promotion.stages as stages
	ids(leaving) == {"SG-PROMO-062"}
	unlisted := model_scan.deny with input as old_seal("unlisted") with data.config.promotion.stages as stages
	ids(unlisted) == {"SG-PROMO-060"}
}

malformed_stages(settings) := [{"name": "prod", "model_scan": settings}]

test_malformed_settings_fall_back_to_the_strictest if {
	every settings in ["strict", null, [], {"deny_unsafe": "no", "deny_severities": "critical"}] {
		unsafe := model_scan.deny with input as facts("prod", [unsafe_global])
			with data.config.promotion.stages as malformed_stages(settings)
		ids(unsafe) == {"SG-PROMO-061"}
		old := model_scan.deny with input as old_seal("prod")
			with data.config.promotion.stages as malformed_stages(settings)
		ids(old) == {"SG-PROMO-060"}
	}
}

test_a_wrongly_typed_setting_is_strict_while_the_others_hold if {
	# deny_unsafe given (false), deny_severities malformed: the critical finding is still refused.
	settings := {"required": true, "deny_unsafe": false, "deny_severities": "critical"}
	found := model_scan.deny with input as facts("prod", [unsafe_global])
		with data.config.promotion.stages as malformed_stages(settings)
	ids(found) == {"SG-PROMO-062"}
	lenient := {"required": false, "deny_unsafe": false, "deny_severities": [7]}
	high := model_scan.deny with input as facts("prod", [unknown_global])
		with data.config.promotion.stages as malformed_stages(lenient)
	ids(high) == {"SG-PROMO-062"}
}
