"""Application Gateway WAF_v2 with a WAF policy in Prevention mode, in front of APIM."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native.authorization as authorization
import pulumi_azure_native.network as network

from sealgate.platform._common import (
    TYPE_PREFIX,
    Placement,
    diagnose,
    require,
    role_definition,
    zones_or_none,
)
from sealgate.platform._naming import azure_name

# Key Vault Secrets User: read secret contents, nothing else; what Application Gateway needs
# on an RBAC vault to load its certificate (https://learn.microsoft.com/azure/
# application-gateway/key-vault-certs#key-vault-azure-role-based-access-control-permission-model).
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"

MANAGED_RULE_SETS: list[network.ManagedRuleSetArgsDict] = [
    {"rule_set_type": "Microsoft_DefaultRuleSet", "rule_set_version": "2.1"},
    {"rule_set_type": "Microsoft_BotManagerRuleSet", "rule_set_version": "1.1"},
]
SSL_POLICY: network.ApplicationGatewaySslPolicyArgsDict = {
    "policy_type": "Predefined",
    "policy_name": "AppGwSslPolicy20220101S",
}


@dataclass(frozen=True, kw_only=True)
class GatewayArgs:
    """The public entry point: Application Gateway WAF_v2, HTTPS only, WAF in Prevention mode."""

    placement: Placement
    """Resource group, region and tags."""
    gateway_name: str
    """Azure name of the Application Gateway (its sub-resource ids are built from it)."""
    subscription_id: pulumi.Input[str]
    """Subscription of the gateway (its sub-resource ids are built from it)."""
    subnet_id: pulumi.Input[str]
    """The gateway's own subnet."""
    backend_fqdn: pulumi.Input[str]
    """Host name of the backend (API Management's gateway host), reached over HTTPS."""
    tls_secret_id: pulumi.Input[str]
    """Key Vault secret id (versionless URI) of the frontend TLS certificate. The secret must
    exist before the gateway is created: the vault is private, so the pipeline imports the
    certificate over the private path after the bootstrap run (docs/bootstrap.md)."""
    tls_secret_scope: pulumi.Input[str]
    """ARM resource id of that secret (``<vault id>/secrets/<name>``): the scope of the
    identity's Key Vault Secrets User grant, which reaches that secret alone."""
    identity_id: pulumi.Input[str]
    """Resource id of the user-assigned identity that reads the TLS certificate."""
    identity_principal_id: pulumi.Input[str]
    """Principal id of that identity."""
    workspace_id: pulumi.Input[str]
    """Log Analytics workspace that receives the gateway's and its IP's logs and metrics."""
    min_capacity: int = 0
    """Fewest autoscale instances."""
    max_capacity: int = 2
    """Most autoscale instances."""
    availability_zones: tuple[str, ...] = ()
    """Zones of the gateway and its public IP (none: regional)."""
    max_request_bytes: int = 1_048_576
    """Largest request body the WAF lets through (kept within the WAF's 8 KB..2000 KB)."""

    def __post_init__(self) -> None:
        require(
            0 <= self.min_capacity <= self.max_capacity <= 125,
            self,
            "capacities must satisfy 0 <= min_capacity <= max_capacity <= 125",
        )
        require(self.max_capacity >= 2, self, "max_capacity must be at least 2")
        require(self.max_request_bytes >= 1, self, "max_request_bytes must be positive")


