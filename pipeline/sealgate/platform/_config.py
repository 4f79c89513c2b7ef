"""Typed stack configuration, read and validated from ``Pulumi.<stack>.yaml``.

Every key lives in the ``sealgate:`` namespace. A missing, unknown or wrongly typed key is an
InputError that names the key, so ``sealgate plan`` and ``pulumi preview`` stop before any
resource is declared.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sealgate._yaml import load_yaml
from sealgate.errors import InputError

NAMESPACE = "sealgate"
ENVIRONMENTS = ("dev", "staging", "prod")
_NAME = re.compile(r"^[a-z][a-z0-9]{2,11}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ZONE = re.compile(r"^[1-3]$")


def _one_of(*allowed: str) -> Callable[[Any], str | None]:
    return lambda v: None if v in allowed else f"must be one of {', '.join(allowed)}"


def _between(low: int, high: int) -> Callable[[Any], str | None]:
    return lambda v: None if low <= v <= high else f"must be between {low} and {high}"


def _matches(pattern: re.Pattern[str], what: str) -> Callable[[Any], str | None]:
    return lambda v: None if pattern.match(v) else f"must be {what}"


def _matches_all(pattern: re.Pattern[str], what: str) -> Callable[[Any], str | None]:
    return lambda values: next(
        (f"item {v!r} must be {what}" for v in values if not pattern.match(v)), None
    )


# AMD SEV-SNP confidential VM sizes that AKS node pools support
# (https://learn.microsoft.com/azure/aks/use-cvm, "AKS supported confidential VM sizes").
CONFIDENTIAL_VM_SIZE = re.compile(r"^Standard_(DC|EC)\d+ad?s_v5$")


def _uuid(value: str) -> str | None:
    try:
        uuid.UUID(value)
    except ValueError:
        return "must be a UUID"
    return None


def _uuids(values: list[str]) -> str | None:
    return next((f"item {v!r} {p}" for v in values if (p := _uuid(v))), None)


def _cidr(value: str) -> str | None:
    try:
        network = ipaddress.ip_network(value)
    except ValueError:
        return "must be an IPv4 CIDR such as 10.40.0.0/16"
    return None if network.version == 4 and network.prefixlen <= 19 else "must be /19 or larger"


def _zones(values: list[str]) -> str | None:
    if len(set(values)) != len(values) or not all(_ZONE.match(v) for v in values):
        return 'must be distinct availability zones "1", "2", "3"'
    return None


def _emails(values: list[str]) -> str | None:
    return next(
        (f"item {v!r} is not an e-mail address" for v in values if not _EMAIL.match(v)), None
    )


def _https_urls(values: list[str]) -> str | None:
    return next(
        (f"item {v!r} is not an https:// URL" for v in values if not v.startswith("https://")), None
    )


def _public_keys(values: list[str]) -> str | None:
    from sealgate.sealing._signing_keys import parse_signing_public_key

    if not values:
        return "must list at least one PEM public key"
    for position, pem in enumerate(values):
        try:
            parse_signing_public_key(pem.encode(), f"item {position}")
        except InputError as exc:
            return str(exc)
    return None


def _certificates(value: str) -> str | None:
    from cryptography import x509

    try:
        x509.load_pem_x509_certificates(value.encode())
    except ValueError:
        return "must be PEM certificates"
    return None


def _setting(
    check: Callable[[Any], str | None] | None = None, *, default: Any = dataclasses.MISSING
) -> Any:
    metadata = {"check": check}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class StackConfig:
    """One environment's settings (``sealgate:<key>`` in ``Pulumi.<stack>.yaml``)."""

    environment: str = _setting(_one_of(*ENVIRONMENTS))
    location: str = _setting(_matches(re.compile(r"^[a-z]+[a-z0-9]*$"), "an Azure region name"))
    name_prefix: str = _setting(_matches(_NAME, "3-12 lowercase letters and digits"))
    tenant_id: str = _setting(_uuid)
    aks_admin_group_object_ids: list[str] = _setting(_uuids)  # noqa: RUF009 (a field)
    apim_publisher_email: str = _setting(_matches(_EMAIL, "an e-mail address"))
    # Application (client) id of the inference API's Entra app registration: the audience of
    # the v2 access tokens API Management accepts.
    inference_app_id: str = _setting(_uuid)
    # The model server's image in the program's own registry: only its digest.
    model_server_image_digest: str = _setting(
        _matches(re.compile(r"^sha256:[0-9a-f]{64}$"), "sha256:<64 hex>")
    )
    # The sealed model the model server serves (the version current in this stage).
    served_model: str = _setting(
        _matches(re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"), "a sealed model's name")
    )
    # The sealgate-trust ConfigMap: release signers, promotion gate keys (PEM public keys),
    # and the CA of the key release service's TLS certificate (PEM).
    release_signer_keys: list[str] = _setting(_public_keys)  # noqa: RUF009 (a field)
    gate_public_keys: list[str] = _setting(_public_keys)  # noqa: RUF009 (a field)
    keyserver_ca: str = _setting(_certificates)
    # The key release service's image in the program's own registry: only its digest.
    keyserver_image_digest: str = _setting(
        _matches(re.compile(r"^sha256:[0-9a-f]{64}$"), "sha256:<64 hex>")
    )
    key_store: str = _setting(_one_of("vault", "managed-hsm"), default="vault")
    # The first `pulumi up` of a new stack (docs/bootstrap.md): API Management created with
    # public access (Azure refuses it disabled at creation), the registry's CMK bootstrapped
    # outside the private vault, no App Gateway until its certificate is in the vault.
    bootstrap: bool = _setting(default=False)
    keyserver_replicas: int = _setting(_between(2, 20), default=2)
    # An exportable Secure Key Release key per environment, for confidential (TEE) consumers.
    tee_key_release: bool = _setting(default=True)
    key_rotation_days: int = _setting(_between(30, 365), default=90)
    vnet_cidr: str = _setting(_cidr, default="10.40.0.0/16")
    availability_zones: list[str] = _setting(_zones, default=[])  # noqa: RUF009 (a field)
    kubernetes_version: str = _setting(
        _matches(re.compile(r"^1\.\d+(\.\d+)?$"), "a Kubernetes version such as 1.33"),
        default="1.33",
    )
    system_node_vm_size: str = _setting(default="Standard_D4ds_v5")
    system_node_count: int = _setting(_between(1, 10), default=1)
    model_node_vm_size: str = _setting(default="Standard_D8ds_v5")
    model_node_min_count: int = _setting(_between(1, 100), default=1)
    model_node_max_count: int = _setting(_between(1, 100), default=3)
    model_server_replicas: int = _setting(_between(1, 50), default=1)
    appgw_min_capacity: int = _setting(_between(0, 125), default=0)
    appgw_max_capacity: int = _setting(_between(2, 125), default=2)
    apim_sku: str = _setting(_one_of("Developer", "Premium"), default="Developer")
    apim_capacity: int = _setting(_between(1, 10), default=1)
    rate_limit_calls_per_minute: int = _setting(_between(1, 100000), default=60)
    quota_calls_per_day: int = _setting(_between(1, 10_000_000), default=10000)
    # APIM validate-content checks bodies up to 4 MiB.
    max_request_bytes: int = _setting(_between(1024, 4_194_304), default=1_048_576)
    log_retention_days: int = _setting(_between(30, 730), default=30)
    # Receivers of the platform's alerts (its action group): at least one of the two.
    alert_emails: list[str] = _setting(_emails, default=[])  # noqa: RUF009 (a field)
    alert_webhooks: list[str] = _setting(_https_urls, default=[])  # noqa: RUF009 (a field)
    blob_soft_delete_days: int = _setting(_between(1, 365), default=7)
    audit_retention_days: int = _setting(_between(1, 146000), default=30)
    iot_hub_sku: str = _setting(_one_of("S1", "S2", "S3"), default="S1")
    iot_hub_capacity: int = _setting(_between(1, 200), default=1)
    promotion_approvals: int = _setting(_between(0, 5), default=1)
    attestation_authority: str = _setting(
        _matches(
            re.compile(r"^https://[a-z0-9.-]+\.attest\.azure\.net$"), "an Azure Attestation URL"
        ),
        default="https://sharedeus2.eus2.attest.azure.net",
    )
    # Confidential serving (docs/confidential.md): the model server on an AKS node pool of
    # AMD SEV-SNP confidential VMs, and the environment's model keys released only against a
    # verified attestation token from such a VM.
    confidential_serving: bool = _setting(default=False)
    confidential_node_vm_size: str = _setting(
        _matches(
            CONFIDENTIAL_VM_SIZE,
            "an AMD SEV-SNP size: Standard_DC<n>as_v5, DC<n>ads_v5, EC<n>as_v5 or EC<n>ads_v5",
        ),
        default="Standard_DC4as_v5",
    )
    # x-ms-policy-hash of the attestation policy that issues the VMs' tokens (SG-UNSEAL-104).
    confidential_policy_hashes: list[str] = _setting(  # noqa: RUF009 (a field)
        _matches_all(re.compile(r"^[A-Za-z0-9_-]{43}$"), "a base64url SHA-256 (43 characters)"),
        default=[],
    )

    def __post_init__(self) -> None:
        if not (self.alert_emails or self.alert_webhooks):
            raise InputError(
                f"{NAMESPACE}:alert_emails or {NAMESPACE}:alert_webhooks: the alerts need at "
                "least one receiver"
            )
        if self.confidential_serving and not self.confidential_policy_hashes:
            raise InputError(
                f"{NAMESPACE}:confidential_serving needs {NAMESPACE}:confidential_policy_hashes: "
                "without an accepted attestation policy no key would ever be released"
            )
        if self.confidential_serving and not self.tee_key_release:
            raise InputError(
                f"{NAMESPACE}:confidential_serving needs {NAMESPACE}:tee_key_release (the key "
                "release service then trusts the attestation authority)"
            )
        if self.model_node_min_count > self.model_node_max_count:
            raise InputError(
                f"{NAMESPACE}:model_node_min_count ({self.model_node_min_count}) exceeds "
                f"{NAMESPACE}:model_node_max_count ({self.model_node_max_count})"
            )


def stack_file(root: Path, stack: str) -> Path:
    return root / f"Pulumi.{stack}.yaml"


def load_stack_config(root: Path, stack: str) -> StackConfig:
    """Read ``Pulumi.<stack>.yaml`` under ``root``; raise InputError naming any bad key."""
    if not re.match(r"^[A-Za-z0-9_.-]+$", stack):
        raise InputError(f"stack name {stack!r}: letters, digits, '.', '_' and '-' only")
    path = stack_file(root, stack)
    try:
        document = load_yaml(path.read_text(encoding="utf-8"), str(path))
    except FileNotFoundError:
        raise InputError(f"{path}: no such stack configuration") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read stack configuration: {exc}") from exc
    values = document.get("config") if isinstance(document, dict) else None
    if not isinstance(values, dict):
        raise InputError(f"{path}: expected a `config:` mapping")
    return parse_config(values, str(path))


def parse_config(values: dict[str, Any], source: str) -> StackConfig:
    """Validate ``sealgate:``-namespaced values; keys of other namespaces are left alone."""
    fields = {f.name: f for f in dataclasses.fields(StackConfig)}
    settings: dict[str, Any] = {}
    for key, value in values.items():
        namespace, _, name = str(key).partition(":")
        if namespace != NAMESPACE:
            continue
        spec = fields.get(name)
        if spec is None:
            raise InputError(f"{source}: unknown key {key!r} (known: {', '.join(sorted(fields))})")
        settings[name] = _typed(f"{source}: {key}", value, spec)
    missing = [
        f"{NAMESPACE}:{name}"
        for name, spec in fields.items()
        if name not in settings
        and spec.default is dataclasses.MISSING
        and spec.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise InputError(f"{source}: missing required key {', '.join(missing)}")
    try:
        return StackConfig(**settings)
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from exc


def _typed(where: str, value: Any, spec: dataclasses.Field[Any]) -> Any:
    expected = spec.type if isinstance(spec.type, str) else spec.type.__name__
    ok = {
        "str": isinstance(value, str),
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "list[str]": isinstance(value, list) and all(isinstance(v, str) for v in value),
    }[expected]
    if not ok:
        raise InputError(f"{where}: expected {expected}, got {type(value).__name__} {value!r}")
    check = spec.metadata.get("check")
    problem = check(value) if check else None
    if problem:
        raise InputError(f"{where}: {value!r} {problem}")
    return value
