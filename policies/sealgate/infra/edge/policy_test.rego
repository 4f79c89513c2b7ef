package sealgate.infra.edge_test

import rego.v1

import data.sealgate.infra.edge

ids contains f.id if some f in edge.deny

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

test_hardened_hub_passes if count(ids) == 0 with input as hub({})

test_hub_weakenings if {
	ids == {"SG-AZ-080"} with input as hub({"disableLocalAuth": false})
	ids == {"SG-AZ-080"} with input as json.remove(hub({}), ["inputs/properties/disableModuleSAS"])
}

# Device SAS off leaves X.509 only: DPS TPM-attested devices (SAS tokens signed in the TPM)
# could no longer connect; unset is the service default, checked as not verifiable.
test_device_sas_stays_on_for_tpm_devices if {
	ids == {"SG-AZ-083"} with input as hub({"disableDeviceSAS": true})
	ids == {"SG-AZ-083"} with input as json.remove(hub({}), ["inputs/properties/disableDeviceSAS"])
	ids == {"SG-AZ-081"} with input as json.remove(hub({}), ["inputs/properties/minTlsVersion"])
	ids == {"SG-AZ-082"} with input as hub({"publicNetworkAccess": "Enabled"})
}

test_dps_network if {
	ids == {"SG-AZ-082"} with input as {
		"type": "azure-native:deviceprovisioningservices:IotDpsResource",
		"inputs": {"properties": {}},
	}
	count(ids) == 0 with input as {
		"type": "azure-native:deviceprovisioningservices:IotDpsResource",
		"inputs": {"properties": {"publicNetworkAccess": "Disabled"}},
	}
}
