package sealgate.infra.apim_test

import rego.v1

import data.sealgate.infra.apim

# Element trees as the gate parses policy XML (inputs._parsed).
el(tag, attributes, children) := {"tag": tag, "attributes": attributes, "text": "", "children": children}

entra_config := "https://login.microsoftonline.com/t/v2.0/.well-known/openid-configuration"

jwt := el("validate-jwt", {"header-name": "Authorization"}, [el("openid-config", {"url": entra_config}, [])])

rate_limit := el("rate-limit-by-key", {"calls": "60", "renewal-period": "60", "counter-key": "k"}, [])

quota := el("quota-by-key", {"calls": "1000", "renewal-period": "86400", "counter-key": "k"}, [])

schema := el(
	"content",
	{"type": "application/json", "validate-as": "json", "action": "prevent", "schema-id": "inference-request"},
	[],
)

validate := el("validate-content", {"max-size": "1048576", "size-exceeded-action": "prevent"}, [schema])

controls := [el("base", {}, []), jwt, rate_limit, quota, validate]

policies(inbound) := el("policies", {}, [el("inbound", {}, inbound), el("backend", {}, [el("base", {}, [])])])

api_policy(tree) := {
	"type": "azure-native:apimanagement:ApiPolicy",
	"inputs": {"value": "(xml)", "format": "rawxml", "_parsed": tree},
}

ids contains f.id if some f in apim.deny

without(tag) := [c | some c in controls; c.tag != tag]

test_complete_policy_passes if count(ids) == 0 with input as api_policy(policies(controls))

test_each_missing_control_denied if {
	ids == {"SG-AZ-051"} with input as api_policy(policies(without("validate-jwt")))
	ids == {"SG-AZ-052"} with input as api_policy(policies(without("rate-limit-by-key")))
	ids == {"SG-AZ-053"} with input as api_policy(policies(without("quota-by-key")))
	plain_quota := array.concat(without("quota-by-key"), [el("quota", {"calls": "9"}, [])])
	ids == set() with input as api_policy(policies(plain_quota))
}

test_weak_controls_denied if {
	ignore := object.union(validate, {"attributes": {"size-exceeded-action": "ignore"}})
	ids == {"SG-AZ-054"} with input as api_policy(policies(array.concat(without("validate-content"), [ignore])))
	detect := object.union(validate, {"children": [object.union(schema, {"attributes": {"action": "detect"}})]})
	ids == {"SG-AZ-055"} with input as api_policy(policies(array.concat(without("validate-content"), [detect])))
	other_config := el("openid-config", {"url": "https://issuer.example/.well-known/openid-configuration"}, [])
	other_issuer := el("validate-jwt", {}, [other_config])
	ids == {"SG-AZ-051"} with input as api_policy(policies(array.concat(without("validate-jwt"), [other_issuer])))
}

test_controls_count_only_directly_in_inbound if {
	conditional := el("choose", {}, [el("when", {"condition": "@(true)"}, [jwt])])
	ids == {"SG-AZ-051"} with input as api_policy(policies(array.concat(without("validate-jwt"), [conditional])))
	outbound := el("policies", {}, [el("inbound", {}, without("validate-jwt")), el("outbound", {}, [jwt])])
	ids == {"SG-AZ-051"} with input as api_policy(outbound)
}

test_unparsed_policy_fails_every_control if {
	doc := {
		"type": "azure-native:apimanagement:ApiPolicy",
		"inputs": {"value": "<policies>", "_parsed": null, "_parse_error": "the policy is not well-formed XML"},
	}
	ids == {"SG-AZ-051", "SG-AZ-052", "SG-AZ-053", "SG-AZ-054", "SG-AZ-055"} with input as doc
	findings := apim.deny with input as doc
	"the API policy cannot be checked: the policy is not well-formed XML" in {f.msg | some f in findings}
	count(ids) == 5 with input as {"type": "azure-native:apimanagement:ApiPolicy", "inputs": {"value": "<policies/>"}}
}

api := {
	"type": "azure-native:apimanagement:Api",
	"urn": "urn:api",
	"name": "inference",
	"parent": "urn:apim",
	"inputs": {},
}

policy_resource := {
	"type": "azure-native:apimanagement:ApiPolicy",
	"urn": "urn:pol",
	"name": "pol",
	"parent": "urn:api",
	"inputs": {},
}

test_every_api_has_a_policy if {
	count(ids) == 0 with input as {"type": "pulumi:plan", "resources": [api, policy_resource]}
	findings := apim.deny with input as {"type": "pulumi:plan", "resources": [api], "deleted": [policy_resource]}
	{[f.id, f.path] | some f in findings} == {["SG-AZ-051", ["resources", 0]]}
	[f.msg | some f in findings] == [concat(" ", [
		"API inference has no API policy (no token validation, rate limit, quota or body checks)",
		"(this change deletes pol)",
	])]
}

test_service_network if {
	subnet := "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/apim"
	service := {"type": "azure-native:apimanagement:ApiManagementService", "inputs": {
		"publicNetworkAccess": "Enabled",
		"virtualNetworkType": "Internal",
		"virtualNetworkConfiguration": {"subnetResourceId": subnet},
	}}
	count(ids) == 0 with input as service
	ids == {"SG-AZ-050"} with input as json.remove(service, ["inputs/virtualNetworkType"])
	ids == {"SG-AZ-050"} with input as json.remove(service, ["inputs/virtualNetworkConfiguration"])
	ids == {"SG-AZ-050"} with input as object.union(service, {"inputs": {"virtualNetworkType": "External"}})
	ids == {"SG-AZ-050"} with input as object.union(service, {"inputs": {"virtualNetworkType": "None"}})
}
