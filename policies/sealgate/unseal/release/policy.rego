# METADATA
# title: Unseal authorization (key release)
# description: >-
#   May this consumer unseal this exact model in this environment? `sealgate unseal` asks
#   before any data key is unwrapped. Every fact was established by Python: the model's
#   signature and digest (seal.json), the consumer's identity (a workload's token claims, a
#   device's TPM key), a TPM quote verified against the enrolled attestation key with a fresh
#   nonce, and the registry stages where this digest is the current pointer. Who may unseal,
#   golden PCR values and revocations live in policies/data/unseal.yaml
#   (data.config.unseal). A missing fact denies.
# entrypoint: true
# custom:
#   input: unseal
package sealgate.unseal.release

import rego.v1

as_object(value) := value if is_object(value)

as_object(value) := {} if not is_object(value)

config := as_object(object.get(data.config, "unseal", null))

model := as_object(object.get(input, "model", null))

consumer := as_object(object.get(input, "consumer", null))

consumer_type := object.get(consumer, "type", null)

environment := object.get(input, "environment", null)

environment_config := object.get(as_object(object.get(config, "environments", null)), environment, null)

attestation := object.get(input, "attestation", null)

# The attestation facts, or {} when there are none (every check below then denies).
quoted := as_object(attestation)

as_array(value) := value if is_array(value)

as_array(value) := [] if not is_array(value)

devices := as_array(object.get(config, "devices", null))

workloads := as_array(object.get(config, "workloads", null))

keys := as_array(object.get(config, "keys", null))

revoked := as_object(object.get(config, "revoked", null))

revoked_list(name) := as_array(object.get(revoked, name, []))

# The release service reports a device as {"type": "device", "id", "class", "enrolled"};
# the in-process TPM identity (development) as {"type": "device", "device_id"}.
device_id := object.get(consumer, "id", object.get(consumer, "device_id", null))

# Devices the service enrolled (credential activation) count as enrolled with the class
# recorded at enrolment; devices listed in data are enrolled too (by id).
listed_devices := [d | some d in devices; d.id == device_id]

default service_enrolled := []

service_enrolled := [{
	"id": device_id,
	"class": object.get(consumer, "class", null),
	"ak_key_id": object.get(quoted, "ak_key_id", null),
}] if {
	object.get(consumer, "enrolled", false) == true
}

default enrolled := []

enrolled := listed_devices if count(listed_devices) > 0

enrolled := service_enrolled if count(listed_devices) == 0

# The lib helper under a short name (the embedded engine cannot call a function through an
# import alias).
finding(rule_id, msg, path) := data.sealgate.lib.findings.finding(rule_id, msg, path)

nonempty_string(value) if {
	is_string(value)
	value != ""
}

listed(list, value) if {
	is_array(list)
	value in list
}

golden_pcrs(device) := pcrs if {
	classes := as_object(object.get(config, "device_classes", null))
	pcrs := object.get(as_object(object.get(classes, object.get(device, "class", ""), null)), "golden_pcrs", null)
	is_object(pcrs)
	count(pcrs) > 0
}

stages := object.get(as_object(object.get(input, "registry", null)), "stages", [])

grants := devices if consumer_type == "device"

grants := workloads if consumer_type == "workload"

grants := keys if consumer_type == "key"

matches(grant) if {
	consumer_type == "device"
	grant.id == device_id
}

# A grant for a device class (no id) covers every enrolled device of that class.
matches(grant) if {
	consumer_type == "device"
	not "id" in object.keys(grant)
	nonempty_string(object.get(grant, "class", null))
	some device in enrolled
	grant.class == object.get(device, "class", null)
}

matches(grant) if {
	consumer_type == "key"
	grant.key_id == object.get(consumer, "key_id", null)
}

# A workload grant names its tenant (Entra ID) or its token issuer (the AKS OIDC issuer), and
# at least one of object id, client id, subject; every field it names must match.
matches(grant) if {
	consumer_type == "workload"
	anchors := [field | some field in ["tenant_id", "issuer"]; nonempty_string(object.get(grant, field, null))]
	count(anchors) > 0
	named := [field | some field in ["object_id", "client_id", "subject"]; nonempty_string(object.get(grant, field, null))]
	count(named) > 0
	every field in array.concat(anchors, named) {
		grant[field] == object.get(consumer, field, null)
	}
}

