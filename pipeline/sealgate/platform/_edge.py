"""Edge: IoT Hub (Entra ID only, TLS 1.2, private) and the Device Provisioning Service."""

from __future__ import annotations

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.deviceprovisioningservices as dps
import pulumi_azure_native.iothub as iothub

from sealgate.platform._common import TYPE_PREFIX, Platform, diagnose, private_endpoint
from sealgate.platform._keys import role_definition

IOT_HUB_DATA_CONTRIBUTOR = "4fc6c259-987e-4a07-842e-c321cc9d413f"


class Edge(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        platform: Platform,
        *,
        subscription_id: pulumi.Input[str],
        subnet_id: pulumi.Input[str],
        dns_zone_ids: dict[str, pulumi.Output[str]],
        workspace_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(f"{TYPE_PREFIX}:Edge", name, None, opts)
        config = platform.config
        self.hub = iothub.IotHubResource(
            f"{name}-hub",
            resource_group_name=platform.resource_group,
            location=platform.location,
            sku={"name": config.iot_hub_sku, "capacity": config.iot_hub_capacity},
            identity={"type": "SystemAssigned"},
            properties={
                "disable_local_auth": True,
                "disable_device_sas": True,
                "disable_module_sas": True,
                "min_tls_version": "1.2",
                "public_network_access": "Disabled",
                "restrict_outbound_network_access": True,
                "enable_data_residency": True,
            },
            tags=platform.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.dps = dps.IotDpsResource(
            f"{name}-dps",
            resource_group_name=platform.resource_group,
            location=platform.location,
            sku={"name": "S1", "capacity": 1},
            identity={"type": "SystemAssigned"},
            properties={
                "public_network_access": "Disabled",
                "allocation_policy": "Hashed",
                "enable_data_residency": True,
            },
            tags=platform.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The hub is linked to DPS with DPS's managed identity (no connection string, since
        # the hub has local auth off); the link itself is a data-plane step (README).
        authorization.RoleAssignment(
            f"{name}-dps-to-hub",
            scope=self.hub.id,
            principal_id=self.dps.identity.apply(lambda i: i.principal_id if i else ""),
            principal_type="ServicePrincipal",
            role_definition_id=role_definition(subscription_id, IOT_HUB_DATA_CONTRIBUTOR),
            opts=pulumi.ResourceOptions(parent=self.hub),
        )
        private_endpoint(
            self.hub, f"{name}-hub", "iotHub", platform, subnet_id, dns_zone_ids["iotHub"]
        )
        private_endpoint(
            self.dps, f"{name}-dps", "iotDps", platform, subnet_id, dns_zone_ids["iotDps"]
        )
        diagnose(self.hub, f"{name}-hub", workspace_id)
        diagnose(self.dps, f"{name}-dps", workspace_id)
        self.register_outputs({"hub_name": self.hub.name, "dps_name": self.dps.name})
