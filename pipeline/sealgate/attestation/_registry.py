"""The release service's view of devices: enrolment with credential activation, challenge
nonces, quote verification against the enrolled AK, and key wrapping to the device key.

Everything lives in the service's ``StateStore`` (``enrolments/<id>.json``,
``devices/<id>.json``, ``nonces/<hex>.json``), changed only by compare-and-swap, so several
replicas agree. A nonce and an enrolment are consumed by a conditional delete: of two replicas
racing for one, exactly one wins. Facts returned to the unseal policy are verified here;
nothing the device states is passed through unchecked.

Trust in the EK: credential activation proves that the AK lives in the TPM holding the EK's
private key. That the EK is a real TPM's comes from its certificate chain to a configured
manufacturer root; without one, it rests on the operator who enrolled the device (a
requester holding a software "EK" could answer the credential). ``require_ek_certificate``
refuses such devices, and the ``ek_certificate.verified`` fact lets the unseal policy require
a verified chain per environment. The chain is checked again at every decision.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from sealgate.attestation._documents import (
    b64,
    check_device_id,
    check_enrolment_id,
    encode_document,
    field_b64,
    parse_rfc3339,
    read_document,
    rfc3339,
)
from sealgate.attestation._ekcert import (
    EkCertificateFacts,
    check_ek_certificate,
    load_certificates,
)
from sealgate.attestation._nonces import NonceBook
from sealgate.attestation._objects import TpmPublic, make_credential, parse_public
from sealgate.attestation._requests import (
    MAX_CERTIFICATE_BYTES,
    MAX_PUBLIC_BYTES,
    check_pcr_selection,
    parse_device_answer,
    parse_enrolment_request,
)
from sealgate.devices._enrollment import spki_key_id
from sealgate.devices._quote import verify_quote
from sealgate.devices._release import RELEASE_ALGORITHM
from sealgate.devices._tpm import PCR_BANK
from sealgate.errors import DeniedError, InputError
from sealgate.keyserver._state import StateStore
from sealgate.sealing.recipients._tpm import wrap_to_device_key

DEVICE_FORMAT = "sealgate.attestation.device/v1"
ENROLMENT_FORMAT = "sealgate.attestation.enrolment/v1"
SECRET_BYTES = 32  # a SHA-256 digest: the most a credential for a SHA-256 name can carry


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DeviceRegistry:
    """Implements the key release service's ``DeviceAttestation`` seam.

    ``ek_roots`` (trust anchors) and ``ek_intermediates`` (CAs that may complete a chain) are
    certificates or PEM bundle files."""

    def __init__(
        self,
        state: StateStore,
        *,
        ek_roots: Sequence[x509.Certificate | Path] = (),
        ek_intermediates: Sequence[x509.Certificate | Path] = (),
        require_ek_certificate: bool = False,
        clock: Callable[[], datetime] = _utc_now,
        nonce_ttl: timedelta = timedelta(minutes=2),
        enrolment_ttl: timedelta = timedelta(minutes=10),
    ) -> None:
        self._state = state
        self._roots = _certificates(ek_roots, "EK roots")
        self._intermediates = _certificates(ek_intermediates, "EK intermediate CAs")
        self._require_ek_certificate = require_ek_certificate
        self._clock = clock
        self._nonces = NonceBook(state, clock, nonce_ttl)
        self._enrolment_ttl = enrolment_ttl

    # ----------------------------------------------------------- enrolment

    def begin_enrolment(self, request: Mapping[str, Any], *, operator: str) -> dict[str, Any]:
        """Check the device's keys and answer with a credential only its EK's TPM can open,
        and only for the AK: ``{"enrolment_id", "credential_blob", "encrypted_secret",
        "expires"}``. Raises ``InputError`` for a malformed request, ``DeniedError`` if the
        device may not enrol (EK certificate required, already enrolled with other keys)."""
        parsed = parse_enrolment_request(request)
        ek, ak, device_key = parsed.ek, parsed.ak, parsed.device_key
        certificate = parsed.ek_certificate
        ek_facts = self._ek_facts(certificate, ek.pem)
        if self._require_ek_certificate and not ek_facts.verified:
            reason = "; ".join(ek_facts.problems) or "the TPM presented no EK certificate"
            raise DeniedError(f"enrolment refused: an EK certificate is required ({reason})")

        device_id = spki_key_id(device_key.pem)
        existing = read_document(self._state, _device_key(device_id))
        if existing is not None and not self._same_keys(existing[0], ek, ak):
            raise DeniedError(f"device {device_id} is already enrolled with other keys")
        secret = secrets.token_bytes(SECRET_BYTES)
        credential_blob, encrypted_secret = make_credential(ek, secret, ak)
        enrolment_id = secrets.token_hex(16)
        expires = self._clock() + self._enrolment_ttl
        device = {
            "format": DEVICE_FORMAT,
            "device_id": device_id,
            "class": parsed.device_class,
            "ek_public": b64(ek.raw),
            "ek_name": ek.name.hex(),
            "ek_certificate": None if certificate is None else b64(certificate),
            "ak_public": b64(ak.raw),
            "ak_name": ak.name.hex(),
            "ak_public_pem": ak.pem.decode("ascii"),
            "ak_key_id": spki_key_id(ak.pem),
            "device_key_public": b64(device_key.raw),
            "device_key_pem": device_key.pem.decode("ascii"),
            "enrolled_by": operator,
        }
        enrolment = {
            "format": ENROLMENT_FORMAT,
            "enrolment_id": enrolment_id,
            "secret_sha256": hashlib.sha256(secret).hexdigest(),
            "expires": rfc3339(expires),
            "device": device,
        }
        if not self._state.create(_enrolment_key(enrolment_id), encode_document(enrolment)):
            raise InputError("enrolment id collision; retry")
        return {
            "enrolment_id": enrolment_id,
            "credential_blob": b64(credential_blob),
            "encrypted_secret": b64(encrypted_secret),
            "expires": rfc3339(expires),
        }

    def finish_enrolment(self, enrolment_id: str, request: Mapping[str, Any]) -> dict[str, Any]:
        """Register the device if ``request["secret"]`` is the activated credential:
        ``{"device_id"}``. One attempt per enrolment: the enrolment is consumed either way."""
        check_enrolment_id(enrolment_id)
        if not isinstance(request, Mapping):
            raise InputError("activation request: not an object")
        secret = field_b64(request, "secret", max_bytes=SECRET_BYTES, what="activation request")
        found = read_document(self._state, _enrolment_key(enrolment_id))
        if found is None or found[0].get("format") != ENROLMENT_FORMAT:
            raise DeniedError(f"enrolment {enrolment_id} is unknown, expired or already used")
        enrolment, tag = found
        if not self._state.delete(_enrolment_key(enrolment_id), tag):
            raise DeniedError(f"enrolment {enrolment_id} is being activated by another request")
        expires = parse_rfc3339(enrolment.get("expires"))
        if expires is None or self._clock() >= expires:
            raise DeniedError(f"enrolment {enrolment_id} has expired; enrol again")
        expected = enrolment.get("secret_sha256")
        actual = hashlib.sha256(secret).hexdigest()
        if not isinstance(expected, str) or not hmac.compare_digest(expected, actual):
            raise DeniedError(
                f"enrolment {enrolment_id}: the credential was not activated by the TPM that "
                "holds the EK and the AK; the device is not registered"
            )
        device = dict(enrolment["device"])
        device["enrolled_at"] = rfc3339(self._clock())
        device_id = check_device_id(device.get("device_id"), "enrolment")
        content = encode_document(device)
        if not self._state.create(_device_key(device_id), content):
            existing = read_document(self._state, _device_key(device_id))
            if existing is None or existing[0].get("ak_name") != device.get("ak_name"):
                raise DeniedError(f"device {device_id} is already enrolled with other keys")
        return {"device_id": device_id}

    # ----------------------------------------------------------- challenges

    def issue_nonce(self, device_id: str) -> dict[str, Any]:
        """A single-use challenge for an enrolled device: ``{"nonce": b64, "expires"}``."""
        check_device_id(device_id, "challenge")
        if self._device(device_id) is None:
            raise InputError(f"device {device_id} is not enrolled")
        nonce, expires = self._nonces.issue(device_id)
        return {"nonce": b64(nonce), "expires": rfc3339(expires)}

    def verify_device(
        self, device: Mapping[str, Any], *, pcrs: Sequence[int], pcr_bank: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Consume the nonce and verify the quote with the enrolled AK: (consumer facts,
        attestation facts). Raises ``InputError`` only for a malformed request."""
        answer = parse_device_answer(device)
        device_id, nonce = answer.device_id, answer.nonce
        expected_pcrs = check_pcr_selection(pcrs)
        fresh, nonce_problem = self._nonces.consume(nonce, device_id)
        record = self._device(device_id)
        if record is None:
            consumer = {
                "type": "device",
                "id": device_id,
                "device_id": device_id,
                "class": None,
                "enrolled": False,
                "ek_certificate": EkCertificateFacts(False, False, None).as_input(),
            }
            attestation = {
                "verified": False,
                "nonce_fresh": False,
                "pcr_bank": pcr_bank,
                "pcrs": {},
                "device_id": device_id,
                "ak_key_id": None,
                "problems": [f"device {device_id} is not enrolled"],
            }
            return consumer, attestation
        consumer = {
            "type": "device",
            "id": device_id,
            "device_id": device_id,
            "class": record.get("class"),
            "enrolled": True,
            "ek_certificate": self._recorded_ek_facts(record).as_input(),
        }
        facts = verify_quote(
            answer.quote, record["ak_public_pem"].encode("ascii"), nonce, expected_pcrs
        )
        problems = list(facts.problems)
        if nonce_problem:
            problems.append(nonce_problem)
        if pcr_bank != PCR_BANK:
            problems.append(f"the policy asks for PCR bank {pcr_bank}; devices quote {PCR_BANK}")
        verified = facts.verified and not problems
        attestation = {
            "verified": verified,
            "nonce_fresh": fresh and facts.nonce_fresh,
            "pcr_bank": PCR_BANK,
            "pcrs": facts.pcrs if verified else {},
            "device_id": device_id,
            "ak_key_id": record.get("ak_key_id"),
            "problems": problems,
        }
        return consumer, attestation

    # ----------------------------------------------------------- key release

    def wrap_for_device(self, device_id: str, data_key: bytes, context: bytes) -> dict[str, Any]:
        """``data_key`` wrapped to the enrolled device key:
        ``{"algorithm": "ECDH-ES-P256+HKDF-SHA256+A256KW", "wrapped": b64}``."""
        public_pem = self.device_key(device_id)
        if public_pem is None:
            raise InputError(f"device {device_id} is not enrolled")
        key = serialization.load_pem_public_key(public_pem)
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise InputError(f"device {device_id}: the enrolled key is not an ECC key")
        wrapped = wrap_to_device_key(key, device_id, data_key, context)
        return {"algorithm": RELEASE_ALGORITHM, "wrapped": b64(wrapped)}

    def device_key(self, device_id: str) -> bytes | None:
        """The enrolled device key's public part (PEM), or None for an unknown device."""
        record = self._device(device_id)
        return None if record is None else str(record["device_key_pem"]).encode("ascii")

    def device(self, device_id: str) -> dict[str, Any] | None:
        """The enrolled device's record (public material only), or None."""
        return self._device(device_id)

    # ----------------------------------------------------------- internals

    def _device(self, device_id: str) -> dict[str, Any] | None:
        check_device_id(device_id, "device")
        found = read_document(self._state, _device_key(device_id))
        if found is None:
            return None
        record = found[0]
        if (
            record.get("format") != DEVICE_FORMAT
            or record.get("device_id") != device_id
            or not isinstance(record.get("ak_public_pem"), str)
            or not isinstance(record.get("device_key_pem"), str)
        ):
            return None
        return record

    def _ek_facts(self, certificate: bytes | None, ek_pem: bytes) -> EkCertificateFacts:
        return check_ek_certificate(
            certificate,
            ek_pem,
            roots=self._roots,
            intermediates=self._intermediates,
            now=self._clock(),
        )

    def _recorded_ek_facts(self, record: Mapping[str, Any]) -> EkCertificateFacts:
        # Checked again at every decision: roots are rotated and certificates expire.
        try:
            ek = parse_public(
                field_b64(record, "ek_public", max_bytes=MAX_PUBLIC_BYTES, what="device record"),
                "EK",
            )
            certificate = None
            if record.get("ek_certificate") is not None:
                certificate = field_b64(
                    record, "ek_certificate", max_bytes=MAX_CERTIFICATE_BYTES, what="device record"
                )
        except InputError as exc:
            return EkCertificateFacts(True, False, None, (str(exc),))
        return self._ek_facts(certificate, ek.pem)

    @staticmethod
    def _same_keys(record: Mapping[str, Any], ek: TpmPublic, ak: TpmPublic) -> bool:
        return record.get("ek_name") == ek.name.hex() and record.get("ak_name") == ak.name.hex()


def _certificates(
    items: Sequence[x509.Certificate | Path], what: str
) -> tuple[x509.Certificate, ...]:
    """Certificates as given, or loaded from PEM bundle files."""
    loaded: list[x509.Certificate] = []
    for item in items:
        if isinstance(item, x509.Certificate):
            loaded.append(item)
        else:
            loaded.extend(load_certificates([Path(item)], what))
    return tuple(loaded)


def _device_key(device_id: str) -> str:
    return f"devices/{device_id}.json"


def _enrolment_key(enrolment_id: str) -> str:
    return f"enrolments/{enrolment_id}.json"