allowed if {
	some grant in grants
	matches(grant)
	listed(object.get(grant, "environments", []), environment)
	listed(object.get(grant, "models", []), object.get(model, "name", null))
}

pointer := object.get(as_object(object.get(input, "registry", null)), "pointer", null)

# METADATA
# title: Unseal request lacks a required fact
# description: >-
#   The model's name, version and digest, the signer's key id, the environment and the
#   consumer's type are required; without them nothing can be decided, so the request is
#   denied.
# custom:
#   id: SG-UNSEAL-001
#   severity: critical
#   waivable: false
#   remediation: >-
#     Run the unseal through `sealgate unseal`, which establishes these facts; a request built
#     by hand is not a fact.
deny contains finding("SG-UNSEAL-001", sprintf("required fact %s is missing", [concat(".", path)]), path) if {
	some path in [["model", "name"], ["model", "version"], ["model", "digest"], ["environment"]]
	not nonempty_string(object.get(input, path, null))
}

deny contains finding(
	"SG-UNSEAL-001",
	"required fact model.signer.key_id is missing",
	["model", "signer", "key_id"],
) if {
	not nonempty_string(object.get(input, ["model", "signer", "key_id"], null))
}

deny contains finding(
	"SG-UNSEAL-001",
	sprintf("consumer type %v is not one of workload, device, key", [consumer_type]),
	["consumer", "type"],
) if {
	not consumer_type in {"workload", "device", "key"}
}

# METADATA
# title: Environment is not configured for unsealing
# description: >-
#   Only environments listed in data.config.unseal.environments, each mapped to the registry stage
#   it serves, may unseal.
# custom:
#   id: SG-UNSEAL-002
#   severity: high
#   remediation: Add the environment and its stage to policies/data/unseal.yaml, or pass the right --environment.
deny contains finding(
	"SG-UNSEAL-002",
	sprintf("environment %v is not configured in unseal data", [environment]),
	["environment"],
) if {
	nonempty_string(environment)
	not is_object(environment_config)
}

# METADATA
# title: Unknown device
# description: >-
#   The device's key id is not among the enrolled devices, so neither its identity nor its golden
#   state is known.
# custom:
#   id: SG-UNSEAL-003
#   severity: critical
#   remediation: >-
#     Enrol the device (sealgate device enroll) and add its id, class and AK key id to
#     data.config.unseal.devices.
deny contains finding(
	"SG-UNSEAL-003",
	sprintf("device %v is not enrolled", [device_id]),
	["consumer", "device_id"],
) if {
	consumer_type == "device"
	count(enrolled) == 0
}

# METADATA
# title: Revoked device
# description: The device is on the revocation list; it may not unseal any model.
# custom:
#   id: SG-UNSEAL-004
#   severity: critical
#   waivable: false
#   remediation: Re-enrol a replacement device; a revoked device id is never reinstated.
deny contains finding("SG-UNSEAL-004", sprintf("device %v is revoked", [device_id]), ["consumer", "device_id"]) if {
	consumer_type == "device"
	listed(revoked_list("devices"), device_id)
}

# METADATA
# title: Device attestation did not verify
# description: >-
#   A device must present a TPM quote whose signature verifies with its enrolled attestation
#   key (the AK key id recorded at enrolment) and whose PCR digest matches the values read.
# custom:
#   id: SG-UNSEAL-005
#   severity: critical
#   waivable: false
#   remediation: Check the device's TPM and enrolment; the reasons from the quote check are in the message.
deny contains finding(
	"SG-UNSEAL-005",
	sprintf("attestation of device %v did not verify: %v", [device_id, object.get(quoted, "problems", [])]),
	["attestation", "verified"],
) if {
	consumer_type == "device"
	object.get(quoted, "verified", false) != true
}

