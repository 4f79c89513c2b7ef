"""Monitoring: the Log Analytics workspace; alerts on key operations and denied promotions."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native.monitor as monitor
import pulumi_azure_native.operationalinsights as operationalinsights

from sealgate.platform._common import TYPE_PREFIX, Placement, require
from sealgate.platform._naming import azure_name

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


@dataclass(frozen=True, kw_only=True)
class MonitoringArgs:
    """The Log Analytics workspace every diagnostic setting sends to, and its alert rules."""

    placement: Placement
    """Resource group, region and tags."""
    retention_days: int = 30
    """Days the workspace keeps its logs."""

    def __post_init__(self) -> None:
        require(30 <= self.retention_days <= 730, self, "retention_days must be 30..730")


class Monitoring(pulumi.ComponentResource):
    """The workspace, and alerts on key operations and on denied promotions.

    The alerts query the tables that the other components' diagnostic settings fill
    (``AZKVAuditLogs``, ``StorageBlobLogs``). Outputs: ``workspace`` and ``workspace_id``.
    """

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:Monitoring", name, None, opts)
        placement = args.placement
        self.workspace = operationalinsights.Workspace(
            f"{name}-logs",
            workspace_name=azure_name(operationalinsights.Workspace, f"{name}-logs"),
            resource_group_name=placement.resource_group,
            location=placement.location,
            sku={"name": "PerGB2018"},
            retention_in_days=args.retention_days,
            public_network_access_for_ingestion="Enabled",
            public_network_access_for_query="Disabled",
            tags=placement.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.workspace_id = self.workspace.id
        for alert, query, severity in (
            ("key-operations", KEY_OPERATIONS_QUERY, 2),
            ("denied-promotions", DENIED_PROMOTIONS_QUERY, 1),
        ):
            monitor.ScheduledQueryRule(
                f"{name}-{alert}-alert",
                rule_name=azure_name(monitor.ScheduledQueryRule, f"{name}-{alert}-alert"),
                resource_group_name=placement.resource_group,
                location=placement.location,
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
                tags=placement.tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"workspace_id": self.workspace.id})
