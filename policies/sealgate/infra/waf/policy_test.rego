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

ids(doc) := {f.id | some f in waf.deny with input as doc}

test_prevention_policy_passes if count(ids(policy({}, current))) == 0

test_detection_mode_denied if ids(policy({"mode": "Detection"}, current)) == {"SG-AZ-040"}

test_disabled_denied if ids(policy({"state": "Disabled"}, current)) == {"SG-AZ-040"}

test_rule_sets if {
	ids(policy({}, [{"ruleSetType": "Microsoft_DefaultRuleSet", "ruleSetVersion": "2.0"}, current[1]])) == {"SG-AZ-041"}
	ids(policy({}, [{"ruleSetType": "Microsoft_DefaultRuleSet", "ruleSetVersion": "2.2"}])) == {"SG-AZ-042"}
	ids(policy({}, [])) == {"SG-AZ-041", "SG-AZ-042"}
}

test_body_limits if {
	ids(policy({"requestBodyCheck": false}, current)) == {"SG-AZ-043"}
	ids(policy({"maxRequestBodySizeInKb": 4000}, current)) == {"SG-AZ-043"}
	ids(json.remove(policy({}, current), ["inputs/policySettings/fileUploadLimitInMb"])) == {"SG-AZ-043"}
}

test_gateway if {
	gateway := {"type": "azure-native:network:ApplicationGateway", "inputs": {
		"sku": {"name": "WAF_v2", "tier": "WAF_v2"},
		"firewallPolicy": {"id": "/subscriptions/x/waf"},
		"sslPolicy": {"policyType": "Predefined", "policyName": "AppGwSslPolicy20220101S"},
	}}
	count(ids(gateway)) == 0
	ids(object.union(gateway, {"inputs": {"sku": {"tier": "Standard_v2"}}})) == {"SG-AZ-044"}
	ids(json.remove(gateway, ["inputs/sslPolicy"])) == {"SG-AZ-044"}
}
