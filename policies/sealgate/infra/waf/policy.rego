# METADATA
# title: Application Gateway WAF
# description: >-
#   The only public entry point is an Application Gateway WAF_v2 whose WAF policy blocks
#   (Prevention mode) with Microsoft's current default rule set, bot protection, request
#   body inspection and size limits, and TLS 1.2+ only.
# custom:
#   input: pulumi-plan
package sealgate.infra.waf

import rego.v1

firewall_policy if data.sealgate.lib.infra.is_type(input, "azure-native:network:WebApplicationFirewallPolicy")

gateway if data.sealgate.lib.infra.is_type(input, "azure-native:network:ApplicationGateway")

inputs := data.sealgate.lib.infra.inputs(input)

required := data.config.infra.waf

settings := object.get(inputs, "policySettings", {})

rule_sets := data.sealgate.lib.infra.as_array(object.get(inputs, ["managedRules", "managedRuleSets"], []))

version_at_least(version, minimum) if {
	is_string(version)
	regex.match(`^[0-9]+(\.[0-9]+)?$`, version)
	to_number(version) >= to_number(minimum)
}

# METADATA
# title: WAF not blocking
# description: A WAF in Detection mode, or disabled, only logs attacks.
# custom:
#   id: SG-AZ-040
#   severity: critical
#   remediation: >-
#     Set `policySettings.mode: Prevention` and `policySettings.state: Enabled`.
deny contains finding if {
	firewall_policy
	object.get(settings, "mode", null) != "Prevention"
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-040",
		sprintf("WAF mode is %v, not Prevention", [object.get(settings, "mode", null)]),
		["policySettings", "mode"],
	)
}

deny contains finding if {
	firewall_policy
	object.get(settings, "state", null) != "Enabled"
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-040",
		sprintf("WAF state is %v, not Enabled", [object.get(settings, "state", null)]),
		["policySettings", "state"],
	)
}

# METADATA
# title: WAF without the current default rule set
# description: The WAF policy uses Microsoft's default rule set at the current version or later.
# custom:
#   id: SG-AZ-041
#   severity: high
#   remediation: Add a managed rule set `Microsoft_DefaultRuleSet` version 2.1 or later.
deny contains finding if {
	firewall_policy
	current := [s |
		some s in rule_sets
		object.get(s, "ruleSetType", null) == required.default_rule_set
		version_at_least(object.get(s, "ruleSetVersion", null), required.min_default_rule_set_version)
	]
	count(current) == 0
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-041",
		sprintf(
			"no %s %s or later among the managed rule sets",
			[required.default_rule_set, required.min_default_rule_set_version],
		),
		["managedRules", "managedRuleSets"],
	)
}

# METADATA
# title: WAF without bot protection
# description: The bot manager rule set blocks known malicious bots and scanners.
# custom:
#   id: SG-AZ-042
#   severity: medium
#   remediation: Add the managed rule set `Microsoft_BotManagerRuleSet`.
deny contains finding if {
	firewall_policy
	bots := [s | some s in rule_sets; object.get(s, "ruleSetType", null) == required.bot_rule_set]
	count(bots) == 0
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-042",
		"bot protection (Microsoft_BotManagerRuleSet) is not enabled",
		["managedRules", "managedRuleSets"],
	)
}

# METADATA
# title: WAF does not inspect or limit request bodies
# description: Request bodies are inspected and enforced, with bounded body and upload sizes.
# custom:
#   id: SG-AZ-043
#   severity: high
#   remediation: >-
#     Set `requestBodyCheck: true`, `requestBodyEnforcement: true`, `maxRequestBodySizeInKb` and
#     `fileUploadLimitInMb` within the limits.
deny contains finding if {
	firewall_policy
	some flag in ["requestBodyCheck", "requestBodyEnforcement"]
	object.get(settings, flag, null) != true
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-043",
		sprintf("policySettings.%s is not true", [flag]),
		["policySettings", flag],
	)
}

deny contains finding if {
	firewall_policy
	some limit in [
		["maxRequestBodySizeInKb", required.max_request_body_kb],
		["fileUploadLimitInMb", required.max_file_upload_mb],
	]
	value := object.get(settings, limit[0], null)
	data.sealgate.lib.infra.above(value, limit[1])
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-043",
		sprintf("policySettings.%s is %v; at most %v", [limit[0], value, limit[1]]),
		["policySettings", limit[0]],
	)
}

# METADATA
# title: Gateway without the WAF
# description: The Application Gateway is WAF_v2 with the WAF policy attached and a modern TLS policy.
# custom:
#   id: SG-AZ-044
#   severity: critical
#   remediation: >-
#     Set `sku.tier: WAF_v2`, `firewallPolicy.id`, and `sslPolicy` to a predefined TLS 1.2+ policy.
deny contains finding if {
	gateway
	object.get(inputs, ["sku", "tier"], null) != "WAF_v2"
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-044",
		sprintf("gateway tier is %v, not WAF_v2", [object.get(inputs, ["sku", "tier"], null)]),
		["sku", "tier"],
	)
}

deny contains finding if {
	gateway
	not is_string(object.get(inputs, ["firewallPolicy", "id"], null))
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-044",
		"no WAF policy is attached to the gateway",
		["firewallPolicy"],
	)
}

deny contains finding if {
	gateway
	not object.get(inputs, ["sslPolicy", "policyName"], null) in required.ssl_policies
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-044",
		sprintf(
			"TLS policy %v is not one of %v",
			[object.get(inputs, ["sslPolicy", "policyName"], null), required.ssl_policies],
		),
		["sslPolicy"],
	)
}
