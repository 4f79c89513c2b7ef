package sealgate.infra.edge_test

import rego.v1

import data.sealgate.infra.edge

ids(doc) := {f.id | some f in edge.deny with input as doc}

hub(props) := {"type": "azure-native:iothub:IotHubResource", "inputs": {"properties": object.union(
	{
		"disableLocalAuth": true,
		"disableDeviceSAS": false,
		"disableModuleSAS": true,
		"minTlsVersion": "1.2",
		"publicNetworkAccess": "Disabled",
	},
	props,
)}}

test_hardened_hub_passes if count(ids(hub({}))) == 0

test_hub_weakenings if {
	ids(hub({"disableLocalAuth": false})) == {"SG-AZ-080"}
	ids(json.remove(hub({}), ["inputs/properties/disableModuleSAS"])) == {"SG-AZ-080"}
}

# Device SAS off leaves X.509 only: DPS TPM-attested devices (SAS tokens signed in the TPM)
# could no longer connect; unset is the service default, checked as not verifiable.
test_device_sas_stays_on_for_tpm_devices if {
	ids(hub({"disableDeviceSAS": true})) == {"SG-AZ-083"}
	ids(json.remove(hub({}), ["inputs/properties/disableDeviceSAS"])) == {"SG-AZ-083"}
	ids(json.remove(hub({}), ["inputs/properties/minTlsVersion"])) == {"SG-AZ-081"}
	ids(hub({"publicNetworkAccess": "Enabled"})) == {"SG-AZ-082"}
}

test_dps_network if {
	ids({"type": "azure-native:deviceprovisioningservices:IotDpsResource", "inputs": {"properties": {}}}) == {"SG-AZ-082"}
	count(ids({
		"type": "azure-native:deviceprovisioningservices:IotDpsResource",
		"inputs": {"properties": {"publicNetworkAccess": "Disabled"}},
	})) == 0
}
