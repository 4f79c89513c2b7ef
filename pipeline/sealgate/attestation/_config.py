"""The ``enrolment`` section of ``keyserver.yaml`` turned into a ``DeviceRegistry``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from sealgate.attestation._ekcert import load_certificates
from sealgate.attestation._registry import DeviceRegistry
from sealgate.errors import InputError
from sealgate.keyserver._state import StateStore

_KNOWN = {
    "operators",
    "ek_roots",
    "ek_intermediates",
    "require_ek_certificate",
    "nonce_ttl_seconds",
}


def _paths(section: Mapping[str, Any], name: str, base_dir: Path) -> list[Path]:
    value = section.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InputError(f"keyserver configuration: enrolment.{name} is a list of PEM files")
    return [base_dir / v for v in value]


def registry_from_config(
    state: StateStore, section: Mapping[str, Any] | None, *, base_dir: Path
) -> DeviceRegistry:
    """``{ek_roots: [roots.pem], ek_intermediates: [cas.pem], require_ek_certificate: bool,
    nonce_ttl_seconds: int}`` (``operators`` is the service's to check); files relative to
    ``base_dir``. Unknown keys are refused so a misspelt requirement cannot go unnoticed."""
    section = section or {}
    if not isinstance(section, Mapping):
        raise InputError("keyserver configuration: enrolment is a mapping")
    unknown = sorted(set(section) - _KNOWN)
    if unknown:
        raise InputError(f"keyserver configuration: unknown enrolment keys {unknown}")
    require = section.get("require_ek_certificate", False)
    if not isinstance(require, bool):
        raise InputError("keyserver configuration: enrolment.require_ek_certificate is true/false")
    ttl = section.get("nonce_ttl_seconds", 120)
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not 1 <= ttl <= 3600:
        raise InputError("keyserver configuration: enrolment.nonce_ttl_seconds is 1-3600")
    roots = load_certificates(_paths(section, "ek_roots", base_dir), "EK roots")
    if require and not roots:
        raise InputError("keyserver configuration: require_ek_certificate needs enrolment.ek_roots")
    return DeviceRegistry(
        state,
        ek_roots=roots,
        ek_intermediates=load_certificates(
            _paths(section, "ek_intermediates", base_dir), "EK intermediate CAs"
        ),
        require_ek_certificate=require,
        nonce_ttl=timedelta(seconds=ttl),
    )
