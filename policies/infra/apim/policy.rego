# METADATA
# title: API Management
# description: >-
#   Inference requests reach model servers through a private API Management service whose
#   API policy validates Entra ID tokens, limits the rate and quota per caller, bounds the
#   request size and validates the body against the inference request JSON schema.
# custom:
#   input: pulumi-plan
package sealgate.infra.apim

import rego.v1

service if data.sealgate.lib.infra.is_type(input, "azure-native:apimanagement:ApiManagementService")

api_policy if data.sealgate.lib.infra.is_type(input, "azure-native:apimanagement:ApiPolicy")

inputs := data.sealgate.lib.infra.inputs(input)

xml := sprintf("%v", [object.get(inputs, "value", "")])

element(name) if regex.match(sprintf(`<%s[\s/>]`, [name]), xml)

# METADATA
# title: API Management reachable from public networks
# description: >-
#   The end state: the gateway is reached only through its private endpoint (behind the WAF),
#   never on a public VIP. Azure refuses `publicNetworkAccess: Disabled` while it creates a
#   service, so a stack's bootstrap run creates it Enabled and the next run disables it
#   (https://learn.microsoft.com/azure/api-management/private-endpoint; docs/bootstrap.md);
#   the gate holds every plan after that to this rule.
# custom:
#   id: SG-AZ-050
#   severity: high
#   remediation: >-
#     Set `publicNetworkAccess: Disabled` (stack setting `bootstrap: false` once the service
#     exists) and `virtualNetworkType` to None (private endpoint) or Internal.
deny contains finding if {
	service
	object.get(inputs, "publicNetworkAccess", null) != "Disabled"
	finding := data.sealgate.lib.infra.finding("SG-AZ-050", "high", sprintf("public network access is %v, not Disabled", [object.get(inputs, "publicNetworkAccess", null)]), ["publicNetworkAccess"])
}

deny contains finding if {
	service
	object.get(inputs, "virtualNetworkType", null) == "External"
	finding := data.sealgate.lib.infra.finding("SG-AZ-050", "high", "the gateway is injected in External mode (public VIP)", ["virtualNetworkType"])
}

# METADATA
# title: API without token validation
# description: Every call carries an Entra ID token that the gateway validates (validate-jwt with an openid-config).
# custom:
#   id: SG-AZ-051
#   severity: critical
#   remediation: Add `<validate-jwt>` with `<openid-config url="https://login.microsoftonline.com/<tenant>/v2.0/.well-known/openid-configuration"/>` to the inbound policy.
deny contains finding if {
	api_policy
	not regex.match(`<validate-jwt[\s\S]*<openid-config\s+url="https://login\.microsoftonline\.com/`, xml)
	finding := data.sealgate.lib.infra.finding("SG-AZ-051", "critical", "the API policy does not validate Entra ID tokens (validate-jwt with the tenant's openid-config)", ["value"])
}

# METADATA
# title: API without a per-caller rate limit
# description: A rate limit per caller (rate-limit-by-key) keeps one client from exhausting the model servers.
# custom:
#   id: SG-AZ-052
#   severity: high
#   remediation: Add `<rate-limit-by-key calls="..." renewal-period="..." counter-key="...">` to the inbound policy.
deny contains finding if {
	api_policy
	not element("rate-limit-by-key")
	finding := data.sealgate.lib.infra.finding("SG-AZ-052", "high", "the API policy has no rate-limit-by-key", ["value"])
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
	finding := data.sealgate.lib.infra.finding("SG-AZ-053", "medium", "the API policy has no quota", ["value"])
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
	not regex.match(`<validate-content[^>]*\smax-size="[0-9]+"[^>]*size-exceeded-action="prevent"`, xml)
	finding := data.sealgate.lib.infra.finding("SG-AZ-054", "high", "the API policy does not refuse oversized requests (validate-content max-size with size-exceeded-action prevent)", ["value"])
}

# METADATA
# title: API without request schema validation
# description: Inference request bodies are validated against the JSON schema of inference requests, and refused otherwise.
# custom:
#   id: SG-AZ-055
#   severity: high
#   remediation: Add `<content type="application/json" validate-as="json" action="prevent" schema-id="...">` inside `<validate-content>`.
deny contains finding if {
	api_policy
	not regex.match(`<content[^>]*validate-as="json"[^>]*action="prevent"[^>]*schema-id="[^"]+"`, xml)
	finding := data.sealgate.lib.infra.finding("SG-AZ-055", "high", "the API policy does not validate JSON bodies against a schema (validate-content with schema-id, action prevent)", ["value"])
}
