"""Security posture of a plan: one hardening property per row, read from the plan itself.

``PROPERTIES`` is the one place that says where each property lives in a plan and what
value meets the production bar. The bar's numbers come from the policy data (the strictest
environment's settings in ``policies/data/infra.yaml``, the last promotion stage's approvals
in ``policies/data/promotion.yaml``), so the review and the gate never disagree on them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sealgate.errors import InputError
from sealgate.report._plan_view import PlanResource, PlanView

VAULT = "azure-native:keyvault:Vault"
HSM = "azure-native:keyvault:ManagedHsm"
STORAGE = "azure-native:storage:StorageAccount"
BLOB_SERVICE = "azure-native:storage:BlobServiceProperties"
WORM = "azure-native:storage:BlobContainerImmutabilityPolicy"
REGISTRY = "azure-native:containerregistry:Registry"
AKS = "azure-native:containerservice:ManagedCluster"
POOL = "azure-native:containerservice:AgentPool"
WAF = "azure-native:network:WebApplicationFirewallPolicy"
APIM = "azure-native:apimanagement:ApiManagementService"
IOT_HUB = "azure-native:iothub:IotHubResource"
DPS = "azure-native:deviceprovisioningservices:IotDpsResource"
WORKSPACE = "azure-native:operationalinsights:Workspace"
PRIVATE_ENDPOINT = "azure-native:network:PrivateEndpoint"
DIAGNOSTIC_SETTING = "azure-native:monitor:DiagnosticSetting"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
MIN_REPLICAS = 2  # a rolling update or a lost node never takes the model server down


@dataclass(frozen=True)
class Bar:
    """What production requires, from the policy data."""

    min_soft_delete_days: int
    min_blob_soft_delete_days: int
    min_audit_retention_days: int
    min_log_retention_days: int
    min_zones: int
    tls_versions: tuple[str, ...]
    private_endpoint_types: tuple[str, ...]
    diagnosed_types: tuple[str, ...]
    approvals: int


def production_bar(config: dict[str, Any]) -> Bar:
    """The bar from ``data.config``; missing data is an error, never a lower bar."""
    try:
        infra, stages = config["infra"], config["promotion"]["stages"]
        strictest = infra["settings"][infra["default_environment"]]
        return Bar(
            min_soft_delete_days=int(strictest["min_soft_delete_days"]),
            min_blob_soft_delete_days=int(strictest["min_blob_soft_delete_days"]),
            min_audit_retention_days=int(strictest["min_audit_retention_days"]),
            min_log_retention_days=int(strictest["min_log_retention_days"]),
            min_zones=int(strictest["min_zones"]),
            tls_versions=tuple(infra["storage"]["tls_versions"]),
            private_endpoint_types=tuple(infra["network"]["private_endpoint_types"]),
            diagnosed_types=tuple(infra["monitoring"]["diagnosed_types"]),
            approvals=int(stages[-1]["approvals"]),
        )
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise InputError(f"policy data: cannot read the production bar ({exc!r})") from None


@dataclass(frozen=True)
class Value:
    ok: bool
    text: str


Reader = Callable[[PlanView, Bar], Value | None]  # None: the plan has no such resource


@dataclass(frozen=True)
class Property:
    concern: str
    label: str
    read: Reader


def _at(inputs: Any, path: str) -> Any:
    for key in path.split("."):
        inputs = inputs.get(key) if isinstance(inputs, dict) else None
    return inputs


def _text(value: Any) -> str:
    if value is None:
        return "unset"
    return value if isinstance(value, str) else json.dumps(value)


def _first(view: PlanView, *types: str) -> PlanResource | None:
    return next((r for t in types for r in view.of_type(t)), None)


def setting(types: str | tuple[str, ...], path: str, ok: Callable[[Any, Bar], bool]) -> Reader:
    """The value at ``path`` in the inputs of the first resource of ``types``."""
    wanted = (types,) if isinstance(types, str) else types

    def read(view: PlanView, bar: Bar) -> Value | None:
        resource = _first(view, *wanted)
        if resource is None:
            return None
        value = _at(resource.inputs, path)
        return Value(ok(value, bar), _text(value))

    return read


def _model_server_replicas(view: PlanView, bar: Bar) -> Value | None:
    """Replicas of the Deployment labelled as the model server (the plan has others)."""
    servers = [
        r
        for r in view.of_type(DEPLOYMENT)
        if isinstance(labels := _at(r.inputs, "metadata.labels"), dict)
        and labels.get("sealgate.io/role") == "model-server"
    ]
    if not servers:
        return None
    value = _at(servers[0].inputs, "spec.replicas")
    return Value(at_least(lambda _b: MIN_REPLICAS)(value, bar), _text(value))


def equals(expected: Any) -> Callable[[Any, Bar], bool]:
    return lambda value, _bar: value == expected


def at_least(minimum: Callable[[Bar], int]) -> Callable[[Any, Bar], bool]:
    return lambda value, bar: isinstance(value, int) and value >= minimum(bar)


def _pools(view: PlanView) -> list[dict[str, Any]]:
    pools = [p for c in view.of_type(AKS) for p in c.inputs.get("agentPoolProfiles") or []]
    return [p for p in pools if isinstance(p, dict)] + [p.inputs for p in view.of_type(POOL)]


def every_pool(path: str, ok: Callable[[Any], bool]) -> Reader:
    def read(view: PlanView, bar: Bar) -> Value | None:
        pools = _pools(view)
        if not pools:
            return None
        values = [_at(p, path) for p in pools]
        shown = sorted({_text(v) for v in values})
        return Value(all(ok(v) for v in values), ", ".join(shown))

    return read


def _sandboxed_pool(view: PlanView, bar: Bar) -> Value | None:
    pools = _pools(view)
    if not pools:
        return None
    runtimes = [_text(p.get("workloadRuntime")) for p in pools if p.get("workloadRuntime")]
    return Value("KataVmIsolation" in runtimes, ", ".join(runtimes) or "none")


def _zones(view: PlanView, bar: Bar) -> Value | None:
    cluster = _first(view, AKS)
    if cluster is None:
        return None
    system: object = next(iter(cluster.inputs.get("agentPoolProfiles") or []), {})
    zones = _at(system, "availabilityZones") or []
    count = max(len(zones), 1)  # no zone list: one zone, wherever Azure places it
    return Value(count >= bar.min_zones, str(count))


def _waf_rule_sets(view: PlanView, bar: Bar) -> Value | None:
    waf = _first(view, WAF)
    if waf is None:
        return None
    sets = _at(waf.inputs, "managedRules.managedRuleSets") or []
    shown = [
        f"{s.get('ruleSetType')} {s.get('ruleSetVersion')}" for s in sets if isinstance(s, dict)
    ]
    default = any(s.startswith("Microsoft_DefaultRuleSet ") for s in shown)
    return Value(default, ", ".join(shown) or "none")


def _blob_soft_delete(view: PlanView, bar: Bar) -> Value | None:
    service = _first(view, BLOB_SERVICE)
    if service is None:
        return None
    policy = _at(service.inputs, "deleteRetentionPolicy") or {}
    enabled, days = policy.get("enabled") is True, policy.get("days")
    ok = enabled and isinstance(days, int) and days >= bar.min_blob_soft_delete_days
    return Value(ok, f"{days} days" if enabled else "off")


def _coverage(child_type: str, types: Callable[[Bar], tuple[str, ...]]) -> Reader:
    """How many resources of ``types`` have a ``child_type`` child (parent links)."""

    def read(view: PlanView, bar: Bar) -> Value | None:
        covered = [r for t in types(bar) for r in view.of_type(t)]
        if not covered:
            return None
        with_child = [r for r in covered if any(c.type == child_type for c in view.children(r))]
        missing = sorted(r.name for r in covered if r not in with_child)
        text = f"{len(with_child)}/{len(covered)}"
        return Value(not missing, text + (f" (missing: {', '.join(missing)})" if missing else ""))

    return read


def _approvals(view: PlanView, bar: Bar) -> Value | None:
    value = view.config.get("sealgate:promotion_approvals")
    if value is None:
        return None
    try:
        approvals = int(value)
    except (TypeError, ValueError):
        return Value(False, _text(value))
    return Value(approvals >= bar.approvals, str(approvals))


def _public_access(types: str, path: str) -> Reader:
    return setting(types, path, equals("Disabled"))


PROPERTIES: tuple[Property, ...] = (
    Property(
        "keys",
        "Purge protection",
        setting((VAULT, HSM), "properties.enablePurgeProtection", equals(True)),
    ),
    Property(
        "keys",
        "Soft-delete retention (days)",
        setting(
            (VAULT, HSM),
            "properties.softDeleteRetentionInDays",
            at_least(lambda b: b.min_soft_delete_days),
        ),
    ),
    Property(
        "keys",
        "Public network access: Key Vault / HSM",
        setting((VAULT, HSM), "properties.publicNetworkAccess", equals("Disabled")),
    ),
    Property(
        "storage", "Public network access: storage", _public_access(STORAGE, "publicNetworkAccess")
    ),
    Property(
        "storage", "Shared-key access", setting(STORAGE, "allowSharedKeyAccess", equals(False))
    ),
    Property(
        "storage", "Anonymous blob access", setting(STORAGE, "allowBlobPublicAccess", equals(False))
    ),
    Property(
        "storage",
        "Minimum TLS",
        setting(STORAGE, "minimumTlsVersion", lambda v, b: v in b.tls_versions),
    ),
    Property(
        "storage", "Blob versioning", setting(BLOB_SERVICE, "isVersioningEnabled", equals(True))
    ),
    Property("storage", "Blob soft delete", _blob_soft_delete),
    Property(
        "storage",
        "WORM audit container (days)",
        setting(
            WORM,
            "immutabilityPeriodSinceCreationInDays",
            at_least(lambda b: b.min_audit_retention_days),
        ),
    ),
    Property(
        "registry",
        "Public network access: registry",
        _public_access(REGISTRY, "publicNetworkAccess"),
    ),
    Property("registry", "Admin user", setting(REGISTRY, "adminUserEnabled", equals(False))),
    Property(
        "registry", "Anonymous pull", setting(REGISTRY, "anonymousPullEnabled", equals(False))
    ),
    Property(
        "cluster",
        "Private API server",
        setting(AKS, "apiServerAccessProfile.enablePrivateCluster", equals(True)),
    ),
    Property(
        "cluster", "Local accounts disabled", setting(AKS, "disableLocalAccounts", equals(True))
    ),
    Property(
        "cluster",
        "Workload identity",
        setting(AKS, "securityProfile.workloadIdentity.enabled", equals(True)),
    ),
    Property("cluster", "Node OS (every pool)", every_pool("osSKU", lambda v: v == "AzureLinux")),
    Property(
        "cluster",
        "Host encryption (every pool)",
        every_pool("enableEncryptionAtHost", lambda v: v is True),
    ),
    Property("cluster", "Sandboxed node pool", _sandboxed_pool),
    Property("gateway", "WAF mode", setting(WAF, "policySettings.mode", equals("Prevention"))),
    Property("gateway", "WAF rule sets", _waf_rule_sets),
    # API Management is private by VNet injection (Internal mode), not by publicNetworkAccess
    # (which Azure only lets a private-endpoint service disable); policy SG-AZ-050.
    Property(
        "apim",
        "API Management virtual network type",
        setting(APIM, "virtualNetworkType", equals("Internal")),
    ),
    Property(
        "edge",
        "Public network access: IoT Hub",
        _public_access(IOT_HUB, "properties.publicNetworkAccess"),
    ),
    Property(
        "edge", "Public network access: DPS", _public_access(DPS, "properties.publicNetworkAccess")
    ),
    Property(
        "edge",
        "IoT Hub local auth disabled",
        setting(IOT_HUB, "properties.disableLocalAuth", equals(True)),
    ),
    Property(
        "network",
        "Private endpoints (data-plane services)",
        _coverage(PRIVATE_ENDPOINT, lambda b: b.private_endpoint_types),
    ),
    Property(
        "monitoring",
        "Diagnostic settings coverage",
        _coverage(DIAGNOSTIC_SETTING, lambda b: b.diagnosed_types),
    ),
    Property(
        "monitoring",
        "Log retention (days)",
        setting(WORKSPACE, "retentionInDays", at_least(lambda b: b.min_log_retention_days)),
    ),
    Property("resilience", "Availability zones (AKS system pool)", _zones),
    Property(
        "workloads",
        "Model server replicas",
        _model_server_replicas,
    ),
    Property("promotion", "Approvals to promote", _approvals),
)


def posture(view: PlanView, bar: Bar) -> list[tuple[Property, Value | None]]:
    return [(prop, prop.read(view, bar)) for prop in PROPERTIES]