class Gateway(pulumi.ComponentResource):
    """The WAF policy, the public IP and the Application Gateway in front of API Management.

    Outputs: ``gateway`` (the ApplicationGateway), ``waf_policy``, ``public_ip`` (its address).
    """

    def __init__(
        self, name: str, args: GatewayArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:Gateway", name, None, opts)
        placement = args.placement
        child = pulumi.ResourceOptions(parent=self)
        self.waf_policy = network.WebApplicationFirewallPolicy(
            f"{name}-waf",
            policy_name=azure_name(network.WebApplicationFirewallPolicy, f"{name}-waf"),
            resource_group_name=placement.resource_group,
            location=placement.location,
            policy_settings={
                "state": "Enabled",
                "mode": "Prevention",
                "request_body_check": True,
                "request_body_enforcement": True,
                "request_body_inspect_limit_in_kb": 128,
                "max_request_body_size_in_kb": min(2000, max(8, args.max_request_bytes // 1024)),
                "file_upload_enforcement": True,
                "file_upload_limit_in_mb": 100,
            },
            managed_rules={"managed_rule_sets": MANAGED_RULE_SETS},
            tags=placement.tags,
            opts=child,
        )
        public_ip = network.PublicIPAddress(
            f"{name}-ip",
            public_ip_address_name=azure_name(network.PublicIPAddress, f"{name}-ip"),
            resource_group_name=placement.resource_group,
            location=placement.location,
            sku={"name": "Standard", "tier": "Regional"},
            public_ip_allocation_method="Static",
            zones=zones_or_none(args.availability_zones),
            tags=placement.tags,
            opts=child,
        )
        gateway_name = args.gateway_name
        # The least role, on the certificate's secret alone; the gateway loads the
        # certificate when it is created, so it is created after the grant.
        certificate_grant = authorization.RoleAssignment(
            f"{name}-tls-secret-reader",
            role_assignment_name=azure_name(
                authorization.RoleAssignment, f"{name}-tls-secret-reader"
            ),
            scope=args.tls_secret_scope,
            principal_id=args.identity_principal_id,
            principal_type="ServicePrincipal",
            role_definition_id=role_definition(args.subscription_id, KEY_VAULT_SECRETS_USER),
            description="application gateway: its TLS certificate",
            opts=child,
        )

        def part(kind: str, item: str) -> pulumi.Output[str]:
            return pulumi.Output.concat(
                "/subscriptions/",
                args.subscription_id,
                "/resourceGroups/",
                placement.resource_group,
                "/providers/Microsoft.Network/applicationGateways/",
                gateway_name,
                f"/{kind}/{item}",
            )

        self.gateway = network.ApplicationGateway(
            f"{name}-agw",
            application_gateway_name=gateway_name,
            resource_group_name=placement.resource_group,
            location=placement.location,
            sku={"name": "WAF_v2", "tier": "WAF_v2"},
            autoscale_configuration={
                "min_capacity": args.min_capacity,
                "max_capacity": args.max_capacity,
            },
            zones=zones_or_none(args.availability_zones),
            identity={
                "type": network.ResourceIdentityType.USER_ASSIGNED,
                "user_assigned_identities": [args.identity_id],
            },
            firewall_policy={"id": self.waf_policy.id},
            force_firewall_policy_association=True,
            enable_http2=True,
            ssl_policy=SSL_POLICY,
            gateway_ip_configurations=[{"name": "gateway", "subnet": {"id": args.subnet_id}}],
            frontend_ip_configurations=[
                {"name": "public", "public_ip_address": {"id": public_ip.id}}
            ],
            frontend_ports=[{"name": "https", "port": 443}],
            ssl_certificates=[{"name": "frontend", "key_vault_secret_id": args.tls_secret_id}],
            http_listeners=[
                {
                    "name": "https",
                    "protocol": "Https",
                    "frontend_ip_configuration": {"id": part("frontendIPConfigurations", "public")},
                    "frontend_port": {"id": part("frontendPorts", "https")},
                    "ssl_certificate": {"id": part("sslCertificates", "frontend")},
                }
            ],
            backend_address_pools=[
                {"name": "apim", "backend_addresses": [{"fqdn": args.backend_fqdn}]}
            ],
            backend_http_settings_collection=[
                {
                    "name": "apim-https",
                    "protocol": "Https",
                    "port": 443,
                    "host_name": args.backend_fqdn,
                    "request_timeout": 60,
                    "probe": {"id": part("probes", "apim")},
                }
            ],
            probes=[
                {
                    "name": "apim",
                    "protocol": "Https",
                    "host": args.backend_fqdn,
                    "path": "/status-0123456789abcdef",
                    "interval": 30,
                    "timeout": 30,
                    "unhealthy_threshold": 3,
                }
            ],
            request_routing_rules=[
                {
                    "name": "to-apim",
                    "rule_type": "Basic",
                    "priority": 100,
                    "http_listener": {"id": part("httpListeners", "https")},
                    "backend_address_pool": {"id": part("backendAddressPools", "apim")},
                    "backend_http_settings": {
                        "id": part("backendHttpSettingsCollection", "apim-https")
                    },
                }
            ],
            tags=placement.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[certificate_grant]),
        )
        diagnose(self.gateway, f"{name}-agw", args.workspace_id)
        diagnose(public_ip, f"{name}-ip", args.workspace_id)
        self.public_ip = public_ip.ip_address
        self.register_outputs({"gateway_id": self.gateway.id, "public_ip": self.public_ip})