deny contains finding(
	"SG-UNSEAL-005",
	sprintf("quote of device %v is for device %v", [device_id, attestation.device_id]),
	["attestation", "device_id"],
) if {
	consumer_type == "device"
	is_object(attestation)
	object.get(attestation, "device_id", null) != device_id
}

deny contains finding(
	"SG-UNSEAL-005",
	sprintf(
		"quote of device %v is signed by AK %v, not the enrolled AK",
		[device_id, object.get(attestation, "ak_key_id", null)],
	),
	["attestation", "ak_key_id"],
) if {
	consumer_type == "device"
	is_object(attestation)
	some device in enrolled
	object.get(attestation, "ak_key_id", null) != object.get(device, "ak_key_id", "")
}

# METADATA
# title: Stale attestation nonce
# description: >-
#   The quote must carry the nonce created for this request; an old quote replayed proves nothing
#   about the device now.
# custom:
#   id: SG-UNSEAL-006
#   severity: critical
#   waivable: false
#   remediation: Retry; if it persists, the device is replaying quotes.
deny contains finding(
	"SG-UNSEAL-006",
	sprintf("quote of device %v does not carry a fresh nonce", [device_id]),
	["attestation", "nonce_fresh"],
) if {
	consumer_type == "device"
	object.get(quoted, "nonce_fresh", false) != true
}

# METADATA
# title: Device state differs from the golden PCR values
# description: >-
#   Every PCR of the device's class golden values must equal the attested value (and the
#   attestation must have quoted the configured bank); a changed boot chain or a PCR extended
#   since boot is a different state.
# custom:
#   id: SG-UNSEAL-007
#   severity: critical
#   remediation: >-
#     If the new state is expected (an update), add its measured values to the device class in
#     policies/data/unseal.yaml.
deny contains finding(
	"SG-UNSEAL-007",
	sprintf(
		"PCR %s of device %v is %v, expected %s",
		[pcr, device_id, object.get(as_object(object.get(quoted, "pcrs", null)), pcr, "(not quoted)"), golden],
	),
	["attestation", "pcrs", pcr],
) if {
	consumer_type == "device"
	is_object(attestation)
	some device in enrolled
	some pcr, golden in golden_pcrs(device)
	object.get(as_object(object.get(quoted, "pcrs", null)), pcr, null) != golden
}

deny contains finding(
	"SG-UNSEAL-007",
	sprintf("device class %v of device %v has no golden PCR values", [object.get(device, "class", null), device_id]),
	["consumer", "device_id"],
) if {
	consumer_type == "device"
	some device in enrolled
	not golden_pcrs(device)
}

deny contains finding(
	"SG-UNSEAL-007",
	sprintf(
		"attested PCR bank %v is not %v",
		[
			object.get(attestation, "pcr_bank", null),
			object.get(as_object(object.get(config, "attestation", null)), "pcr_bank", "sha256"),
		],
	),
	["attestation", "pcr_bank"],
) if {
	consumer_type == "device"
	is_object(attestation)
	object.get(
		attestation,
		"pcr_bank",
		null,
	) != object.get(as_object(object.get(config, "attestation", null)), "pcr_bank", "sha256")
}

# METADATA
# title: Model is not promoted to the environment's stage
# description: >-
#   An environment unseals only the model digest that is the current pointer of its registry
#   stage; a model that was never promoted there, or has since been replaced, is refused.
# custom:
#   id: SG-UNSEAL-008
#   severity: high
#   remediation: >-
#     Promote this exact sealed model to the stage (sealgate promote), or unseal the one that is
#     current there.
deny contains finding(
	"SG-UNSEAL-008",
	sprintf(
		"%v %v (%v) is not the current model of stage %v (current in: %v)",
		[
			object.get(model, "name", null),
			object.get(model, "version", null),
			object.get(model, "digest", null),
			object.get(environment_config, "stage", null),
			stages,
		],
	),
	["registry", "stages"],
) if {
	is_object(environment_config)
	not listed(stages, object.get(environment_config, "stage", null))
}

