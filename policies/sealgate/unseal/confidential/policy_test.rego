package sealgate.unseal.confidential_test

import rego.v1

import data.sealgate.unseal.confidential

config := {"tee": {"environments": {
	"conf": {
		"require_tee": true,
		"attestation_types": ["sevsnpvm", "tdxvm"],
		"compliance_status": ["azure-compliant-uvm", "azure-compliant-cvm"],
		"policy_hashes": ["ph"],
		"host_data": ["cce"],
	},
	"conf-vm": {"attestation_types": ["sevsnpvm"], "compliance_status": ["azure-compliant-cvm"], "policy_hashes": ["ph"]},
	"relaxed": {"require_tee": false},
}}}

container := {
	"x-ms-attestation-type": "sevsnpvm",
	"x-ms-compliance-status": "azure-compliant-uvm",
	"x-ms-policy-hash": "ph",
	"x-ms-sevsnpvm-hostdata": "cce",
	"x-ms-sevsnpvm-is-debuggable": false,
}

request := {
	"environment": "conf",
	"tee": {
		"verified": true,
		"issuer": "https://p.attest.azure.net",
		"claims": container,
		"runtime_key": {"kid": "k", "kty": "RSA"},
	},
}

vm_request := object.union(request, {
	"environment": "conf-vm",
	"tee": {"claims": {
		"x-ms-attestation-type": "azurevm",
		"x-ms-policy-hash": "ph",
		"x-ms-isolation-tee": {
			"x-ms-attestation-type": "sevsnpvm",
			"x-ms-compliance-status": "azure-compliant-cvm",
			"x-ms-sevsnpvm-hostdata": "0000",
			"x-ms-sevsnpvm-is-debuggable": false,
		},
	}},
})

ids(findings) := {f.id | some f in findings}

with_claims(req, changes) := object.union(req, {"tee": {"claims": changes}})

test_verified_compliant_tee_is_allowed if {
	ids(confidential.deny) == set() with input as request with data.config.unseal as config

	# no host_data listed for conf-vm: a CVM's zeros are not checked
	ids(confidential.deny) == set() with input as vm_request with data.config.unseal as config
}

test_environments_without_tee_requirement_are_not_this_policys_business if {
	doc1 := object.union(request, {"environment": "prod", "tee": null})
	ids(confidential.deny) == set() with input as doc1 with data.config.unseal as config
	doc2 := object.union(request, {"environment": "relaxed", "tee": null})
	ids(confidential.deny) == set() with input as doc2 with data.config.unseal as config
	doc3 := json.remove(request, ["environment"])
	ids(confidential.deny) == set() with input as doc3 with data.config.unseal as config
}

test_listed_environment_requires_a_tee_unless_it_says_false if {
	doc1 := object.union(request, {"environment": "conf-vm", "tee": null})
	ids(confidential.deny) == {"SG-UNSEAL-101"} with input as doc1 with data.config.unseal as config
}

test_missing_or_unverified_token_denies_with_one_reason if {
	doc1 := object.union(request, {"tee": null})
	ids(confidential.deny) == {"SG-UNSEAL-101"} with input as doc1 with data.config.unseal as config
	doc2 := json.remove(request, ["tee"])
	ids(confidential.deny) == {"SG-UNSEAL-101"} with input as doc2 with data.config.unseal as config
	doc3 := object.union(request, {"tee": {"verified": false, "problem": "expired"}})
	ids(confidential.deny) == {"SG-UNSEAL-101"} with input as doc3 with data.config.unseal as config
	doc4 := object.union(request, {"tee": {"verified": "true"}})
	ids(confidential.deny) == {"SG-UNSEAL-101"} with input as doc4 with data.config.unseal as config
	doc5 := object.union(request, {"tee": "a token string is not a fact"})
	ids(confidential.deny) == {"SG-UNSEAL-101"} with input as doc5 with data.config.unseal as config
	some f in confidential.deny with input as object.union(request, {"tee": {"verified": false, "problem": "expired"}})
		with data.config.unseal as config
	contains(f.msg, "expired")
}

