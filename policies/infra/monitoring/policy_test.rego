package sealgate.infra.monitoring_test

import rego.v1

import data.sealgate.infra.monitoring

ids(doc) := {f.id | some f in monitoring.deny with input as doc}

vault := {"type": "azure-native:keyvault:Vault", "urn": "urn:v", "name": "v", "parent": "", "inputs": {}}

diagnostics := {
	"type": "azure-native:monitor:DiagnosticSetting",
	"urn": "urn:d",
	"name": "d",
	"parent": "urn:v",
	"inputs": {},
}

alert(query) := {
	"type": "azure-native:monitor:ScheduledQueryRule",
	"urn": query,
	"name": "a",
	"parent": "",
	"inputs": {"enabled": true, "criteria": {"allOf": [{"query": query}]}},
}

alerts := [
	alert("AZKVAuditLogs | where OperationName == 'KeyUnwrap'"),
	alert("StorageBlobLogs | where Uri has '/denied/'"),
]

test_diagnosed_plan_with_alerts_passes if {
	count(ids({"type": "pulumi:plan", "resources": array.concat([vault, diagnostics], alerts)})) == 0
}

test_resource_without_diagnostics_denied if {
	ids({"type": "pulumi:plan", "resources": array.concat([vault], alerts)}) == {"SG-AZ-070"}
}

test_missing_alerts_denied if {
	findings := monitoring.deny with input as {"type": "pulumi:plan", "resources": [vault, diagnostics, alerts[0]]}
	[f.msg | some f in findings] == ["no enabled alert on denied promotions"]
	disabled := object.union(alerts[1], {"inputs": {"enabled": false}})
	ids({"type": "pulumi:plan", "resources": [vault, diagnostics, alerts[0], disabled]}) == {"SG-AZ-072"}
}

test_diagnostic_setting_sends_logs if {
	ids({
		"type": "azure-native:monitor:DiagnosticSetting",
		"inputs": {"logs": [{"categoryGroup": "allLogs", "enabled": false}]},
	}) == {"SG-AZ-070"}
	count(ids({
		"type": "azure-native:monitor:DiagnosticSetting",
		"inputs": {"logs": [{"categoryGroup": "allLogs", "enabled": true}]},
	})) == 0
}

test_retention_is_environment_aware if {
	workspace := {"type": "azure-native:operationalinsights:Workspace", "stack": "prod", "inputs": {"retentionInDays": 90}}
	ids(workspace) == {"SG-AZ-071"}
	count(ids(object.union(workspace, {"stack": "staging"}))) == 0
	ids(json.remove(object.union(workspace, {"stack": "dev"}), ["inputs/retentionInDays"])) == {"SG-AZ-071"}
}

account_setting(inputs) := {
	"type": "azure-native:monitor:DiagnosticSetting",
	"parent": "urn:pulumi:prod::sealgate::sealgate:infra:ModelStorage$azure-native:storage:StorageAccount::acct",
	"inputs": inputs,
}

blob_setting(inputs) := {
	"type": "azure-native:monitor:DiagnosticSetting",
	"parent": concat("$", [
		"urn:pulumi:prod::sealgate::sealgate:infra:ModelStorage",
		"azure-native:storage:StorageAccount",
		"azure-native:storage:BlobServiceProperties::blob",
	]),
	"inputs": inputs,
}

# A storage account has metrics only at account scope: `allLogs` there is refused by Azure.
test_categories_follow_the_resource_type if {
	metrics := [{"category": "AllMetrics", "enabled": true}]
	count(ids(account_setting({"metrics": metrics}))) == 0
	ids(account_setting({"logs": [{"categoryGroup": "allLogs", "enabled": true}], "metrics": metrics})) == {"SG-AZ-073"}
	ids(account_setting({})) == {"SG-AZ-073"}
	count(ids(blob_setting({"logs": [{"categoryGroup": "allLogs", "enabled": true}], "metrics": metrics}))) == 0
	ids(blob_setting({"metrics": metrics})) == {"SG-AZ-070"}
	ids(blob_setting({"logs": [{"categoryGroup": "nosuchgroup", "enabled": true}]})) == {"SG-AZ-070", "SG-AZ-073"}
}

test_alert_rule_notifies_an_action_group if {
	ids(alerts[0]) == {"SG-AZ-074"}
	count(ids(object.union(
		alerts[0],
		{"inputs": {"actions": {"actionGroups": ["/subscriptions/s/actionGroups/g"]}}},
	))) == 0
}

test_deleted_diagnostic_setting_is_named if {
	findings := monitoring.deny with input as {
		"type": "pulumi:plan",
		"resources": array.concat([vault], alerts),
		"deleted": [diagnostics],
	}
	[f.msg | some f in findings] == ["v (azure-native:keyvault:Vault) has no diagnostic setting (this change deletes d)"]
}
