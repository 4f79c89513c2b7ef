"""What every component shares: its placement, diagnostic settings, private endpoints, roles."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import pulumi
import pulumi_azure_native.monitor as monitor
import pulumi_azure_native.network as network

from sealgate.errors import InputError
from sealgate.platform._naming import azure_name

TYPE_PREFIX = "sealgate:infra"


@dataclass(frozen=True, kw_only=True)
class Placement:
    """Where a component's Azure resources go, and the tags they all carry."""

    resource_group: pulumi.Input[str]
    """Name of the resource group (an existing group's name, or ``ResourceGroup.name``)."""
    location: str
    """Azure region of the resources, e.g. ``westeurope``."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags set on every resource that takes tags."""


def require(condition: bool, args: object, problem: str) -> None:
    """Raise InputError naming the Args class when ``condition`` does not hold."""
    if not condition:
        raise InputError(f"{type(args).__name__}: {problem}")


def ipv4_network(text: str) -> ipaddress.IPv4Network | None:
    """``text`` as an IPv4 CIDR, or None when it is not one."""
    try:
        network = ipaddress.ip_network(text)
    except ValueError:
        return None
    return network if isinstance(network, ipaddress.IPv4Network) else None


def role_definition(subscription_id: pulumi.Input[str], role: str) -> pulumi.Output[str]:
    """The id of a built-in role definition (``role`` is its GUID, the same in every tenant)."""
    return pulumi.Output.concat(
        "/subscriptions/",
        subscription_id,
        "/providers/Microsoft.Authorization/roleDefinitions/",
        role,
    )


def zones_or_none(zones: tuple[str, ...]) -> list[str] | None:
    """Azure's inputs leave zones unset (not empty) for a regional resource."""
    return list(zones) or None


@dataclass(frozen=True)
class DiagnosticCategories:
    """What a resource type can send through a diagnostic setting."""

    log_groups: tuple[str, ...]
    """Log category groups the type has (empty: the type has no resource logs)."""
    metrics: bool = True
    """The type exports platform metrics (``AllMetrics``)."""


# Per resource type, from Azure Monitor's reference of supported resource logs
# (https://learn.microsoft.com/azure/azure-monitor/reference/supported-logs/logs-index) and
# metrics (https://learn.microsoft.com/azure/azure-monitor/reference/supported-metrics/metrics-index).
# A storage account has metrics only at account scope: its logs (StorageRead, StorageWrite,
# StorageDelete) belong to the blob, queue, table and file services, so `allLogs` is sent
# from the blobServices setting (https://learn.microsoft.com/azure/storage/blobs/monitor-blob-storage).
DIAGNOSTIC_CATEGORIES: dict[str, DiagnosticCategories] = {
    "azure-native:keyvault:Vault": DiagnosticCategories(("allLogs", "audit")),
    "azure-native:keyvault:ManagedHsm": DiagnosticCategories(("allLogs", "audit")),
    "azure-native:storage:StorageAccount": DiagnosticCategories(()),
    "azure-native:storage:BlobServiceProperties": DiagnosticCategories(("allLogs", "audit")),
    "azure-native:containerregistry:Registry": DiagnosticCategories(("allLogs",)),
    "azure-native:containerservice:ManagedCluster": DiagnosticCategories(("allLogs", "audit")),
    "azure-native:network:ApplicationGateway": DiagnosticCategories(("allLogs",)),
    "azure-native:network:PublicIPAddress": DiagnosticCategories(("allLogs",)),
    "azure-native:apimanagement:ApiManagementService": DiagnosticCategories(("allLogs",)),
    "azure-native:iothub:IotHubResource": DiagnosticCategories(("allLogs",)),
    "azure-native:deviceprovisioningservices:IotDpsResource": DiagnosticCategories(("allLogs",)),
}


def diagnostic_categories(type_token: str) -> DiagnosticCategories:
    """The categories of a resource type; InputError for a type not in the table (a setting
    with a category the type lacks is refused by Azure at deployment)."""
    categories = DIAGNOSTIC_CATEGORIES.get(type_token)
    if categories is None:
        raise InputError(f"no diagnostic categories known for {type_token}")
    return categories


def diagnose(
    resource: pulumi.CustomResource,
    name: str,
    workspace_id: pulumi.Input[str],
) -> monitor.DiagnosticSetting:
    """Send every log category group (``allLogs``) and the metrics that ``resource``'s type
    has (``DIAGNOSTIC_CATEGORIES``) to Log Analytics.

    The setting is the resource's child, so a policy can tell from a plan alone (where ids
    are not known yet) which resource it covers.
    """
    categories = diagnostic_categories(resource.pulumi_resource_type)
    logs: list[monitor.DiagnosticsLogSettingsArgsDict] | None = (
        [{"category_group": "allLogs", "enabled": True}] if categories.log_groups else None
    )
    metrics: list[monitor.DiagnosticsMetricSettingsArgsDict] | None = (
        [{"category": "AllMetrics", "enabled": True}] if categories.metrics else None
    )
    return monitor.DiagnosticSetting(
        f"{name}-diagnostics",
        name="to-log-analytics",
        resource_uri=resource.id,
        workspace_id=workspace_id,
        log_analytics_destination_type="Dedicated",
        logs=logs,
        metrics=metrics,
        opts=pulumi.ResourceOptions(parent=resource),
    )


def private_endpoint(
    resource: pulumi.CustomResource,
    name: str,
    group_id: str,
    placement: Placement,
    subnet_id: pulumi.Input[str],
    dns_zone_id: pulumi.Input[str],
) -> network.PrivateEndpoint:
    """A private endpoint for ``resource`` (its child) registered in the private DNS zone."""
    endpoint = network.PrivateEndpoint(
        f"{name}-pe",
        private_endpoint_name=azure_name(network.PrivateEndpoint, f"{name}-pe"),
        resource_group_name=placement.resource_group,
        location=placement.location,
        subnet={"id": subnet_id},
        private_link_service_connections=[
            {
                "name": f"{name}-{group_id}",
                "private_link_service_id": resource.id,
                "group_ids": [group_id],
            }
        ],
        tags=placement.tags,
        opts=pulumi.ResourceOptions(parent=resource),
    )
    network.PrivateDnsZoneGroup(
        f"{name}-pe-dns",
        resource_group_name=placement.resource_group,
        private_endpoint_name=endpoint.name,
        private_dns_zone_group_name="default",
        private_dns_zone_configs=[{"name": group_id, "private_dns_zone_id": dns_zone_id}],
        opts=pulumi.ResourceOptions(parent=endpoint),
    )
    return endpoint
