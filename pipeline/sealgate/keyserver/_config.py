"""``keyserver.yaml``: the service's configuration, loaded strictly (fail closed at startup).

Relative file paths are relative to the configuration file. Unknown fields, duplicate YAML
keys, a missing required field or an unreadable file are one-line ``InputError``s, so
``sealgate keyserver serve`` refuses to start rather than start half-configured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sealgate._yaml import load_yaml
from sealgate.errors import InputError

MAX_CONFIG_BYTES = 1024 * 1024
_TOP_FIELDS = {
    "service_id", "registry", "state", "trust", "gate_keys", "signing_key", "policies",
    "engine", "opa_url", "environments", "issuers", "enrolment", "attestation_providers",
    "tls", "limits", "keyvault",
}  # fmt: skip


@dataclass(frozen=True)
class Issuer:
    issuer: str
    audiences: tuple[str, ...]
    # Where to fetch the discovery document; the issuer itself unless set (tests, proxies).
    discovery_url: str | None = None
    ca_bundle: Path | None = None


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 4 * 1024 * 1024
    request_timeout_seconds: int = 30
    token_leeway_seconds: int = 60
    jwks_cache_seconds: int = 300


@dataclass(frozen=True)
class KeyserverConfig:
    source: Path
    service_id: str
    registry: str
    trust: Path
    gate_keys: tuple[Path, ...]
    signing_key: Path
    environments: dict[str, str]  # environment -> KEK identity spec (keyvault:..., local:...)
    issuers: tuple[Issuer, ...]
    tls_certificate: Path | None
    tls_key: Path | None
    state: str | None = None
    policies: tuple[Path, ...] = ()
    engine: str = "embedded"
    opa_url: str | None = None
    operators: tuple[str, ...] = ()
    enrolment: dict[str, Any] = field(default_factory=dict)
    attestation_providers: tuple[dict[str, Any], ...] = ()
    limits: Limits = field(default_factory=Limits)
    keyvault: dict[str, Any] = field(default_factory=dict)


def _str(raw: dict[str, Any], name: str, source: str, *, required: bool = True) -> str | None:
    value = raw.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise InputError(f"{source}: {name} must be a non-empty string")
    return value


def _list(raw: dict[str, Any], name: str, source: str) -> list[Any]:
    value = raw.get(name, [])
    if not isinstance(value, list):
        raise InputError(f"{source}: {name} must be a list")
    return value


def _path(base: Path, value: Any, where: str, *, must_exist: bool = True) -> Path:
    if not isinstance(value, str) or not value:
        raise InputError(f"{where} must be a file path")
    path = base / value
    if must_exist and not path.is_file():
        raise InputError(f"{where}: {path} does not exist")
    return path


def _issuer(raw: Any, position: int, base: Path, source: str) -> Issuer:
    where = f"{source}: issuers[{position}]"
    if not isinstance(raw, dict) or set(raw) - {
        "issuer",
        "audiences",
        "discovery_url",
        "ca_bundle",
    }:
        raise InputError(
            f"{where} must map issuer, audiences (and optionally discovery_url, ca_bundle)"
        )
    issuer = raw.get("issuer")
    audiences = raw.get("audiences")
    if not isinstance(issuer, str) or not issuer.startswith("https://"):
        raise InputError(f"{where}.issuer must be an https:// URL")
    if (
        not isinstance(audiences, list)
        or not audiences
        or not all(isinstance(a, str) and a for a in audiences)
    ):
        raise InputError(f"{where}.audiences must list at least one audience")
    discovery = raw.get("discovery_url")
    if discovery is not None and (
        not isinstance(discovery, str) or not discovery.startswith("https://")
    ):
        raise InputError(f"{where}.discovery_url must be an https:// URL")
    ca = _path(base, raw["ca_bundle"], f"{where}.ca_bundle") if "ca_bundle" in raw else None
    return Issuer(issuer, tuple(audiences), discovery, ca)


def _environments(raw: Any, base: Path, source: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not raw:
        raise InputError(f"{source}: environments must map each environment to {{kek: ...}}")
    result: dict[str, str] = {}
    for name, entry in raw.items():
        kek = entry.get("kek") if isinstance(entry, dict) and set(entry) == {"kek"} else None
        if not isinstance(name, str) or not isinstance(kek, str):
            raise InputError(f"{source}: environments.{name} must be {{kek: TYPE:VALUE}}")
        kind, _, value = kek.partition(":")
        if kind == "local":
            kek = f"local:{_path(base, value, f'{source}: environments.{name}.kek')}"
        elif kind == "keyvault":
            if not value.startswith("https://"):
                raise InputError(
                    f"{source}: environments.{name}.kek: keyvault:https://VAULT/keys/NAME/VERSION"
                )
        else:
            raise InputError(f"{source}: environments.{name}.kek must be keyvault:... or local:...")
        result[name] = kek
    return result


def _limits(raw: Any, source: str) -> Limits:
    if raw is None:
        return Limits()
    if not isinstance(raw, dict) or set(raw) - set(Limits.__dataclass_fields__):
        raise InputError(
            f"{source}: limits may set {', '.join(sorted(Limits.__dataclass_fields__))}"
        )
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in raw.values()):
        raise InputError(f"{source}: limits must be positive integers")
    return Limits(**raw)


def parse_config(document: Any, source: Path) -> KeyserverConfig:
    where = str(source)
    base = source.parent
    if not isinstance(document, dict):
        raise InputError(f"{where}: expected a mapping")
    unknown = set(document) - _TOP_FIELDS
    if unknown:
        raise InputError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
    tls = document.get("tls")
    if tls is not None and (not isinstance(tls, dict) or set(tls) != {"certificate", "key"}):
        raise InputError(f"{where}: tls must map certificate and key")
    engine = document.get("engine", "embedded")
    if engine not in {"embedded", "opa"}:
        raise InputError(f"{where}: engine must be embedded or opa")
    enrolment = document.get("enrolment") or {}
    if not isinstance(enrolment, dict) or set(enrolment) - {
        "operators",
        "ek_roots",
        "require_ek_certificate",
    }:
        raise InputError(f"{where}: enrolment may set operators, ek_roots, require_ek_certificate")
    operators = enrolment.get("operators", [])
    if not isinstance(operators, list) or not all(isinstance(o, str) and o for o in operators):
        raise InputError(f"{where}: enrolment.operators must list OIDC subjects")
    providers = _list(document, "attestation_providers", where)
    keyvault = document.get("keyvault") or {}
    if not isinstance(keyvault, dict):
        raise InputError(f"{where}: keyvault must be a mapping")
    issuers = tuple(
        _issuer(r, i, base, where) for i, r in enumerate(_list(document, "issuers", where))
    )
    gate_keys = tuple(
        _path(base, p, f"{where}: gate_keys") for p in _list(document, "gate_keys", where)
    )
    return KeyserverConfig(
        source=source,
        service_id=str(_str(document, "service_id", where)),
        registry=str(_str(document, "registry", where)),
        state=_str(document, "state", where, required=False),
        trust=_path(base, document.get("trust"), f"{where}: trust"),
        gate_keys=gate_keys,
        signing_key=_path(base, document.get("signing_key"), f"{where}: signing_key"),
        environments=_environments(document.get("environments"), base, where),
        issuers=issuers,
        tls_certificate=_path(base, tls["certificate"], f"{where}: tls.certificate")
        if tls
        else None,
        tls_key=_path(base, tls["key"], f"{where}: tls.key") if tls else None,
        policies=tuple(base / str(p) for p in _list(document, "policies", where)),
        engine=engine,
        opa_url=_str(document, "opa_url", where, required=False),
        operators=tuple(operators),
        enrolment=enrolment,
        attestation_providers=tuple(p for p in providers if isinstance(p, dict)),
        limits=_limits(document.get("limits"), where),
        keyvault=keyvault,
    )


def load_config(path: Path) -> KeyserverConfig:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise InputError(
            f"{path}: cannot read the key server configuration: {exc.strerror}"
        ) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise InputError(f"{path}: configuration is too large")
    return parse_config(load_yaml(data, str(path)), path)
