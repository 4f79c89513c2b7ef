package sealgate.unseal.release_test

import rego.v1

import data.sealgate.unseal.release

golden := {"0": "aa", "7": "bb"}

config := {
	"environments": {"edge-prod": {"stage": "prod"}, "prod": {"stage": "prod"}},
	"attestation": {"pcr_bank": "sha256", "pcrs": [0, 7]},
	"device_classes": {"gw": {"golden_pcrs": golden}, "bare": {}},
	"devices": [
		{"id": "dev-a", "class": "gw", "ak_key_id": "ak-a", "environments": ["edge-prod"], "models": ["m"]},
		{"id": "dev-b", "class": "bare", "ak_key_id": "ak-b", "environments": ["edge-prod"], "models": ["m"]},
	],
	"workloads": [{"tenant_id": "t", "object_id": "o", "environments": ["prod"], "models": ["m"]}],
	"keys": [{"key_id": "k", "environments": ["prod"], "models": ["m"]}],
	"revoked": {"devices": ["dev-r"], "signer_key_ids": ["bad-signer"], "workloads": ["o-r"]},
}

model := {"name": "m", "version": "1", "digest": "sha256:00", "signer": {"name": "s", "key_id": "sk"}}

device_request := {
	"model": model,
	"environment": "edge-prod",
	"consumer": {"type": "device", "device_id": "dev-a"},
	"attestation": {
		"verified": true, "nonce_fresh": true, "device_id": "dev-a", "ak_key_id": "ak-a",
		"pcr_bank": "sha256", "pcrs": golden, "problems": [],
	},
	"registry": {"stages": ["prod"]},
}

workload_request := {
	"model": model,
	"environment": "prod",
	"consumer": {"type": "workload", "tenant_id": "t", "object_id": "o"},
	"attestation": null,
	"registry": {"stages": ["prod"]},
}

ids(findings) := {f.id | some f in findings}

test_attested_enrolled_device_is_allowed if {
	ids(release.deny) == set() with input as device_request with data.config.unseal as config
}

test_granted_workload_and_key_are_allowed if {
	ids(release.deny) == set() with input as workload_request with data.config.unseal as config
	doc1 := object.union(workload_request, {"consumer": {"type": "key", "key_id": "k"}})
	ids(release.deny) == set() with input as doc1 with data.config.unseal as config
}

test_unknown_device_denies if {
	doc1 := object.union(
		device_request,
		{"consumer": {"device_id": "dev-x"}},
	)
	expected := {"SG-UNSEAL-003", "SG-UNSEAL-005", "SG-UNSEAL-009"}
	ids(release.deny) == expected with input as doc1 with data.config.unseal as config
}

test_revoked_device_denies if {
	doc1 := object.union(device_request, {"consumer": {"device_id": "dev-r"}})
	"SG-UNSEAL-004" in ids(release.deny) with input as doc1 with data.config.unseal as config
}

test_stale_nonce_denies if {
	doc1 := object.union(device_request, {"attestation": {"nonce_fresh": false}})
	ids(release.deny) == {"SG-UNSEAL-006"} with input as doc1 with data.config.unseal as config
}

test_unverified_or_missing_attestation_denies if {
	doc1 := object.union(device_request, {"attestation": {"verified": false}})
	ids(release.deny) == {"SG-UNSEAL-005"} with input as doc1 with data.config.unseal as config
	doc2 := object.union(device_request, {"attestation": null})
	ids(release.deny) == {"SG-UNSEAL-005", "SG-UNSEAL-006"} with input as doc2 with data.config.unseal as config
	doc3 := object.union(device_request, {"attestation": {"ak_key_id": "ak-other"}})
	ids(release.deny) == {"SG-UNSEAL-005"} with input as doc3 with data.config.unseal as config
}

test_wrong_or_missing_pcrs_deny if {
	doc1 := object.union(device_request, {"attestation": {"pcrs": {"0": "aa", "7": "cc"}}})
	ids(release.deny) == {"SG-UNSEAL-007"} with input as doc1 with data.config.unseal as config
	doc2 := json.remove(device_request, ["attestation/pcrs/7"])
	ids(release.deny) == {"SG-UNSEAL-007"} with input as doc2 with data.config.unseal as config
	doc3 := object.union(device_request, {"attestation": {"pcr_bank": "sha1"}})
	ids(release.deny) == {"SG-UNSEAL-007"} with input as doc3 with data.config.unseal as config
}

test_device_class_without_golden_values_denies if {
	request := object.union(device_request, {
		"consumer": {"device_id": "dev-b"},
		"attestation": {"device_id": "dev-b", "ak_key_id": "ak-b"},
	})
	ids(release.deny) == {"SG-UNSEAL-007"} with input as request with data.config.unseal as config
}

test_model_not_promoted_to_environment_stage_denies if {
	doc1 := object.union(device_request, {"registry": {"stages": ["staging"]}})
	ids(release.deny) == {"SG-UNSEAL-008"} with input as doc1 with data.config.unseal as config
	doc2 := object.union(device_request, {"registry": null})
	ids(release.deny) == {"SG-UNSEAL-008"} with input as doc2 with data.config.unseal as config
}

