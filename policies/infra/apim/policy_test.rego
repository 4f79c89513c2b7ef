package sealgate.infra.apim_test

import rego.v1

import data.sealgate.infra.apim

# Element trees as the gate parses policy XML (inputs._parsed).
el(tag, attributes, children) := {"tag": tag, "attributes": attributes, "text": "", "children": children}

jwt := el("validate-jwt", {"header-name": "Authorization"}, [el("openid-config", {"url": "https://login.microsoftonline.com/t/v2.0/.well-known/openid-configuration"}, [])])

rate_limit := el("rate-limit-by-key", {"calls": "60", "renewal-period": "60", "counter-key": "k"}, [])

quota := el("quota-by-key", {"calls": "1000", "renewal-period": "86400", "counter-key": "k"}, [])

schema := el("content", {"type": "application/json", "validate-as": "json", "action": "prevent", "schema-id": "inference-request"}, [])

validate := el("validate-content", {"max-size": "1048576", "size-exceeded-action": "prevent"}, [schema])

controls := [el("base", {}, []), jwt, rate_limit, quota, validate]

policies(inbound) := el("policies", {}, [el("inbound", {}, inbound), el("backend", {}, [el("base", {}, [])])])

api_policy(tree) := {"type": "azure-native:apimanagement:ApiPolicy", "inputs": {"value": "(xml)", "format": "rawxml", "_parsed": tree}}

ids(doc) := {f.id | some f in apim.deny with input as doc}

without(tag) := [c | some c in controls; c.tag != tag]

test_complete_policy_passes if count(ids(api_policy(policies(controls)))) == 0

test_each_missing_control_denied if {
	ids(api_policy(policies(without("validate-jwt")))) == {"SG-AZ-051"}
	ids(api_policy(policies(without("rate-limit-by-key")))) == {"SG-AZ-052"}
	ids(api_policy(policies(without("quota-by-key")))) == {"SG-AZ-053"}
	ids(api_policy(policies(array.concat(without("quota-by-key"), [el("quota", {"calls": "9"}, [])])))) == set()
}

test_weak_controls_denied if {
	ignore := object.union(validate, {"attributes": {"size-exceeded-action": "ignore"}})
	ids(api_policy(policies(array.concat(without("validate-content"), [ignore])))) == {"SG-AZ-054"}
	detect := object.union(validate, {"children": [object.union(schema, {"attributes": {"action": "detect"}})]})
	ids(api_policy(policies(array.concat(without("validate-content"), [detect])))) == {"SG-AZ-055"}
	other_issuer := el("validate-jwt", {}, [el("openid-config", {"url": "https://issuer.example/.well-known/openid-configuration"}, [])])
	ids(api_policy(policies(array.concat(without("validate-jwt"), [other_issuer])))) == {"SG-AZ-051"}
}

test_controls_count_only_directly_in_inbound if {
	conditional := el("choose", {}, [el("when", {"condition": "@(true)"}, [jwt])])
	ids(api_policy(policies(array.concat(without("validate-jwt"), [conditional])))) == {"SG-AZ-051"}
	outbound := el("policies", {}, [el("inbound", {}, without("validate-jwt")), el("outbound", {}, [jwt])])
	ids(api_policy(outbound)) == {"SG-AZ-051"}
}

test_unparsed_policy_fails_every_control if {
	doc := {"type": "azure-native:apimanagement:ApiPolicy", "inputs": {"value": "<policies>", "_parsed": null, "_parse_error": "the policy is not well-formed XML"}}
	ids(doc) == {"SG-AZ-051", "SG-AZ-052", "SG-AZ-053", "SG-AZ-054", "SG-AZ-055"}
	msgs := {f.msg | some f in apim.deny with input as doc}
	"the API policy cannot be checked: the policy is not well-formed XML" in msgs
	count(ids({"type": "azure-native:apimanagement:ApiPolicy", "inputs": {"value": "<policies/>"}})) == 5
}

api := {"type": "azure-native:apimanagement:Api", "urn": "urn:api", "name": "inference", "parent": "urn:apim", "inputs": {}}

policy_resource := {"type": "azure-native:apimanagement:ApiPolicy", "urn": "urn:pol", "name": "pol", "parent": "urn:api", "inputs": {}}

test_every_api_has_a_policy if {
	count(ids({"type": "pulumi:plan", "resources": [api, policy_resource]})) == 0
	findings := apim.deny with input as {"type": "pulumi:plan", "resources": [api], "deleted": [policy_resource]}
	{[f.id, f.path] | some f in findings} == {["SG-AZ-051", ["resources", 0]]}
	[f.msg | some f in findings] == ["API inference has no API policy (no token validation, rate limit, quota or body checks) (this change deletes pol)"]
}

test_service_network if {
	service := {"type": "azure-native:apimanagement:ApiManagementService", "inputs": {"publicNetworkAccess": "Disabled", "virtualNetworkType": "None"}}
	count(ids(service)) == 0
	ids(json.remove(service, ["inputs/publicNetworkAccess"])) == {"SG-AZ-050"}
	ids(object.union(service, {"inputs": {"virtualNetworkType": "External"}})) == {"SG-AZ-050"}
}
