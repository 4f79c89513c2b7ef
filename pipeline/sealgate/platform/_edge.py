"""Edge: IoT Hub (no hub-wide keys, TLS 1.2, private) and the Device Provisioning Service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.deviceprovisioningservices as dps
import pulumi_azure_native.iothub as iothub

from sealgate.platform._common import (
    TYPE_PREFIX,
    Placement,
    diagnose,
    private_endpoint,
    require,
    role_definition,
)
from sealgate.platform._naming import azure_name

IotHubSku = Literal["S1", "S2", "S3"]
IOT_HUB_DATA_CONTRIBUTOR = "4fc6c259-987e-4a07-842e-c321cc9d413f"


@dataclass(frozen=True, kw_only=True)
class EdgeArgs:
    """IoT Hub and Device Provisioning Service for edge devices: TPM-attested, private."""

    placement: Placement
    """Resource group, region and tags."""
    subscription_id: pulumi.Input[str]
    """Subscription of the role definition that links DPS to the hub."""
    endpoint_subnet_id: pulumi.Input[str]
    """Subnet of the hub's and DPS's private endpoints (public network access is disabled)."""
    hub_private_dns_zone_id: pulumi.Input[str]
    """Private DNS zone ``privatelink.azure-devices.net``."""
    dps_private_dns_zone_id: pulumi.Input[str]
    """Private DNS zone ``privatelink.azure-devices-provisioning.net``."""
    workspace_id: pulumi.Input[str]
    """Log Analytics workspace that receives the hub's and DPS's logs and metrics."""
    hub_sku: IotHubSku = "S1"
    """IoT Hub tier."""
    hub_capacity: int = 1
    """IoT Hub units."""

    def __post_init__(self) -> None:
        require(self.hub_sku in ("S1", "S2", "S3"), self, "hub_sku: S1, S2 or S3")
        require(1 <= self.hub_capacity <= 200, self, "hub_capacity must be 1..200")


class Edge(pulumi.ComponentResource):
    """The hub, DPS, DPS's role on the hub, their private endpoints and diagnostic settings.

    Outputs: ``hub`` (the IotHubResource) and ``dps`` (the IotDpsResource).
    """

    def __init__(
        self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:Edge", name, None, opts)
        placement = args.placement
        self.hub = iothub.IotHubResource(
            f"{name}-hub",
            resource_name_=azure_name(iothub.IotHubResource, f"{name}-hub"),
            resource_group_name=placement.resource_group,
            location=placement.location,
            sku={"name": args.hub_sku, "capacity": args.hub_capacity},
            identity={"type": iothub.ResourceIdentityType.SYSTEM_ASSIGNED},
            properties={
                # Hub-wide shared access policies stay off. Device SAS stays on: a device
                # that DPS provisioned through TPM attestation signs SAS tokens with the key
                # DPS imported into its TPM (learn.microsoft.com/azure/iot-dps/
                # concepts-tpm-attestation), and `disableDeviceSAS: true` would leave X.509
                # as the only device authentication (learn.microsoft.com/azure/iot-hub/
                # authenticate-authorize-sas).
                "disable_local_auth": True,
                "disable_device_sas": False,
                "disable_module_sas": True,
                "min_tls_version": "1.2",
                "public_network_access": "Disabled",
                "restrict_outbound_network_access": True,
                "enable_data_residency": True,
            },
            tags=placement.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.dps = dps.IotDpsResource(
            f"{name}-dps",
            provisioning_service_name=azure_name(dps.IotDpsResource, f"{name}-dps"),
            resource_group_name=placement.resource_group,
            location=placement.location,
            sku={"name": "S1", "capacity": 1},
            identity={"type": "SystemAssigned"},
            properties={
                "public_network_access": "Disabled",
                "allocation_policy": "Hashed",
                "enable_data_residency": True,
            },
            tags=placement.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The hub is linked to DPS with DPS's managed identity (no connection string, since
        # the hub has local auth off); the link itself is a data-plane step (README).
        authorization.RoleAssignment(
            f"{name}-dps-to-hub",
            role_assignment_name=azure_name(authorization.RoleAssignment, f"{name}-dps-to-hub"),
            scope=self.hub.id,
            principal_id=self.dps.identity.apply(lambda i: i.principal_id if i else ""),
            principal_type="ServicePrincipal",
            role_definition_id=role_definition(args.subscription_id, IOT_HUB_DATA_CONTRIBUTOR),
            opts=pulumi.ResourceOptions(parent=self.hub),
        )
        private_endpoint(
            self.hub,
            f"{name}-hub",
            "iotHub",
            placement,
            args.endpoint_subnet_id,
            args.hub_private_dns_zone_id,
        )
        private_endpoint(
            self.dps,
            f"{name}-dps",
            "iotDps",
            placement,
            args.endpoint_subnet_id,
            args.dps_private_dns_zone_id,
        )
        diagnose(self.hub, f"{name}-hub", args.workspace_id)
        diagnose(self.dps, f"{name}-dps", args.workspace_id)
        self.register_outputs({"hub_name": self.hub.name, "dps_name": self.dps.name})
