package sealgate.infra.waf_test

import rego.v1

import data.sealgate.infra.waf

policy(settings, rule_sets) := {"type": "azure-native:network:WebApplicationFirewallPolicy", "inputs": {
	"policySettings": object.union(
		{
			"state": "Enabled",
			"mode": "Prevention",
			"requestBodyCheck": true,
			"requestBodyEnforcement": true,
			"maxRequestBodySizeInKb": 128,
			"fileUploadLimitInMb": 100,
		},
		settings,
	),
	"managedRules": {"managedRuleSets": rule_sets},
}}

current := [
	{"ruleSetType": "Microsoft_DefaultRuleSet", "ruleSetVersion": "2.1"},
	{"ruleSetType": "Microsoft_BotManagerRuleSet", "ruleSetVersion": "1.1"},
]

ids contains f.id if some f in waf.deny

test_prevention_policy_passes if count(ids) == 0 with input as policy({}, current)

test_detection_mode_denied if ids == {"SG-AZ-040"} with input as policy({"mode": "Detection"}, current)

test_disabled_denied if ids == {"SG-AZ-040"} with input as policy({"state": "Disabled"}, current)

test_rule_sets if {
	ids == {"SG-AZ-041"} with input as policy(
		{},
		[{"ruleSetType": "Microsoft_DefaultRuleSet", "ruleSetVersion": "2.0"}, current[1]],
	)
	ids == {"SG-AZ-042"} with input as policy({}, [{"ruleSetType": "Microsoft_DefaultRuleSet", "ruleSetVersion": "2.2"}])
	ids == {"SG-AZ-041", "SG-AZ-042"} with input as policy({}, [])
}

test_body_limits if {
	ids == {"SG-AZ-043"} with input as policy({"requestBodyCheck": false}, current)
	ids == {"SG-AZ-043"} with input as policy({"maxRequestBodySizeInKb": 4000}, current)
	ids == {"SG-AZ-043"} with input as json.remove(policy({}, current), ["inputs/policySettings/fileUploadLimitInMb"])
}

test_gateway if {
	gateway := {"type": "azure-native:network:ApplicationGateway", "inputs": {
		"sku": {"name": "WAF_v2", "tier": "WAF_v2"},
		"firewallPolicy": {"id": "/subscriptions/x/waf"},
		"sslPolicy": {"policyType": "Predefined", "policyName": "AppGwSslPolicy20220101S"},
	}}
	count(ids) == 0 with input as gateway
	ids == {"SG-AZ-044"} with input as object.union(gateway, {"inputs": {"sku": {"tier": "Standard_v2"}}})
	ids == {"SG-AZ-044"} with input as json.remove(gateway, ["inputs/sslPolicy"])
}
