"""API Management: private; JWT (Entra ID), per-caller rate limits and quotas, body checks."""

from __future__ import annotations

import json
from xml.sax.saxutils import quoteattr

import pulumi
import pulumi_azure_native.apimanagement as apimanagement

from sealgate.platform._common import TYPE_PREFIX, Platform, diagnose, private_endpoint

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


class ApiGateway(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        platform: Platform,
        *,
        backend_url: pulumi.Input[str],
        subnet_id: pulumi.Input[str],
        dns_zone_id: pulumi.Input[str],
        workspace_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(f"{TYPE_PREFIX}:ApiGateway", name, None, opts)
        config = platform.config
        self.service = apimanagement.ApiManagementService(
            f"{name}-apim",
            resource_group_name=platform.resource_group,
            location=platform.location,
            publisher_email=config.apim_publisher_email,
            publisher_name="sealgate",
            sku={"name": config.apim_sku, "capacity": config.apim_capacity},
            identity={"type": "SystemAssigned"},
            virtual_network_type="None",
            public_network_access="Disabled",
            developer_portal_status="Disabled",
            legacy_portal_status="Disabled",
            custom_properties=_LEGACY_PROTOCOLS_OFF,
            zones=config.availability_zones or None if config.apim_sku == "Premium" else None,
            tags=platform.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self.service)
        api = apimanagement.Api(
            f"{name}-inference-api",
            resource_group_name=platform.resource_group,
            service_name=self.service.name,
            api_id="inference",
            display_name="Model inference",
            path="models",
            protocols=["https"],
            service_url=backend_url,
            subscription_required=False,
            opts=child,
        )
        api_child = pulumi.ResourceOptions(parent=api)
        apimanagement.ApiSchema(
            f"{name}-inference-schema",
            resource_group_name=platform.resource_group,
            service_name=self.service.name,
            api_id="inference",
            schema_id=INFERENCE_SCHEMA_ID,
            content_type="application/vnd.oai.openapi.components+json",
            components={"schemas": {"InferenceRequest": INFERENCE_REQUEST_SCHEMA}},
            opts=api_child,
        )
        apimanagement.ApiOperation(
            f"{name}-infer",
            resource_group_name=platform.resource_group,
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
            resource_group_name=platform.resource_group,
            service_name=self.service.name,
            api_id="inference",
            policy_id="policy",
            format="rawxml",
            value=inference_policy(
                config.tenant_id,
                config.rate_limit_calls_per_minute,
                config.quota_calls_per_day,
                config.max_request_bytes,
            ),
            opts=api_child,
        )
        private_endpoint(self.service, f"{name}-apim", "Gateway", platform, subnet_id, dns_zone_id)
        diagnose(self.service, f"{name}-apim", workspace_id)
        self.gateway_host = self.service.name.apply(lambda n: f"{n}.azure-api.net")
        self.schema_json = json.dumps(INFERENCE_REQUEST_SCHEMA, sort_keys=True)
        self.register_outputs({"gateway_host": self.gateway_host})