test_identity_not_allowed_denies if {
	doc1 := object.union(workload_request, {"consumer": {"object_id": "o2"}})
	ids(release.deny) == {"SG-UNSEAL-009"} with input as doc1 with data.config.unseal as config
	doc2 := object.union(workload_request, {"consumer": {"tenant_id": "t2"}})
	ids(release.deny) == {"SG-UNSEAL-009"} with input as doc2 with data.config.unseal as config
	doc3 := object.union(workload_request, {"model": {"name": "other"}})
	ids(release.deny) == {"SG-UNSEAL-009"} with input as doc3 with data.config.unseal as config
	doc4 := object.union(device_request, {"environment": "prod"})
	ids(release.deny) == {"SG-UNSEAL-009"} with input as doc4 with data.config.unseal as config
}

test_revoked_signer_and_workload_deny if {
	doc1 := object.union(workload_request, {"model": {"signer": {"key_id": "bad-signer"}}})
	ids(release.deny) == {"SG-UNSEAL-010"} with input as doc1 with data.config.unseal as config
	doc2 := object.union(workload_request, {"consumer": {"object_id": "o-r"}})
	"SG-UNSEAL-011" in ids(release.deny) with input as doc2 with data.config.unseal as config
}

test_missing_facts_fail_closed if {
	ids(release.deny) == {"SG-UNSEAL-001"} with input as {} with data.config.unseal as config
	doc1 := json.remove(workload_request, ["model/digest"])
	"SG-UNSEAL-001" in ids(release.deny) with input as doc1 with data.config.unseal as config
	doc2 := json.remove(workload_request, ["model/signer"])
	"SG-UNSEAL-001" in ids(release.deny) with input as doc2 with data.config.unseal as config
}

test_unknown_environment_denies if {
	doc1 := object.union(workload_request, {"environment": "moon"})
	"SG-UNSEAL-002" in ids(release.deny) with input as doc1 with data.config.unseal as config
}

service_pointer := {
	"stage": "prod",
	"version": "1",
	"digest": "sha256:00",
	"counter": 4,
	"verified": true,
	"rolled_back": false,
	"high_water": 4,
}

test_aks_workload_by_issuer_and_subject_is_allowed if {
	aks := {
		"issuer": "https://aks.example/",
		"subject": "system:serviceaccount:ns:sa",
		"environments": ["prod"],
		"models": ["m"],
	}
	request := object.union(
		workload_request,
		{"consumer": {"type": "workload", "issuer": "https://aks.example/", "subject": "system:serviceaccount:ns:sa"}},
	)
	count({f.id | some f in release.deny with input as request with data.config.unseal as object.union(
		config,
		{"workloads": [aks]},
	)}) == 0

	# The same subject from another issuer is someone else.
	other := object.union(request, {"consumer": {"issuer": "https://evil.example/"}})
	{f.id | some f in release.deny with input as other with data.config.unseal as object.union(
		config,
		{"workloads": [aks]},
	)} == {"SG-UNSEAL-009"}
}

test_a_grant_without_tenant_or_issuer_matches_nothing if {
	loose := {"subject": "system:serviceaccount:ns:sa", "environments": ["prod"], "models": ["m"]}
	request := object.union(workload_request, {"consumer": {"type": "workload", "subject": "system:serviceaccount:ns:sa"}})
	"SG-UNSEAL-009" in {f.id | some f in release.deny with input as request with data.config.unseal as object.union(
		config,
		{"workloads": [loose]},
	)}
}

test_verified_current_pointer_is_allowed if {
	doc1 := object.union(workload_request, {"registry": {"stages": ["prod"], "pointer": service_pointer}})
	ids(release.deny) == set() with input as doc1 with data.config.unseal as config
}

test_rolled_back_or_unverified_pointer_denies if {
	doc1 := object.union(
		workload_request,
		{"registry": {"stages": ["prod"], "pointer": object.union(service_pointer, {"rolled_back": true})}},
	)
	ids(release.deny) == {"SG-UNSEAL-012"} with input as doc1 with data.config.unseal as config
	doc2 := object.union(
		workload_request,
		{"registry": {"stages": ["prod"], "pointer": object.union(service_pointer, {"verified": false})}},
	)
	ids(release.deny) == {"SG-UNSEAL-012"} with input as doc2 with data.config.unseal as config
}

test_no_data_switch_accepts_an_unverified_pointer if {
	request := object.union(
		workload_request,
		{"registry": {"stages": ["prod"], "pointer": object.union(service_pointer, {"verified": false})}},
	)
	relaxed := object.union(config, {"registry": {"require_signed_pointers": false}})
	{f.id | some f in release.deny with input as request with data.config.unseal as relaxed} == {"SG-UNSEAL-012"}
	no_verified := object.union(
		workload_request,
		{"registry": {"stages": ["prod"], "pointer": json.remove(service_pointer, ["verified"])}},
	)
	ids(release.deny) == {"SG-UNSEAL-012"} with input as no_verified with data.config.unseal as config
}

test_service_enrolled_device_of_a_granted_class_is_allowed if {
	by_class := object.union(config, {"devices": [{"class": "gw", "environments": ["edge-prod"], "models": ["m"]}]})
	request := object.union(
		device_request,
		{
			"consumer": {"type": "device", "id": "dev-s", "class": "gw", "enrolled": true},
			"attestation": {"device_id": "dev-s", "ak_key_id": "ak-s"},
		},
	)
	count({f.id | some f in release.deny with input as request with data.config.unseal as by_class}) == 0
	not_enrolled := object.union(request, {"consumer": {"enrolled": false}})
	{f.id | some f in release.deny with input as not_enrolled with data.config.unseal as by_class} == {
		"SG-UNSEAL-003",
		"SG-UNSEAL-009",
		"SG-UNSEAL-013",
	}
}