test_tee_type_must_be_accepted if {
	doc1 := with_claims(request, {"x-ms-attestation-type": "sgx"})
	ids(confidential.deny) == {"SG-UNSEAL-102"} with input as doc1 with data.config.unseal as config
	doc2 := object.union(
		vm_request,
		{"tee": {"claims": {"x-ms-isolation-tee": {"x-ms-attestation-type": "tdxvm"}}}},
	)
	ids(confidential.deny) == {"SG-UNSEAL-102", "SG-UNSEAL-105"} with input as doc2 with data.config.unseal as config
	doc3 := json.remove(request, ["tee/claims/x-ms-attestation-type"])
	ids(confidential.deny) == {"SG-UNSEAL-102"} with input as doc3 with data.config.unseal as config
}

test_vm_token_is_judged_by_its_isolation_claims_not_the_top if {
	# An azurevm token with container-looking claims at the top but none under isolation.
	forged := with_claims(request, {"x-ms-attestation-type": "azurevm"})
	ids(confidential.deny) == {"SG-UNSEAL-102", "SG-UNSEAL-103"} with input as forged with data.config.unseal as config
}

test_compliance_status_must_be_accepted if {
	doc1 := with_claims(request, {"x-ms-compliance-status": "azure-non-compliant"})
	ids(confidential.deny) == {"SG-UNSEAL-103"} with input as doc1 with data.config.unseal as config
	doc2 := json.remove(request, ["tee/claims/x-ms-compliance-status"])
	ids(confidential.deny) == {"SG-UNSEAL-103"} with input as doc2 with data.config.unseal as config
}

test_attestation_policy_hash_must_be_listed if {
	doc1 := with_claims(request, {"x-ms-policy-hash": "other"})
	ids(confidential.deny) == {"SG-UNSEAL-104"} with input as doc1 with data.config.unseal as config
	doc2 := json.remove(request, ["tee/claims/x-ms-policy-hash"])
	ids(confidential.deny) == {"SG-UNSEAL-104"} with input as doc2 with data.config.unseal as config
}

test_debuggable_or_unknown_debug_state_denies if {
	doc1 := with_claims(request, {"x-ms-sevsnpvm-is-debuggable": true})
	ids(confidential.deny) == {"SG-UNSEAL-105"} with input as doc1 with data.config.unseal as config
	doc2 := json.remove(request, ["tee/claims/x-ms-sevsnpvm-is-debuggable"])
	ids(confidential.deny) == {"SG-UNSEAL-105"} with input as doc2 with data.config.unseal as config
	tdx := with_claims(request, {"x-ms-attestation-type": "tdxvm", "tdx_td_attributes_debug": true})
	ids(confidential.deny) == {"SG-UNSEAL-105"} with input as tdx with data.config.unseal as config
	doc3 := with_claims(request, {"x-ms-attestation-type": "tdxvm", "tdx_td_attributes_debug": false})
	ids(confidential.deny) == set() with input as doc3 with data.config.unseal as config
}

test_container_policy_must_be_listed_where_the_environment_lists_them if {
	doc1 := with_claims(request, {"x-ms-sevsnpvm-hostdata": "other"})
	ids(confidential.deny) == {"SG-UNSEAL-106"} with input as doc1 with data.config.unseal as config
	doc2 := json.remove(request, ["tee/claims/x-ms-sevsnpvm-hostdata"])
	ids(confidential.deny) == {"SG-UNSEAL-106"} with input as doc2 with data.config.unseal as config
}

test_runtime_key_is_required if {
	doc1 := object.union(request, {"tee": {"runtime_key": null}})
	ids(confidential.deny) == {"SG-UNSEAL-107"} with input as doc1 with data.config.unseal as config
	doc2 := json.remove(request, ["tee/runtime_key"])
	ids(confidential.deny) == {"SG-UNSEAL-107"} with input as doc2 with data.config.unseal as config
}

test_malformed_configuration_accepts_nothing if {
	broken := {"tee": {"environments": {"conf": {"attestation_types": "sevsnpvm", "compliance_status": null}}}}
	found := {f.id | some f in confidential.deny with input as request with data.config.unseal as broken}
	found == {"SG-UNSEAL-102", "SG-UNSEAL-103", "SG-UNSEAL-104"}
}

test_findings_name_the_offending_field if {
	some f in confidential.deny with input as with_claims(request, {"x-ms-policy-hash": "other"})
		with data.config.unseal as config
	f == {
		"id": "SG-UNSEAL-104",
		"path": ["tee", "claims", "x-ms-policy-hash"],
		"msg": "attestation policy hash other is not listed for conf",
	}
}
