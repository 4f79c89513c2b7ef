"""API Management: in the VNet (Internal mode); JWT (Entra ID), per-caller limits, body checks.

The classic Developer and Premium tiers the stacks use reach a backend inside the VNet only
when the service is injected into a subnet: an inbound private endpoint carries requests to
the gateway, never from it to a backend, and Azure refuses private endpoints on an injected
service (https://learn.microsoft.com/azure/api-management/virtual-network-concepts;
https://learn.microsoft.com/azure/api-management/private-endpoint, "can't already be
configured with an external or internal virtual network"). The v2 tiers' VNet integration is
not available to Developer or Premium. So the service is injected in Internal mode (its
endpoints have private addresses only) behind the App Gateway WAF, the reference setup
(https://learn.microsoft.com/azure/api-management/api-management-howto-integrate-internal-vnet-appgateway).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Literal
from xml.etree import ElementTree

import pulumi
import pulumi_azure_native.apimanagement as apimanagement
import pulumi_azure_native.network as network
import pulumi_azure_native.privatedns as privatedns

from sealgate.platform._common import (
    TYPE_PREFIX,
    Placement,
    diagnose,
    require,
    zones_or_none,
)
from sealgate.platform._naming import azure_name

ApiManagementSku = Literal["Developer", "Premium"]


INFERENCE_ROLE = "Inference.Invoke"
INFERENCE_SCHEMA_ID = "inference-request"

# The body of POST /models/{model}/infer: named input tensors, nothing else.
INFERENCE_REQUEST_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": False,
    "required": ["inputs"],
    "properties": {
        "id": {"type": "string", "maxLength": 128},
        "inputs": {
            "type": "array",
            "minItems": 1,
            "maxItems": 64,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "shape", "datatype", "data"],
                "properties": {
                    "name": {"type": "string", "maxLength": 128},
                    "shape": {
                        "type": "array",
                        "maxItems": 8,
                        "items": {"type": "integer", "minimum": 0},
                    },
                    "datatype": {
                        "enum": ["BOOL", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"]
                    },
                    "data": {"type": "array"},
                },
            },
        },
    },
}
# TLS 1.0/1.1 and 3DES off on the gateway and towards backends.
_LEGACY_PROTOCOLS_OFF = {
    f"Microsoft.WindowsAzure.ApiManagement.Gateway.Security.{side}.{proto}": "False"
    for side in ("Protocols", "Backend.Protocols")
    for proto in ("Tls10", "Tls11", "Ssl30")
} | {"Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Ciphers.TripleDes168": "False"}


def _counter_key() -> str:
    """The caller of a request: the subject of its (already validated) bearer token."""
    return '@(context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt()?.Subject)'


def too_large_condition(max_bytes: int) -> str:
    """The C# condition that refuses a declared body above ``max_bytes`` before it is read."""
    return (
        '@(context.Request.Headers.GetValueOrDefault("Content-Length","0").AsInteger()'
        f" > {max_bytes})"
    )


