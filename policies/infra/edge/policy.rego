# METADATA
# title: IoT Hub and Device Provisioning Service
# description: >-
#   Edge devices connect with Entra ID or X.509/TPM identities only (no shared access keys),
#   over TLS 1.2, through private endpoints.
# custom:
#   input: pulumi-plan
package sealgate.infra.edge

import rego.v1

hub if data.sealgate.lib.infra.is_type(input, "azure-native:iothub:IotHubResource")

dps if data.sealgate.lib.infra.is_type(input, "azure-native:deviceprovisioningservices:IotDpsResource")

edge_service if hub

edge_service if dps

props := object.get(data.sealgate.lib.infra.inputs(input), "properties", {})

# METADATA
# title: IoT Hub accepts shared access keys
# description: Local authentication (shared access policies, device and module SAS) is off.
# custom:
#   id: SG-AZ-080
#   severity: high
#   remediation: Set `properties.disableLocalAuth`, `disableDeviceSAS` and `disableModuleSAS` to true.
deny contains finding if {
	hub
	some flag in ["disableLocalAuth", "disableDeviceSAS", "disableModuleSAS"]
	object.get(props, flag, null) != true
	finding := data.sealgate.lib.infra.finding("SG-AZ-080", "high", sprintf("properties.%s is not true", [flag]), ["properties", flag])
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
	finding := data.sealgate.lib.infra.finding("SG-AZ-081", "high", sprintf("minimum TLS version is %v, not 1.2", [object.get(props, "minTlsVersion", null)]), ["properties", "minTlsVersion"])
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
	edge_service
	object.get(props, "publicNetworkAccess", null) != "Disabled"
	finding := data.sealgate.lib.infra.finding("SG-AZ-082", "high", sprintf("public network access is %v, not Disabled", [object.get(props, "publicNetworkAccess", null)]), ["properties", "publicNetworkAccess"])
}
