"""Explicit Azure resource names within each resource type's rules.

Left to itself the provider names a resource after its logical name plus 8 random hex
characters: a vault named so is 31-35 characters (Azure allows 24), and storage and registry
names get hyphens Azure refuses. ``azure_name(type, base)`` instead fits ``base`` (the
resource's logical name) to the type's rule: characters Azure does not allow are dropped,
the case folded where the rule is lowercase, the length cut. A name that Azure requires to be
unique across all of Azure also carries a stable suffix of the stack (``stable_suffix``):
the same project, stack and subscription always give the same name, so a second ``pulumi
up`` changes nothing, while two stacks never collide.

The rules are data (``NAME_RULES``, by the azure-native type token), transcribed from
Azure's "Naming rules and restrictions for Azure resources" (``RULES_DOC``) or, where a page
of the resource's own says more, from that page (``NameRule.doc``).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import pulumi
from pulumi.type_token import get_type_token

from sealgate.errors import InputError

RULES_DOC = (
    "https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/resource-name-rules"
)
SUFFIX_LENGTH = 6
Scope = Literal["global", "subscription", "resource group", "parent"]


@dataclass(frozen=True, kw_only=True)
class NameRule:
    """How Azure lets one resource type be named."""

    property: str
    """The input (wire name) that carries the resource's name, e.g. ``vaultName``."""
    min_length: int
    max_length: int
    characters: str
    """The allowed characters as a regex character class body, e.g. ``a-z0-9-``."""
    pattern: str
    """The whole name must match it (start and end rules)."""
    scope: Scope
    """Where the name must be unique; ``global`` names take the stack's suffix."""
    consecutive_hyphens: bool = True
    """False where ``--`` is refused."""
    guid: bool = False
    """The name is a GUID (role assignments)."""
    doc: str = RULES_DOC

    def problem(self, name: str) -> str | None:
        """Why ``name`` breaks this rule, or None when Azure accepts it."""
        if not self.min_length <= len(name) <= self.max_length:
            return f"{len(name)} characters, allowed {self.min_length}-{self.max_length}"
        if self.guid:
            try:
                uuid.UUID(name)
            except ValueError:
                return "not a GUID"
            return None
        bad = sorted(set(re.sub(f"[{self.characters}]", "", name)))
        if bad:
            return f"characters not allowed: {''.join(bad)!r} (allowed: {self.characters})"
        if not self.consecutive_hyphens and "--" in name:
            return "consecutive hyphens"
        if not re.fullmatch(self.pattern, name):
            return f"does not match {self.pattern}"
        return None


# Start alphanumeric; end alphanumeric or underscore (Microsoft.Network's common rule).
_NETWORK = r"[a-zA-Z0-9]([a-zA-Z0-9_.-]*[a-zA-Z0-9_])?"
_LETTER_TO_ALNUM = r"[a-zA-Z]([a-zA-Z0-9-]*[a-zA-Z0-9])?"
_ALNUM_ENDS = r"[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?"
# Monitor settings and rules refuse * # & + : < > ? @ % { } \ / and control characters;
# names keep to a conservative subset of what remains.
_MONITOR_CHARACTERS = r"a-zA-Z0-9 _().,'=!$~-"


def _network(prop: str, low: int, high: int, scope: Scope = "resource group") -> NameRule:
    return NameRule(
        property=prop,
        min_length=low,
        max_length=high,
        characters="a-zA-Z0-9_.-",
        pattern=_NETWORK,
        scope=scope,
    )


def _apim_child(prop: str) -> NameRule:
    return NameRule(
        property=prop,
        min_length=1,
        max_length=80,
        characters="a-zA-Z0-9-",
        pattern=_LETTER_TO_ALNUM,
        scope="parent",
    )


def _fixed(prop: str, value: str) -> NameRule:
    """A child whose API accepts exactly one name."""
    return NameRule(
        property=prop,
        min_length=len(value),
        max_length=len(value),
        characters="a-z",
        pattern=re.escape(value),
        scope="parent",
    )


def _monitor(prop: str, scope: Scope = "resource group") -> NameRule:
    return NameRule(
        property=prop,
        min_length=1,
        max_length=260,
        characters=_MONITOR_CHARACTERS,
        pattern=r"\S(.*\S)?",
        scope=scope,
    )


