# METADATA
# title: Monitoring
# description: >-
#   Every resource that produces logs sends them to Log Analytics (a diagnostic setting,
#   declared as its child), the workspace keeps them as long as the environment requires,
#   and alerts fire on Key Vault key operations and on denied promotions.
# custom:
#   input: pulumi-plan
package sealgate.infra.monitoring

import rego.v1

required := data.config.infra.monitoring

inputs := data.sealgate.lib.infra.inputs(input)

settings := data.sealgate.lib.infra.settings(input)

plan if object.get(input, "type", null) == "pulumi:plan"

# The type of the resource a diagnostic setting covers: the last type of its parent's URN
# (urn:pulumi:<stack>::<project>::<type chain, $-separated>::<name>).
parent_type := type_token if {
	parts := split(object.get(input, "parent", ""), "::")
	count(parts) == 4
	chain := split(parts[2], "$")
	type_token := chain[count(chain) - 1]
}

# Log category groups of the parent's type (policies/data/infra.yaml monitoring.categories,
# after Azure Monitor's supported-logs reference); a type not in the table may send either.
default log_groups := ["allLogs", "audit"]

log_groups := required.categories[parent_type].log_groups

enabled_logs := [l |
	some l in data.sealgate.lib.infra.as_array(object.get(inputs, "logs", []))
	object.get(l, "enabled", null) == true
]

# METADATA
# title: Resource without diagnostic settings
# description: Logs of every monitored resource reach the workspace, so that key use, access and attacks are visible.
# custom:
#   id: SG-AZ-070
#   severity: medium
#   remediation: >-
#     Add a DiagnosticSetting for the resource (a child of it, as `diagnose()` in
#     infra/components/common.py does).
deny contains finding if {
	plan
	some i, r in data.sealgate.lib.infra.as_array(object.get(input, "resources", []))
	is_object(r)
	object.get(r, "type", null) in required.diagnosed_types
	not data.sealgate.lib.infra.has_child(input, object.get(r, "urn", ""), "azure-native:monitor:DiagnosticSetting")
	finding := data.sealgate.lib.findings.finding(
		"SG-AZ-070",
		sprintf(
			"%s (%s) has no diagnostic setting%s",
			[
				object.get(r, "name", "?"),
				object.get(r, "type", "?"),
				data.sealgate.lib.infra.deleted_note(input, object.get(r, "urn", ""), "azure-native:monitor:DiagnosticSetting"),
			],
		),
		["resources", i],
	)
}

deny contains finding if {
	data.sealgate.lib.infra.is_type(input, "azure-native:monitor:DiagnosticSetting")
	count(log_groups) > 0
	sent := [l | some l in enabled_logs; object.get(l, "categoryGroup", null) in log_groups]
	count(sent) == 0
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-070",
		sprintf("the diagnostic setting sends no log category group (%s)", [concat(" or ", log_groups)]),
		["logs"],
	)
}

# METADATA
# title: Diagnostic setting with categories its resource type lacks
# description: >-
#   Azure refuses a diagnostic setting that names a category (group) its resource type does not
#   have: a storage account has metrics only at account scope (its logs belong to the blob
#   service), so an `allLogs` there fails the deployment.
# custom:
#   id: SG-AZ-073
#   severity: medium
#   remediation: >-
#     Send only the categories of the resource's type (`DIAGNOSTIC_CATEGORIES` in
#     sealgate/platform/_common.py); send a storage account's logs from its blobServices setting.
deny contains finding if {
	data.sealgate.lib.infra.is_type(input, "azure-native:monitor:DiagnosticSetting")
	some i, l in data.sealgate.lib.infra.as_array(object.get(inputs, "logs", []))
	group := object.get(l, "categoryGroup", null)
	group != null
	not group in log_groups
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-073",
		sprintf("%v has no log category group %v", [parent_type, group]),
		["logs", i, "categoryGroup"],
	)
}

deny contains finding if {
	data.sealgate.lib.infra.is_type(input, "azure-native:monitor:DiagnosticSetting")
	required.categories[parent_type].metrics == true
	count(log_groups) == 0
	sent := [m |
		some m in data.sealgate.lib.infra.as_array(object.get(inputs, "metrics", []))
		object.get(m, "enabled", null) == true
	]
	count(sent) == 0
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-073",
		sprintf("%v has metrics only, and the setting sends none", [parent_type]),
		["metrics"],
	)
}

# METADATA
# title: Logs kept too briefly
# description: The workspace retains logs at least as long as the environment requires.
# custom:
#   id: SG-AZ-071
#   setting: log_retention_days
#   severity: medium
#   remediation: Raise `retentionInDays` (stack setting `log_retention_days`).
deny contains finding if {
	data.sealgate.lib.infra.is_type(input, "azure-native:operationalinsights:Workspace")
	days := object.get(inputs, "retentionInDays", null)
	data.sealgate.lib.infra.below(days, settings.min_log_retention_days)
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-071",
		sprintf("logs are kept %v days; this environment requires %v", [days, settings.min_log_retention_days]),
		["retentionInDays"],
	)
}

# METADATA
# title: Missing security alert
# description: Alerts fire on Key Vault key operations and on denied promotions.
# custom:
#   id: SG-AZ-072
#   severity: medium
#   remediation: Add the ScheduledQueryRule alerts (Monitoring.add_alerts in infra/components/monitoring.py).
deny contains finding if {
	plan
	some alert, marker in required.required_alerts
	rules := [r |
		some r in data.sealgate.lib.infra.plan_resources(input, "azure-native:monitor:ScheduledQueryRule")
		object.get(r, ["inputs", "enabled"], true) == true
		some c in data.sealgate.lib.infra.as_array(object.get(r, ["inputs", "criteria", "allOf"], []))
		contains(sprintf("%v", [object.get(c, "query", "")]), marker)
	]
	count(rules) == 0
	finding := data.sealgate.lib.findings.finding(
		"SG-AZ-072",
		sprintf("no enabled alert on %s", [alert]),
		["resources"],
	)
}

# METADATA
# title: Alert that notifies nobody
# description: >-
#   An alert rule fires into an action group (e-mail or webhook receivers); without one it is
#   recorded and seen by no one.
# custom:
#   id: SG-AZ-074
#   severity: medium
#   remediation: >-
#     Set `actions.actionGroups` to the stack's action group (stack settings `alert_emails` /
#     `alert_webhooks`).
deny contains finding if {
	data.sealgate.lib.infra.is_type(input, "azure-native:monitor:ScheduledQueryRule")
	groups := data.sealgate.lib.infra.as_array(object.get(inputs, ["actions", "actionGroups"], []))
	count(groups) == 0
	finding := data.sealgate.lib.infra.input_finding(
		"SG-AZ-074",
		"the alert rule notifies no action group",
		["actions", "actionGroups"],
	)
}
