# METADATA
# title: API Management
# description: >-
#   Inference requests reach model servers through an API Management service injected in the
#   VNet (Internal mode) whose API policy validates Entra ID tokens, limits the rate and quota
#   per caller, bounds the request size and validates the body against the inference request
#   JSON schema. The rules read the policy XML as the gate parsed it, never as text.
# custom:
#   input: pulumi-plan
package sealgate.infra.apim

import rego.v1

service if data.sealgate.lib.infra.is_type(input, "azure-native:apimanagement:ApiManagementService")

api_policy if data.sealgate.lib.infra.is_type(input, "azure-native:apimanagement:ApiPolicy")

inputs := data.sealgate.lib.infra.inputs(input)

# The policy XML as the gate parsed it (inputs._parsed: {tag, attributes, text, children}),
# never its text: comments, CDATA and whitespace change nothing. A policy the gate could not
# parse (malformed, too large, unknown at preview) has no elements, so every control fails.
tree := object.get(inputs, "_parsed", null)

# The policies that run on every request: direct children of <inbound>. A control nested in
# <choose>/<when> applies only on some requests, so it does not count.
inbound contains control if {
	is_object(tree)
	tree.tag == "policies"
	some section in tree.children
	section.tag == "inbound"
	some control in section.children
}

controls(tag) := [e | some e in inbound; e.tag == tag]

attribute(element, name) := object.get(object.get(element, "attributes", {}), name, null)

element(tag) if count(controls(tag)) > 0

# METADATA
# title: API Management not injected in the VNet in Internal mode
# description: >-
#   The gateway sits in its own subnet of the VNet in Internal mode: its endpoints have
#   private addresses only (clients reach it through the WAF alone), and it reaches the model
#   server's internal load balancer. An inbound private endpoint gives no path to a backend in
#   the VNet and Azure refuses one on an injected service; External mode gives the gateway a
#   public VIP (https://learn.microsoft.com/azure/api-management/virtual-network-concepts;
#   https://learn.microsoft.com/azure/api-management/api-management-using-with-internal-vnet).
# custom:
#   id: SG-AZ-050
#   severity: high
#   remediation: >-
#     Set `virtualNetworkType: Internal` and `virtualNetworkConfiguration.subnetResourceId` to
#     the API Management subnet (`ApiGateway` does).
deny contains finding if {
	service
	object.get(inputs, "virtualNetworkType", null) != "Internal"
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-050",
		sprintf(
			"the gateway's virtual network type is %v, not Internal (no private path to the backend, or a public VIP)",
			[object.get(inputs, "virtualNetworkType", null)],
		),
		["virtualNetworkType"],
	)
}

deny contains finding if {
	service
	not is_string(object.get(inputs, ["virtualNetworkConfiguration", "subnetResourceId"], null))
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-050",
		"the gateway names no subnet (virtualNetworkConfiguration.subnetResourceId)",
		["virtualNetworkConfiguration"],
	)
}

# METADATA
# title: API without token validation
# description: >-
#   Every API has a policy, and every call carries an Entra ID token that the gateway
#   validates (validate-jwt with an openid-config, directly in the inbound section).
# custom:
#   id: SG-AZ-051
#   severity: critical
#   remediation: >-
#     Add `<validate-jwt>` with
#     `<openid-config url="https://login.microsoftonline.com/<tenant>/v2.0/.well-known/openid-configuration"/>`
#     to the inbound policy.
deny contains finding if {
	api_policy
	not entra_jwt
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-051",
		"the API policy does not validate Entra ID tokens (validate-jwt with the tenant's openid-config)",
		["value"],
	)
}

deny contains finding if {
	api_policy
	error := object.get(inputs, "_parse_error", null)
	is_string(error)
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-051",
		sprintf("the API policy cannot be checked: %s", [error]),
		["value"],
	)
}

# Every API has a policy: without one, no token is validated and nothing is limited.
deny contains finding if {
	object.get(input, "type", null) == "pulumi:plan"
	some i, api in data.sealgate.lib.infra.as_array(object.get(input, "resources", []))
	is_object(api)
	object.get(api, "type", null) == "azure-native:apimanagement:Api"
	not data.sealgate.lib.infra.has_child(input, object.get(api, "urn", ""), "azure-native:apimanagement:ApiPolicy")
	finding := data.sealgate.lib.findings.finding(
		"SG-AZ-051",
		sprintf(
			"API %s has no API policy (no token validation, rate limit, quota or body checks)%s",
			[
				object.get(api, "name", "?"),
				data.sealgate.lib.infra.deleted_note(
					input,
					object.get(api, "urn", ""),
					"azure-native:apimanagement:ApiPolicy",
				),
			],
		),
		["resources", i],
	)
}

# METADATA
# title: API without a per-caller rate limit
# description: >-
#   A rate limit per caller (rate-limit-by-key) keeps one client from exhausting the model
#   servers.
# custom:
#   id: SG-AZ-052
#   severity: high
#   remediation: >-
#     Add `<rate-limit-by-key calls="..." renewal-period="..." counter-key="...">` to the
#     inbound policy.
deny contains finding if {
	api_policy
	not element("rate-limit-by-key")
	finding := data.sealgate.lib.infra.input_finding("SG-AZ-052", "the API policy has no rate-limit-by-key", ["value"])
}

# METADATA
# title: API without a quota
# description: A quota per caller bounds the total use over a longer period.
# custom:
#   id: SG-AZ-053
#   severity: medium
#   remediation: Add `<quota-by-key>` (or `<quota>`) to the inbound policy.
deny contains finding if {
	api_policy
	not element("quota-by-key")
	not element("quota")
	finding := data.sealgate.lib.infra.input_finding("SG-AZ-053", "the API policy has no quota", ["value"])
}

# METADATA
# title: API without a request size limit
# description: Oversized requests are refused before they reach a model server.
# custom:
#   id: SG-AZ-054
#   severity: high
#   remediation: Add `<validate-content max-size="..." size-exceeded-action="prevent">`.
deny contains finding if {
	api_policy
	not size_limited
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-054",
		"the API policy does not refuse oversized requests (validate-content max-size with size-exceeded-action prevent)",
		["value"],
	)
}

# METADATA
# title: API without request schema validation
# description: >-
#   Inference request bodies are validated against the JSON schema of inference requests, and
#   refused otherwise.
# custom:
#   id: SG-AZ-055
#   severity: high
#   remediation: >-
#     Add `<content type="application/json" validate-as="json" action="prevent" schema-id="...">`
#     inside `<validate-content>`.
deny contains finding if {
	api_policy
	not schema_validated
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-055",
		"the API policy does not validate JSON bodies against a schema (validate-content with schema-id, action prevent)",
		["value"],
	)
}

entra_jwt if {
	some jwt in controls("validate-jwt")
	some config in jwt.children
	config.tag == "openid-config"
	startswith(sprintf("%v", [attribute(config, "url")]), "https://login.microsoftonline.com/")
}

size_limited if {
	some validate in controls("validate-content")
	regex.match(`^[0-9]+$`, sprintf("%v", [attribute(validate, "max-size")]))
	attribute(validate, "size-exceeded-action") == "prevent"
}

schema_validated if {
	some validate in controls("validate-content")
	some content in validate.children
	content.tag == "content"
	attribute(content, "validate-as") == "json"
	attribute(content, "action") == "prevent"
	count(sprintf("%v", [object.get(content.attributes, "schema-id", "")])) > 0
}