def inference_policy(
    tenant_id: str, audience: str, calls_per_minute: int, calls_per_day: int, max_bytes: int
) -> str:
    """The API's policy document (APIM policy XML), built as an element tree.

    Attribute values hold the C# expressions as APIM must read them; the serializer escapes
    them once (``>`` as ``&gt;``), so parsing the document gives the expression back intact.
    ``validate-jwt`` follows Entra ID v2 access tokens: the tenant's v2.0 OpenID
    configuration, issuer ``https://login.microsoftonline.com/<tenant>/v2.0`` and, as
    audience, the API application's client id (a v2 token's ``aud``), see
    https://learn.microsoft.com/azure/api-management/validate-jwt-policy and
    https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference.
    """
    authority = f"https://login.microsoftonline.com/{tenant_id}/v2.0"
    policies = ElementTree.Element("policies")
    inbound = ElementTree.SubElement(policies, "inbound")
    ElementTree.SubElement(inbound, "base")
    jwt = ElementTree.SubElement(
        inbound,
        "validate-jwt",
        {
            "header-name": "Authorization",
            "failed-validation-httpcode": "401",
            "require-scheme": "Bearer",
            "require-expiration-time": "true",
            "require-signed-tokens": "true",
        },
    )
    ElementTree.SubElement(
        jwt, "openid-config", {"url": f"{authority}/.well-known/openid-configuration"}
    )
    ElementTree.SubElement(ElementTree.SubElement(jwt, "audiences"), "audience").text = audience
    ElementTree.SubElement(ElementTree.SubElement(jwt, "issuers"), "issuer").text = authority
    claim = ElementTree.SubElement(
        ElementTree.SubElement(jwt, "required-claims"), "claim", {"name": "roles", "match": "any"}
    )
    ElementTree.SubElement(claim, "value").text = INFERENCE_ROLE
    ElementTree.SubElement(
        inbound,
        "rate-limit-by-key",
        {"calls": str(calls_per_minute), "renewal-period": "60", "counter-key": _counter_key()},
    )
    ElementTree.SubElement(
        inbound,
        "quota-by-key",
        {"calls": str(calls_per_day), "renewal-period": "86400", "counter-key": _counter_key()},
    )
    when = ElementTree.SubElement(
        ElementTree.SubElement(inbound, "choose"),
        "when",
        {"condition": too_large_condition(max_bytes)},
    )
    ElementTree.SubElement(
        ElementTree.SubElement(when, "return-response"),
        "set-status",
        {"code": "413", "reason": "Payload Too Large"},
    )
    content = ElementTree.SubElement(
        inbound,
        "validate-content",
        {
            "unspecified-content-type-action": "prevent",
            "max-size": str(max_bytes),
            "size-exceeded-action": "prevent",
            "errors-variable-name": "requestBodyValidation",
        },
    )
    ElementTree.SubElement(
        content,
        "content",
        {
            "type": "application/json",
            "validate-as": "json",
            "action": "prevent",
            "schema-id": INFERENCE_SCHEMA_ID,
        },
    )
    for section in ("backend", "outbound", "on-error"):
        ElementTree.SubElement(ElementTree.SubElement(policies, section), "base")
    ElementTree.indent(policies)
    return ElementTree.tostring(policies, encoding="unicode")


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, kw_only=True)
class ApiGatewayArgs:
    """API Management in front of the model server: Entra ID tokens, rate limits, body checks."""

    placement: Placement
    """Resource group, region and tags."""
    tenant_id: str
    """Entra ID tenant whose v2 access tokens (role ``Inference.Invoke``) the API accepts."""
    audience: str
    """Application (client) id of the inference API's app registration: the ``aud`` of the
    Entra ID v2 access tokens the API accepts."""
    publisher_email: str
    """E-mail address of the API publisher (API Management requires one)."""
    backend_url: pulumi.Input[str]
    """URL of the model server the inference API forwards to: an address APIM resolves from
    the VNet (the internal load balancer, ``Workloads.backend_url``), never a cluster DNS name."""
    subnet_id: pulumi.Input[str]
    """The service's own subnet (Internal VNet mode), with the NSG Azure requires
    (``Network`` subnet ``apim``, rules ``apim_rules``)."""
    dns_zone_name: pulumi.Input[str]
    """The private DNS zone ``azure-api.net`` linked to the VNet: the service's gateway host
    name is registered there at its private address."""
    workspace_id: pulumi.Input[str]
    """Log Analytics workspace that receives the gateway's logs and metrics."""
    publisher_name: str = "sealgate"
    """Name of the API publisher."""
    sku: ApiManagementSku = "Developer"
    """API Management tier: ``Premium`` for production (zones, SLA)."""
    capacity: int = 1
    """Units of the tier."""
    availability_zones: tuple[str, ...] = ()
    """Zones of a ``Premium`` service (ignored by ``Developer``)."""
    rate_limit_calls_per_minute: int = 60
    """Calls a caller (token subject) may make per minute."""
    quota_calls_per_day: int = 10000
    """Calls a caller may make per day."""
    max_request_bytes: int = 1_048_576
    """Largest request body accepted (validate-content checks bodies up to 4 MiB)."""

    def __post_init__(self) -> None:
        require(_is_uuid(self.audience), self, "audience must be an application (client) id")
        require(self.sku in ("Developer", "Premium"), self, "sku: Developer or Premium")
        require(
            not (isinstance(self.backend_url, str) and ".cluster.local" in self.backend_url),
            self,
            f"backend_url {self.backend_url!r}: APIM cannot resolve cluster DNS names",
        )
        require(1 <= self.capacity <= 10, self, "capacity must be 1..10")
        # Zones set by hand take units spread evenly over them
        # (https://learn.microsoft.com/azure/api-management/enable-availability-zone-support).
        zones = len(self.availability_zones) if self.sku == "Premium" else 0
        require(
            zones == 0 or self.capacity % zones == 0,
            self,
            f"capacity {self.capacity} does not spread evenly over {zones} availability zones",
        )
        require(self.rate_limit_calls_per_minute >= 1, self, "rate_limit_calls_per_minute < 1")
        require(self.quota_calls_per_day >= 1, self, "quota_calls_per_day < 1")
        require(
            1024 <= self.max_request_bytes <= 4_194_304,
            self,
            "max_request_bytes must be 1024..4194304",
        )