NAME_RULES: Mapping[str, NameRule] = {
    "azure-native:resources:ResourceGroup": NameRule(
        property="resourceGroupName",
        min_length=1,
        max_length=90,
        characters=r"\w().-",
        pattern=r"[\w().-]*[\w()-]",
        scope="subscription",
    ),
    "azure-native:keyvault:Vault": NameRule(
        property="vaultName",
        min_length=3,
        max_length=24,
        characters="a-zA-Z0-9-",
        pattern=_LETTER_TO_ALNUM,
        scope="global",
        consecutive_hyphens=False,
    ),
    "azure-native:keyvault:ManagedHsm": NameRule(
        property="name",
        min_length=3,
        max_length=24,
        characters="a-zA-Z0-9-",
        pattern=_LETTER_TO_ALNUM,
        scope="global",
        consecutive_hyphens=False,
    ),
    "azure-native:keyvault:Key": NameRule(
        property="keyName",
        min_length=1,
        max_length=127,
        characters="a-zA-Z0-9-",
        pattern=r"[a-zA-Z0-9-]+",
        scope="parent",
    ),
    "azure-native:keyvault:Secret": NameRule(
        property="secretName",
        min_length=1,
        max_length=127,
        characters="a-zA-Z0-9-",
        pattern=r"[a-zA-Z0-9-]+",
        scope="parent",
    ),
    "azure-native:storage:StorageAccount": NameRule(
        property="accountName",
        min_length=3,
        max_length=24,
        characters="a-z0-9",
        pattern=r"[a-z0-9]+",
        scope="global",
    ),
    "azure-native:storage:BlobServiceProperties": _fixed("blobServicesName", "default"),
    "azure-native:storage:BlobContainer": NameRule(
        property="containerName",
        min_length=3,
        max_length=63,
        characters="a-z0-9-",
        pattern=r"[a-z0-9]([a-z0-9-]*[a-z0-9])?",
        scope="parent",
        consecutive_hyphens=False,
    ),
    "azure-native:storage:BlobContainerImmutabilityPolicy": _fixed(
        "immutabilityPolicyName", "default"
    ),
    "azure-native:containerregistry:Registry": NameRule(
        property="registryName",
        min_length=5,
        max_length=50,
        characters="a-zA-Z0-9",
        pattern=r"[a-zA-Z0-9]+",
        scope="global",
    ),
    "azure-native:containerservice:ManagedCluster": NameRule(
        property="resourceName",
        min_length=1,
        max_length=63,
        characters="a-zA-Z0-9_-",
        pattern=r"[a-zA-Z0-9]([a-zA-Z0-9_-]*[a-zA-Z0-9])?",
        scope="resource group",
    ),
    "azure-native:containerservice:AgentPool": NameRule(
        property="agentPoolName",
        min_length=1,
        max_length=12,
        characters="a-z0-9",
        pattern=r"[a-z][a-z0-9]*",
        scope="parent",
        doc="https://learn.microsoft.com/en-us/azure/aks/create-node-pools",
    ),
    "azure-native:managedidentity:UserAssignedIdentity": NameRule(
        property="resourceName",
        min_length=3,
        max_length=128,
        characters="a-zA-Z0-9_-",
        pattern=r"[a-zA-Z0-9][a-zA-Z0-9_-]*",
        scope="resource group",
    ),
    "azure-native:managedidentity:FederatedIdentityCredential": NameRule(
        property="federatedIdentityCredentialResourceName",
        min_length=3,
        max_length=120,
        characters="a-zA-Z0-9_-",
        pattern=r"[a-zA-Z0-9][a-zA-Z0-9_-]*",
        scope="parent",
    ),
    "azure-native:authorization:RoleAssignment": NameRule(
        property="roleAssignmentName",
        min_length=36,
        max_length=36,
        characters="0-9a-f-",
        pattern=r"[0-9a-f-]{36}",
        scope="resource group",
        guid=True,
    ),
    "azure-native:apimanagement:ApiManagementService": NameRule(
        property="serviceName",
        min_length=1,
        max_length=50,
        characters="a-zA-Z0-9-",
        pattern=_LETTER_TO_ALNUM,
        scope="global",
    ),
    "azure-native:apimanagement:Api": _apim_child("apiId"),
    "azure-native:apimanagement:ApiOperation": _apim_child("operationId"),
    "azure-native:apimanagement:ApiSchema": _apim_child("schemaId"),
    "azure-native:apimanagement:ApiPolicy": _fixed("policyId", "policy"),
    "azure-native:apimanagement:Backend": _apim_child("backendId"),
    "azure-native:iothub:IotHubResource": NameRule(
        property="resourceName",
        min_length=3,
        max_length=50,
        characters="a-zA-Z0-9-",
        pattern=_ALNUM_ENDS,
        scope="global",
    ),
    "azure-native:deviceprovisioningservices:IotDpsResource": NameRule(
        property="provisioningServiceName",
        min_length=3,
        max_length=64,
        characters="a-zA-Z0-9-",
        pattern=_ALNUM_ENDS,
        # Its host name, <name>.azure-devices-provisioning.net, is unique across Azure.
        scope="global",
    ),
    "azure-native:operationalinsights:Workspace": NameRule(
        property="workspaceName",
        min_length=4,
        max_length=63,
        characters="a-zA-Z0-9-",
        pattern=_ALNUM_ENDS,
        scope="resource group",
    ),
    # A diagnostic setting's name is unique per resource it covers (its parent).
    "azure-native:monitor:DiagnosticSetting": _monitor("name", "parent"),
    "azure-native:monitor:ScheduledQueryRule": _monitor("ruleName"),
    "azure-native:monitor:ActionGroup": _monitor("actionGroupName"),
    "azure-native:monitor:MetricAlert": _monitor("ruleName"),
    "azure-native:network:VirtualNetwork": _network("virtualNetworkName", 2, 64),
    "azure-native:network:Subnet": _network("subnetName", 1, 80),
    "azure-native:network:NetworkSecurityGroup": _network("networkSecurityGroupName", 1, 80),
    "azure-native:network:PrivateEndpoint": _network("privateEndpointName", 2, 64),
    "azure-native:network:PrivateDnsZoneGroup": _network(
        "privateDnsZoneGroupName", 1, 80, "parent"
    ),
    "azure-native:network:PublicIPAddress": _network("publicIpAddressName", 1, 80),
    "azure-native:network:ApplicationGateway": _network("applicationGatewayName", 1, 80),
    "azure-native:network:WebApplicationFirewallPolicy": _network("policyName", 1, 80),
    "azure-native:network:RouteTable": _network("routeTableName", 1, 80),
    "azure-native:privatedns:PrivateZone": NameRule(
        property="privateZoneName",
        min_length=1,
        max_length=253,
        characters="a-zA-Z0-9.-",
        # 2 to 34 labels of 1-63 characters, none starting or ending with a hyphen.
        pattern=r"([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.){1,33}[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?",
        scope="resource group",
    ),
    "azure-native:privatedns:VirtualNetworkLink": _network("virtualNetworkLinkName", 1, 80),
    # A record set's relative name is one DNS label here (the API Management service name).
    "azure-native:privatedns:PrivateRecordSet": NameRule(
        property="relativeRecordSetName",
        min_length=1,
        max_length=63,
        characters="a-zA-Z0-9_-",
        pattern=r"[a-zA-Z0-9_]([a-zA-Z0-9_-]*[a-zA-Z0-9_])?",
        scope="parent",
        doc="https://learn.microsoft.com/azure/dns/dns-zones-records#record-names",
    ),
}

