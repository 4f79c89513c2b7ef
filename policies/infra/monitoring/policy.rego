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

monitoring := data.config.infra.monitoring

inputs := data.sealgate.lib.infra.inputs(input)

settings := data.sealgate.lib.infra.settings(input)

plan if object.get(input, "type", null) == "pulumi:plan"

# METADATA
# title: Resource without diagnostic settings
# description: Logs of every monitored resource reach the workspace, so that key use, access and attacks are visible.
# custom:
#   id: SG-AZ-070
#   severity: medium
#   remediation: Add a DiagnosticSetting for the resource (a child of it, as `diagnose()` in infra/components/common.py does).
deny contains finding if {
	plan
	some i, r in data.sealgate.lib.infra.as_array(object.get(input, "resources", []))
	is_object(r)
	object.get(r, "type", null) in monitoring.diagnosed_types
	not data.sealgate.lib.infra.has_child(input, object.get(r, "urn", ""), "azure-native:monitor:DiagnosticSetting")
	finding := {"id": "SG-AZ-070", "msg": sprintf("%s (%s) has no diagnostic setting%s", [object.get(r, "name", "?"), object.get(r, "type", "?"), data.sealgate.lib.infra.deleted_note(input, object.get(r, "urn", ""), "azure-native:monitor:DiagnosticSetting")]), "severity": "medium", "path": ["resources", i]}
}

deny contains finding if {
	data.sealgate.lib.infra.is_type(input, "azure-native:monitor:DiagnosticSetting")
	logs := [l |
		some l in data.sealgate.lib.infra.as_array(object.get(inputs, "logs", []))
		object.get(l, "enabled", null) == true
		object.get(l, "categoryGroup", null) in {"allLogs", "audit"}
	]
	count(logs) == 0
	finding := data.sealgate.lib.infra.finding("SG-AZ-070", "medium", "the diagnostic setting sends no log category group (allLogs or audit)", ["logs"])
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
	finding := data.sealgate.lib.infra.finding("SG-AZ-071", "medium", sprintf("logs are kept %v days; this environment requires %v", [days, settings.min_log_retention_days]), ["retentionInDays"])
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
	some alert, marker in monitoring.required_alerts
	rules := [r |
		some r in data.sealgate.lib.infra.plan_resources(input, "azure-native:monitor:ScheduledQueryRule")
		object.get(r, ["inputs", "enabled"], true) == true
		some c in data.sealgate.lib.infra.as_array(object.get(r, ["inputs", "criteria", "allOf"], []))
		contains(sprintf("%v", [object.get(c, "query", "")]), marker)
	]
	count(rules) == 0
	finding := {"id": "SG-AZ-072", "msg": sprintf("no enabled alert on %s", [alert]), "severity": "medium", "path": ["resources"]}
}
