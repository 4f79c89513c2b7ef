package sealgate.infra.monitoring_test

import rego.v1

import data.sealgate.infra.monitoring

ids contains f.id if some f in monitoring.deny

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
	count(ids) == 0 with input as {"type": "pulumi:plan", "resources": array.concat([vault, diagnostics], alerts)}
}

test_resource_without_diagnostics_denied if {
	ids == {"SG-AZ-070"} with input as {"type": "pulumi:plan", "resources": array.concat([vault], alerts)}
}

test_missing_alerts_denied if {
	findings := monitoring.deny with input as {"type": "pulumi:plan", "resources": [vault, diagnostics, alerts[0]]}
	[f.msg | some f in findings] == ["no enabled alert on denied promotions"]
	disabled := object.union(alerts[1], {"inputs": {"enabled": false}})
	ids == {"SG-AZ-072"} with input as {"type": "pulumi:plan", "resources": [vault, diagnostics, alerts[0], disabled]}
}

test_diagnostic_setting_sends_logs if {
	ids == {"SG-AZ-070"} with input as {
		"type": "azure-native:monitor:DiagnosticSetting",
		"inputs": {"logs": [{"categoryGroup": "allLogs", "enabled": false}]},
	}
	count(ids) == 0 with input as {
		"type": "azure-native:monitor:DiagnosticSetting",
		"inputs": {"logs": [{"categoryGroup": "allLogs", "enabled": true}]},
	}
}

test_retention_is_environment_aware if {
	workspace := {"type": "azure-native:operationalinsights:Workspace", "stack": "prod", "inputs": {"retentionInDays": 90}}
	ids == {"SG-AZ-071"} with input as workspace
	count(ids) == 0 with input as object.union(workspace, {"stack": "staging"})
	ids == {"SG-AZ-071"} with input as json.remove(object.union(workspace, {"stack": "dev"}), ["inputs/retentionInDays"])
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
	count(ids) == 0 with input as account_setting({"metrics": metrics})
	ids == {"SG-AZ-073"} with input as account_setting({
		"logs": [{"categoryGroup": "allLogs", "enabled": true}],
		"metrics": metrics,
	})
	ids == {"SG-AZ-073"} with input as account_setting({})
	count(ids) == 0 with input as blob_setting({
		"logs": [{"categoryGroup": "allLogs", "enabled": true}],
		"metrics": metrics,
	})
	ids == {"SG-AZ-070"} with input as blob_setting({"metrics": metrics})
	ids == {
		"SG-AZ-070",
		"SG-AZ-073",
	} with input as blob_setting({"logs": [{"categoryGroup": "nosuchgroup", "enabled": true}]})
}

test_alert_rule_notifies_an_action_group if {
	ids == {"SG-AZ-074"} with input as alerts[0]
	count(ids) == 0 with input as object.union(
		alerts[0],
		{"inputs": {"actions": {"actionGroups": ["/subscriptions/s/actionGroups/g"]}}},
	)
}

test_deleted_diagnostic_setting_is_named if {
	findings := monitoring.deny with input as {
		"type": "pulumi:plan",
		"resources": array.concat([vault], alerts),
		"deleted": [diagnostics],
	}
	[f.msg | some f in findings] == ["v (azure-native:keyvault:Vault) has no diagnostic setting (this change deletes d)"]
}
