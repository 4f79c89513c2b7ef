"""API Management: private; JWT (Entra ID), per-caller rate limits and quotas, body checks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal
from xml.sax.saxutils import quoteattr

import pulumi
import pulumi_azure_native.apimanagement as apimanagement

from sealgate.platform._common import (
    TYPE_PREFIX,
    Placement,
    diagnose,
    private_endpoint,
    require,
    zones_or_none,
)

ApiManagementSku = Literal["Developer", "Premium"]
INFERENCE_AUDIENCE = "api://sealgate-inference"
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


def inference_policy(
    tenant_id: str, calls_per_minute: int, calls_per_day: int, max_bytes: int
) -> str:
    """The API's policy document (APIM policy XML)."""
    openid = f"https://login.microsoftonline.com/{tenant_id}/v2.0/.well-known/openid-configuration"
    too_large = (
        '@(context.Request.Headers.GetValueOrDefault("Content-Length","0").AsInteger()'
        f" &gt; {max_bytes})"
    )
    return f"""<policies>
  <inbound>
    <base />
    <validate-jwt header-name="Authorization" failed-validation-httpcode="401" require-scheme="Bearer" require-expiration-time="true" require-signed-tokens="true">
      <openid-config url={quoteattr(openid)} />
      <audiences><audience>{INFERENCE_AUDIENCE}</audience></audiences>
      <issuers><issuer>https://login.microsoftonline.com/{tenant_id}/v2.0</issuer></issuers>
      <required-claims><claim name="roles" match="any"><value>{INFERENCE_ROLE}</value></claim></required-claims>
    </validate-jwt>
    <rate-limit-by-key calls="{calls_per_minute}" renewal-period="60" counter-key="@(context.Request.Headers.GetValueOrDefault(&quot;Authorization&quot;,&quot;&quot;).AsJwt()?.Subject)" />
    <quota-by-key calls="{calls_per_day}" renewal-period="86400" counter-key="@(context.Request.Headers.GetValueOrDefault(&quot;Authorization&quot;,&quot;&quot;).AsJwt()?.Subject)" />
    <choose>
      <when condition={quoteattr(too_large)}>
        <return-response><set-status code="413" reason="Payload Too Large" /></return-response>
      </when>
    </choose>
    <validate-content unspecified-content-type-action="prevent" max-size="{max_bytes}" size-exceeded-action="prevent" errors-variable-name="requestBodyValidation">
      <content type="application/json" validate-as="json" action="prevent" schema-id="{INFERENCE_SCHEMA_ID}" />
    </validate-content>
  </inbound>
  <backend><base /></backend>
  <outbound><base /></outbound>
  <on-error><base /></on-error>
</policies>"""


@dataclass(frozen=True, kw_only=True)
class ApiGatewayArgs:
    """API Management in front of the model server: Entra ID tokens, rate limits, body checks."""

    placement: Placement
    """Resource group, region and tags."""
    tenant_id: str
    """Entra ID tenant whose tokens (audience ``api://sealgate-inference``, role
    ``Inference.Invoke``) the inference API accepts."""
    publisher_email: str
    """E-mail address of the API publisher (API Management requires one)."""
    backend_url: pulumi.Input[str]
    """URL of the model server the inference API forwards to: an address APIM resolves from
    the VNet (the internal load balancer, ``Workloads.backend_url``), never a cluster DNS name."""
    endpoint_subnet_id: pulumi.Input[str]
    """Subnet of the gateway's private endpoint (public network access is disabled)."""
    private_dns_zone_id: pulumi.Input[str]
    """Private DNS zone ``privatelink.azure-api.net``."""
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
        require(self.sku in ("Developer", "Premium"), self, "sku: Developer or Premium")
        require(
            not (isinstance(self.backend_url, str) and ".cluster.local" in self.backend_url),
            self,
            f"backend_url {self.backend_url!r}: APIM cannot resolve cluster DNS names",
        )
        require(1 <= self.capacity <= 10, self, "capacity must be 1..10")
        require(self.rate_limit_calls_per_minute >= 1, self, "rate_limit_calls_per_minute < 1")
        require(self.quota_calls_per_day >= 1, self, "quota_calls_per_day < 1")
        require(
            1024 <= self.max_request_bytes <= 4_194_304,
            self,
            "max_request_bytes must be 1024..4194304",
        )


class ApiGateway(pulumi.ComponentResource):
    """The API Management service and its inference API (schema, operation, policy).

    Outputs: ``service`` (the ApiManagementService), ``gateway_host`` (its gateway host name),
    ``schema_json`` (the inference request schema as JSON text).
    """

    def __init__(
        self, name: str, args: ApiGatewayArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{TYPE_PREFIX}:ApiGateway", name, None, opts)
        placement = args.placement
        self.service = apimanagement.ApiManagementService(
            f"{name}-apim",
            resource_group_name=placement.resource_group,
            location=placement.location,
            publisher_email=args.publisher_email,
            publisher_name=args.publisher_name,
            sku={"name": args.sku, "capacity": args.capacity},
            identity={"type": "SystemAssigned"},
            virtual_network_type="None",
            public_network_access="Disabled",
            developer_portal_status="Disabled",
            legacy_portal_status="Disabled",
            custom_properties=_LEGACY_PROTOCOLS_OFF,
            zones=zones_or_none(args.availability_zones) if args.sku == "Premium" else None,
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
                args.rate_limit_calls_per_minute,
                args.quota_calls_per_day,
                args.max_request_bytes,
            ),
            opts=api_child,
        )
        private_endpoint(
            self.service,
            f"{name}-apim",
            "Gateway",
            placement,
            args.endpoint_subnet_id,
            args.private_dns_zone_id,
        )
        diagnose(self.service, f"{name}-apim", args.workspace_id)
        self.gateway_host = self.service.name.apply(lambda n: f"{n}.azure-api.net")
        self.schema_json = json.dumps(INFERENCE_REQUEST_SCHEMA, sort_keys=True)
        self.register_outputs({"gateway_host": self.gateway_host, "service_id": self.service.id})
