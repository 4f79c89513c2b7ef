"""Monitoring: the Log Analytics workspace; alerts on key operations and denied promotions."""

from __future__ import annotations

import pulumi
import pulumi_azure_native.monitor as monitor
import pulumi_azure_native.operationalinsights as operationalinsights

from sealgate.platform._common import TYPE_PREFIX, Platform

KEY_OPERATIONS_QUERY = (
    "AZKVAuditLogs | where OperationName in ('KeyDecrypt','KeyUnwrap','KeyRelease','KeyDelete',"
    "'KeyPurge','KeyUpdate','KeyImport','KeyBackup','KeyRestore') "
    "| summarize count() by OperationName, CallerIpAddress, Identity, bin(TimeGenerated, 5m)"
)
# `sealgate promote` writes its decisions to the audit container; the storage logs show
# the denied-promotion records being written (blob names under denied/).
DENIED_PROMOTIONS_QUERY = (
    "StorageBlobLogs | where OperationName == 'PutBlob' and Uri has '/audit/' "
    "and Uri has '/denied/' | summarize count() by bin(TimeGenerated, 5m)"
)


class Monitoring(pulumi.ComponentResource):
    def __init__(self, name: str, platform: Platform, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"{TYPE_PREFIX}:Monitoring", name, None, opts)
        self.platform = platform
        self.workspace = operationalinsights.Workspace(
            f"{name}-logs",
            resource_group_name=platform.resource_group,
            location=platform.location,
            sku={"name": "PerGB2018"},
            retention_in_days=platform.config.log_retention_days,
            public_network_access_for_ingestion="Enabled",
            public_network_access_for_query="Disabled",
            tags=platform.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.workspace_id = self.workspace.id
        self.register_outputs({"workspace_id": self.workspace.id})

    def add_alerts(self) -> None:
        """Alert rules over the logs that the diagnostic settings send to the workspace."""
        for alert, query, severity in (
            ("key-operations", KEY_OPERATIONS_QUERY, 2),
            ("denied-promotions", DENIED_PROMOTIONS_QUERY, 1),
        ):
            monitor.ScheduledQueryRule(
                f"{self._name}-{alert}-alert",
                resource_group_name=self.platform.resource_group,
                location=self.platform.location,
                display_name=f"sealgate {alert}",
                description=f"Any {alert.replace('-', ' ')} recorded in the workspace",
                kind="LogAlert",
                enabled=True,
                severity=severity,
                scopes=[self.workspace.id],
                evaluation_frequency="PT5M",
                window_size="PT5M",
                criteria={
                    "all_of": [
                        {
                            "query": query,
                            "time_aggregation": "Count",
                            "operator": "GreaterThan",
                            "threshold": 0,
                            "failing_periods": {
                                "number_of_evaluation_periods": 1,
                                "min_failing_periods_to_alert": 1,
                            },
                        }
                    ]
                },
                tags=self.platform.tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
