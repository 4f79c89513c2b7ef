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

ids(req) := {f.id | some f in confidential.deny with input as req with data.config.unseal as config}

with_claims(req, changes) := object.union(req, {"tee": {"claims": changes}})

test_verified_compliant_tee_is_allowed if {
	ids(request) == set()
	ids(vm_request) == set() # no host_data listed for conf-vm: a CVM's zeros are not checked
}

test_environments_without_tee_requirement_are_not_this_policys_business if {
	ids(object.union(request, {"environment": "prod", "tee": null})) == set()
	ids(object.union(request, {"environment": "relaxed", "tee": null})) == set()
	ids(json.remove(request, ["environment"])) == set()
}

test_listed_environment_requires_a_tee_unless_it_says_false if {
	ids(object.union(request, {"environment": "conf-vm", "tee": null})) == {"SG-UNSEAL-101"}
}

test_missing_or_unverified_token_denies_with_one_reason if {
	ids(object.union(request, {"tee": null})) == {"SG-UNSEAL-101"}
	ids(json.remove(request, ["tee"])) == {"SG-UNSEAL-101"}
	ids(object.union(request, {"tee": {"verified": false, "problem": "expired"}})) == {"SG-UNSEAL-101"}
	ids(object.union(request, {"tee": {"verified": "true"}})) == {"SG-UNSEAL-101"}
	ids(object.union(request, {"tee": "a token string is not a fact"})) == {"SG-UNSEAL-101"}
	some f in confidential.deny with input as object.union(request, {"tee": {"verified": false, "problem": "expired"}})
		with data.config.unseal as config
	contains(f.msg, "expired")
}

test_tee_type_must_be_accepted if {
	ids(with_claims(request, {"x-ms-attestation-type": "sgx"})) == {"SG-UNSEAL-102"}
	ids(object.union(
		vm_request,
		{"tee": {"claims": {"x-ms-isolation-tee": {"x-ms-attestation-type": "tdxvm"}}}},
	)) == {"SG-UNSEAL-102", "SG-UNSEAL-105"}
	ids(json.remove(request, ["tee/claims/x-ms-attestation-type"])) == {"SG-UNSEAL-102"}
}

test_vm_token_is_judged_by_its_isolation_claims_not_the_top if {
	# An azurevm token with container-looking claims at the top but none under isolation.
	forged := with_claims(request, {"x-ms-attestation-type": "azurevm"})
	ids(forged) == {"SG-UNSEAL-102", "SG-UNSEAL-103"}
}

test_compliance_status_must_be_accepted if {
	ids(with_claims(request, {"x-ms-compliance-status": "azure-non-compliant"})) == {"SG-UNSEAL-103"}
	ids(json.remove(request, ["tee/claims/x-ms-compliance-status"])) == {"SG-UNSEAL-103"}
}

test_attestation_policy_hash_must_be_listed if {
	ids(with_claims(request, {"x-ms-policy-hash": "other"})) == {"SG-UNSEAL-104"}
	ids(json.remove(request, ["tee/claims/x-ms-policy-hash"])) == {"SG-UNSEAL-104"}
}

test_debuggable_or_unknown_debug_state_denies if {
	ids(with_claims(request, {"x-ms-sevsnpvm-is-debuggable": true})) == {"SG-UNSEAL-105"}
	ids(json.remove(request, ["tee/claims/x-ms-sevsnpvm-is-debuggable"])) == {"SG-UNSEAL-105"}
	tdx := with_claims(request, {"x-ms-attestation-type": "tdxvm", "tdx_td_attributes_debug": true})
	ids(tdx) == {"SG-UNSEAL-105"}
	ids(with_claims(request, {"x-ms-attestation-type": "tdxvm", "tdx_td_attributes_debug": false})) == set()
}

test_container_policy_must_be_listed_where_the_environment_lists_them if {
	ids(with_claims(request, {"x-ms-sevsnpvm-hostdata": "other"})) == {"SG-UNSEAL-106"}
	ids(json.remove(request, ["tee/claims/x-ms-sevsnpvm-hostdata"])) == {"SG-UNSEAL-106"}
}

test_runtime_key_is_required if {
	ids(object.union(request, {"tee": {"runtime_key": null}})) == {"SG-UNSEAL-107"}
	ids(json.remove(request, ["tee/runtime_key"])) == {"SG-UNSEAL-107"}
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
