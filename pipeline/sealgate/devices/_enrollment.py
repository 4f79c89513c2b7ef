"""Device enrolment files: what a device exports so that models can be sealed to it.

``PREFIX.pub``  the device key's public part (PEM): what ``--recipient tpm:PREFIX.pub`` seals to.
``PREFIX.json`` the enrolment record: device id, AK public key, EK public area and certificate,
               the DPS individual-enrolment fields (TPM attestation) and the TCTI it was made on.
``PREFIX.tpm``  the keys' TPM blobs (0600): their private parts are encrypted by this TPM's
               storage key, so they load in this TPM only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from sealgate._json import loads_unique
from sealgate._paths import read_bounded
from sealgate.devices._tcti import check_tcti
from sealgate.devices._tpm import DeviceKeys, KeyBlob, TpmDevice, open_tpm
from sealgate.errors import InputError

FORMAT = "sealgate.device/v1"
MAX_FILE_BYTES = 256 * 1024


def spki_key_id(public_pem: bytes) -> str:
    """SHA-256 of the SubjectPublicKeyInfo DER: the id of a device key or an AK."""
    key = serialization.load_pem_public_key(public_pem)
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def dps_registration_id(ek_public: bytes) -> str:
    """Base32 of SHA-256 of the EK public area, lower case, unpadded (the IoT SDKs' convention)."""
    return base64.b32encode(hashlib.sha256(ek_public).digest()).decode().rstrip("=").lower()


@dataclass(frozen=True)
class Enrollment:
    device_id: str
    tcti: str
    device_public_pem: bytes
    ak_public_pem: bytes
    ak_key_id: str
    keys: DeviceKeys
    record: dict[str, Any]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _write(path: Path, data: bytes, mode: int) -> None:
    temporary = path.with_name(f".{path.name}.tmp-{secrets.token_hex(6)}")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from None


def _keys_document(keys: DeviceKeys) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "device_key": {
            "public": _b64(keys.device_key.public),
            "private": _b64(keys.device_key.private),
        },
        "attestation_key": {
            "public": _b64(keys.attestation_key.public),
            "private": _b64(keys.attestation_key.private),
        },
        "pcr_policy": list(keys.pcr_policy),
    }


def _parse_keys(path: Path) -> DeviceKeys:
    try:
        document = loads_unique(read_bounded(path, MAX_FILE_BYTES, "TPM key file"))
        if document.get("format") != FORMAT:
            raise ValueError(f"format is not {FORMAT}")

        def blob(entry: dict[str, str]) -> KeyBlob:
            return KeyBlob(
                base64.b64decode(entry["public"], validate=True),
                base64.b64decode(entry["private"], validate=True),
            )

        pcrs = document["pcr_policy"]
        if not isinstance(pcrs, list) or not all(isinstance(p, int) for p in pcrs):
            raise ValueError("pcr_policy is not a list of PCR indexes")
        return DeviceKeys(
            blob(document["device_key"]), blob(document["attestation_key"]), tuple(pcrs)
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path}: not a sealgate TPM key file: {exc}") from None


def _record(device: TpmDevice, keys: DeviceKeys) -> dict[str, Any]:
    device_pem = device.public_pem(keys.device_key)
    ak_pem = device.public_pem(keys.attestation_key)
    ek_public, ek_certificate = device.endorsement()
    certificate_pem = None
    if ek_certificate:
        try:
            certificate_pem = (
                x509.load_der_x509_certificate(ek_certificate)
                .public_bytes(serialization.Encoding.PEM)
                .decode("ascii")
            )
        except ValueError:
            certificate_pem = None
    return {
        "format": FORMAT,
        "device_id": spki_key_id(device_pem),
        "tcti": device.tcti,
        "device_key": {"algorithm": "ECC P-256 ECDH", "public_key": device_pem.decode("ascii")},
        "attestation_key": {
            "algorithm": "ECC P-256 ECDSA, restricted",
            "key_id": spki_key_id(ak_pem),
            "public_key": ak_pem.decode("ascii"),
        },
        "pcr_policy": {"bank": "sha256", "pcrs": list(keys.pcr_policy)},
        "endorsement": {"public": _b64(ek_public), "certificate": certificate_pem},
        "dps": {
            "attestation": "tpm",
            "registration_id": dps_registration_id(ek_public),
            "endorsement_key": _b64(ek_public),
        },
    }


def enroll_device(tcti: str, prefix: Path, pcr_policy: Sequence[int] = ()) -> Enrollment:
    """Create the device keys in the TPM (or reuse ``PREFIX.tpm``) and write the enrolment."""
    keys_path = Path(f"{prefix}.tpm")
    with open_tpm(tcti) as device:
        if keys_path.exists():
            keys = _parse_keys(keys_path)
            if pcr_policy and tuple(pcr_policy) != keys.pcr_policy:
                raise InputError(
                    f"{keys_path}: existing keys are bound to PCRs {list(keys.pcr_policy)}; "
                    "enrol under a new prefix to change the PCR policy"
                )
            device.check_loads(keys)
        else:
            keys = device.create_keys(pcr_policy)
            _write(keys_path, (json.dumps(_keys_document(keys), indent=2) + "\n").encode(), 0o600)
        record = _record(device, keys)
    _write(Path(f"{prefix}.pub"), record["device_key"]["public_key"].encode("ascii"), 0o644)
    _write(Path(f"{prefix}.json"), (json.dumps(record, indent=2) + "\n").encode(), 0o644)
    return load_enrollment(prefix)


def load_enrollment(prefix: Path) -> Enrollment:
    record_path = Path(f"{prefix}.json")
    try:
        record = loads_unique(read_bounded(record_path, MAX_FILE_BYTES, "device enrolment"))
        device_pem = record["device_key"]["public_key"].encode("ascii")
        ak_pem = record["attestation_key"]["public_key"].encode("ascii")
        tcti = record["tcti"]
        if record.get("format") != FORMAT or not isinstance(tcti, str):
            raise ValueError(f"format is not {FORMAT}")
        device_id = spki_key_id(device_pem)
        ak_key_id = spki_key_id(ak_pem)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{record_path}: not a sealgate device enrolment: {exc}") from None
    if record.get("device_id") != device_id:
        raise InputError(f"{record_path}: device_id does not match the device public key")
    check_tcti(tcti, str(record_path))
    keys = _parse_keys(Path(f"{prefix}.tpm"))
    return Enrollment(device_id, tcti, device_pem, ak_pem, ak_key_id, keys, record)
