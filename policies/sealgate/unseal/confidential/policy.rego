# METADATA
# title: Confidential workloads (attestation token required)
# description: >-
#   An environment that requires a trusted execution environment releases a model's key only
#   to a workload that presents a Microsoft Azure Attestation token the key release service
#   verified itself (signature against the configured provider's keys, issuer, lifetime): the
#   TEE's type and compliance status, the attestation policy that issued the token, the
#   confidential container policy it runs (host data) and a runtime key that the data key is
#   wrapped to. Which environments require a TEE, and what they accept, lives in
#   policies/data/unseal.yaml (data.config.unseal.tee). A missing or unverified fact denies.
# entrypoint: true
# custom:
#   input: unseal
package sealgate.unseal.confidential

import rego.v1

as_object(value) := value if is_object(value)

as_object(value) := {} if not is_object(value)

config := as_object(object.get(as_object(object.get(data.config, "unseal", null)), "tee", null))

environment := object.get(input, "environment", null)

required := object.get(as_object(object.get(config, "environments", null)), environment, null)

# An environment listed under tee.environments requires a TEE unless it says exactly false.
requires_tee if {
	is_object(required)
	object.get(required, "require_tee", true) != false
}

tee := as_object(object.get(input, "tee", null))

verified if tee.verified == true

claims := as_object(object.get(tee, "claims", null))

# A confidential VM's token (azurevm) carries the TEE's own claims under x-ms-isolation-tee;
# a confidential container's token carries them at the top.
isolation := as_object(object.get(claims, "x-ms-isolation-tee", null)) if {
	object.get(claims, "x-ms-attestation-type", null) == "azurevm"
}

isolation := claims if object.get(claims, "x-ms-attestation-type", null) != "azurevm"

tee_type := object.get(isolation, "x-ms-attestation-type", null)

accepted(name) := list if {
	list := object.get(as_object(required), name, [])
	is_array(list)
}

accepted(name) := [] if not is_array(object.get(as_object(required), name, []))

# The lib helper under a short name (the embedded engine cannot call a function through an
# import alias).
finding(rule_id, msg, path) := data.sealgate.lib.findings.finding(rule_id, msg, path)

debug_claims := {"sevsnpvm": "x-ms-sevsnpvm-is-debuggable", "tdxvm": "tdx_td_attributes_debug"}

# METADATA
# title: Environment requires a verified attestation token
# description: >-
#   The environment releases keys only to confidential workloads; the request carried no
#   attestation token, or the service could not verify it (signature, issuer, lifetime,
#   runtime key), so nothing says the consumer runs in a TEE.
# custom:
#   id: SG-UNSEAL-101
#   severity: critical
#   waivable: false
#   remediation: >-
#     Run the workload in a confidential VM or container and send its attestation token from
#     a configured attestation provider (attestation_providers of keyserver.yaml) with the
#     release request.
deny contains finding(
	"SG-UNSEAL-101",
	sprintf(
		"environment %v requires a TEE: %v",
		[environment, object.get(tee, "problem", "no attestation token was presented")],
	),
	["tee", "verified"],
) if {
	requires_tee
	not verified
}

# METADATA
# title: TEE type is not accepted here
# description: >-
#   The attested TEE type (x-ms-attestation-type, or that of x-ms-isolation-tee for a
#   confidential VM) must be one the environment lists, such as sevsnpvm or tdxvm.
# custom:
#   id: SG-UNSEAL-102
#   severity: critical
#   remediation: Run the workload on an accepted TEE, or add the type to tee.environments.<env>.attestation_types.
deny contains finding(
	"SG-UNSEAL-102",
	sprintf("TEE type %v is not one of %v accepted in %v", [tee_type, accepted("attestation_types"), environment]),
	["tee", "claims", "x-ms-attestation-type"],
) if {
	requires_tee
	verified
	not tee_type in accepted("attestation_types")
}

