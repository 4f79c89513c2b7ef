"""The device's side of the key release service: what it sends and what it does in its TPM.

These functions build JSON-ready requests and read the service's answers; HTTPS is a
``KeyserverConnection`` the caller gives. The device never decides about itself: it quotes the service's nonce
and the service verifies the quote with the AK it enrolled.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sealgate.devices._enrollment import Enrollment, load_enrollment
from sealgate.devices._http import KeyserverConnection
from sealgate.devices._release import RELEASE_ALGORITHM, release_context
from sealgate.devices._tpm import PCR_BANK, open_tpm
from sealgate.errors import InputError, VerificationError

MAX_FIELD_BYTES = 16 * 1024
TCTI_ENV = "SEALGATE_TPM_TCTI"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _field(answer: Mapping[str, Any], name: str, what: str) -> bytes:
    value = answer.get(name) if isinstance(answer, Mapping) else None
    if not isinstance(value, str) or len(value) > MAX_FIELD_BYTES * 4 // 3 + 4:
        raise InputError(f"{what}: {name} is missing or not a bounded base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{what}: {name} is not valid base64") from None


def enrolment_request(enrollment: Enrollment, *, device_class: str, tcti: str) -> dict[str, Any]:
    """``POST /v1/devices`` body: the EK (and its certificate), the AK, the device key and the
    AK's certification of the device key, all as the TPM reports them."""
    keys = enrollment.keys
    with open_tpm(tcti) as device:
        ek_public, ek_certificate = device.endorsement()
        certification = device.certify_device_key(keys)
    return {
        "class": device_class,
        "ek_public": _b64(ek_public),
        "ek_certificate": None if ek_certificate is None else _b64(ek_certificate),
        "ak_public": _b64(keys.attestation_key.public),
        "device_key_public": _b64(keys.device_key.public),
        "device_key_certification": {
            "attest": _b64(certification.attest),
            "signature_r": _b64(certification.signature_r),
            "signature_s": _b64(certification.signature_s),
        },
    }


def activate_credential(
    enrollment: Enrollment, challenge: Mapping[str, Any], *, tcti: str
) -> dict[str, Any]:
    """``POST /v1/devices/<enrolment_id>/activation`` body: the secret only this TPM's EK and
    AK recover from the service's ``credential_blob`` and ``encrypted_secret``."""
    what = "enrolment answer"
    blob = _field(challenge, "credential_blob", what)
    encrypted = _field(challenge, "encrypted_secret", what)
    with open_tpm(tcti) as device:
        secret = device.activate_credential(enrollment.keys, blob, encrypted)
    return {"secret": _b64(secret)}


def answer_challenge(
    enrollment: Enrollment,
    challenge: Mapping[str, Any],
    pcrs: Sequence[int] | None = None,
    *,
    tcti: str,
) -> dict[str, Any]:
    """The ``device`` member of ``POST /v1/release``: a quote carrying the service's nonce
    (from ``POST /v1/challenges``) over ``pcrs``, or else over the challenge's ``pcrs`` (the
    PCRs the service's policy reads, if it names them)."""
    nonce = _field(challenge, "nonce", "challenge")
    selection = list(pcrs) if pcrs is not None else challenge.get("pcrs")
    if (
        not isinstance(selection, list)
        or not selection
        or len(selection) > 24
        or not all(
            isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= 23 for p in selection
        )
    ):
        raise InputError("challenge: the PCRs to quote are not a list of PCR indexes 0-23")
    with open_tpm(tcti) as device:
        quote = device.quote(enrollment.keys, selection, nonce)
    return {
        "id": enrollment.device_id,
        "nonce": _b64(nonce),
        "quote": {
            "attest": _b64(quote.attest),
            "signature_r": _b64(quote.signature_r),
            "signature_s": _b64(quote.signature_s),
            "pcr_values": {str(p): v.hex() for p, v in sorted(quote.pcr_values.items())},
        },
    }


def unwrap_released_key(
    enrollment: Enrollment,
    released: Mapping[str, Any],
    *,
    seal_id: bytes | str,
    nonce: bytes,
    tcti: str,
) -> bytes:
    """The data key from the service's answer, unwrapped by TPM2_ECDH_ZGen with the device
    key; the KDF context binds it to this seal and this challenge."""
    return ReleaseDevice(enrollment, tcti).unwrap_released(
        released, release_context(seal_id, nonce)
    )


def register_with_keyserver(
    enrollment: Enrollment, connection: KeyserverConnection, *, device_class: str, tcti: str
) -> str:
    """Enrol the device with the key release service (operator-authenticated connection):
    send the enrolment request, activate the credential in the TPM, return the device id."""
    request = enrolment_request(enrollment, device_class=device_class, tcti=tcti)
    challenge = connection.post("/v1/devices", request)
    enrolment_id = challenge.get("enrolment_id")
    if not isinstance(enrolment_id, str) or not enrolment_id.isalnum():
        raise InputError("the key release service's enrolment answer has no enrolment_id")
    answer = activate_credential(enrollment, challenge, tcti=tcti)
    registered = connection.post(f"/v1/devices/{enrolment_id}/activation", answer)
    if registered.get("device_id") != enrollment.device_id:
        raise VerificationError(
            f"the key release service registered device {registered.get('device_id')!r}, "
            f"not {enrollment.device_id}"
        )
    return enrollment.device_id


class ReleaseDevice:
    """The device side of ``sealgate unseal --keyserver URL --device PREFIX``: the enrolled
    keys of ``PREFIX`` on the TPM named by ``SEALGATE_TPM_TCTI`` or else by the enrolment."""

    def __init__(self, enrollment: Enrollment, tcti: str) -> None:
        self._enrollment = enrollment
        self.tcti = tcti
        self.device_id = enrollment.device_id

    def quote(self, nonce: bytes, pcrs: Sequence[int], pcr_bank: str) -> dict[str, Any]:
        """The ``quote`` member of the release request's ``device``."""
        if pcr_bank != PCR_BANK:
            raise InputError(
                f"the key release service asks for PCR bank {pcr_bank}; devices quote {PCR_BANK}"
            )
        challenge = {"nonce": _b64(nonce)}
        answer = answer_challenge(self._enrollment, challenge, list(pcrs), tcti=self.tcti)
        quote: dict[str, Any] = answer["quote"]
        return quote

    def unwrap_released(self, answer: Mapping[str, Any], context: bytes) -> bytes:
        """The data key from the service's ``{"wrapped_key", "algorithm"}`` answer, unwrapped
        in the TPM; ``context`` is ``release_context(seal_id, nonce)``."""
        from sealgate.sealing.recipients._tpm import unwrap_with_ecdh

        if not isinstance(answer, Mapping) or answer.get("algorithm") != RELEASE_ALGORITHM:
            raise VerificationError(
                f"the released key is not wrapped with {RELEASE_ALGORITHM} to the device key"
            )
        # ``wrapped_key`` in the service's HTTP answer, ``wrapped`` from ``wrap_for_device``
        wrapped = _field(answer, "wrapped_key" if "wrapped_key" in answer else "wrapped", "release")
        keys = self._enrollment.keys
        with open_tpm(self.tcti) as device:
            return unwrap_with_ecdh(
                lambda x, y: device.ecdh(keys, x, y), self.device_id, wrapped, context
            )


def open_release_device(prefix: Path) -> ReleaseDevice:
    """The enrolled device ``PREFIX`` (``PREFIX.json``, ``PREFIX.tpm``) ready for key release."""
    enrollment = load_enrollment(prefix)
    return ReleaseDevice(enrollment, os.environ.get(TCTI_ENV) or enrollment.tcti)
