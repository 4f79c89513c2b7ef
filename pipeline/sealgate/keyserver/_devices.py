"""The device seam: what the release service asks of device attestation.

``sealgate.attestation.DeviceRegistry`` implements it (server side, no TPM needed). Malformed
requests raise ``InputError`` (HTTP 400); an unknown or unactivated device, a bad quote or a
stale nonce are facts (``enrolled: false``, ``verified: false``, ``nonce_fresh: false``) so the
unseal policy denies with its rule id. ``context`` of ``wrap_for_device`` is
``release_context(seal_id, nonce)`` (``sealgate.keyserver._response_key``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sealgate.keyserver._state import StateStore


class DeviceAttestation(Protocol):
    def begin_enrolment(self, request: Mapping[str, Any], *, operator: str) -> dict[str, Any]: ...

    def finish_enrolment(self, enrolment_id: str, request: Mapping[str, Any]) -> dict[str, Any]: ...

    def issue_nonce(self, device_id: str) -> dict[str, Any]: ...

    def verify_device(
        self, device: Mapping[str, Any], *, pcrs: Sequence[int], pcr_bank: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(consumer facts, attestation facts); consumes the nonce."""
        ...

    def wrap_for_device(self, device_id: str, data_key: bytes, context: bytes) -> dict[str, Any]:
        """``{"algorithm": "ECDH-ES-P256+HKDF-SHA256+A256KW", "wrapped": b64}``."""
        ...


class DevicesUnavailable(Exception):
    """This build has no device attestation (the device routes answer 503)."""


def load_device_attestation(
    state: StateStore, enrolment: Mapping[str, Any], base: Any
) -> DeviceAttestation | None:
    """``sealgate.attestation.DeviceRegistry`` over ``state``, or None if it is not installed."""
    try:
        from sealgate.attestation import DeviceRegistry  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    registry: DeviceAttestation = DeviceRegistry(state, **_registry_options(enrolment, base))
    return registry


def _registry_options(enrolment: Mapping[str, Any], base: Any) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if "ek_roots" in enrolment:
        options["ek_roots"] = [base / str(p) for p in enrolment["ek_roots"]]
    if "require_ek_certificate" in enrolment:
        options["require_ek_certificate"] = bool(enrolment["require_ek_certificate"])
    return options
