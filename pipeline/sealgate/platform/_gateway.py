"""Application Gateway WAF_v2 with a WAF policy in Prevention mode, in front of APIM."""

from __future__ import annotations

import pulumi
import pulumi_azure_native.network as network

from sealgate.platform._common import TYPE_PREFIX, Platform, diagnose

MANAGED_RULE_SETS = [
    {"rule_set_type": "Microsoft_DefaultRuleSet", "rule_set_version": "2.1"},
    {"rule_set_type": "Microsoft_BotManagerRuleSet", "rule_set_version": "1.1"},
]
SSL_POLICY = {"policy_type": "Predefined", "policy_name": "AppGwSslPolicy20220101S"}


class Gateway(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        platform: Platform,
        *,
        subscription_id: pulumi.Input[str],
        subnet_id: pulumi.Input[str],
        backend_fqdn: pulumi.Input[str],
        tls_secret_id: pulumi.Input[str],
        identity_id: pulumi.Input[str],
        workspace_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(f"{TYPE_PREFIX}:Gateway", name, None, opts)
        config = platform.config
        child = pulumi.ResourceOptions(parent=self)
        self.waf_policy = network.WebApplicationFirewallPolicy(
            f"{name}-waf",
            resource_group_name=platform.resource_group,
            location=platform.location,
            policy_settings={
                "state": "Enabled",
                "mode": "Prevention",
                "request_body_check": True,
                "request_body_enforcement": True,
                "request_body_inspect_limit_in_kb": 128,
                "max_request_body_size_in_kb": min(2000, max(8, config.max_request_bytes // 1024)),
                "file_upload_enforcement": True,
                "file_upload_limit_in_mb": 100,
            },
            managed_rules={"managed_rule_sets": MANAGED_RULE_SETS},
            tags=platform.tags,
            opts=child,
        )
        public_ip = network.PublicIPAddress(
            f"{name}-ip",
            resource_group_name=platform.resource_group,
            location=platform.location,
            sku={"name": "Standard", "tier": "Regional"},
            public_ip_allocation_method="Static",
            zones=config.availability_zones or None,
            tags=platform.tags,
            opts=child,
        )
        gateway_name = f"{config.name_prefix}-{config.environment}-agw"

        def part(kind: str, item: str) -> pulumi.Output[str]:
            return pulumi.Output.concat(
                "/subscriptions/",
                subscription_id,
                "/resourceGroups/",
                platform.resource_group,
                "/providers/Microsoft.Network/applicationGateways/",
                gateway_name,
                f"/{kind}/{item}",
            )

        self.gateway = network.ApplicationGateway(
            f"{name}-agw",
            application_gateway_name=gateway_name,
            resource_group_name=platform.resource_group,
            location=platform.location,
            sku={"name": "WAF_v2", "tier": "WAF_v2"},
            autoscale_configuration={
                "min_capacity": config.appgw_min_capacity,
                "max_capacity": config.appgw_max_capacity,
            },
            zones=config.availability_zones or None,
            identity={"type": "UserAssigned", "user_assigned_identities": [identity_id]},
            firewall_policy={"id": self.waf_policy.id},
            force_firewall_policy_association=True,
            enable_http2=True,
            ssl_policy=SSL_POLICY,
            gateway_ip_configurations=[{"name": "gateway", "subnet": {"id": subnet_id}}],
            frontend_ip_configurations=[
                {"name": "public", "public_ip_address": {"id": public_ip.id}}
            ],
            frontend_ports=[{"name": "https", "port": 443}],
            ssl_certificates=[{"name": "frontend", "key_vault_secret_id": tls_secret_id}],
            http_listeners=[
                {
                    "name": "https",
                    "protocol": "Https",
                    "frontend_ip_configuration": {"id": part("frontendIPConfigurations", "public")},
                    "frontend_port": {"id": part("frontendPorts", "https")},
                    "ssl_certificate": {"id": part("sslCertificates", "frontend")},
                }
            ],
            backend_address_pools=[{"name": "apim", "backend_addresses": [{"fqdn": backend_fqdn}]}],
            backend_http_settings_collection=[
                {
                    "name": "apim-https",
                    "protocol": "Https",
                    "port": 443,
                    "host_name": backend_fqdn,
                    "request_timeout": 60,
                    "probe": {"id": part("probes", "apim")},
                }
            ],
            probes=[
                {
                    "name": "apim",
                    "protocol": "Https",
                    "host": backend_fqdn,
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
            tags=platform.tags,
            opts=child,
        )
        diagnose(self.gateway, f"{name}-agw", workspace_id)
        diagnose(public_ip, f"{name}-ip", workspace_id)
        self.public_ip = public_ip.ip_address
        self.register_outputs({"gateway_id": self.gateway.id})
