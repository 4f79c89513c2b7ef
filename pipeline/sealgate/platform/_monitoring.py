"""Monitoring: the Log Analytics workspace; alerts on key operations and denied promotions,
delivered to the stack's receivers through an action group."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_azure_native.monitor as monitor
import pulumi_azure_native.operationalinsights as operationalinsights

from sealgate.platform._common import TYPE_PREFIX, Placement, require
from sealgate.platform._naming import azure_name

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

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
    alert_emails: tuple[str, ...] = ()
    """E-mail addresses the alerts are sent to."""
    alert_webhooks: tuple[str, ...] = ()
    """HTTPS webhooks the alerts are posted to (common alert schema)."""
    retention_days: int = 30
    """Days the workspace keeps its logs."""

    def __post_init__(self) -> None:
        require(30 <= self.retention_days <= 730, self, "retention_days must be 30..730")
        # An alert that reaches nobody is no alert: at least one receiver.
        require(
            bool(self.alert_emails or self.alert_webhooks),
            self,
            "alerts need at least one receiver (alert_emails or alert_webhooks)",
        )
        bad = [e for e in self.alert_emails if not _EMAIL.match(e)]
        require(not bad, self, f"alert_emails: not e-mail addresses: {bad}")
        bad = [w for w in self.alert_webhooks if not w.startswith("https://")]
        require(not bad, self, f"alert_webhooks: not https:// URLs: {bad}")


class Monitoring(pulumi.ComponentResource):
    """The workspace, the action group, and alerts on key operations and denied promotions.

    The alerts query the tables that the other components' diagnostic settings fill
    (``AZKVAuditLogs``, ``StorageBlobLogs``) and notify the action group's receivers.
    Outputs: ``workspace``, ``workspace_id`` and ``action_group``.
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
        # Action groups are global resources (location "Global"); the short name is at most
        # 12 characters (https://learn.microsoft.com/azure/azure-monitor/alerts/action-groups).
        self.action_group = monitor.ActionGroup(
            f"{name}-alerts",
            action_group_name=azure_name(monitor.ActionGroup, f"{name}-alerts"),
            resource_group_name=placement.resource_group,
            location="Global",
            group_short_name="sealgate",
            enabled=True,
            email_receivers=[
                {"name": f"email-{i}", "email_address": email, "use_common_alert_schema": True}
                for i, email in enumerate(args.alert_emails)
            ],
            webhook_receivers=[
                {"name": f"webhook-{i}", "service_uri": url, "use_common_alert_schema": True}
                for i, url in enumerate(args.alert_webhooks)
            ],
            tags=placement.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
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
                actions={"action_groups": [self.action_group.id]},
                tags=placement.tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs(
            {"workspace_id": self.workspace.id, "action_group_id": self.action_group.id}
        )