class ApiGateway(pulumi.ComponentResource):
    """The API Management service and its inference API (schema, operation, policy).

    Outputs: ``service`` (the ApiManagementService), ``gateway_host`` (its gateway host name,
    resolved in the VNet to ``private_ip``), ``private_ip`` (the gateway's private address in
    its subnet), ``schema_json`` (the inference request schema as JSON text).
    """

    def __init__(
        self, name: str, args: ApiGatewayArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:ApiGateway", name, None, opts)
        placement = args.placement
        zones = zones_or_none(args.availability_zones) if args.sku == "Premium" else None
        service_name = azure_name(apimanagement.ApiManagementService, f"{name}-apim")
        # stv2 in a VNet takes a Standard public IPv4 of the customer's with a DNS label; in
        # Internal mode it carries only the control plane on 3443 (the NSG admits the
        # ApiManagement tag alone), and zone-redundant Premium requires it
        # (https://learn.microsoft.com/azure/api-management/virtual-network-injection-resources;
        # https://learn.microsoft.com/azure/api-management/api-management-using-with-internal-vnet#routing).
        public_ip = network.PublicIPAddress(
            f"{name}-apim-ip",
            public_ip_address_name=azure_name(network.PublicIPAddress, f"{name}-apim-ip"),
            resource_group_name=placement.resource_group,
            location=placement.location,
            sku={"name": "Standard", "tier": "Regional"},
            public_ip_allocation_method="Static",
            dns_settings={"domain_name_label": service_name},
            zones=zones,
            tags=placement.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.service = apimanagement.ApiManagementService(
            f"{name}-apim",
            service_name=service_name,
            resource_group_name=placement.resource_group,
            location=placement.location,
            publisher_email=args.publisher_email,
            publisher_name=args.publisher_name,
            sku={"name": args.sku, "capacity": args.capacity},
            identity={"type": "SystemAssigned"},
            virtual_network_type="Internal",
            virtual_network_configuration={"subnet_resource_id": args.subnet_id},
            public_ip_address_id=public_ip.id,
            # `publicNetworkAccess` governs private-endpoint services only: Azure refuses
            # `Disabled` on a service without an approved private endpoint
            # (https://github.com/Azure/azure-rest-api-specs/issues/24947), and an Internal
            # service has no public gateway endpoint to disable. Stated, so a plan shows it.
            public_network_access="Enabled",
            developer_portal_status="Disabled",
            legacy_portal_status="Disabled",
            custom_properties=_LEGACY_PROTOCOLS_OFF,
            zones=zones,
            tags=placement.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self.service)
        api = apimanagement.Api(
            f"{name}-inference-api",
            resource_group_name=placement.resource_group,
            service_name=self.service.name,
            api_id="inference",
            display_name="Model inference",
            path="models",
            protocols=["https"],
            service_url=args.backend_url,
            subscription_required=False,
            opts=child,
        )
        api_child = pulumi.ResourceOptions(parent=api)
        apimanagement.ApiSchema(
            f"{name}-inference-schema",
            resource_group_name=placement.resource_group,
            service_name=self.service.name,
            api_id="inference",
            schema_id=INFERENCE_SCHEMA_ID,
            content_type="application/vnd.oai.openapi.components+json",
            components={"schemas": {"InferenceRequest": INFERENCE_REQUEST_SCHEMA}},
            opts=api_child,
        )
        apimanagement.ApiOperation(
            f"{name}-infer",
            resource_group_name=placement.resource_group,
            service_name=self.service.name,
            api_id="inference",
            operation_id="infer",
            display_name="Run inference",
            method="POST",
            url_template="/{model}/infer",
            template_parameters=[{"name": "model", "type": "string", "required": True}],
            request={
                "representations": [
                    {
                        "content_type": "application/json",
                        "schema_id": INFERENCE_SCHEMA_ID,
                        "type_name": "InferenceRequest",
                    }
                ]
            },
            opts=api_child,
        )
        apimanagement.ApiPolicy(
            f"{name}-inference-policy",
            resource_group_name=placement.resource_group,
            service_name=self.service.name,
            api_id="inference",
            policy_id="policy",
            format="rawxml",
            value=inference_policy(
                args.tenant_id,
                args.audience,
                args.rate_limit_calls_per_minute,
                args.quota_calls_per_day,
                args.max_request_bytes,
            ),
            opts=api_child,
        )
        # Azure assigns the private address when it deploys the service (it cannot be chosen
        # beforehand); the A record follows it, so the App Gateway's backend, the default
        # host name, resolves to it inside the VNet. Only the gateway host is registered: the
        # portals are off and the service is managed through ARM.
        self.private_ip = self.service.private_ip_addresses.apply(lambda ips: ips[0])
        record = privatedns.PrivateRecordSet(
            f"{name}-apim-gateway-record",
            resource_group_name=placement.resource_group,
            private_zone_name=args.dns_zone_name,
            record_type="A",
            relative_record_set_name=service_name,
            ttl=300,
            a_records=[{"ipv4_address": self.private_ip}],
            opts=pulumi.ResourceOptions(parent=self.service),
        )
        diagnose(self.service, f"{name}-apim", args.workspace_id)
        diagnose(public_ip, f"{name}-apim-ip", args.workspace_id)
        # The host name is handed out once its record exists, so the App Gateway's backend
        # resolves from its first probe on.
        self.gateway_host = pulumi.Output.all(self.service.name, record.id).apply(
            lambda values: f"{values[0]}.azure-api.net"
        )
        self.schema_json = json.dumps(INFERENCE_REQUEST_SCHEMA, sort_keys=True)
        self.register_outputs(
            {
                "gateway_host": self.gateway_host,
                "private_ip": self.private_ip,
                "service_id": self.service.id,
            }
        )
