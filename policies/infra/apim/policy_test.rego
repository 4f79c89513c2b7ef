package sealgate.infra.apim_test

import rego.v1

import data.sealgate.infra.apim

xml := concat("\n", [
	"<policies><inbound><base />",
	`<validate-jwt header-name="Authorization"><openid-config url="https://login.microsoftonline.com/t/v2.0/.well-known/openid-configuration" /></validate-jwt>`,
	`<rate-limit-by-key calls="60" renewal-period="60" counter-key="k" />`,
	`<quota-by-key calls="1000" renewal-period="86400" counter-key="k" />`,
	`<validate-content unspecified-content-type-action="prevent" max-size="1048576" size-exceeded-action="prevent">`,
	`<content type="application/json" validate-as="json" action="prevent" schema-id="inference-request" />`,
	"</validate-content></inbound></policies>",
])

api_policy(value) := {"type": "azure-native:apimanagement:ApiPolicy", "inputs": {"value": value, "format": "rawxml"}}

ids(doc) := {f.id | some f in apim.deny with input as doc}

test_complete_policy_passes if count(ids(api_policy(xml))) == 0

test_each_missing_element_denied if {
	ids(api_policy(replace(xml, "validate-jwt", "check-header"))) == {"SG-AZ-051"}
	ids(api_policy(replace(xml, "rate-limit-by-key", "rate-limit"))) == {"SG-AZ-052"}
	ids(api_policy(replace(xml, "quota-by-key", "set-variable"))) == {"SG-AZ-053"}
	ids(api_policy(replace(xml, `size-exceeded-action="prevent"`, `size-exceeded-action="ignore"`))) == {"SG-AZ-054"}
	ids(api_policy(replace(xml, `action="prevent" schema-id`, `action="detect" schema-id`))) == {"SG-AZ-055"}
	count(ids(api_policy(""))) == 5
}

test_service_network if {
	service := {"type": "azure-native:apimanagement:ApiManagementService", "inputs": {"publicNetworkAccess": "Disabled", "virtualNetworkType": "None"}}
	count(ids(service)) == 0
	ids(json.remove(service, ["inputs/publicNetworkAccess"])) == {"SG-AZ-050"}
	ids(object.union(service, {"inputs": {"virtualNetworkType": "External"}})) == {"SG-AZ-050"}
}