# METADATA
# title: TEE is not compliant
# description: >-
#   The attestation provider's verdict on the TEE (x-ms-compliance-status, for example
#   azure-compliant-uvm for a confidential container's utility VM or azure-compliant-cvm for
#   a confidential VM) must be one the environment accepts.
# custom:
#   id: SG-UNSEAL-103
#   severity: critical
#   waivable: false
#   remediation: Redeploy the workload on a compliant confidential platform image.
deny contains finding(
	"SG-UNSEAL-103",
	sprintf(
		"TEE compliance status %v is not one of %v",
		[object.get(isolation, "x-ms-compliance-status", null), accepted("compliance_status")],
	),
	["tee", "claims", "x-ms-compliance-status"],
) if {
	requires_tee
	verified
	not object.get(isolation, "x-ms-compliance-status", null) in accepted("compliance_status")
}

# METADATA
# title: Attestation policy is not listed
# description: >-
#   The token names the hash of the attestation policy that issued it (x-ms-policy-hash); a
#   provider instance running another policy may vouch for anything, so only listed policy
#   hashes count.
# custom:
#   id: SG-UNSEAL-104
#   severity: critical
#   remediation: Add the hash of the reviewed attestation policy to tee.environments.<env>.policy_hashes.
deny contains finding(
	"SG-UNSEAL-104",
	sprintf(
		"attestation policy hash %v is not listed for %v",
		[object.get(claims, "x-ms-policy-hash", null), environment],
	),
	["tee", "claims", "x-ms-policy-hash"],
) if {
	requires_tee
	verified
	not object.get(claims, "x-ms-policy-hash", null) in accepted("policy_hashes")
}

# METADATA
# title: TEE is debuggable
# description: >-
#   A debuggable SEV-SNP guest or TDX trust domain lets its host read its memory; it is no
#   TEE for a model key. The debug claim must be present and false.
# custom:
#   id: SG-UNSEAL-105
#   severity: critical
#   waivable: false
#   remediation: Launch the confidential VM or container with debugging disabled.
deny contains finding(
	"SG-UNSEAL-105",
	sprintf("TEE claim %v is %v, not false", [claim, object.get(isolation, claim, null)]),
	["tee", "claims", claim],
) if {
	requires_tee
	verified
	claim := debug_claims[tee_type]
	object.get(isolation, claim, null) != false
}

# METADATA
# title: Confidential container policy is not listed
# description: >-
#   Where the environment lists host data (the SHA-256 digest of the confidential computing
#   enforcement policy that the SEV-SNP hardware reports as x-ms-sevsnpvm-hostdata), an
#   SEV-SNP TEE must report one of them: the same hardware with another container policy
#   can run anything.
# custom:
#   id: SG-UNSEAL-106
#   severity: critical
#   remediation: Deploy the reviewed container group policy, or list its digest in tee.environments.<env>.host_data.
deny contains finding(
	"SG-UNSEAL-106",
	sprintf(
		"SEV-SNP host data %v is not a listed container policy for %v",
		[object.get(isolation, "x-ms-sevsnpvm-hostdata", null), environment],
	),
	["tee", "claims", "x-ms-sevsnpvm-hostdata"],
) if {
	requires_tee
	verified
	tee_type == "sevsnpvm"
	count(accepted("host_data")) > 0
	not object.get(isolation, "x-ms-sevsnpvm-hostdata", null) in accepted("host_data")
}

# METADATA
# title: Attestation token binds no runtime key
# description: >-
#   The data key is wrapped to the key the TEE bound into its attestation (x-ms-runtime.keys);
#   without one it would be wrapped to a key the caller sent, and a replayed token would
#   release the key outside the TEE.
# custom:
#   id: SG-UNSEAL-107
#   severity: critical
#   waivable: false
#   remediation: >-
#     Attest with the runtime key of the workload (runtime data of the attestation request), so the
#     token carries it.
deny contains finding(
	"SG-UNSEAL-107",
	"the attestation token binds no runtime key to release the data key to",
	["tee", "runtime_key"],
) if {
	requires_tee
	verified
	not is_object(object.get(tee, "runtime_key", null))
}
