"""Network: VNet, subnets with NSGs, private DNS zones for every data-plane service."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_azure_native.network as network
import pulumi_azure_native.privatedns as privatedns

from sealgate.platform._common import TYPE_PREFIX, Placement, ipv4_network, require
from sealgate.platform._naming import azure_name

# Private DNS zone of each private-link group (Azure's documented zone names).
PRIVATE_DNS_ZONES = {
    "vault": "privatelink.vaultcore.azure.net",
    "managedhsm": "privatelink.managedhsm.azure.net",
    "blob": "privatelink.blob.core.windows.net",
    "registry": "privatelink.azurecr.io",
    "Gateway": "privatelink.azure-api.net",
    "iotHub": "privatelink.azure-devices.net",
    "iotDps": "privatelink.azure-devices-provisioning.net",
}

# Inbound rules per subnet beyond the deny-all: only the gateway is reachable from outside.
_GATEWAY_INBOUND = [
    ("allow-https-from-internet", "Internet", "443", 100),
    ("allow-gateway-manager", "GatewayManager", "65200-65535", 110),
    ("allow-azure-load-balancer", "AzureLoadBalancer", "*", 120),
]
_SUBNETS = ("aks-system", "aks-models", "endpoints", "gateway")


def _inbound_rule(
    name: str, source: str, port: str, priority: int, *, access: str = "Allow"
) -> network.SecurityRuleArgsDict:
    """An inbound NSG rule from ``source`` to ``port`` (``*``: any port and any protocol)."""
    return {
        "name": name,
        "priority": priority,
        "direction": "Inbound",
        "access": access,
        "protocol": "Tcp" if port != "*" else "*",
        "source_address_prefix": source,
        "source_port_range": "*",
        "destination_address_prefix": "*",
        "destination_port_range": port,
    }


def subnet_cidrs(address_space: str) -> dict[str, str]:
    """The subnets' CIDRs in ``address_space``: its first four /22, in ``_SUBNETS`` order."""
    space = ipaddress.ip_network(address_space)
    return {
        name: str(prefix)
        for name, prefix in zip(_SUBNETS, space.subnets(new_prefix=22), strict=False)
    }


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    """A VNet of four /22 subnets (AKS system, AKS models, private endpoints, gateway), each
    with an NSG that denies inbound Internet traffic, and the private DNS zones."""

    placement: Placement
    """Resource group, region and tags."""
    address_space: str = "10.40.0.0/16"
    """IPv4 address space of the VNet, /20 or larger (the subnets are its first four /22)."""

    def __post_init__(self) -> None:
        space = ipv4_network(self.address_space)
        require(
            space is not None and space.prefixlen <= 20,
            self,
            f"address_space {self.address_space!r} must be an IPv4 CIDR of /20 or larger",
        )


class Network(pulumi.ComponentResource):
    """The VNet, subnets, NSGs, and a private DNS zone (linked to the VNet) per service.

    Outputs: ``vnet``, ``subnet_ids`` (``aks-system``, ``aks-models``, ``endpoints``,
    ``gateway``) and ``dns_zone_ids`` (by private-link group, see ``PRIVATE_DNS_ZONES``).
    """

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:Network", name, None, opts)
        placement = args.placement
        child = pulumi.ResourceOptions(parent=self)
        space = ipaddress.ip_network(args.address_space)
        prefixes = subnet_cidrs(args.address_space)
        self.vnet = network.VirtualNetwork(
            f"{name}-vnet",
            virtual_network_name=azure_name(network.VirtualNetwork, f"{name}-vnet"),
            resource_group_name=placement.resource_group,
            location=placement.location,
            address_space={"address_prefixes": [str(space)]},
            tags=placement.tags,
            opts=child,
        )
        self.subnet_ids: dict[str, pulumi.Output[str]] = {}
        previous: pulumi.Resource | None = None
        for subnet_name in _SUBNETS:
            inbound = _GATEWAY_INBOUND if subnet_name == "gateway" else []
            nsg = network.NetworkSecurityGroup(
                f"{name}-{subnet_name}-nsg",
                network_security_group_name=azure_name(
                    network.NetworkSecurityGroup, f"{name}-{subnet_name}-nsg"
                ),
                resource_group_name=placement.resource_group,
                location=placement.location,
                security_rules=[
                    _inbound_rule(rule, source, port, priority)
                    for rule, source, port, priority in inbound
                ]
                + [_inbound_rule("deny-internet-inbound", "Internet", "*", 4000, access="Deny")],
                tags=placement.tags,
                opts=child,
            )
            # Subnets of one VNet are updated one at a time (Azure rejects concurrent edits).
            subnet = network.Subnet(
                f"{name}-{subnet_name}",
                subnet_name=azure_name(network.Subnet, f"{name}-{subnet_name}"),
                resource_group_name=placement.resource_group,
                virtual_network_name=self.vnet.name,
                address_prefix=prefixes[subnet_name],
                network_security_group={"id": nsg.id},
                default_outbound_access=False,
                private_endpoint_network_policies="Enabled",
                opts=pulumi.ResourceOptions(
                    parent=self.vnet, depends_on=[previous] if previous else []
                ),
            )
            previous = subnet
            self.subnet_ids[subnet_name] = subnet.id
        self.dns_zone_ids: dict[str, pulumi.Output[str]] = {}
        for group, zone_name in PRIVATE_DNS_ZONES.items():
            zone = privatedns.PrivateZone(
                f"{name}-{group.lower()}-zone",
                resource_group_name=placement.resource_group,
                private_zone_name=zone_name,
                location="global",
                tags=placement.tags,
                opts=child,
            )
            privatedns.VirtualNetworkLink(
                f"{name}-{group.lower()}-link",
                virtual_network_link_name=azure_name(
                    privatedns.VirtualNetworkLink, f"{name}-{group.lower()}-link"
                ),
                resource_group_name=placement.resource_group,
                private_zone_name=zone.name,
                location="global",
                registration_enabled=False,
                virtual_network={"id": self.vnet.id},
                opts=pulumi.ResourceOptions(parent=zone),
            )
            self.dns_zone_ids[group] = zone.id
        self.register_outputs(
            {
                "vnet_id": self.vnet.id,
                "subnet_ids": self.subnet_ids,
                "dns_zone_ids": self.dns_zone_ids,
            }
        )
