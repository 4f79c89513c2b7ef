# METADATA
# title: IoT Hub and Device Provisioning Service
# description: >-
#   Edge devices connect with X.509 or TPM-attested identities (device SAS tokens signed in the
#   TPM), never with hub-wide shared access keys,
#   over TLS 1.2, through private endpoints.
# custom:
#   input: pulumi-plan
package sealgate.infra.edge

import rego.v1

hub if data.sealgate.lib.infra.is_type(input, "azure-native:iothub:IotHubResource")

dps if data.sealgate.lib.infra.is_type(input, "azure-native:deviceprovisioningservices:IotDpsResource")

iot_service if hub

iot_service if dps

props := object.get(data.sealgate.lib.infra.inputs(input), "properties", {})

# METADATA
# title: IoT Hub accepts shared access keys
# description: >-
#   Hub-wide shared access policies and module SAS are off. Device-scoped SAS stays on: a
#   device that DPS provisioned through TPM attestation signs SAS tokens with the key DPS
#   imported into its TPM (SG-AZ-083).
# custom:
#   id: SG-AZ-080
#   severity: high
#   remediation: Set `properties.disableLocalAuth` and `properties.disableModuleSAS` to true.
deny contains finding if {
	hub
	some flag in ["disableLocalAuth", "disableModuleSAS"]
	object.get(props, flag, null) != true
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-080",
		sprintf("properties.%s is not true", [flag]),
		["properties", flag],
	)
}

# METADATA
# title: IoT Hub refuses TPM-attested devices
# description: >-
#   `disableDeviceSAS: true` leaves X.509 as the only device authentication
#   (https://learn.microsoft.com/azure/iot-hub/authenticate-authorize-sas), while a device
#   provisioned by DPS with TPM attestation connects to IoT Hub with SAS tokens signed by the
#   key held in its TPM (https://learn.microsoft.com/azure/iot-dps/concepts-tpm-attestation).
# custom:
#   id: SG-AZ-083
#   severity: high
#   remediation: >-
#     Set `properties.disableDeviceSAS` to false (hub-wide keys stay off with `disableLocalAuth`).
deny contains finding if {
	hub
	object.get(props, "disableDeviceSAS", null) != false
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-083",
		sprintf(
			concat(" ", [
				"properties.disableDeviceSAS is %v: TPM-attested devices cannot authenticate",
				"(they sign device SAS tokens with their TPM)",
			]),
			[object.get(props, "disableDeviceSAS", null)],
		),
		["properties", "disableDeviceSAS"],
	)
}

# METADATA
# title: IoT Hub accepts old TLS
# description: Devices connect with TLS 1.2 or later.
# custom:
#   id: SG-AZ-081
#   severity: high
#   remediation: >-
#     Set `properties.minTlsVersion: "1.2"`.
deny contains finding if {
	hub
	object.get(props, "minTlsVersion", null) != "1.2"
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-081",
		sprintf("minimum TLS version is %v, not 1.2", [object.get(props, "minTlsVersion", null)]),
		["properties", "minTlsVersion"],
	)
}

# METADATA
# title: Edge service reachable from public networks
# description: IoT Hub and DPS are reached through private endpoints only.
# custom:
#   id: SG-AZ-082
#   severity: high
#   remediation: >-
#     Set `properties.publicNetworkAccess: Disabled`.
deny contains finding if {
	iot_service
	object.get(props, "publicNetworkAccess", null) != "Disabled"
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-082",
		sprintf("public network access is %v, not Disabled", [object.get(props, "publicNetworkAccess", null)]),
		["properties", "publicNetworkAccess"],
	)
}
