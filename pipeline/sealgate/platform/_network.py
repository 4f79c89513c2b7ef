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
    "iotHub": "privatelink.azure-devices.net",
    "iotDps": "privatelink.azure-devices-provisioning.net",
}

# API Management in Internal VNet mode: Azure registers none of its host names, so the VNet
# resolves them through a private zone named `azure-api.net` with an A record per host name at
# the service's private address (https://learn.microsoft.com/azure/api-management/
# api-management-using-with-internal-vnet#dns-configuration).
APIM_DNS_ZONE = "azure-api.net"

# Inbound rules per subnet beyond the deny-all: only the gateway is reachable from outside.
_GATEWAY_INBOUND = [
    ("allow-https-from-internet", "Internet", "443", 100),
    ("allow-gateway-manager", "GatewayManager", "65200-65535", 110),
    ("allow-azure-load-balancer", "AzureLoadBalancer", "*", 120),
]
_SUBNETS = ("aks-system", "aks-models", "endpoints", "gateway", "apim")


def _rule(
    name: str,
    source: str,
    port: str,
    priority: int,
    *,
    access: str = "Allow",
    direction: str = "Inbound",
    destination: str = "*",
) -> network.SecurityRuleArgsDict:
    """An NSG rule from ``source`` to ``destination:port`` (``*``: any port, any protocol;
    ports separated by commas become a list)."""
    ports = port.split(",")
    rule: network.SecurityRuleArgsDict = {
        "name": name,
        "priority": priority,
        "direction": direction,
        "access": access,
        "protocol": "Tcp" if port != "*" else "*",
        "source_address_prefix": source,
        "source_port_range": "*",
        "destination_address_prefix": destination,
    }
    if len(ports) > 1:
        rule["destination_port_ranges"] = ports
    else:
        rule["destination_port_range"] = port
    return rule


def _inbound_rule(
    name: str, source: str, port: str, priority: int, *, access: str = "Allow"
) -> network.SecurityRuleArgsDict:
    """An inbound NSG rule from ``source`` to ``port`` (``*``: any port and any protocol)."""
    return _rule(name, source, port, priority, access=access)


def apim_rules(gateway_cidr: str) -> list[network.SecurityRuleArgsDict]:
    """The API Management subnet's rules, after Azure's VNet configuration reference for the
    classic tiers (https://learn.microsoft.com/azure/api-management/virtual-network-reference,
    "Required ports", Internal mode): the control plane (service tag ``ApiManagement``) on
    3443 and the infrastructure load balancer on 6390 inbound; HTTPS from the App Gateway's
    subnet alone (no client reaches APIM but through the WAF); outbound the required
    dependencies: Storage 443, Sql 1433, AzureKeyVault 443, AzureMonitor 1886 and 443,
    Internet 80 for certificate validation (CRL/OCSP), and AzureActiveDirectory 443 (Entra ID,
    which validate-jwt needs)."""
    vnet = "VirtualNetwork"
    return [
        _rule("allow-apim-management", "ApiManagement", "3443", 100, destination=vnet),
        _rule("allow-azure-load-balancer", "AzureLoadBalancer", "6390", 110, destination=vnet),
        _rule("allow-https-from-gateway", gateway_cidr, "443", 120, destination=vnet),
        *(
            _rule(
                f"allow-{tag.lower()}-outbound",
                vnet,
                ports,
                priority,
                direction="Outbound",
                destination=tag,
            )
            for tag, ports, priority in (
                ("Storage", "443", 100),
                ("Sql", "1433", 110),
                ("AzureKeyVault", "443", 120),
                ("AzureMonitor", "1886,443", 130),
                ("Internet", "80", 140),
                # validate-jwt reads the tenant's OpenID configuration and signing keys.
                ("AzureActiveDirectory", "443", 150),
            )
        ),
    ]


def subnet_cidrs(address_space: str) -> dict[str, str]:
    """The subnets' CIDRs in ``address_space``: its first five /22, in ``_SUBNETS`` order."""
    space = ipaddress.ip_network(address_space)
    return {
        name: str(prefix)
        for name, prefix in zip(_SUBNETS, space.subnets(new_prefix=22), strict=False)
    }


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    """A VNet of five /22 subnets (AKS system, AKS models, private endpoints, gateway, API
    Management), each with an NSG that denies inbound Internet traffic, and the private DNS
    zones."""

    placement: Placement
    """Resource group, region and tags."""
    address_space: str = "10.40.0.0/16"
    """IPv4 address space of the VNet, /19 or larger (the subnets are its first five /22)."""

    def __post_init__(self) -> None:
        space = ipv4_network(self.address_space)
        require(
            space is not None and space.prefixlen <= 19,
            self,
            f"address_space {self.address_space!r} must be an IPv4 CIDR of /19 or larger",
        )


class Network(pulumi.ComponentResource):
    """The VNet, subnets, NSGs, and a private DNS zone (linked to the VNet) per service.

    Outputs: ``vnet``, ``subnet_ids`` (``aks-system``, ``aks-models``, ``endpoints``,
    ``gateway``, ``apim``), ``dns_zone_ids`` (by private-link group, see
    ``PRIVATE_DNS_ZONES``) and ``apim_zone_name`` (the private zone ``azure-api.net``, where
    API Management registers its host names).
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
            extra = apim_rules(prefixes["gateway"]) if subnet_name == "apim" else []
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
                + extra
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
        zones = {**PRIVATE_DNS_ZONES, "apim": APIM_DNS_ZONE}
        for group, zone_name in zones.items():
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
            if group == "apim":
                self.apim_zone_name: pulumi.Output[str] = zone.name
            else:
                self.dns_zone_ids[group] = zone.id
        self.register_outputs(
            {
                "vnet_id": self.vnet.id,
                "subnet_ids": self.subnet_ids,
                "dns_zone_ids": self.dns_zone_ids,
            }
        )
