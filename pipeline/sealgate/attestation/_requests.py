"""The device requests the service accepts, checked and bounded before any work is done.

Everything here is structural and cryptographic checking of what the device sent; whether the
device may enrol or is who it says is the registry's decision.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sealgate.attestation._documents import check_device_id, field_b64, field_mapping
from sealgate.attestation._objects import (
    MAX_SIGNATURE_PART,
    TpmPublic,
    check_attestation_key,
    check_certification,
    check_device_key,
    check_endorsement_key,
    parse_public,
)
from sealgate.devices._tpm import Quote
from sealgate.errors import InputError

NONCE_BYTES = 32
MAX_PUBLIC_BYTES = 2048
MAX_CERTIFICATE_BYTES = 16 * 1024
MAX_ATTEST_BYTES = 1024
MAX_PCRS = 24
_CLASS = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_DIGEST_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class EnrolmentRequest:
    """A device's keys, each checked for the attributes its role needs, and the AK's
    certification of the device key verified."""

    device_class: str
    ek: TpmPublic
    ak: TpmPublic
    device_key: TpmPublic
    ek_certificate: bytes | None


@dataclass(frozen=True)
class DeviceAnswer:
    device_id: str
    nonce: bytes
    quote: Quote


def parse_enrolment_request(request: Mapping[str, Any]) -> EnrolmentRequest:
    """``{class, ek_public, ek_certificate?, ak_public, device_key_public,
    device_key_certification: {attest, signature_r, signature_s}}`` (TPM structures in base64)."""
    what = "enrolment request"
    if not isinstance(request, Mapping):
        raise InputError(f"{what}: not an object")
    device_class = request.get("class")
    if not isinstance(device_class, str) or not _CLASS.fullmatch(device_class):
        raise InputError(f"{what}: class is missing or not a name like gateway-v2")

    def public(name: str, role: str) -> TpmPublic:
        return parse_public(field_b64(request, name, max_bytes=MAX_PUBLIC_BYTES, what=what), role)

    ek = public("ek_public", "EK")
    ak = public("ak_public", "AK")
    device_key = public("device_key_public", "device key")
    check_endorsement_key(ek)
    check_attestation_key(ak)
    check_device_key(device_key)
    certification = field_mapping(request, "device_key_certification", what)
    check_certification(
        field_b64(certification, "attest", max_bytes=MAX_ATTEST_BYTES, what=what),
        field_b64(certification, "signature_r", max_bytes=MAX_SIGNATURE_PART, what=what),
        field_b64(certification, "signature_s", max_bytes=MAX_SIGNATURE_PART, what=what),
        ak=ak,
        certified=device_key,
    )
    certificate = None
    if request.get("ek_certificate") is not None:
        certificate = field_b64(
            request, "ek_certificate", max_bytes=MAX_CERTIFICATE_BYTES, what=what
        )
    return EnrolmentRequest(device_class, ek, ak, device_key, certificate)


def parse_device_answer(device: Mapping[str, Any]) -> DeviceAnswer:
    """``{id, nonce, quote: {attest, signature_r, signature_s, pcr_values: {"7": hex}}}``."""
    what = "device"
    if not isinstance(device, Mapping):
        raise InputError(f"{what}: not an object")
    device_id = check_device_id(device.get("id"), what)
    nonce = field_b64(device, "nonce", max_bytes=NONCE_BYTES, what=what)
    return DeviceAnswer(device_id, nonce, _parse_quote(field_mapping(device, "quote", what)))


def _parse_quote(quote: Mapping[str, Any]) -> Quote:
    what = "device quote"
    values = quote.get("pcr_values")
    if not isinstance(values, Mapping) or len(values) > MAX_PCRS:
        raise InputError(f"{what}: pcr_values is missing or not an object of at most 24 PCRs")
    pcr_values: dict[int, bytes] = {}
    for index, value in values.items():
        if not isinstance(index, str) or not index.isdigit() or not 0 <= int(index) < MAX_PCRS:
            raise InputError(f"{what}: PCR index {index!r} is not 0-23")
        if not isinstance(value, str) or not _DIGEST_HEX.fullmatch(value):
            raise InputError(f"{what}: PCR {index} is not a SHA-256 value in lowercase hex")
        pcr_values[int(index)] = bytes.fromhex(value)
    return Quote(
        attest=field_b64(quote, "attest", max_bytes=MAX_ATTEST_BYTES, what=what),
        signature_r=field_b64(quote, "signature_r", max_bytes=MAX_SIGNATURE_PART, what=what),
        signature_s=field_b64(quote, "signature_s", max_bytes=MAX_SIGNATURE_PART, what=what),
        pcr_values=pcr_values,
    )


def check_pcr_selection(pcrs: Sequence[int]) -> list[int]:
    checked = list(pcrs)
    if not checked or not all(
        isinstance(p, int) and not isinstance(p, bool) and 0 <= p < MAX_PCRS for p in checked
    ):
        raise InputError("the policy's PCR selection must be PCR indexes 0-23")
    return checked