# METADATA
# title: Consumer is not allowed to unseal this model here
# description: >-
#   A workload identity (tenant and object/client id or subject), an enrolled device or a
#   local key may unseal only the models and environments data.config.unseal grants it.
# custom:
#   id: SG-UNSEAL-009
#   severity: high
#   remediation: >-
#     Grant the identity this model and environment in policies/data/unseal.yaml (reviewed like any
#     policy change).
deny contains finding(
	"SG-UNSEAL-009",
	sprintf(
		"%v %v may not unseal %v in %v",
		[
			consumer_type,
			object.get(consumer, "device_id", object.get(consumer, "object_id", object.get(consumer, "key_id", null))),
			object.get(model, "name", null),
			environment,
		],
	),
	["consumer"],
) if {
	consumer_type in {"workload", "device", "key"}
	not allowed
}

# METADATA
# title: Signer key is revoked
# description: A model signed by a revoked key is not released, even if the trust file still lists it.
# custom:
#   id: SG-UNSEAL-010
#   severity: critical
#   waivable: false
#   remediation: Re-sign the model with a current key and promote it again.
deny contains finding(
	"SG-UNSEAL-010",
	sprintf("signer key %v is revoked", [model.signer.key_id]),
	["model", "signer", "key_id"],
) if {
	listed(revoked_list("signer_key_ids"), object.get(input, ["model", "signer", "key_id"], null))
}

# METADATA
# title: Workload identity is revoked
# description: A revoked workload identity (object id, client id or subject) may not unseal any model.
# custom:
#   id: SG-UNSEAL-011
#   severity: critical
#   waivable: false
#   remediation: Use a new identity for the workload and grant it.
deny contains finding("SG-UNSEAL-011", sprintf("workload identity %v is revoked", [value]), ["consumer", field]) if {
	consumer_type == "workload"
	some field in ["object_id", "client_id", "subject"]
	value := object.get(consumer, field, null)
	listed(revoked_list("workloads"), value)
}

# METADATA
# title: Stage pointer is not signed, or older than one already seen
# description: >-
#   The release service reads the environment's stage pointer through its signature (a gate
#   key), checks it is the latest allow for its stage and model in the audit log, and
#   compares its counter with the highest it has seen for that model and stage. A pointer
#   that does not verify (unsigned, forged, of another registry, not the latest allow), or
#   that is older than one seen before (a copied-back old pointer), releases nothing; there
#   is no switch that accepts unsigned pointers.
# custom:
#   id: SG-UNSEAL-012
#   severity: critical
#   waivable: false
#   remediation: >-
#     Promote the model again through the gate (it signs the pointer with a new counter); a
#     rolled-back pointer means someone rewrote registry storage: investigate.
deny contains finding(
	"SG-UNSEAL-012",
	sprintf(
		"the %v pointer of %v is older than one already seen (counter %v, seen %v)",
		[pointer.stage, object.get(model, "name", null), pointer.counter, pointer.high_water],
	),
	["registry", "pointer", "rolled_back"],
) if {
	is_object(pointer)
	pointer.rolled_back == true
}

deny contains finding(
	"SG-UNSEAL-012",
	sprintf(
		"the %v pointer of %v is not verified: %v",
		[pointer.stage, object.get(model, "name", null), object.get(pointer, "problems", [])],
	),
	["registry", "pointer", "verified"],
) if {
	is_object(pointer)
	object.get(pointer, "verified", false) != true
}

# METADATA
# title: Device is not enrolled with the release service
# description: >-
#   A device that the release service reports as not enrolled (no credential activation, or
#   an enrolment that never finished) is unknown, whatever data lists it.
# custom:
#   id: SG-UNSEAL-013
#   severity: critical
#   waivable: false
#   remediation: Enrol the device through the release service (sealgate device enroll --keyserver URL).
deny contains finding(
	"SG-UNSEAL-013",
	sprintf("device %v is not enrolled with the release service", [device_id]),
	["consumer", "enrolled"],
) if {
	consumer_type == "device"
	"enrolled" in object.keys(consumer)
	consumer.enrolled != true
}
