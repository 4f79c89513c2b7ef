"""Helpers every component uses: naming, diagnostic settings, private endpoints."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native.monitor as monitor
import pulumi_azure_native.network as network

from sealgate.platform._config import StackConfig

TYPE_PREFIX = "sealgate:infra"


@dataclass(frozen=True)
class Platform:
    """What every component needs: configuration, resource group, shared workspace."""

    config: StackConfig
    resource_group: pulumi.Input[str]
    location: str
    tags: dict[str, str]


def diagnose(
    resource: pulumi.CustomResource,
    name: str,
    workspace_id: pulumi.Input[str],
    *,
    metrics: bool = True,
) -> monitor.DiagnosticSetting:
    """Send every log category (and the metrics) of ``resource`` to Log Analytics.

    The setting is the resource's child, so a policy can tell from a plan alone (where ids
    are not known yet) which resource it covers.
    """
    return monitor.DiagnosticSetting(
        f"{name}-diagnostics",
        name="to-log-analytics",
        resource_uri=resource.id,
        workspace_id=workspace_id,
        log_analytics_destination_type="Dedicated",
        logs=[{"category_group": "allLogs", "enabled": True}],
        metrics=[{"category": "AllMetrics", "enabled": True}] if metrics else None,
        opts=pulumi.ResourceOptions(parent=resource),
    )


def private_endpoint(
    resource: pulumi.CustomResource,
    name: str,
    group_id: str,
    platform: Platform,
    subnet_id: pulumi.Input[str],
    dns_zone_id: pulumi.Input[str],
) -> network.PrivateEndpoint:
    """A private endpoint for ``resource`` (its child) registered in the private DNS zone."""
    endpoint = network.PrivateEndpoint(
        f"{name}-pe",
        resource_group_name=platform.resource_group,
        location=platform.location,
        subnet={"id": subnet_id},
        private_link_service_connections=[
            {
                "name": f"{name}-{group_id}",
                "private_link_service_id": resource.id,
                "group_ids": [group_id],
            }
        ],
        tags=platform.tags,
        opts=pulumi.ResourceOptions(parent=resource),
    )
    network.PrivateDnsZoneGroup(
        f"{name}-pe-dns",
        resource_group_name=platform.resource_group,
        private_endpoint_name=endpoint.name,
        private_dns_zone_group_name="default",
        private_dns_zone_configs=[{"name": group_id, "private_dns_zone_id": dns_zone_id}],
        opts=pulumi.ResourceOptions(parent=endpoint),
    )
    return endpoint