_CHILD = _network("name", 1, 80, "parent")
# Names of the sub-resources a resource's inputs declare (``property[].name``), which Azure
# checks with the resource itself.
NESTED_NAME_RULES: Mapping[str, Mapping[str, NameRule]] = {
    "azure-native:containerservice:ManagedCluster": {
        "agentPoolProfiles": NAME_RULES["azure-native:containerservice:AgentPool"]
    },
    "azure-native:network:NetworkSecurityGroup": {"securityRules": _CHILD},
    "azure-native:network:PrivateEndpoint": {"privateLinkServiceConnections": _CHILD},
    "azure-native:network:PrivateDnsZoneGroup": {"privateDnsZoneConfigs": _CHILD},
    "azure-native:network:ApplicationGateway": {
        part: _CHILD
        for part in (
            "gatewayIPConfigurations",
            "frontendIPConfigurations",
            "frontendPorts",
            "backendAddressPools",
            "backendHttpSettingsCollection",
            "httpListeners",
            "requestRoutingRules",
            "probes",
            "sslCertificates",
            "rewriteRuleSets",
        )
    },
}


def stable_suffix(project: str, stack: str, subscription: str = "") -> str:
    """Six lowercase hex characters that depend on nothing but the deployment's identity."""
    digest = hashlib.sha256(f"{subscription}/{project}/{stack}".encode()).hexdigest()
    return digest[:SUFFIX_LENGTH]


def _deployment() -> tuple[str, str, str]:
    """(project, stack, subscription): the subscription only where the stack pins it
    (``azure-native:subscriptionId``); the names of a stack that does not stay the same
    whichever subscription it is deployed to."""
    subscription = pulumi.Config("azure-native").get("subscriptionId") or ""
    return pulumi.get_project(), pulumi.get_stack(), subscription


def fit_name(rule: NameRule, base: str, suffix: str) -> str:
    """``base`` within ``rule``; with ``suffix`` appended when the name is global."""
    if rule.guid:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sealgate:{suffix}:{base}"))
    name = base if re.search("[A-Z]", rule.characters) else base.lower()
    name = re.sub(f"[^{rule.characters}]", "", name)
    if not rule.consecutive_hyphens:
        name = re.sub("-{2,}", "-", name)
    tail = ""
    if rule.scope == "global":
        tail = ("-" if re.fullmatch(f"[{rule.characters}]", "-") else "") + suffix
    name = name[: rule.max_length - len(tail)].rstrip("-_.") + tail
    problem = rule.problem(name)
    if problem:
        raise InputError(f"cannot name {base!r} within Azure's rules: {name!r} ({problem})")
    return name


def name_rule(type_token: str) -> NameRule:
    """The naming rule of an azure-native type; InputError for a type without one."""
    rule = NAME_RULES.get(type_token)
    if rule is None:
        raise InputError(f"no Azure naming rule for {type_token}")
    return rule


def azure_name(resource: type[pulumi.CustomResource], base: str) -> str:
    """The explicit name of a ``resource`` (an azure-native class) whose logical name is
    ``base``, for the current project and stack."""
    rule = name_rule(get_type_token(resource) or resource.__name__)
    project, stack, subscription = _deployment()
    suffix = stable_suffix(project, stack, subscription)
    if rule.guid:
        # Unique per deployment and logical name, the same on every run.
        return fit_name(rule, f"{subscription}/{project}/{stack}/{base}", suffix)
    return fit_name(rule, base, suffix)
